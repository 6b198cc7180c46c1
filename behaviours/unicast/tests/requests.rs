//! Every way a request can end: reply, error reply, timeout, disconnection, unreachable peer.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{idle_node, pair, start};
use fisco_p2p_unicast::{self as unicast, ReplyError, RequestError};
use libp2p::PeerId;

const MODULE: u16 = 9;

fn config() -> unicast::Config {
    unicast::Config::default()
}

#[tokio::test]
async fn a_request_is_answered_with_the_reply() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let id = a
        .request(b.peer_id, MODULE, &b"ping"[..])
        .await
        .expect("sent");
    let (from, module, payload, channel) = b.next_request().await;
    assert_eq!(
        (from, module, &payload[..]),
        (a.peer_id, MODULE, &b"ping"[..])
    );
    b.respond(channel, Ok(Bytes::from_static(b"pong")))
        .await
        .expect("answered");
    let (request_id, peer, result) = a.next_response().await;
    assert_eq!((request_id, peer), (id, b.peer_id));
    assert_eq!(result, Ok(Bytes::from_static(b"pong")));
}

#[tokio::test]
async fn replies_are_matched_to_their_requests_whatever_the_order() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let first = a.request(b.peer_id, MODULE, &b"1"[..]).await.expect("sent");
    let second = a.request(b.peer_id, MODULE, &b"2"[..]).await.expect("sent");
    let mut channels = vec![b.next_request().await, b.next_request().await];
    channels.sort_by(|x, y| y.2.cmp(&x.2)); // Answer "2" first.
    for (_, _, payload, channel) in channels {
        let reply = Bytes::from([&b"re "[..], &payload[..]].concat());
        b.respond(channel, Ok(reply)).await.expect("answered");
    }
    let mut outcomes = [a.next_response().await, a.next_response().await];
    outcomes.sort_by_key(|(id, _, _)| *id);
    assert_eq!(outcomes[0].0, first);
    assert_eq!(outcomes[0].2, Ok(Bytes::from_static(b"re 1")));
    assert_eq!(outcomes[1].0, second);
    assert_eq!(outcomes[1].2, Ok(Bytes::from_static(b"re 2")));
}

#[tokio::test]
async fn a_request_for_an_unregistered_module_is_answered_with_an_error_at_once() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let started = Instant::now();
    let id = a.request(b.peer_id, 77, &b"?"[..]).await.expect("sent");
    let (request_id, _, result) = a.next_response().await;
    assert_eq!(request_id, id);
    assert_eq!(result, Err(RequestError::UnknownModule(77)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        b.event_within(Duration::from_millis(200)).await.is_none(),
        "server saw it"
    );
}

#[tokio::test]
async fn an_application_error_reaches_the_requester() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    a.request(b.peer_id, MODULE, &b"block 7?"[..])
        .await
        .expect("sent");
    let (_, _, _, channel) = b.next_request().await;
    let refusal = Err(ReplyError::Application("no such block".into()));
    b.respond(channel, refusal).await.expect("answered");
    let (_, _, result) = a.next_response().await;
    assert_eq!(
        result,
        Err(RequestError::Application("no such block".into()))
    );
}

#[tokio::test]
async fn each_request_times_out_after_its_own_timeout_and_ends_only_once() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let short = Some(Duration::from_millis(300));
    let long = Some(Duration::from_secs(5));
    let started = Instant::now();
    let quick = a
        .request_with(b.peer_id, MODULE, &b"q"[..], short, vec![])
        .await
        .expect("sent");
    let patient = a
        .request_with(b.peer_id, MODULE, &b"p"[..], long, vec![])
        .await
        .expect("sent");
    // The server holds both channels without answering.
    let mut held = vec![b.next_request().await, b.next_request().await];

    let (request_id, _, result) = a.next_response().await;
    let elapsed = started.elapsed();
    assert_eq!((request_id, result), (quick, Err(RequestError::Timeout)));
    assert!(
        elapsed >= Duration::from_millis(300),
        "timed out early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "timed out late: {elapsed:?}"
    );

    // Answering both now: only the patient request gets an outcome, the other already ended.
    held.sort_by(|x, y| y.2.cmp(&x.2)); // "q" first.
    for (_, _, payload, channel) in held {
        let _ = b.respond(channel, Ok(payload)).await;
    }
    let (request_id, _, result) = a.next_response().await;
    assert_eq!(
        (request_id, result),
        (patient, Ok(Bytes::from_static(b"p")))
    );
    assert!(
        a.event_within(Duration::from_millis(300)).await.is_none(),
        "a second outcome"
    );
}

