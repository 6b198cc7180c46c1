//! The overlay behaviour driving real swarms (in-memory transport, plaintext, yamux): relaying
//! through a neighbour, backpressure from a full send queue, hostile frames on a link, and
//! request timeouts on time whatever the order of deadlines.

#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{on, run, swarm, wire_line, Node};
use fisco_p2p_overlay::{Behaviour, Config, Event, Refusal, SendError, PROTOCOL_NAME};
use fisco_p2p_testkit::{connect, listen, memory_swarm, within, RawWriter, Running};
use libp2p::{identity::Keypair, request_response, PeerId, Swarm};

/// Three swarms in a line `a - b - c`, each told the others' neighbours as state sync would.
async fn line(config: Config) -> (Node, Node, Node) {
    let (mut a, mut b, mut c) = (swarm(config.clone()), swarm(config.clone()), swarm(config));
    wire_line(&mut a, &mut b, &mut c).await;
    (run(a), run(b), run(c))
}

#[tokio::test]
async fn a_request_crosses_a_relay_and_its_reply_comes_back() {
    let (a, _b, mut c) = line(Config::default()).await;
    let dest = c.peer_id;
    let id = on(&a, move |s| {
        s.behaviour_mut()
            .request(dest, 5, Bytes::from_static(b"ping"), None)
    })
    .await
    .unwrap();
    let Event::Request {
        reply_to,
        origin,
        hops,
        ..
    } = c.next_event().await
    else {
        panic!("expected the request at c");
    };
    assert_eq!((origin, hops), (a.peer_id, 2));
    on(&c, move |s| {
        s.behaviour_mut()
            .respond(reply_to, Ok(Bytes::from_static(b"pong")))
    })
    .await
    .unwrap();
    let mut a = a;
    match a.next_event().await {
        Event::Response {
            id: got, result, ..
        } => {
            assert_eq!(got, id);
            let reply = result.unwrap();
            assert_eq!((&reply.payload[..], reply.hops), (&b"pong"[..], 2));
        }
        other => panic!("expected the response, got {other:?}"),
    }
}

#[tokio::test]
async fn a_full_send_queue_refuses_the_next_message_at_once() {
    // Room for one frame per link: the second broadcast, sent before the swarm runs again,
    // finds the queue full and is refused rather than accepted and dropped later.
    let config = Config::default().with_send_queue(1, 0);
    let (a, _b, _c) = line(config).await;
    let outcomes = on(&a, |s| {
        let first = s.behaviour_mut().broadcast(1, Bytes::from_static(b"one"));
        let second = s.behaviour_mut().broadcast(1, Bytes::from_static(b"two"));
        (
            first.map(|(_, links)| links),
            second.map(|(_, links)| links),
        )
    })
    .await;
    assert_eq!(outcomes.0, Ok(1));
    assert!(
        matches!(outcomes.1, Err(SendError::QueueFull { .. })),
        "{:?}",
        outcomes.1
    );
}

