//! The admin API against what a web page, a careless client or a hostile local process can send:
//! cross-origin posts, a rebinding `Host`, missing tokens, too many or too slow connections, and
//! an event reader that never reads.

use std::time::{Duration, Instant};

use fisco_p2p_admin::{self as admin, client::ClientError, Token};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    network::{identities, messaging_config},
    WAIT,
};
use crate::harness::{connect, raw_http, Daemon};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

async fn daemon(config: admin::Config) -> Daemon {
    let id = identities(1).into_iter().next().expect("identity");
    Daemon::start_with(id, messaging_config(), config).await
}

async fn topics(daemon: &Daemon) -> serde_json::Value {
    daemon.get("/v1/status").await["topics"].clone()
}

#[tokio::test]
async fn a_cross_origin_form_post_is_refused_and_does_nothing() {
    let a = daemon(admin::Config::default()).await;
    let host = a.address.to_string();
    let body = r#"{"topic":"pwned"}"#;
    let form = format!(
        "POST /v1/subscribe HTTP/1.1\r\nHost: {host}\r\nOrigin: http://evil.example\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = raw_http(a.address, &form).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("cross-origin"), "{answer}");
    // A fetch with text/plain needs no CORS preflight either: refused for its type.
    let plain = format!(
        "POST /v1/subscribe HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = raw_http(a.address, &plain).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(topics(&a).await, json!([]));
}

#[tokio::test]
async fn a_rebinding_host_is_refused_and_reads_nothing() {
    let a = daemon(admin::Config::default()).await;
    let port = a.address.port();
    let rebinding =
        format!("GET /v1/peers HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n");
    let (status, answer) = raw_http(a.address, &rebinding).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("DNS rebinding"), "{answer}");
    assert!(!answer.contains("node_id"), "{answer}");
    for host in [format!("localhost:{port}"), a.address.to_string()] {
        let request =
            format!("GET /v1/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (status, answer) = raw_http(a.address, &request).await;
        assert_eq!(status, 200, "{host}: {answer}");
    }
}

#[tokio::test]
async fn a_name_the_operator_allowed_is_answered() {
    let a = daemon(admin::Config::default().with_allowed_host("node0.example")).await;
    let request = format!(
        "GET /v1/status HTTP/1.1\r\nHost: NODE0.example:{}\r\nConnection: close\r\n\r\n",
        a.address.port()
    );
    assert_eq!(raw_http(a.address, &request).await.0, 200);
}

#[tokio::test]
async fn with_a_token_every_route_needs_it_and_the_client_sends_it() {
    let token = Token::new(TOKEN).expect("token");
    let a = daemon(admin::Config::default().with_token(token)).await;
    for path in ["/v1/status", "/metrics", "/v1/events"] {
        let refused = a.client.get(path).await;
        assert!(
            matches!(&refused, Err(ClientError::Api { status: 401, .. })),
            "{path}: {refused:?}"
        );
    }
    let wrong = a
        .client
        .clone()
        .with_token("0123456789abcdef0123456789abcdeX");
    assert!(matches!(
        wrong.get("/v1/status").await,
        Err(ClientError::Api { status: 401, .. })
    ));
    let right = a.client.clone().with_token(TOKEN);
    assert!(right.get("/v1/status").await.is_ok());
    assert!(right.events().await.is_ok());
    let changed = right
        .post("/v1/subscribe", &json!({ "topic": "blocks" }))
        .await
        .expect("subscribe with the token");
    assert_eq!(changed["changed"], true);
}

#[tokio::test]
async fn a_public_address_without_a_token_is_refused() {
    let id = identities(1).into_iter().next().expect("identity");
    let node = crate::common::TestNode::spawn(id, messaging_config()).await;
    let listener = admin::bind("0.0.0.0:0".parse().expect("address"), true)
        .await
        .expect("binds");
    let served = admin::serve(
        listener,
        node.handle.clone(),
        admin::Config::default(),
        async {},
    )
    .await;
    let error = served.expect_err("refused without a token").to_string();
    assert!(error.contains("needs a token"), "{error}");
}

#[tokio::test]
async fn connections_over_the_limit_are_answered_503_at_once() {
    let a = daemon(admin::Config::default().with_max_connections(3)).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            tokio::net::TcpStream::connect(a.address)
                .await
                .expect("connects"),
        );
    }
    // Give the server a moment to take the three in.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (status, answer) = raw_http(
        a.address,
        "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(idle);
    // Their places free again.
    let deadline = Instant::now() + WAIT;
    while a.client.get("/v1/status").await.is_err() {
        assert!(Instant::now() < deadline, "places freed in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(mut stream: tokio::net::TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(WAIT, async {
        while stream.read(&mut buffer).await.unwrap_or(0) > 0 {}
    })
    .await
    .expect("the server closes the connection in time");
    started.elapsed()
}

