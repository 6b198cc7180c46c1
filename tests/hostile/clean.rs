//! What a healthy network must not report.

use std::time::Duration;

use fisco_p2p::node::Event;

use crate::common::{bounded, config, network::identities, TestNode};

/// Three nodes that all dial each other at once (each lists the other two as static peers)
/// connect without a single refusal or disconnection: the duplicate connections of simultaneous
/// dials are closed by the one-connection-per-pair rule, neither reported as protocol violations
/// nor costing a node its last connection to the peer for a moment; and no node logs a warning.
#[tokio::test]
async fn a_clean_three_node_start_refuses_nothing() {
    bounded(async {
        let (log, _guard) = crate::logs::Captured::start();
        for round in 0..5 {
            // A node logs a warning when its peers shut down; only the start is clean.
            log.clear();
            let mut nodes = Vec::new();
            for identity in identities(3) {
                nodes.push(TestNode::spawn(identity, config()).await);
            }
            // Every event from before the first dial on.
            let mut watchers: Vec<_> = nodes.iter().map(|n| n.handle.events()).collect();
            let addrs: Vec<_> = nodes.iter().map(|n| n.addr.clone()).collect();
            for (i, node) in nodes.iter().enumerate() {
                for (j, addr) in addrs.iter().enumerate() {
                    if i != j {
                        node.handle
                            .operator()
                            .add_peer(addr.clone())
                            .await
                            .expect("running");
                    }
                }
            }
            let ids: Vec<_> = nodes.iter().map(TestNode::node_id).collect();
            for node in &mut nodes {
                for id in &ids {
                    if *id != node.node_id() {
                        node.wait_connected(id.clone()).await;
                    }
                }
            }
            // Let the duplicates of the simultaneous dials close.
            tokio::time::sleep(Duration::from_millis(500)).await;
            for watcher in &mut watchers {
                let mut refusals: Vec<Event> = Vec::new();
                while let Ok(Some(event)) =
                    tokio::time::timeout(Duration::from_millis(50), watcher.next()).await
                {
                    if matches!(
                        event,
                        Event::ConnectionRefused { .. } | Event::PeerDisconnected { .. }
                    ) {
                        refusals.push(event);
                    }
                }
                assert!(refusals.is_empty(), "round {round}: {refusals:?}");
            }
            let warnings = log.lines("WARN", "");
            assert!(
                warnings.is_empty(),
                "round {round}: {warnings:#?}\nwhole log:\n{}",
                log.text()
            );
            for node in nodes {
                node.shutdown().await;
            }
        }
    })
    .await;
}
