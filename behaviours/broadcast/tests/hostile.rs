//! What a broadcast node does with forged, oversize and slow peers: refuse, report, carry on.

mod common;

use std::time::Duration;

use bytes::Bytes;
use cbor4ii::core::{enc::Encode, types, utils::BufWriter};
use common::{idle_node, raw_peer_connected_to, start, Node};
use fisco_p2p_broadcast::{self as broadcast, Event, InvalidReason};
use fisco_p2p_testkit::{connect, memory_swarm};
use futures::StreamExt;
use libp2p::{
    identity::{Keypair, PublicKey},
    request_response::{self, ProtocolSupport},
};
use sha2::{Digest, Sha256};

const MODULE: u16 = 3;
const QUIET: Duration = Duration::from_millis(500);

/// The signing scheme as documented in `protocol.rs`, rebuilt independently.
fn signed_bytes(key: &PublicKey, id: [u8; 16], module: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = b"/fisco/broadcast/1.0.0 signed message\0".to_vec();
    out.extend_from_slice(&key.encode_protobuf());
    out.extend_from_slice(&id);
    out.extend_from_slice(&module.to_be_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out
}

/// A frame `[len][hops][CBOR body]` claiming `origin`, carrying `signature`.
fn frame(origin: &PublicKey, id: [u8; 16], payload: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut w = BufWriter::new(Vec::new());
    types::Array::bounded(5, &mut w).expect("encodes");
    types::Bytes(origin.encode_protobuf().as_slice())
        .encode(&mut w)
        .expect("encodes");
    types::Bytes(&id[..]).encode(&mut w).expect("encodes");
    MODULE.encode(&mut w).expect("encodes");
    types::Bytes(payload).encode(&mut w).expect("encodes");
    types::Bytes(signature).encode(&mut w).expect("encodes");
    let body = w.into_inner();
    let mut out = u32::try_from(body.len() + 1)
        .expect("small")
        .to_be_bytes()
        .to_vec();
    out.push(1);
    out.extend_from_slice(&body);
    out
}

fn received_payloads(events: &[Event]) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Received { payload, .. } => Some(payload.clone()),
            Event::Invalid { .. } => None,
        })
        .collect()
}

/// Victim `v` with an honest neighbour `w`, both running, and a raw peer connected to `v`.
async fn victim_with_neighbour_and_raw_peer(
    config: broadcast::Config,
) -> (Node, Node, common::RawPeer) {
    let mut v = idle_node(config.clone()).await;
    let mut w = idle_node(config).await;
    connect(&mut v, &mut w).await;
    let raw = raw_peer_connected_to(&mut v).await;
    (start(v), start(w), raw)
}

#[tokio::test]
async fn a_correctly_signed_raw_frame_is_delivered_and_forwarded() {
    // Control for the tests below: the raw peer's frames reach the node as real ones do.
    let (mut v, mut w, raw) = victim_with_neighbour_and_raw_peer(Default::default()).await;
    let key = raw.keypair.public();
    let id = [1u8; 16];
    let signature = raw
        .keypair
        .sign(&signed_bytes(&key, id, MODULE, b"genuine"))
        .expect("signs");
    raw.write(frame(&key, id, b"genuine", &signature)).await;
    match v.next_event().await {
        Event::Received {
            origin,
            from,
            payload,
            ..
        } => {
            assert_eq!((origin, from), (raw.peer_id, raw.peer_id));
            assert_eq!(&payload[..], b"genuine");
        }
        other => panic!("expected delivery, got {other:?}"),
    }
    let forwarded = w.events_during(QUIET).await;
    assert_eq!(
        received_payloads(&forwarded),
        vec![Bytes::from_static(b"genuine")]
    );
}

#[tokio::test]
async fn a_forged_origin_is_refused_naming_the_sender_and_not_forwarded() {
    let (mut v, mut w, raw) = victim_with_neighbour_and_raw_peer(Default::default()).await;
    let claimed = Keypair::generate_secp256k1().public();
    let id = [2u8; 16];
    // Signed by the raw peer's key while claiming another origin.
    let signature = raw
        .keypair
        .sign(&signed_bytes(&claimed, id, MODULE, b"forged"))
        .expect("signs");
    raw.write(frame(&claimed, id, b"forged", &signature)).await;
    match v.next_event().await {
        Event::Invalid {
            from,
            reason: InvalidReason::BadSignature { origin },
        } => {
            assert_eq!(from, raw.peer_id);
            assert_eq!(origin, claimed.to_peer_id());
        }
        other => panic!("expected a bad-signature report, got {other:?}"),
    }
    assert!(
        w.events_during(QUIET).await.is_empty(),
        "forged frame was forwarded"
    );
    // The victim still takes part in floods.
    w.broadcast(MODULE, Bytes::from_static(b"after"))
        .await
        .expect("queued");
    let events = v.events_during(QUIET).await;
    assert_eq!(
        received_payloads(&events),
        vec![Bytes::from_static(b"after")]
    );
}

