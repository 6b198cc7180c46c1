//! `GET /v1/events`: what the stream reports, slow readers, and the end of the stream.

use crate::common::{network::identities, WAIT};
use crate::harness::{connect, wait_event, Daemon};
use fisco_p2p_admin::{self as admin, client::ClientError};
use serde_json::json;

#[tokio::test]
async fn the_event_stream_reports_connections_state_and_disconnections() {
    let mut ids = identities(2).into_iter();
    let mut a = Daemon::start(ids.next().expect("identity")).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    let mut events = a.events().await;
    connect(&mut a, &b).await;
    let b_id = b.node_id().to_string();

    let connected = wait_event(&mut events, "peer_connected", |e| {
        e["type"] == "peer_connected"
    })
    .await;
    assert_eq!(connected["node_id"], b_id.as_str());
    assert_eq!(connected["direction"], "outbound");
    assert_eq!(connected["address"], b.node.addr.to_string());

    b.post("/v1/subscribe", json!({ "topic": "news" })).await;
    let state = wait_event(&mut events, "peer_state with the topic", |e| {
        e["type"] == "peer_state" && e["topics"] == json!(["news"])
    })
    .await;
    assert_eq!(state["node_id"], b_id.as_str());

    b.node.handle.shutdown().await.expect("b stops");
    let gone = wait_event(&mut events, "peer_disconnected", |e| {
        e["type"] == "peer_disconnected"
    })
    .await;
    assert_eq!(gone["node_id"], b_id.as_str());
    assert!(
        gone["reason"].is_string() && gone["message"].is_string(),
        "{gone}"
    );
}

#[tokio::test]
async fn refused_connections_appear_with_their_reason() {
    let mut ids = identities(2).into_iter();
    let a = Daemon::start(ids.next().expect("identity")).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    a.node
        .handle
        .operator()
        .set_blacklist([b.node_id()])
        .await
        .expect("blacklist set");
    let mut events = a.events().await;
    b.post("/v1/peers", json!({ "addr": a.node.addr.to_string() }))
        .await;
    let refused = wait_event(&mut events, "connection_refused", |e| {
        e["type"] == "connection_refused"
    })
    .await;
    assert_eq!(refused["reason"], "blacklisted");
    assert_eq!(refused["direction"], "inbound");
}

#[tokio::test]
async fn a_slow_event_reader_does_not_hold_up_the_node_or_other_readers() {
    let mut ids = identities(2).into_iter();
    let admin_config = admin::Config::default().with_event_capacity(4);
    let mut a = Daemon::start_with(
        ids.next().expect("identity"),
        crate::common::network::messaging_config(),
        admin_config,
    )
    .await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    let _never_read = a.events().await;
    let mut reader = a.events().await;
    connect(&mut a, &b).await;
    for i in 0..50 {
        b.post("/v1/broadcast", json!({ "data": format!("m{i}") }))
            .await;
    }
    // The active reader sees the last broadcast, though it too may skip older ones.
    wait_event(&mut reader, "the last broadcast", |e| e["data"] == "m49").await;
    let to = b.node_id().to_string();
    let reply = a
        .post("/v1/request", json!({ "to": to, "data": "still here" }))
        .await;
    assert_eq!(reply["data"], "still here");
}

#[tokio::test]
async fn shutting_the_admin_api_down_ends_event_streams_and_refuses_new_calls() {
    let mut ids = identities(1).into_iter();
    let mut a = Daemon::start(ids.next().expect("identity")).await;
    let mut events = a.events().await;
    a.stop_admin().await;
    let end = tokio::time::timeout(WAIT, events.next())
        .await
        .expect("stream ends in time");
    assert!(matches!(end, Ok(None)), "{end:?}");
    let refused = a.client.get("/v1/status").await;
    assert!(
        matches!(refused, Err(ClientError::Connect { .. })),
        "{refused:?}"
    );
}
