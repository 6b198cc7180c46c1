//! The admin API against in-process nodes on 127.0.0.1: every route, the event stream, metrics,
//! and 4xx answers naming what is wrong. `admin/harness.rs` runs the daemons.

// The shared helpers unwrap locks.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "admin/harness.rs"]
mod harness;

use std::time::Duration;

use common::network::identities;
use common::WAIT;
use fisco_p2p::admin::{self, client::ClientError};
use harness::{connect, wait_event, wait_until, Daemon};
use serde_json::{json, Value};

/// Two daemons of one chain, connected.
async fn pair() -> (Daemon, Daemon) {
    let mut ids = identities(2).into_iter();
    let mut a = Daemon::start(ids.next().expect("identity")).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    connect(&mut a, &b).await;
    (a, b)
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is a string"))
}

#[tokio::test]
async fn status_names_the_node_its_listen_address_topics_and_connections() {
    let (a, b) = pair().await;
    a.post("/v1/subscribe", json!({ "topic": "blocks" })).await;
    let status = a.get("/v1/status").await;
    assert_eq!(text(&status["node_id"]), a.node_id().to_string());
    assert_eq!(status["listen"], json!([a.node.addr.to_string()]));
    assert_eq!(status["topics"], json!(["blocks"]));
    assert_eq!(status["connected"], 1);
    assert!(status["seq"].as_u64().expect("seq") >= 1, "{status}");
    drop(b);
}

#[tokio::test]
async fn peers_shows_each_known_node_with_topics_and_state() {
    let (a, b) = pair().await;
    b.node
        .handle
        .set_state("height", Some("42".into()))
        .await
        .expect("state set");
    b.node
        .handle
        .set_state("raw", Some(vec![0xff, 0x00].into()))
        .await
        .expect("state set");
    b.post("/v1/subscribe", json!({ "topic": "tx" })).await;
    let b_id = b.node_id().to_string();
    wait_until(&a, "/v1/peers", "b's state and topic reach a", |peers| {
        peers.as_array().is_some_and(|list| {
            list.iter().any(|p| {
                p["node_id"] == b_id.as_str()
                    && p["topics"] == json!(["tx"])
                    && p["state"]["height"] == "42"
            })
        })
    })
    .await;
    let peers = a.get("/v1/peers").await;
    let peer = &peers[0];
    assert_eq!(peer["connected"], true);
    assert_eq!(peer["online"], true);
    assert_eq!(peer["addrs"], json!([b.node.addr.to_string()]));
    assert_eq!(peer["state_base64"]["raw"], "/wA=");
    assert!(peer["seq"].as_u64().expect("seq") >= 3, "{peer}");
}

#[tokio::test]
async fn static_peers_are_added_and_removed_at_runtime() {
    let mut ids = identities(2).into_iter();
    let mut a = Daemon::start(ids.next().expect("identity")).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    let addr = format!("127.0.0.1:{}", common::socket_addr(&b.node.addr).port());

    let added = a.post("/v1/peers", json!({ "addr": addr })).await;
    assert_eq!(added, json!({ "addr": addr, "added": true }));
    a.node.wait_connected(b.node_id()).await;
    let again = a.post("/v1/peers", json!({ "addr": addr })).await;
    assert_eq!(again["added"], false);
    wait_until(
        &a,
        "/v1/static-peers",
        "the static peer shows connected",
        |list| list[0]["connected"] == b.node_id().to_string().as_str(),
    )
    .await;

    let removed = a
        .client
        .delete("/v1/peers", &json!({ "addr": addr }))
        .await
        .expect("DELETE /v1/peers");
    assert_eq!(removed, json!({ "addr": addr, "removed": true }));
    assert_eq!(a.get("/v1/static-peers").await, json!([]));
    wait_until(&a, "/v1/status", "b is disconnected", |s| {
        s["connected"] == 0
    })
    .await;
}

#[tokio::test]
async fn a_request_is_echoed_back_by_the_other_daemon_as_text_or_base64() {
    let (a, b) = pair().await;
    let to = b.node_id().to_string();
    let reply = a
        .post("/v1/request", json!({ "to": to, "data": "ping" }))
        .await;
    assert_eq!(reply, json!({ "from": to, "data": "ping" }));

    let binary = a
        .post("/v1/request", json!({ "to": to, "data_base64": "AAH/" }))
        .await;
    assert_eq!(binary, json!({ "from": to, "data_base64": "AAH/" }));
}

