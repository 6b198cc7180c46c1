//! Size limits: oversize and forged frames are refused without harm, the node keeps serving.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{idle_node, pair, start};
use fisco_p2p_testkit::{connect, memory_swarm, within, RawWriter};
use fisco_p2p_unicast::{self as unicast, RequestError};
use futures::StreamExt;
use libp2p::{
    identity::Keypair,
    request_response::{self, ProtocolSupport},
    swarm::SwarmEvent,
};

const MODULE: u16 = 4;
const SMALL: usize = 64 * 1024;

#[tokio::test]
async fn a_payload_over_the_local_maximum_is_refused_before_sending() {
    let small = unicast::Config::default().with_max_message_size(SMALL);
    let (a, mut b) = pair(small, unicast::Config::default(), &[MODULE]).await;
    let err = a
        .request(b.peer_id, MODULE, vec![0u8; SMALL])
        .await
        .expect_err("too large");
    assert!(
        matches!(err, unicast::Error::TooLarge { max: SMALL, .. }),
        "{err}"
    );
    assert!(b.event_within(Duration::from_millis(200)).await.is_none());
}

#[tokio::test]
async fn an_oversize_request_is_refused_by_the_peer_which_keeps_serving() {
    let big = unicast::Config::default().with_max_message_size(1 << 20);
    let small = unicast::Config::default().with_max_message_size(SMALL);
    let (mut a, mut b) = pair(big, small, &[MODULE]).await;
    let id = a
        .request(b.peer_id, MODULE, vec![1u8; 100 * 1024])
        .await
        .expect("sent");
    let (request_id, _, result) = a.next_response().await;
    assert_eq!(request_id, id);
    assert!(matches!(result, Err(RequestError::Stream(_))), "{result:?}");
    assert!(
        b.event_within(Duration::from_millis(200)).await.is_none(),
        "server saw it"
    );

    a.request(b.peer_id, MODULE, &b"small"[..])
        .await
        .expect("sent");
    let (_, _, payload, channel) = b.next_request().await;
    assert_eq!(&payload[..], b"small");
    b.respond(channel, Ok(Bytes::from_static(b"ok")))
        .await
        .expect("answered");
    assert_eq!(a.next_response().await.2, Ok(Bytes::from_static(b"ok")));
}

#[tokio::test]
async fn a_reply_over_the_maximum_reaches_the_requester_as_too_large() {
    let small = unicast::Config::default().with_max_message_size(SMALL);
    let (mut a, mut b) = pair(unicast::Config::default(), small, &[MODULE]).await;
    a.request(b.peer_id, MODULE, &b"everything"[..])
        .await
        .expect("sent");
    let (_, _, _, channel) = b.next_request().await;
    let err = b
        .respond(channel, Ok(Bytes::from(vec![0u8; 100 * 1024])))
        .await
        .expect_err("refused locally");
    assert!(
        matches!(
            err,
            unicast::Error::TooLarge {
                size: 102_400,
                max: SMALL
            }
        ),
        "{err}"
    );
    let (_, _, result) = a.next_response().await;
    let expected = RequestError::TooLarge {
        size: 102_400,
        max: SMALL as u64,
    };
    assert_eq!(result, Err(expected));
}

#[tokio::test]
async fn a_forged_length_prefix_is_refused_and_the_node_keeps_serving() {
    let mut server = idle_node(unicast::Config::default(), &[MODULE]).await;
    let raw_behaviour = request_response::Behaviour::<RawWriter>::new(
        [(unicast::PROTOCOL_NAME, ProtocolSupport::Outbound)],
        request_response::Config::default(),
    );
    let mut raw = memory_swarm(Keypair::generate_secp256k1(), raw_behaviour);
    connect(&mut raw, &mut server).await;
    let mut honest = idle_node(unicast::Config::default(), &[]).await;
    connect(&mut honest, &mut server).await;
    let server_id = *server.local_peer_id();
    let (mut server, mut honest) = (start(server), start(honest));

    // A 4 GiB frame announced, a few bytes sent.
    raw.behaviour_mut()
        .send_request(&server_id, vec![0xff, 0xff, 0xff, 0xff, 0xa2, 0x01]);
    let outcome = within("raw request ends", async {
        loop {
            match raw.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => break Err(error.to_string()),
                SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                    break Ok(format!("{message:?}"))
                }
                _ => {}
            }
        }
    })
    .await;
    // The server dropped the substream without reading further: no reply of any kind.
    assert!(outcome.is_err(), "got {outcome:?}");
    assert!(server
        .event_within(Duration::from_millis(200))
        .await
        .is_none());

    honest
        .request(server_id, MODULE, &b"still there?"[..])
        .await
        .expect("sent");
    let (_, _, _, channel) = server.next_request().await;
    server
        .respond(channel, Ok(Bytes::from_static(b"yes")))
        .await
        .expect("answered");
    assert_eq!(
        honest.next_response().await.2,
        Ok(Bytes::from_static(b"yes"))
    );
}