#[tokio::test]
async fn an_oversize_or_garbage_frame_is_refused_and_the_link_keeps_working() {
    let config = Config::default().with_max_message_size(128 * 1024);
    let (mut a, mut b) = (swarm(config.clone()), swarm(config));
    let victim = *b.local_peer_id();
    // A raw writer beside a, on its own connection: what a broken or hostile peer sends.
    let mallory_key = Keypair::generate_secp256k1();
    let mut mallory = memory_swarm(
        mallory_key,
        request_response::Behaviour::with_codec(
            RawWriter,
            [(PROTOCOL_NAME, request_response::ProtocolSupport::Outbound)],
            request_response::Config::default(),
        ),
    );
    listen(&mut b).await;
    connect(&mut a, &mut b).await;
    connect(&mut mallory, &mut b).await;
    let mallory_id = *mallory.local_peer_id();
    let (a, mut b) = (run(a), run(b));
    let raw = Running::spawn(mallory, 16, move |swarm, bytes: Vec<u8>| {
        swarm.behaviour_mut().send_request(&victim, bytes);
    });
    // A length prefix of 1 MiB against a 64 KiB maximum, then garbage on a fresh substream.
    raw.ask(|reply| {
        let _ = reply.send(());
        vec![0x00, 0x10, 0x00, 0x00, 1, 2, 3]
    })
    .await;
    let refused = within("the oversize frame refused", async {
        loop {
            if let Event::Refused { from, reason, .. } = b.next_event().await {
                break (from, reason);
            }
        }
    })
    .await;
    assert_eq!(refused.0, mallory_id);
    assert!(
        matches!(
            refused.1,
            Refusal::TooLarge {
                len: 0x0010_0000,
                ..
            }
        ),
        "{:?}",
        refused.1
    );
    raw.ask(|reply| {
        let _ = reply.send(());
        vec![0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    })
    .await;
    let refused = within("the garbage frame refused", async {
        loop {
            if let Event::Refused { reason, .. } = b.next_event().await {
                break reason;
            }
        }
    })
    .await;
    assert!(matches!(refused, Refusal::Malformed(_)), "{refused:?}");
    // The honest neighbour still gets through.
    let dest = b.peer_id;
    on(&a, move |s| {
        s.behaviour_mut()
            .request(dest, 1, Bytes::from_static(b"still there?"), None)
    })
    .await
    .unwrap();
    let request = within("the honest request", async {
        loop {
            if let Event::Request { payload, .. } = b.next_event().await {
                break payload;
            }
        }
    })
    .await;
    assert_eq!(&request[..], b"still there?");
}

/// Sends a request from `from` to `to` with `timeout` and returns its ID.
async fn request(
    from: &Node,
    to: PeerId,
    timeout: std::time::Duration,
) -> fisco_p2p_overlay::RequestId {
    on(from, move |s| {
        s.behaviour_mut()
            .request(to, 5, Bytes::from_static(b"ping"), Some(timeout))
    })
    .await
    .unwrap()
}

/// Waits for the outcome of request `id` at `node`; returns whether it timed out and when.
async fn outcome(node: &mut Node, id: fisco_p2p_overlay::RequestId) -> (bool, std::time::Instant) {
    loop {
        if let Event::Response {
            id: got, result, ..
        } = node.next_event().await
        {
            if got == id {
                let timed_out = matches!(result, Err(fisco_p2p_overlay::RequestError::Timeout));
                return (timed_out, std::time::Instant::now());
            }
        }
    }
}

#[tokio::test]
async fn a_request_times_out_on_time_after_an_earlier_deadline_went_away() {
    // The timer armed for the first request's deadline outlives that request (answered at
    // once); the second request still times out at its own deadline, not before, not much after.
    use std::time::{Duration, Instant};
    let (mut a, mut b, _c) = line(Config::default()).await;
    let to = b.peer_id;
    let started = Instant::now();
    let answered = request(&a, to, Duration::from_millis(300)).await;
    let silent = request(&a, to, Duration::from_secs(1)).await;
    let Event::Request { reply_to, .. } = b.next_event().await else {
        panic!("expected the first request at b");
    };
    on(&b, move |s| {
        s.behaviour_mut().respond(reply_to, Ok(Bytes::new()))
    })
    .await
    .unwrap();
    assert!(
        !outcome(&mut a, answered).await.0,
        "the first request is answered"
    );
    let (timed_out, at) = outcome(&mut a, silent).await;
    let took = at - started;
    assert!(timed_out, "the unanswered request times out");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "timed out after {took:?}"
    );
}

#[tokio::test]
async fn a_request_with_an_earlier_deadline_times_out_first() {
    // A timer armed for a later deadline is brought forward for an earlier one.
    use std::time::{Duration, Instant};
    let (mut a, b, _c) = line(Config::default()).await;
    let to = b.peer_id;
    let _late = request(&a, to, Duration::from_secs(5)).await;
    let started = Instant::now();
    let early = request(&a, to, Duration::from_millis(200)).await;
    let (timed_out, at) = outcome(&mut a, early).await;
    let took = at - started;
    assert!(timed_out);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "timed out after {took:?}"
    );
}

#[tokio::test]
async fn the_key_of_an_rsa_origin_reaches_the_key_sink_of_a_node_two_links_away() {
    // a (RSA) - b - c: c has no link to a, so a's key can only come with its envelopes. Noise,
    // not plaintext, secures these links: plaintext's handshake has no room for an RSA key.
    let mut der = include_bytes!("rsa-2048.pk8.der").to_vec();
    let rsa = Keypair::rsa_from_pkcs8(&mut der).unwrap();
    let mut a = noise_swarm(rsa.clone());
    let (mut b, mut c) = (
        noise_swarm(Keypair::generate_secp256k1()),
        noise_swarm(Keypair::generate_secp256k1()),
    );
    let (tx, mut keys) = tokio::sync::mpsc::channel(8);
    c.behaviour_mut().set_key_sink(move |key| {
        let _ = tx.try_send(key.clone());
    });
    let ids = wire_line(&mut a, &mut b, &mut c).await;
    let (a, _b, mut c) = (run(a), run(b), run(c));
    on(&a, |s| {
        s.behaviour_mut().broadcast(3, Bytes::from_static(b"hi"))
    })
    .await
    .unwrap();
    let origin = within("the broadcast at c", async {
        loop {
            if let Event::Broadcast { origin, .. } = c.next_event().await {
                break origin;
            }
        }
    })
    .await;
    assert_eq!(origin, ids[0]);
    let key = within("the key", keys.recv()).await.unwrap();
    assert_eq!(key, rsa.public());
    assert_eq!(key.to_peer_id(), ids[0]);
}

/// A swarm over the in-memory transport secured by noise, which carries keys of any size.
fn noise_swarm(keypair: Keypair) -> Swarm<Behaviour> {
    use libp2p::{core::upgrade::Version, core::Transport, noise, yamux};
    let transport = libp2p::core::transport::MemoryTransport::default()
        .upgrade(Version::V1)
        .authenticate(noise::Config::new(&keypair).unwrap())
        .multiplex(yamux::Config::default())
        .boxed();
    let config = libp2p::swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(std::time::Duration::from_secs(60));
    let behaviour = Behaviour::new(keypair.clone(), Config::default());
    Swarm::new(transport, behaviour, keypair.public().to_peer_id(), config)
}
