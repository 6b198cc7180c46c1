//! Idle connection floods: a stranger with only TCP reachability must not keep a legitimate,
//! correctly certified peer out.
//!
//! The issue measured the attack before admission existed: 100 idle connections from one process
//! kept a peer out for more than 45 s. Each test floods a node, then starts a peer that dials it
//! and times the connection.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use fisco_p2p::node::Event;

use crate::{
    attacker::{sources, Flood},
    common::{bounded, config, network::identities, socket_addr, TestNode},
};

/// How long a legitimate peer may take to connect under a flood.
const WITHIN: Duration = Duration::from_secs(2);

/// Floods a node from `sources` (`per_source` idle connections each), lets the flood settle, then
/// times a legitimate peer dialling the node.
async fn connect_under_flood(sources: &[IpAddr], per_source: usize) -> Duration {
    let mut ids = identities(2).into_iter();
    let mut victim = TestNode::spawn(ids.next().expect("identity"), config()).await;
    let flood = Flood::start(socket_addr(&victim.addr), sources, per_source);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let opened_before = flood.opened();
    assert!(
        opened_before >= (sources.len() * per_source) as u64,
        "the flood is up: {opened_before} connections opened"
    );
    let start = Instant::now();
    let peer = TestNode::spawn(
        ids.next().expect("identity"),
        config().with_peer(victim.addr.clone()),
    )
    .await;
    victim.wait_connected(peer.node_id()).await;
    let took = start.elapsed();
    eprintln!(
        "legitimate peer connected after {took:?} under a flood of {} idle connections from {} \
         IPs ({} opened in all)",
        sources.len() * per_source,
        sources.len(),
        flood.opened()
    );
    drop(flood);
    peer.shutdown().await;
    victim.shutdown().await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_connects_within_two_seconds_while_one_ip_floods_the_port() {
    bounded(async {
        let took = connect_under_flood(&sources(1), 100).await;
        assert!(took < WITHIN, "took {took:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_connects_within_two_seconds_while_many_ips_flood_the_port() {
    bounded(async {
        // 200 idle connections from 100 source IPs, two each: the per-IP limit alone does not
        // stop them; eviction of silent connections does.
        let took = connect_under_flood(&sources(100), 2).await;
        assert!(took < WITHIN, "took {took:?}");
    })
    .await;
}

/// The flood's own connections are closed once they stay silent past the first-bytes deadline,
/// and what the node logs and reports about them stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_after_the_first_bytes_deadline() {
    bounded(async {
        let mut ids = identities(1).into_iter();
        let config = config().with_first_bytes_timeout(Duration::from_millis(500));
        let mut victim = TestNode::spawn(ids.next().expect("identity"), config).await;
        let flood = Flood::start(socket_addr(&victim.addr), &sources(1), 2);
        let timeouts = victim
            .wait_for("silent connections refused as timed out", |e| match e {
                Event::ConnectionRefused { reason, .. }
                    if *reason == fisco_p2p::node::Refusal::Timeout =>
                {
                    Some(())
                }
                _ => None,
            })
            .await;
        let () = timeouts;
        // Re-opened as closed: more than the two it started with.
        crate::common::eventually("the flood re-opened its closed connections", async || {
            flood.opened() > 2
        })
        .await;
        drop(flood);
        victim.shutdown().await;
    })
    .await;
}

/// A connection turned away before its handshake is reset, not closed: a flood of them leaves
/// no TIME_WAIT sockets on the node.
#[tokio::test]
async fn a_silent_connection_is_reset_not_closed() {
    bounded(async {
        let config = config().with_first_bytes_timeout(Duration::from_millis(300));
        let victim = TestNode::spawn(identities(1).remove(0), config).await;
        let mut stream = crate::attacker::connect_from(sources(1)[0], socket_addr(&victim.addr))
            .await
            .expect("connect");
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(
            crate::common::WAIT,
            tokio::io::AsyncReadExt::read(&mut stream, &mut byte),
        )
        .await
        .expect("the node ends the connection in time");
        match read {
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            Ok(n) => panic!("closed gracefully ({n} bytes), not reset"),
        }
        victim.shutdown().await;
    })
    .await;
}
