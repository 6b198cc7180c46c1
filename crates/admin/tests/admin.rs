//! The admin API against in-process nodes on 127.0.0.1: every route, the event stream, metrics,
//! and 4xx answers naming what is wrong. `admin/harness.rs` runs the daemons; the event stream
//! is tested in `admin/events.rs`, error answers in `admin/errors.rs`, the typed client in
//! `admin/typed.rs`.

// The shared helpers unwrap locks.
#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;
#[path = "admin/errors.rs"]
mod errors;
#[path = "admin/events.rs"]
mod events;
#[path = "admin/hardening.rs"]
mod hardening;
#[path = "admin/harness.rs"]
mod harness;
#[path = "admin/typed.rs"]
mod typed;

use common::network::identities;
use harness::{pair, text, wait_event, wait_until, Daemon};
use serde_json::{json, Value};

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
async fn routes_list_each_reachable_node_with_its_next_hop_and_path() {
    let (a, b) = pair().await;
    let b_id = b.node_id().to_string();
    wait_until(&a, "/v1/routes", "a has a route to b", |routes| {
        routes.as_array().is_some_and(|list| !list.is_empty())
    })
    .await;
    let routes = a.get("/v1/routes").await;
    assert_eq!(
        routes,
        json!([{
            "destination": b_id,
            "next_hop": b_id,
            "hops": 1,
            "path": [a.node_id().to_string(), b_id],
        }])
    );
    assert_eq!(a.get("/v1/status").await["routes"], 1);
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
    // b answered the request and gets a multicast: its metrics count both.
    b.post("/v1/subscribe", json!({ "topic": "m" })).await;
    wait_until(&a, "/v1/peers", "a learns that b follows m", |peers| {
        peers[0]["topics"] == json!(["m"])
    })
    .await;
    a.post("/v1/multicast", json!({ "topic": "m", "data": "x" }))
        .await;
    let wanted = [
        "fisco_p2p_messages_received_total{kind=\"unicast\"} 1",
        "fisco_p2p_messages_received_total{kind=\"multicast\"} 1",
    ];
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let answer = b
            .client
            .send(hyper::Method::GET, "/metrics", None)
            .await
            .expect("GET /metrics");
        let text = text(&answer.body).to_owned();
        if wanted.iter().all(|w| text.lines().any(|l| l == *w)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{wanted:?} not all in\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `GET /metrics` with `accept`: the Content-Type and the body.
async fn scrape(daemon: &Daemon, accept: &str) -> (String, String) {
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n",
        daemon.address
    );
    let (status, answer) = harness::raw_http(daemon.address, &request).await;
    assert_eq!(status, 200, "{answer}");
    let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (content_type, body.to_owned())
}

#[tokio::test]
async fn metrics_answer_each_scraper_in_the_format_it_asks_for() {
    let (a, _b) = pair().await;
    let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
                      text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let (kind, body) = scrape(&a, prometheus).await;
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    let (kind, body) = scrape(&a, "text/plain;version=0.0.4").await;
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    assert!(!body.contains("# EOF"), "{body}");
    assert!(body.contains("# HELP fisco_p2p_connection_refusals_total "));
    assert!(body.contains("fisco_p2p_build_info{"), "{body}");
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
}

#[tokio::test]
async fn promtool_finds_nothing_to_lint_in_the_text_format() {
    let available = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !available {
        eprintln!("skipped: promtool is not installed (Debian: apt-get install prometheus)");
        return;
    }
    let (a, _b) = pair().await;
    let (_, body) = scrape(&a, "text/plain;version=0.0.4").await;
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("promtool starts");
    use tokio::io::AsyncWriteExt as _;
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(body.as_bytes()).await.expect("written");
    drop(stdin);
    let output = tokio::time::timeout(common::WAIT, child.wait_with_output())
        .await
        .expect("promtool ends in time")
        .expect("promtool output");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "{said}\n{body}"
    );
}