#[tokio::test]
async fn topic_sends_multicasts_and_broadcasts_reach_the_other_daemon_and_its_event_stream() {
    let (a, b) = pair().await;
    let mut events = b.events().await;
    b.post("/v1/subscribe", json!({ "topic": "blocks" })).await;
    wait_until(&a, "/v1/peers", "a learns that b follows blocks", |peers| {
        peers[0]["topics"] == json!(["blocks"])
    })
    .await;

    let reply = a
        .post(
            "/v1/send-topic",
            json!({ "topic": "blocks", "data": "to one" }),
        )
        .await;
    assert_eq!(
        reply,
        json!({ "from": b.node_id().to_string(), "data": "to one" })
    );
    let a_id = a.node_id().to_string();
    let seen = wait_event(&mut events, "the echoed topic request", |e| {
        e["type"] == "message"
    })
    .await;
    assert_eq!(
        seen,
        json!({ "type": "message", "kind": "unicast", "from": a_id, "topic": null, "module": 0, "data": "to one" })
    );

    let sent = a
        .post(
            "/v1/multicast",
            json!({ "topic": "blocks", "data": "to all followers" }),
        )
        .await;
    assert_eq!(sent, json!({ "topic": "blocks", "sent_to": 1 }));
    let seen = wait_event(&mut events, "the multicast", |e| e["kind"] == "multicast").await;
    assert_eq!(seen["topic"], "blocks");
    assert_eq!(seen["from"], a_id.as_str());
    assert_eq!(seen["data"], "to all followers");

    let sent = a
        .post("/v1/broadcast", json!({ "data_base64": "/w==" }))
        .await;
    assert_eq!(sent, json!({ "sent": true }));
    let seen = wait_event(&mut events, "the broadcast", |e| e["kind"] == "broadcast").await;
    assert_eq!(seen["data_base64"], "/w==");
    assert_eq!(seen["topic"], Value::Null);

    let left = b
        .post("/v1/unsubscribe", json!({ "topic": "blocks" }))
        .await;
    assert_eq!(left, json!({ "topic": "blocks", "changed": true }));
    let again = b
        .post("/v1/unsubscribe", json!({ "topic": "blocks" }))
        .await;
    assert_eq!(again["changed"], false);
}

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
async fn bad_input_is_answered_4xx_naming_the_problem() {
    let (a, b) = pair().await;
    let to = b.node_id().to_string();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "/v1/request",
            json!({ "to": "abc", "data": "x" }).to_string(),
            400,
            "bad node ID",
        ),
        (
            "/v1/request",
            json!({ "to": to, "data": "x", "colour": 1 }).to_string(),
            400,
            "unknown field `colour`",
        ),
        (
            "/v1/request",
            json!({ "to": to, "data_base64": "%%%" }).to_string(),
            400,
            "bad base64",
        ),
        (
            "/v1/request",
            json!({ "to": to, "data": "x", "data_base64": "eA==" }).to_string(),
            400,
            "not both",
        ),
        (
            "/v1/request",
            json!({ "to": to }).to_string(),
            400,
            "missing payload",
        ),
        (
            "/v1/request",
            json!({ "to": to, "data": "x", "module": 70000 }).to_string(),
            400,
            "u16",
        ),
        (
            "/v1/request",
            json!({ "to": to, "data": "x", "timeout_ms": 0 }).to_string(),
            400,
            "timeout_ms",
        ),
        ("/v1/request", "{not json".to_owned(), 400, "invalid JSON"),
        (
            "/v1/peers",
            json!({ "addr": "nowhere" }).to_string(),
            400,
            "no port",
        ),
        (
            "/v1/peers",
            json!({}).to_string(),
            400,
            "missing field `addr`",
        ),
        (
            "/v1/subscribe",
            json!({ "topic": "" }).to_string(),
            400,
            "empty",
        ),
        (
            "/v1/multicast",
            json!({ "topic": 5, "data": "x" }).to_string(),
            400,
            "invalid type",
        ),
        ("/v1/nothing", "{}".to_owned(), 404, "no such route"),
        ("/v1/status", "{}".to_owned(), 405, "method not allowed"),
    ];
    for (path, body, status, needle) in cases {
        let (got, answer) = a.post_raw(path, &body).await;
        let message = answer["error"].as_str().unwrap_or_default();
        assert_eq!(got, status, "POST {path} {body}: {answer}");
        assert!(
            message.contains(needle),
            "POST {path} {body}: {message:?} lacks {needle:?}"
        );
    }
}

