//! The overlay's guarantees on real nodes over TCP+TLS on 127.0.0.1: forged and barred origins
//! are refused at the destination, naming the origin and the relay; without direct connections
//! a node keeps exactly its configured links however much it talks; with them, it connects to a
//! busy correspondent.

#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::time::Duration;

use bytes::Bytes;
use common::{
    bounded, config, eventually,
    network::{identities, messaging_config, start, Server, MODULE},
    TestNode, WAIT,
};
use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::{CallError, Event, RequestError},
    protocols::overlay,
    tls::{self, AccessList},
};
use fisco_p2p_testkit::RawWriter;
use futures::StreamExt;
use libp2p::{request_response, swarm::SwarmEvent, tcp, yamux, Swarm, SwarmBuilder};

/// A swarm of `identity` over TCP and our TLS that writes raw frames on the overlay protocol.
fn raw_writer(identity: &NodeIdentity) -> Swarm<request_response::Behaviour<RawWriter>> {
    let tls = tls::Config::new(identity, AccessList::new()).expect("tls config");
    SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            tls.into_security_upgrade(),
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawWriter,
                [(
                    overlay::PROTOCOL_NAME,
                    request_response::ProtocolSupport::Outbound,
                )],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

#[tokio::test]
async fn a_forged_envelope_is_refused_at_the_destination_naming_the_claimed_origin_and_the_relay() {
    bounded(async {
        let mut ids = identities(3);
        let mallory = ids.pop().unwrap();
        let victim_id = ids.pop().unwrap();
        let claimed = ids.pop().unwrap().node_id();
        let mut victim = TestNode::spawn(victim_id, config()).await;
        let server = Server::start(&victim.handle).await;

        // Mallory holds a genuine certificate of the chain, so TLS admits her; she writes a
        // request that claims to come from another node, signed with her own key.
        let frame = overlay::testing::forged_request(
            claimed.to_peer_id(),
            mallory.keypair(),
            victim.node_id().to_peer_id(),
            MODULE,
            b"transfer everything",
        );
        let mut swarm = raw_writer(&mallory);
        swarm.dial(victim.addr.clone()).expect("dial");
        let victim_peer = victim.node_id().to_peer_id();
        tokio::time::timeout(WAIT, async {
            loop {
                if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
                    break;
                }
            }
        })
        .await
        .expect("Mallory connects");
        swarm.behaviour_mut().send_request(&victim_peer, frame);
        let driver = tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });

        let (from, origin, reason) = victim
            .wait_for("the forgery refused", |e| match e {
                Event::InvalidMessage {
                    node_id,
                    origin,
                    protocol: "overlay",
                    reason,
                } => Some((node_id.clone(), origin.clone(), reason.clone())),
                _ => None,
            })
            .await;
        assert_eq!(from, mallory.node_id(), "names the relay that passed it");
        assert_eq!(origin, Some(claimed), "names the origin it claimed");
        assert!(reason.contains("signature"), "{reason}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(server.count(|_| true), 0);
        driver.abort();
        victim.handle.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_neighbour_that_keeps_forging_is_disconnected_as_misbehaving_and_kept_out() {
    bounded(async {
        let mut ids = identities(4);
        let honest_id = ids.pop().unwrap();
        let mallory = ids.pop().unwrap();
        let victim_id = ids.pop().unwrap();
        let claimed = ids.pop().unwrap().node_id();
        let mut victim = TestNode::spawn(victim_id, config()).await;
        let mut swarm = raw_writer(&mallory);
        let victim_peer = victim.node_id().to_peer_id();
        swarm.dial(victim.addr.clone()).expect("dial");
        tokio::time::timeout(WAIT, async {
            loop {
                if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
                    break;
                }
            }
        })
        .await
        .expect("Mallory connects");
        // Forty forged frames back to back on one substream, as a peer's long-lived stream
        // carries them.
        let frames: Vec<u8> = (0..40u8)
            .flat_map(|i| {
                overlay::testing::forged_request(
                    claimed.to_peer_id(),
                    mallory.keypair(),
                    victim_peer,
                    MODULE,
                    &[i],
                )
            })
            .collect();
        swarm.behaviour_mut().send_request(&victim_peer, frames);
        // Mallory redials once when she is thrown out; the driver reports each close.
        let (swarm_tx, mut swarm_rx) = tokio::sync::mpsc::channel(16);
        let victim_addr = victim.addr.clone();
        let driver = tokio::spawn(async move {
            let mut redialled = false;
            loop {
                if let SwarmEvent::ConnectionClosed { .. } = swarm.select_next_some().await {
                    let _ = swarm_tx.send(()).await;
                    if !redialled {
                        redialled = true;
                        let _ = swarm.dial(victim_addr.clone());
                    }
                }
            }
        });
        let reason = victim
            .wait_for("Mallory disconnected as misbehaving", |e| match e {
                Event::PeerDisconnected { node_id, reason } if *node_id == mallory.node_id() => {
                    Some(reason.to_string())
                }
                _ => None,
            })
            .await;
        assert!(
            reason.starts_with("misbehaving: 20 refused messages"),
            "{reason}"
        );
        tokio::time::timeout(WAIT, swarm_rx.recv())
            .await
            .expect("Mallory sees the close");
        driver.abort();
        // The victim still serves everyone else.
        let honest = TestNode::spawn(honest_id, config()).await;
        honest
            .handle
            .operator()
            .add_peer(victim.addr.clone())
            .await
            .unwrap();
        victim.wait_connected(honest.node_id()).await;
        victim.handle.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_blacklisted_origin_cannot_reach_a_node_through_a_relay() {
    bounded(async {
        let ids = identities(3);
        let barred = ids[0].node_id();
        let relay = ids[1].node_id();
        let mut ids = ids.into_iter();
        let a = TestNode::spawn(ids.next().unwrap(), messaging_config()).await;
        let b = TestNode::spawn(ids.next().unwrap(), messaging_config()).await;
        let mut d = TestNode::spawn(
            ids.next().unwrap(),
            messaging_config().with_blacklist([barred.clone()]),
        )
        .await;
        let _server = Server::start(&d.handle).await;
        a.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        d.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        let target = d.node_id();
        eventually("A has a route to D", async || {
            a.handle
                .routes()
                .await
                .unwrap()
                .iter()
                .any(|r| r.destination == target)
        })
        .await;
        let result = a
            .handle
            .request(target, MODULE, Bytes::from_static(b"let me in"))
            .await;
        assert!(
            matches!(
                &result,
                Err(CallError::Failed {
                    error: RequestError::Refused(_),
                    ..
                })
            ),
            "{result:?}"
        );
        let (from, origin) = d
            .wait_for("the barred origin refused", |e| match e {
                Event::InvalidMessage {
                    node_id,
                    origin,
                    reason,
                    ..
                } if reason.contains("barred") => Some((node_id.clone(), origin.clone())),
                _ => None,
            })
            .await;
        assert_eq!((from, origin), (relay, Some(barred)));
        for node in [a, b, d] {
            node.handle.shutdown().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn without_direct_connections_all_to_all_requests_keep_only_the_configured_links() {
    bounded(async {
        const N: usize = 6;
        let line: Vec<(usize, usize)> = (1..N).map(|i| (i - 1, i)).collect();
        let nodes = start(identities(N), &line).await;
        let _servers: Vec<Server> =
            futures::future::join_all(nodes.iter().map(|n| Server::start(&n.handle))).await;
        let ids: Vec<NodeId> = nodes.iter().map(|n| n.node_id()).collect();
        for node in &nodes {
            let others: Vec<NodeId> = ids
                .iter()
                .filter(|i| **i != node.node_id())
                .cloned()
                .collect();
            eventually("routes to every node", async || {
                let routes = node.handle.routes().await.unwrap();
                others
                    .iter()
                    .all(|o| routes.iter().any(|r| r.destination == *o))
            })
            .await;
        }
        let mut calls = Vec::new();
        for (from, node) in nodes.iter().enumerate() {
            for to in (0..N).filter(|to| *to != from) {
                for round in 0..5 {
                    let handle = node.handle.clone();
                    let target = ids[to].clone();
                    calls.push(tokio::spawn(async move {
                        handle
                            .request(target, MODULE, Bytes::from(format!("{from}:{to}:{round}")))
                            .await
                    }));
                }
            }
        }
        for call in calls {
            let reply = call.await.unwrap().expect("every request answered");
            assert!(reply.starts_with(b"reply:"));
        }
        for (i, node) in nodes.iter().enumerate() {
            let mut peers: Vec<NodeId> = node
                .handle
                .connected_peers()
                .await
                .unwrap()
                .iter()
                .map(|p| p.node_id.clone())
                .collect();
            peers.sort();
            let mut configured: Vec<NodeId> = line
                .iter()
                .filter_map(|&(a, b)| match i {
                    _ if a == i => Some(ids[b].clone()),
                    _ if b == i => Some(ids[a].clone()),
                    _ => None,
                })
                .collect();
            configured.sort();
            assert_eq!(peers, configured, "node {i} has links it was not given");
        }
        for node in nodes {
            node.handle.shutdown().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn with_direct_connections_a_busy_correspondent_gets_connected() {
    bounded(async {
        let ids = identities(3);
        let mut ids = ids.into_iter();
        let config = || messaging_config().with_direct_connections(true);
        let a = TestNode::spawn(ids.next().unwrap(), config()).await;
        let b = TestNode::spawn(ids.next().unwrap(), config()).await;
        let c = TestNode::spawn(ids.next().unwrap(), config()).await;
        let _server = Server::start(&c.handle).await;
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
        for i in 0..150 {
            a.handle
                .request(target.clone(), MODULE, Bytes::from(format!("{i}")))
                .await
                .unwrap();
        }
        eventually("A connects to C directly", async || {
            a.handle
                .connected_peers()
                .await
                .unwrap()
                .iter()
                .any(|p| p.node_id == target)
        })
        .await;
        assert_eq!(
            a.handle.path(target).await.unwrap().map(|p| p.len()),
            Some(2)
        );
        for node in [a, b, c] {
            node.handle.shutdown().await.unwrap();
        }
    })
    .await;
}
