//! Every way a request can end is recorded exactly once in the request histogram, by target
//! (node, topic) and outcome: a test per path of `Handle::request` and `Handle::send_to_topic`.

#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use common::{
    bounded, eventually,
    network::{identities, messaging_config, Server, MODULE},
    TestNode,
};
use fisco_p2p::node::Message;
use fisco_p2p_metrics::Metrics;

/// The `_count` of the request histogram for `target` and `outcome`.
fn count(metrics: &Metrics, target: &str, outcome: &str) -> u64 {
    let text = metrics.encode();
    let line = format!(
        "fisco_p2p_request_duration_seconds_count{{target=\"{target}\",outcome=\"{outcome}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn all(metrics: &Metrics) -> u64 {
    ["node", "topic"]
        .iter()
        .flat_map(|t| {
            [
                "reply",
                "timeout",
                "unreachable",
                "disconnected",
                "rejected",
                "error",
            ]
            .map(|o| count(metrics, t, o))
        })
        .sum()
}

/// Awaits `call` and checks it moved exactly the `target`/`outcome` series, by one.
async fn check<T>(
    metrics: &Metrics,
    seen: &mut u64,
    what: &str,
    target: &str,
    outcome: &str,
    call: impl std::future::Future<Output = T>,
) {
    let before = count(metrics, target, outcome);
    let _ = call.await;
    *seen += 1;
    assert_eq!(
        count(metrics, target, outcome),
        before + 1,
        "{what}: {target}/{outcome}"
    );
    assert_eq!(all(metrics), *seen, "{what} was recorded more than once");
}

#[tokio::test]
async fn each_path_of_a_request_moves_the_histogram_once() {
    bounded(async {
        let metrics = Arc::new(Metrics::new());
        let ids = identities(3);
        let stranger = ids[2].node_id();
        let mut ids = ids.into_iter();
        let a = TestNode::spawn(
            ids.next().unwrap(),
            messaging_config()
                .with_recorder(metrics.clone())
                .with_route_wait(Duration::from_millis(200)),
        )
        .await;
        let b = TestNode::spawn(ids.next().unwrap(), messaging_config()).await;
        a.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        let _server = Server::start(&b.handle).await;
        // Module 99 holds requests without answering them.
        let mut silent = b.handle.register(99).await.unwrap();
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some(Message::Request(r)) = silent.next().await {
                held.push(r);
            }
        });
        b.handle.subscribe("jobs").await.unwrap();
        let target = b.node_id();
        eventually("A knows B follows jobs", async || {
            a.handle
                .peers()
                .await
                .unwrap()
                .iter()
                .any(|p| p.topics.iter().any(|t| t == "jobs"))
        })
        .await;

        let mut seen = 0;
        let m = &metrics;
        let h = &a.handle;
        let big = Bytes::from(vec![0u8; 33 * 1024 * 1024]);
        check(
            m,
            &mut seen,
            "a reply",
            "node",
            "reply",
            h.request(target.clone(), MODULE, Bytes::new()),
        )
        .await;
        check(
            m,
            &mut seen,
            "an unknown module",
            "node",
            "rejected",
            h.request(target.clone(), 4242, Bytes::new()),
        )
        .await;
        let silent_call =
            h.request_with_timeout(target.clone(), 99, Bytes::new(), Duration::from_millis(300));
        check(
            m,
            &mut seen,
            "no answer in time",
            "node",
            "timeout",
            silent_call,
        )
        .await;
        check(
            m,
            &mut seen,
            "a node nobody knows",
            "node",
            "unreachable",
            h.request(stranger, MODULE, Bytes::new()),
        )
        .await;
        check(
            m,
            &mut seen,
            "refused before sending",
            "node",
            "error",
            h.request(target, MODULE, big),
        )
        .await;
        check(
            m,
            &mut seen,
            "a follower replies",
            "topic",
            "reply",
            h.send_to_topic("jobs", MODULE, Bytes::new()),
        )
        .await;
        check(
            m,
            &mut seen,
            "nobody follows",
            "topic",
            "unreachable",
            h.send_to_topic("nobody", MODULE, Bytes::new()),
        )
        .await;
        check(
            m,
            &mut seen,
            "every follower failed",
            "topic",
            "rejected",
            h.send_to_topic("jobs", 4242, Bytes::new()),
        )
        .await;
        held.abort();
        a.handle.shutdown().await.unwrap();
        b.handle.shutdown().await.unwrap();
    })
    .await;
}

/// The value of an unlabelled series.
fn value(metrics: &Metrics, series: &str) -> f64 {
    let prefix = format!("{series} ");
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(f64::NAN)
}

#[tokio::test]
async fn a_relay_counts_what_it_relays_and_the_origin_its_routes() {
    bounded(async {
        let (ma, mb) = (Arc::new(Metrics::new()), Arc::new(Metrics::new()));
        let mut ids = identities(3).into_iter();
        let a = TestNode::spawn(
            ids.next().unwrap(),
            messaging_config().with_recorder(ma.clone()),
        )
        .await;
        let b = TestNode::spawn(
            ids.next().unwrap(),
            messaging_config().with_recorder(mb.clone()),
        )
        .await;
        let c = TestNode::spawn(ids.next().unwrap(), messaging_config()).await;
        let _server = Server::start(&c.handle).await;
        assert_eq!(
            value(&mb, "fisco_p2p_overlay_relayed_total"),
            0.0,
            "declared at zero"
        );
        a.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        c.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        let target = c.node_id();
        eventually("A has a route to C", async || {
            a.handle
                .routes()
                .await
                .unwrap()
                .iter()
                .any(|r| r.destination == target)
        })
        .await;
        a.handle
            .request(target, MODULE, Bytes::from_static(b"via b"))
            .await
            .unwrap();
        eventually("the gauges caught up", async || {
            value(&ma, "fisco_p2p_routes") == 2.0
                && value(&mb, "fisco_p2p_overlay_relayed_total") == 2.0
        })
        .await;
        assert!(value(&mb, "fisco_p2p_overlay_relayed_bytes_total") > 0.0);
        for node in [a, b, c] {
            node.handle.shutdown().await.unwrap();
        }
    })
    .await;
}
