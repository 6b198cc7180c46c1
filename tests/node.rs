//! Connections between real nodes: TCP + TLS on 127.0.0.1, FISCO-made fixture certificates.

#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::time::{Duration, Instant};

use common::*;
use fisco_p2p::{
    node::{DisconnectReason, Event, Refusal},
    tls::RefusalReason,
};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn two_nodes_of_one_ca_connect_and_know_each_other_by_node_id() {
    bounded(async {
        for chain in ["fisco-2.5", "fisco-2.0-rsa"] {
            let mut a = TestNode::spawn(identity(&format!("{chain}/node0")), config()).await;
            let mut b = TestNode::spawn(
                identity(&format!("{chain}/node1")),
                config().with_peer(a.addr.clone()),
            )
            .await;
            let a_id = nodeid_file(&format!("{chain}/node0"));
            let b_id = nodeid_file(&format!("{chain}/node1"));
            assert_eq!(a.node_id(), a_id);
            assert_eq!(b.node_id(), b_id);
            b.wait_connected(a_id).await;
            a.wait_connected(b_id.clone()).await;
            let peers = a.handle.connected_peers().await.unwrap();
            assert_eq!(peers.len(), 1, "{chain}");
            assert_eq!(peers[0].node_id, b_id, "{chain}");
            a.shutdown().await;
            b.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_node_with_a_sec1_key_joins_its_chain() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let mut b = TestNode::spawn(
            identity("fisco-2.5/node2-sec1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        let b_id = nodeid_file("fisco-2.5/node2-sec1");
        a.wait_connected(b_id).await;
        b.wait_connected(a.node_id()).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

/// The refusal both sides report when `dialer` dials `listener`.
async fn refusals(
    listener: &mut TestNode,
    dialer: &mut TestNode,
) -> (RefusalReason, RefusalReason) {
    dialer
        .handle
        .operator()
        .add_peer(listener.addr.clone())
        .await
        .unwrap();
    let on_listener = listener
        .wait_for("inbound refusal", |e| match e {
            Event::ConnectionRefused {
                reason: Refusal::Tls(reason),
                ..
            } => Some(*reason),
            _ => None,
        })
        .await;
    let on_dialer = dialer
        .wait_for("outbound refusal", |e| match e {
            Event::ConnectionRefused {
                reason: Refusal::Tls(reason),
                ..
            } => Some(*reason),
            Event::PeerConnected { .. } => panic!("a refused dialer saw a connection"),
            _ => None,
        })
        .await;
    (on_listener, on_dialer)
}

#[tokio::test]
async fn a_blacklisted_node_is_refused_on_both_sides_and_the_refuser_keeps_serving() {
    bounded(async {
        let b_id = nodeid_file("fisco-2.5/node1");
        let mut a = TestNode::spawn(
            identity("fisco-2.5/node0"),
            config().with_blacklist([b_id.clone()]),
        )
        .await;
        let mut b = TestNode::spawn(identity("fisco-2.5/node1"), config()).await;
        let (listener_saw, dialer_saw) = refusals(&mut a, &mut b).await;
        assert_eq!(listener_saw, RefusalReason::Blacklisted);
        assert_eq!(dialer_saw, RefusalReason::Blacklisted);

        let mut c = TestNode::spawn(
            identity("fisco-2.5/node2-sec1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        c.wait_connected(a.node_id()).await;
        a.wait_connected(c.node_id()).await;
        assert!(!a.is_connected(b_id).await);
        for node in [a, b, c] {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_node_missing_from_a_whitelist_is_refused_on_both_sides() {
    bounded(async {
        let c_id = nodeid_file("fisco-2.5/node2-sec1");
        let mut a =
            TestNode::spawn(identity("fisco-2.5/node0"), config().with_whitelist([c_id])).await;
        let mut b = TestNode::spawn(identity("fisco-2.5/node1"), config()).await;
        let (listener_saw, dialer_saw) = refusals(&mut a, &mut b).await;
        assert_eq!(listener_saw, RefusalReason::NotWhitelisted);
        assert_eq!(dialer_saw, RefusalReason::NotWhitelisted);
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_node_of_a_foreign_ca_is_refused_on_both_sides() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let mut b = TestNode::spawn(identity("bad/foreign-ca"), config()).await;
        let (listener_saw, dialer_saw) = refusals(&mut a, &mut b).await;
        assert_eq!(listener_saw, RefusalReason::UnknownCa);
        assert_eq!(dialer_saw, RefusalReason::UnknownCa);
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_expired_node_is_refused_on_both_sides() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let mut b = TestNode::spawn(identity("bad/expired"), config()).await;
        let (listener_saw, dialer_saw) = refusals(&mut a, &mut b).await;
        assert_eq!(listener_saw, RefusalReason::Expired);
        // TLS has one alert for both ends of the validity window.
        assert!(matches!(
            dialer_saw,
            RefusalReason::Expired | RefusalReason::NotYetValid
        ));
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn blacklisting_a_connected_peer_disconnects_it_and_keeps_it_out() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let mut b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        let b_id = b.node_id();
        a.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        a.wait_connected(b_id.clone()).await;
        b.wait_connected(a.node_id()).await;

        let dropped = a
            .handle
            .operator()
            .set_blacklist([b_id.clone()])
            .await
            .unwrap();
        assert_eq!(dropped, vec![b_id.clone()]);
        let reason = a
            .wait_for("disconnect", |e| match e {
                Event::PeerDisconnected { node_id, reason } if *node_id == b_id => {
                    Some(reason.clone())
                }
                _ => None,
            })
            .await;
        assert_eq!(reason, DisconnectReason::Blacklisted);

        // Both keep redialling each other (static peers on both sides); every attempt is refused.
        let (listener_saw, _) = (
            b.wait_for("b's redial refused", |e| match e {
                Event::ConnectionRefused {
                    reason: Refusal::Tls(reason),
                    ..
                } => Some(*reason),
                _ => None,
            })
            .await,
            (),
        );
        assert_eq!(listener_saw, RefusalReason::Blacklisted);
        let later = a.events_within(Duration::from_millis(1500)).await;
        assert!(
            !later
                .iter()
                .any(|e| matches!(e, Event::PeerConnected { .. })),
            "blacklisted peer came back: {later:?}"
        );
        assert!(!a.is_connected(b_id.clone()).await);

        // Lifting the ban lets the redials through again.
        a.handle.operator().set_blacklist([]).await.unwrap();
        a.wait_connected(b_id).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_restarted_peer_is_reconnected_within_two_seconds() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let b = TestNode::spawn(identity("fisco-2.5/node1"), config()).await;
        let (b_id, b_addr) = (b.node_id(), b.addr.clone());
        a.handle.operator().add_peer(b_addr.clone()).await.unwrap();
        a.wait_connected(b_id.clone()).await;

        b.shutdown().await;
        a.wait_for("disconnect", |e| {
            matches!(e, Event::PeerDisconnected { node_id, .. } if *node_id == b_id).then_some(())
        })
        .await;
        // Stay down long enough for several redials to fail.
        tokio::time::sleep(Duration::from_millis(700)).await;

        let restarted = Instant::now();
        let b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            config().with_listen(b_addr.clone()),
        )
        .await;
        a.wait_connected(b_id).await;
        let took = restarted.elapsed();
        assert!(took < Duration::from_secs(2), "reconnected after {took:?}");
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn simultaneous_dials_end_with_exactly_one_connection() {
    bounded(async {
        for _ in 0..3 {
            let a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
            let b = TestNode::spawn(identity("fisco-2.5/node1"), config()).await;
            let (a_id, b_id) = (a.node_id(), b.node_id());
            let (ra, rb) = tokio::join!(
                a.handle.operator().add_peer(b.addr.clone()),
                b.handle.operator().add_peer(a.addr.clone())
            );
            assert!(ra.unwrap() && rb.unwrap());
            let one_each = async || {
                let pa = a.handle.connected_peers().await.unwrap();
                let pb = b.handle.connected_peers().await.unwrap();
                pa.len() == 1
                    && pb.len() == 1
                    && pa[0].node_id == b_id
                    && pb[0].node_id == a_id
                    && pa[0].connections == 1
                    && pb[0].connections == 1
            };
            eventually("one connection on both sides", one_each).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(one_each().await, "the single connection did not last");
            a.shutdown().await;
            b.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_self_dial_is_detected_and_not_repeated() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        // The exact listen address: the swarm itself recognises it as its own and never dials it.
        let own = a.addr.clone();
        a.handle.operator().add_peer(own.clone()).await.unwrap();
        let reported = a
            .wait_for("self dial", |e| match e {
                Event::SelfDial { address } => Some(address.clone()),
                _ => None,
            })
            .await;
        assert_eq!(reported, own);
        let later = a.events_within(Duration::from_secs(1)).await;
        assert!(
            later.is_empty(),
            "the own address was dialled again: {later:?}"
        );
        let statics = a.handle.operator().static_peers().await.unwrap();
        assert!(statics[0].own_address);
        a.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_self_dial_through_another_address_is_detected() {
    bounded(async {
        // Listen on every loopback address, dial ourselves through 127.0.0.1: the swarm does not know
        // the address as its own, so the handshake finds our own node ID.
        let mut a = TestNode::spawn(
            identity("fisco-2.5/node0"),
            fisco_p2p::node::Config::default().with_listen("/ip4/0.0.0.0/tcp/0".parse().unwrap()),
        )
        .await;
        let port = socket_addr(&a.addr).port();
        let via_loopback: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
        a.handle
            .operator()
            .add_peer(via_loopback.clone())
            .await
            .unwrap();
        a.wait_for("self dial", |e| match e {
            Event::SelfDial { address } if *address == via_loopback => Some(()),
            _ => None,
        })
        .await;
        let later = a.events_within(Duration::from_secs(1)).await;
        assert!(
            !later
                .iter()
                .any(|e| matches!(e, Event::SelfDial { .. } | Event::PeerConnected { .. })),
            "dialled itself again: {later:?}"
        );
        assert!(a.handle.connected_peers().await.unwrap().is_empty());
        a.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_frozen_link_is_dropped_by_the_heartbeat() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let b = TestNode::spawn(identity("fisco-2.5/node1"), config()).await;
        let proxy = Proxy::start(socket_addr(&b.addr)).await;
        a.handle
            .operator()
            .add_peer(proxy.addr.clone())
            .await
            .unwrap();
        a.wait_connected(b.node_id()).await;
        proxy.freeze();
        let started = Instant::now();
        let reason = a
            .wait_for("heartbeat timeout", |e| match e {
                Event::PeerDisconnected { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .await;
        assert_eq!(reason, DisconnectReason::HeartbeatTimeout);
        // Interval 0.5 s + timeout 2 s, with a wide margin.
        assert!(started.elapsed() < Duration::from_secs(6));
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn garbage_bytes_are_refused_as_not_tls_and_the_node_keeps_serving() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let mut raw = tokio::net::TcpStream::connect(socket_addr(&a.addr))
            .await
            .unwrap();
        // An HTTP request: to multistream-select its first byte announces a 71-byte message, and the
        // rest is not one.
        let request = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: {}\r\n\r\n",
            "x".repeat(200)
        );
        raw.write_all(request.as_bytes()).await.unwrap();
        let reason = a
            .wait_for("refusal", |e| match e {
                Event::ConnectionRefused { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .await;
        assert_eq!(reason, Refusal::Tls(RefusalReason::NotTls));
        drop(raw);

        let mut b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        b.wait_connected(a.node_id()).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn the_connection_limit_refuses_extra_peers() {
    bounded(async {
        let mut a = TestNode::spawn(
            identity("fisco-2.5/node0"),
            config().with_max_connections(1),
        )
        .await;
        let mut b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        b.wait_connected(a.node_id()).await;
        let _c = TestNode::spawn(
            identity("fisco-2.5/node2-sec1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        let reason = a
            .wait_for("limit refusal", |e| match e {
                Event::ConnectionRefused { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .await;
        assert!(matches!(reason, Refusal::ConnectionLimit(_)), "{reason:?}");
        assert_eq!(a.handle.connected_peers().await.unwrap().len(), 1);
        a.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_stopped_node_answers_every_call_with_an_error() {
    bounded(async {
        let a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let handle = a.handle.clone();
        let mut events = handle.events();
        a.shutdown().await;
        assert!(matches!(
            handle.connected_peers().await,
            Err(fisco_p2p::node::Stopped)
        ));
        assert!(handle.operator().add_peer(a_addr()).await.is_err());
        let end = tokio::time::timeout(WAIT, events.next()).await.unwrap();
        assert!(end.is_none(), "event stream should end with the node");
    })
    .await;
}

fn a_addr() -> libp2p::Multiaddr {
    "/ip4/127.0.0.1/tcp/1".parse().unwrap()
}

#[tokio::test]
async fn a_graceful_shutdown_tells_peers() {
    bounded(async {
        let mut a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            config().with_peer(a.addr.clone()),
        )
        .await;
        let b_id = b.node_id();
        a.wait_connected(b_id.clone()).await;
        b.shutdown().await;
        let reason = a
            .wait_for("disconnect", |e| match e {
                Event::PeerDisconnected { node_id, reason } if *node_id == b_id => {
                    Some(reason.clone())
                }
                _ => None,
            })
            .await;
        assert!(
            matches!(reason, DisconnectReason::ConnectionLost(_)),
            "{reason:?}"
        );
        a.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_static_peer_given_by_host_name_is_resolved_and_connected() {
    bounded(async {
        let a = TestNode::spawn(identity("fisco-2.5/node0"), config()).await;
        let port = socket_addr(&a.addr).port();
        let by_name = fisco_p2p::node::parse_address(&format!("localhost:{port}")).unwrap();
        assert_eq!(by_name.to_string(), format!("/dns/localhost/tcp/{port}"));
        let mut b = TestNode::spawn(identity("fisco-2.5/node1"), config().with_peer(by_name)).await;
        b.wait_connected(a.node_id()).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_node_with_the_smallest_message_limit_starts_and_connects() {
    bounded(async {
        let small = || config().with_max_message_size(1024);
        let a = TestNode::spawn(identity("fisco-2.5/node0"), small()).await;
        let mut b = TestNode::spawn(
            identity("fisco-2.5/node1"),
            small().with_peer(a.addr.clone()),
        )
        .await;
        b.wait_connected(a.node_id()).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}