#[tokio::test]
async fn node_errors_map_to_fitting_status_codes() {
    let (a, b) = pair().await;
    let to = b.node_id().to_string();
    // b serves module 9 but never answers: a short timeout ends in 504.
    let _silent = b.node.handle.register(9).await.expect("module registered");
    let stranger = identities(1).remove(0);
    let cases = [
        (
            json!({ "to": to, "module": 9, "data": "x", "timeout_ms": 300 }),
            504,
            "timeout",
        ),
        (
            json!({ "to": to, "module": 8, "data": "x" }),
            502,
            "module 8",
        ),
        (
            json!({ "to": stranger.node_id().to_string(), "data": "x" }),
            502,
            "could not be dialled",
        ),
        (
            json!({ "to": a.node_id().to_string(), "data": "x" }),
            400,
            "itself",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = a.post_raw("/v1/request", &body.to_string()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(text(&answer["error"]).contains(needle), "{body}: {answer}");
    }
    let (got, answer) = a
        .post_raw(
            "/v1/send-topic",
            &json!({ "topic": "nobody", "data": "x" }).to_string(),
        )
        .await;
    assert_eq!(got, 404, "{answer}");
    assert!(
        text(&answer["error"]).contains("no node follows"),
        "{answer}"
    );
    let (got, _) = a
        .post_raw(
            "/v1/multicast",
            &json!({ "topic": "nobody", "data": "x" }).to_string(),
        )
        .await;
    assert_eq!(got, 404);
}

#[tokio::test]
async fn oversize_payloads_and_bodies_are_refused_with_413() {
    let mut ids = identities(1).into_iter();
    let small = fisco_p2p::node::Config::default()
        .with_listen("/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"))
        .with_max_message_size(4096);
    let admin_config = admin::Config::default().with_max_message_size(4096);
    let a = Daemon::start_with(ids.next().expect("identity"), small, admin_config).await;

    // Fits in the body limit, but not in the node's message size.
    let payload = "x".repeat(5000);
    let (status, answer) = a
        .post_raw("/v1/broadcast", &json!({ "data": payload }).to_string())
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        text(&answer["error"]).contains("exceeds the maximum message size"),
        "{answer}"
    );

    // Over the body limit: refused before it is parsed.
    let body = json!({ "data": "y".repeat(200 * 1024) }).to_string();
    let (status, answer) = a.post_raw("/v1/broadcast", &body).await;
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");
}

#[tokio::test]
async fn metrics_count_messages_connections_latency_and_the_sync_view() {
    let (a, b) = pair().await;
    let to = b.node_id().to_string();
    a.post("/v1/request", json!({ "to": to, "data": "12345" }))
        .await;
    a.post("/v1/broadcast", json!({ "data": "abc" })).await;
    let answer = a
        .client
        .send(hyper::Method::GET, "/metrics", None)
        .await
        .expect("GET /metrics");
    assert_eq!(answer.status, 200);
    let metrics = text(&answer.body).to_owned();
    for line in [
        "fisco_p2p_messages_sent_total{kind=\"unicast\"} 1",
        "fisco_p2p_payload_sent_bytes_total{kind=\"unicast\"} 5",
        "fisco_p2p_messages_sent_total{kind=\"broadcast\"} 1",
        "fisco_p2p_connections_established_total{direction=\"outbound\"} 1",
        "fisco_p2p_request_duration_seconds_count{target=\"node\",outcome=\"reply\"} 1",
        "fisco_p2p_connected_peers 1",
        "fisco_p2p_known_nodes 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    assert!(
        metrics.contains("libp2p_swarm_connections_established"),
        "{metrics}"
    );
    // b answered the request: its metrics count it as received.
    let b_metrics = b
        .client
        .send(hyper::Method::GET, "/metrics", None)
        .await
        .expect("GET /metrics");
    assert!(
        text(&b_metrics.body)
            .lines()
            .any(|l| l == "fisco_p2p_messages_received_total{kind=\"unicast\"} 1"),
        "{}",
        b_metrics.body
    );
}

#[tokio::test]
async fn a_non_loopback_admin_address_is_refused_unless_public() {
    let refused = admin::bind("0.0.0.0:0".parse().expect("address"), false).await;
    assert!(matches!(refused, Err(admin::AdminError::NotLoopback(_))));
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("--admin-public"), "{message}");
    assert!(
        admin::bind("[::1]:0".parse().expect("address"), false)
            .await
            .is_ok()
            || admin::bind("127.0.0.1:0".parse().expect("address"), false)
                .await
                .is_ok()
    );
}

#[tokio::test]
async fn a_slow_event_reader_does_not_hold_up_the_node_or_other_readers() {
    let mut ids = identities(2).into_iter();
    let admin_config = admin::Config::default().with_event_capacity(4);
    let mut a = Daemon::start_with(
        ids.next().expect("identity"),
        common::network::messaging_config(),
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

#[tokio::test]
async fn routes_answer_503_once_the_node_has_stopped() {
    let mut ids = identities(1).into_iter();
    let a = Daemon::start(ids.next().expect("identity")).await;
    a.node.handle.shutdown().await.expect("node stops");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answer = a
        .client
        .send(hyper::Method::GET, "/v1/status", None)
        .await
        .expect("the API still answers");
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(text(&answer.body["error"]).contains("stopped"));
}