#[tokio::test]
async fn an_altered_payload_is_refused() {
    let (mut v, _w, raw) = victim_with_neighbour_and_raw_peer(Default::default()).await;
    let key = raw.keypair.public();
    let id = [3u8; 16];
    let signature = raw
        .keypair
        .sign(&signed_bytes(&key, id, MODULE, b"pay 1"))
        .expect("signs");
    raw.write(frame(&key, id, b"pay 9", &signature)).await;
    let event = v.next_event().await;
    assert!(
        matches!(
            event,
            Event::Invalid {
                reason: InvalidReason::BadSignature { .. },
                ..
            }
        ),
        "{event:?}"
    );
}

#[tokio::test]
async fn a_forged_length_prefix_is_refused_and_the_node_keeps_serving() {
    let (mut v, w, raw) = victim_with_neighbour_and_raw_peer(Default::default()).await;
    // Announces a 4 GiB frame, then sends a few bytes and waits.
    raw.write(vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3]).await;
    match v.next_event().await {
        Event::Invalid {
            from,
            reason: InvalidReason::TooLarge { len, max },
        } => {
            assert_eq!(from, raw.peer_id);
            assert_eq!(len, u64::from(u32::MAX));
            assert_eq!(max, 32 * 1024 * 1024);
        }
        other => panic!("expected a too-large report, got {other:?}"),
    }
    w.broadcast(MODULE, Bytes::from_static(b"still here"))
        .await
        .expect("queued");
    let events = v.events_during(QUIET).await;
    assert_eq!(
        received_payloads(&events),
        vec![Bytes::from_static(b"still here")]
    );
}

#[tokio::test]
async fn an_oversize_frame_from_a_peer_with_a_larger_limit_is_refused_and_the_link_recovers() {
    let mut big = idle_node(broadcast::Config::default().with_max_message_size(1 << 20)).await;
    let mut small = idle_node(broadcast::Config::default().with_max_message_size(64 * 1024)).await;
    connect(&mut big, &mut small).await;
    let (big, mut small) = (start(big), start(small));
    big.broadcast(MODULE, vec![7u8; 100 * 1024])
        .await
        .expect("fits the sender's limit");
    match small.next_event().await {
        Event::Invalid {
            from,
            reason: InvalidReason::TooLarge { len, max },
        } => {
            assert_eq!(from, big.peer_id);
            assert!(len > 100 * 1024 && max == 64 * 1024, "len {len}, max {max}");
        }
        other => panic!("expected a too-large report, got {other:?}"),
    }
    // The sender reopens its substream after the reset; the next message gets through.
    big.broadcast(MODULE, Bytes::from_static(b"small"))
        .await
        .expect("queued");
    let events = small.events_during(Duration::from_secs(1)).await;
    assert_eq!(
        received_payloads(&events),
        vec![Bytes::from_static(b"small")]
    );
}

/// Accepts broadcast substreams and never reads them: a peer that cannot keep up.
#[derive(Clone, Default)]
struct NeverReads;

impl request_response::Codec for NeverReads {
    type Protocol = libp2p::StreamProtocol;
    type Request = ();
    type Response = ();

    async fn read_request<T>(&mut self, _: &Self::Protocol, _: &mut T) -> std::io::Result<()>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        futures::future::pending().await
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, _: &mut T) -> std::io::Result<()>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Ok(())
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
        _: (),
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
        _: (),
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
}

#[tokio::test]
async fn a_slow_peer_loses_frames_from_its_full_queue_without_holding_back_others() {
    const MESSAGES: usize = 40;
    let config = broadcast::Config::default().with_send_queue_len(4);
    let mut v = idle_node(config.clone()).await;
    let mut w = idle_node(config).await;
    connect(&mut v, &mut w).await;
    let stalling = request_response::Behaviour::<NeverReads>::new(
        [(broadcast::PROTOCOL_NAME, ProtocolSupport::Inbound)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(120)),
    );
    let mut slow = memory_swarm(Keypair::generate_secp256k1(), stalling);
    connect(&mut slow, &mut v).await;
    let slow_task = tokio::spawn(async move { while slow.next().await.is_some() {} });
    let (v, mut w) = (start(v), start(w));

    for i in 0..MESSAGES {
        let payload = vec![u8::try_from(i).expect("small"); 64 * 1024];
        v.broadcast(MODULE, payload).await.expect("queued");
    }
    let events = w.events_during(Duration::from_secs(2)).await;
    assert_eq!(
        received_payloads(&events).len(),
        MESSAGES,
        "the fast peer got everything"
    );
    let dropped = v.dropped_frames().await;
    // 40 x 64 KiB cannot fit in the slow peer's stream window plus a 4-frame queue.
    assert!(
        dropped > 0 && dropped <= MESSAGES as u64,
        "dropped {dropped}"
    );
    slow_task.abort();
}
