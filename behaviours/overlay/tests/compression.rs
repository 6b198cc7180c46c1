//! Compression on real swarms (in-memory transport, plaintext, yamux): links whose ends disagree
//! about compression still carry every message, and a zip bomb is refused before it is inflated.

#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{on, run, swarm, wire_line};
use fisco_p2p_overlay::{Config, Event, Refusal, PROTOCOL_NAME_ZSTD};
use fisco_p2p_testkit::{connect, listen, memory_swarm, within, RawWriter, Running};
use libp2p::{identity::Keypair, request_response};

/// 1 MiB of text-like bytes.
fn compressible() -> Bytes {
    b"block 42: transfer 10 from a to b; "
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn every_message_crosses_links_whose_ends_disagree_about_compression() {
    // a (compresses) - b (does not) - c (compresses): every stream of the line has one end
    // without compression, so each falls back to plain frames, and a large request, its reply
    // and a broadcast all arrive whole.
    let on_config = Config::default();
    let off_config = Config::default().with_compression(false);
    let (mut a, mut b, mut c) = (
        swarm(on_config.clone()),
        swarm(off_config),
        swarm(on_config),
    );
    wire_line(&mut a, &mut b, &mut c).await;
    let (mut a, mut b, mut c) = (run(a), run(b), run(c));
    let payload = compressible();
    let sent = payload.clone();
    let dest = c.peer_id;
    on(&a, move |s| s.behaviour_mut().request(dest, 5, sent, None))
        .await
        .unwrap();
    let (reply_to, got) = within("the request at c", async {
        loop {
            if let Event::Request {
                reply_to, payload, ..
            } = c.next_event().await
            {
                break (reply_to, payload);
            }
        }
    })
    .await;
    assert_eq!(got, payload);
    let answer = payload.slice(..64 * 1024);
    let expected = answer.clone();
    on(&c, move |s| s.behaviour_mut().respond(reply_to, Ok(answer)))
        .await
        .unwrap();
    let reply = within("the reply at a", async {
        loop {
            if let Event::Response { result, .. } = a.next_event().await {
                break result.unwrap().payload;
            }
        }
    })
    .await;
    assert_eq!(reply, expected);
    let flood = payload.slice(..200 * 1024);
    on(&c, move |s| s.behaviour_mut().broadcast(9, flood))
        .await
        .unwrap();
    for (name, node) in [("a", &mut a), ("b", &mut b)] {
        let got = within(&format!("the broadcast at {name}"), async {
            loop {
                if let Event::Broadcast { payload, .. } = node.next_event().await {
                    break payload.len();
                }
            }
        })
        .await;
        assert_eq!(got, 200 * 1024);
    }
}

#[tokio::test]
async fn a_request_between_two_compressing_nodes_arrives_whole() {
    let (mut a, mut b) = (swarm(Config::default()), swarm(Config::default()));
    listen(&mut b).await;
    connect(&mut a, &mut b).await;
    let (a, mut b) = (run(a), run(b));
    let payload = compressible();
    let sent = payload.clone();
    let dest = b.peer_id;
    on(&a, move |s| s.behaviour_mut().request(dest, 5, sent, None))
        .await
        .unwrap();
    let got = within("the request", async {
        loop {
            if let Event::Request { payload, .. } = b.next_event().await {
                break payload;
            }
        }
    })
    .await;
    assert_eq!(got, payload);
}

#[tokio::test]
async fn a_zip_bomb_is_refused_by_its_declared_size_before_it_is_inflated() {
    let config = Config::default().with_max_message_size(128 * 1024);
    let mut b = swarm(config);
    let victim = *b.local_peer_id();
    let mut mallory = memory_swarm(
        Keypair::generate_secp256k1(),
        request_response::Behaviour::with_codec(
            RawWriter,
            [(
                PROTOCOL_NAME_ZSTD,
                request_response::ProtocolSupport::Outbound,
            )],
            request_response::Config::default(),
        ),
    );
    listen(&mut b).await;
    connect(&mut mallory, &mut b).await;
    let mut b = run(b);
    // 64 MiB of zeros squeezed into a few KiB: [u32 length][codec 1][u32 64 MiB][zstd frame].
    let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 1).unwrap();
    assert!(bomb.len() < 16 * 1024);
    let mut frame = Vec::new();
    frame.extend_from_slice(&((5 + bomb.len()) as u32).to_be_bytes());
    frame.push(1);
    frame.extend_from_slice(&(64u32 << 20).to_be_bytes());
    frame.extend_from_slice(&bomb);
    let raw = Running::spawn(mallory, 16, move |swarm, bytes: Vec<u8>| {
        swarm.behaviour_mut().send_request(&victim, bytes);
    });
    raw.ask(|reply| {
        let _ = reply.send(());
        frame
    })
    .await;
    let refused = within("the bomb refused", async {
        loop {
            if let Event::Refused { reason, .. } = b.next_event().await {
                break reason;
            }
        }
    })
    .await;
    assert!(
        matches!(refused, Refusal::TooLarge { len, .. } if len == 64 << 20),
        "{refused:?}"
    );
}