#[tokio::test]
async fn a_slow_header_and_an_idle_connection_are_closed() {
    let config = admin::Config::default()
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(500));
    let a = daemon(config).await;
    // Half a request head, never finished.
    let mut slow = tokio::net::TcpStream::connect(a.address)
        .await
        .expect("connects");
    slow.write_all(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .expect("writes");
    let took = closed_after(slow).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    // A connection that never sends anything.
    let silent = tokio::net::TcpStream::connect(a.address)
        .await
        .expect("connects");
    let took = closed_after(silent).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_request_waiting_for_a_peer_is_not_cut_by_the_idle_timeout() {
    let mut ids = identities(2).into_iter();
    let config =
        admin::Config::default().with_timeouts(Duration::from_secs(5), Duration::from_millis(200));
    let a = Daemon::start_with(ids.next().expect("identity"), messaging_config(), config).await;
    // A node nobody knows: the request waits its whole timeout (1 s), silently.
    let stranger = ids.next().expect("identity").node_id().to_string();
    let answer = a
        .client
        .send(
            hyper::Method::POST,
            "/v1/request",
            Some(
                json!({ "to": stranger, "data": "x", "timeout_ms": 1000 })
                    .to_string()
                    .into(),
            ),
        )
        .await
        .expect("an answer, not a closed connection");
    assert!(answer.status >= 500, "{answer:?}");
}

#[tokio::test]
async fn an_event_reader_that_never_reads_is_told_it_lagged_and_dropped() {
    let mut ids = identities(2).into_iter();
    let config = admin::Config::default()
        .with_event_bytes(256 * 1024)
        .with_event_payload(128 * 1024);
    let mut a = Daemon::start_with(ids.next().expect("identity"), messaging_config(), config).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    connect(&mut a, &b).await;
    // A raw SSE client with a small receive buffer that reads nothing while events pile up.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut stalled = socket.connect(a.address).await.expect("connects");
    stalled
        .write_all(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("writes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 100 KiB payloads, shown in full (under 128 KiB): far more than the socket buffers and the
    // client's 256 KiB budget hold.
    let payload = "x".repeat(100 * 1024);
    for _ in 0..100 {
        b.post("/v1/broadcast", json!({ "data": payload })).await;
    }
    let mut reader = a.events().await;
    b.post("/v1/broadcast", json!({ "data": "after" })).await;
    crate::harness::wait_event(&mut reader, "a fresh reader gets new events", |e| {
        e["data"] == "after"
    })
    .await;
    // Reading now, the stalled client finds what fitted, then the lagged event.
    let mut seen = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let n = stalled.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                return false;
            }
            seen.extend_from_slice(&buffer[..n]);
            let tail = String::from_utf8_lossy(&seen[seen.len().saturating_sub(n + 512)..]);
            if tail.contains("\"type\":\"lagged\"") {
                return true;
            }
        }
    })
    .await
    .expect("the lagged event in time");
    assert!(found, "the stream ended without a lagged event");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\"source\":\"client\""), "lagged event seen");
    // Far fewer than the 100 events reached it: the rest were dropped, not held.
    assert!(text.matches("\"type\":\"message\"").count() < 100);
}