#[tokio::test]
async fn pending_requests_all_fail_at_once_when_the_peer_dies() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let mut ids = Vec::new();
    for i in 0..3u8 {
        ids.push(a.request(b.peer_id, MODULE, vec![i]).await.expect("sent"));
    }
    for _ in 0..3 {
        b.next_request().await;
    }
    let killed = Instant::now();
    drop(b);
    let mut failed = Vec::new();
    for _ in 0..3 {
        let (id, _, result) = a.next_response().await;
        assert_eq!(result, Err(RequestError::Disconnected));
        failed.push(id);
    }
    assert!(
        killed.elapsed() < Duration::from_secs(1),
        "took {:?}",
        killed.elapsed()
    );
    failed.sort();
    assert_eq!(failed, ids);
}

#[tokio::test]
async fn a_request_the_server_drops_unanswered_fails_as_a_stream_error_not_a_disconnection() {
    let (mut a, mut b) = pair(config(), config(), &[MODULE]).await;
    let started = Instant::now();
    a.request(b.peer_id, MODULE, &b"ignored"[..])
        .await
        .expect("sent");
    let (_, _, _, channel) = b.next_request().await;
    drop(channel);
    let (_, _, result) = a.next_response().await;
    assert!(matches!(result, Err(RequestError::Stream(_))), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    // The connection is fine: the next request is answered.
    a.request(b.peer_id, MODULE, &b"again"[..])
        .await
        .expect("sent");
    let (_, _, _, channel) = b.next_request().await;
    b.respond(channel, Ok(Bytes::from_static(b"ok")))
        .await
        .expect("answered");
    assert_eq!(a.next_response().await.2, Ok(Bytes::from_static(b"ok")));
}

#[tokio::test]
async fn a_request_to_a_peer_with_no_known_address_fails_as_unreachable() {
    let (mut a, _b) = pair(config(), config(), &[MODULE]).await;
    let stranger = PeerId::random();
    let id = a
        .request(stranger, MODULE, &b"hello?"[..])
        .await
        .expect("sent");
    let (request_id, peer, result) = a.next_response().await;
    assert_eq!((request_id, peer), (id, stranger));
    assert_eq!(result, Err(RequestError::Unreachable));
}

#[tokio::test]
async fn a_request_to_a_known_but_unconnected_peer_dials_its_addresses() {
    let mut a = start(idle_node(config(), &[]).await);
    let mut b = start(idle_node(config(), &[MODULE]).await);
    let timeout = Some(Duration::from_secs(5));
    let addresses = vec![b.address.clone()];
    a.request_with(b.peer_id, MODULE, &b"hi"[..], timeout, addresses)
        .await
        .expect("sent");
    let (_, _, _, channel) = b.next_request().await;
    b.respond(channel, Ok(Bytes::from_static(b"hello")))
        .await
        .expect("answered");
    let (_, _, result) = a.next_response().await;
    assert_eq!(result, Ok(Bytes::from_static(b"hello")));
}

#[tokio::test]
async fn in_flight_requests_are_bounded() {
    let client = config().with_max_in_flight(2);
    let (mut a, mut b) = pair(client, config(), &[MODULE]).await;
    a.request(b.peer_id, MODULE, &b"1"[..]).await.expect("sent");
    a.request(b.peer_id, MODULE, &b"2"[..]).await.expect("sent");
    let err = a
        .request(b.peer_id, MODULE, &b"3"[..])
        .await
        .expect_err("full");
    assert!(
        matches!(err, unicast::Error::TooManyInFlight { limit: 2 }),
        "{err}"
    );
    // Once one ends, there is room again.
    let (_, _, _, channel) = b.next_request().await;
    b.respond(channel, Ok(Bytes::new()))
        .await
        .expect("answered");
    assert_eq!(a.next_response().await.2, Ok(Bytes::new()));
    a.request(b.peer_id, MODULE, &b"3"[..])
        .await
        .expect("room again");
}

#[test]
fn a_timeout_beyond_the_configured_maximum_is_refused() {
    let config = config().with_max_request_timeout(Duration::from_secs(30));
    let mut behaviour = unicast::Behaviour::new(config);
    let err = behaviour
        .send_request_with_timeout(
            &PeerId::random(),
            MODULE,
            Bytes::new(),
            Duration::from_secs(31),
        )
        .expect_err("too long");
    assert!(
        matches!(err, unicast::Error::TimeoutTooLong { .. }),
        "{err}"
    );
    assert_eq!(behaviour.in_flight(), 0);
}
