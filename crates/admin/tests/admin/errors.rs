//! Error answers: 4xx naming the problem for bad input, fitting statuses for node errors.

use std::time::Duration;

use crate::common::network::identities;
use crate::harness::{pair, text, Daemon};
use fisco_p2p_admin as admin;
use serde_json::json;

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
            "no route",
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
