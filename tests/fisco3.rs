//! FISCO 3.x RSA nodes and FISCO 2.11 nodes (X.509 v1 chain CA, the generator's node+agency
//! bundle) from the folders `certs/regenerate.sh` makes with FISCO's recipe, over real TCP + TLS
//! on 127.0.0.1: the IDs peers report, and a mixed network of both kinds exchanging every kind
//! of message.

#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::time::Duration;

use bytes::Bytes;
use common::network::*;
use common::*;
use fisco_p2p::{
    identity::{KeyKind, NodeId, NodeIdentity},
    node::{Event, Refusal},
    tls::RefusalReason,
};

/// A FISCO 3.x node's conf/ folder.
fn conf3(node: usize) -> std::path::PathBuf {
    fixture(&format!("fisco-3.x/node{node}/conf"))
}

/// A file of a fixture folder, trimmed.
fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// An identity that also trusts the CA of the other FISCO line, through a folder of CAs as
/// FISCO 3.x's `multi_ca_path` holds them.
fn trusting_both(relative: &str) -> NodeIdentity {
    let mut identity = NodeIdentity::load_dir(fixture(relative)).unwrap();
    let cas = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("fisco-3.x/ca/ca.crt"), cas.path().join("3x.crt")).unwrap();
    std::fs::copy(fixture("fisco-2.11/ca/ca.crt"), cas.path().join("211.crt")).unwrap();
    assert_eq!(identity.trust_cas_in(cas.path()).unwrap(), 2);
    identity
}

#[tokio::test]
async fn rsa_nodes_of_a_fisco3_chain_connect_and_report_their_p2p_ids() {
    bounded(async {
        let identities: Vec<NodeIdentity> = (0..3)
            .map(|n| NodeIdentity::load_dir(fixture(&format!("fisco-3.x/node{n}"))).unwrap())
            .collect();
        for (n, identity) in identities.iter().enumerate() {
            let id = identity.node_id();
            assert_eq!(identity.kind(), KeyKind::Rsa);
            assert_eq!(id.to_string().len(), 540, "the P2P ID of an RSA-2048 key");
            assert_eq!(
                id.rsa_modulus_hex().unwrap(),
                read(conf3(n).join("ssl.nodeid"))
            );
            // The consensus key beside it is not the node's network identity.
            let consensus: NodeId = read(conf3(n).join("node.nodeid")).parse().unwrap();
            assert_ne!(consensus, id);
        }
        let expected: Vec<NodeId> = identities.iter().map(|i| i.node_id()).collect();
        let nodes = start(identities, &Topology::FullMesh.edges(3)).await;
        for (n, node) in nodes.iter().enumerate() {
            let mut peers: Vec<NodeId> = node
                .handle
                .connected_peers()
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.node_id)
                .collect();
            peers.sort();
            let mut others: Vec<NodeId> = expected
                .iter()
                .enumerate()
                .filter(|(m, _)| *m != n)
                .map(|(_, id)| id.clone())
                .collect();
            others.sort();
            assert_eq!(peers, others, "node{n} reports its peers by their P2P IDs");
        }
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn fisco_2_11_nodes_with_a_v1_chain_ca_and_a_generator_bundle_connect() {
    bounded(async {
        let ca = std::fs::read(fixture("fisco-2.11/ca/ca.crt")).unwrap();
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(&ca)
            .map(|cert: rustls::pki_types::CertificateDer<'static>| cert.to_vec());
        // Byte 4 onwards of a v1 TBSCertificate has no [0] version tag.
        let der = der.unwrap();
        assert_ne!(der[8], 0xa0, "the fixture CA is X.509 v1");
        let identities: Vec<NodeIdentity> = [0, 2]
            .iter()
            .map(|n| identity(&format!("fisco-2.11/node{n}/conf")))
            .collect();
        assert_eq!(
            identities[1].chain().len(),
            2,
            "node2's node.crt is node + agency"
        );
        for (identity, n) in identities.iter().zip([0, 2]) {
            let written: NodeId = read(fixture(&format!("fisco-2.11/node{n}/conf/node.nodeid")))
                .parse()
                .unwrap();
            assert_eq!(identity.node_id(), written);
        }
        let nodes = start(identities, &[(0, 1)]).await;
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_mixed_network_of_2x_and_3x_nodes_exchanges_every_message_kind() {
    bounded(async {
        // A line secp - RSA - secp - RSA, so that every message crosses both kinds of relay.
        let identities = vec![
            trusting_both("fisco-2.11/node0"),
            trusting_both("fisco-3.x/node0"),
            trusting_both("fisco-2.11/node1"),
            trusting_both("fisco-3.x/node1"),
        ];
        let nodes = start(identities, &Topology::Line.edges(4)).await;
        let ids: Vec<NodeId> = nodes.iter().map(|n| n.node_id()).collect();
        let mut servers = Vec::new();
        for node in &nodes {
            servers.push(Server::start(&node.handle).await);
        }
        // State sync: each end learns the other's topic and state, three links away.
        nodes[3].handle.subscribe("blocks").await.unwrap();
        nodes[0].handle.subscribe("blocks").await.unwrap();
        nodes[3]
            .handle
            .set_state("height", Some(Bytes::from_static(b"42")))
            .await
            .unwrap();
        eventually("the ends know each other's topics and state", async || {
            let far = nodes[0].handle.peers().await.unwrap();
            let near = nodes[3].handle.peers().await.unwrap();
            far.iter().any(|p| {
                p.node_id == ids[3]
                    && p.topics.iter().any(|t| t == "blocks")
                    && p.state.get("height").is_some_and(|v| v == "42")
            }) && near
                .iter()
                .any(|p| p.node_id == ids[0] && p.topics.iter().any(|t| t == "blocks"))
        })
        .await;
        // Requests both ways, each relayed by both kinds of node.
        let reply = nodes[0]
            .handle
            .request(ids[3].clone(), MODULE, Bytes::from_static(b"2x->3x"))
            .await
            .unwrap();
        assert_eq!(reply, "reply:2x->3x");
        let reply = nodes[3]
            .handle
            .request(ids[0].clone(), MODULE, Bytes::from_static(b"3x->2x"))
            .await
            .unwrap();
        assert_eq!(reply, "reply:3x->2x");
        // Multicast from the middle and broadcast from an RSA end.
        let sent = nodes[1]
            .handle
            .multicast("blocks", MODULE, Bytes::from_static(b"block"))
            .await
            .unwrap();
        assert_eq!(sent, 2);
        nodes[3]
            .handle
            .broadcast(MODULE, Bytes::from_static(b"all"))
            .await
            .unwrap();
        wait_servers("multicast and broadcast arrived", &servers, |i, s| {
            let multicast = s.count(|d| matches!(d, Delivery::Multicast { .. })) == 1;
            let broadcast = s.count(|d| {
                matches!(d, Delivery::Broadcast { from, payload } if payload == "all" && *from == ids[3])
            }) == 1;
            (multicast || !(i == 0 || i == 3)) && (broadcast || i == 3)
        })
        .await;
        let (follower, reply) = nodes[1]
            .handle
            .send_to_topic("blocks", MODULE, Bytes::from_static(b"one"))
            .await
            .unwrap();
        assert!(follower == ids[0] || follower == ids[3], "{follower}");
        assert_eq!(reply, "reply:one");
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_rsa_node_is_barred_by_the_modulus_fisco_3x_black_lists_hold() {
    bounded(async {
        let modulus = read(conf3(0).join("ssl.nodeid"));
        let barred: NodeId = modulus.parse().unwrap();
        let mut a = TestNode::spawn(
            trusting_both("fisco-2.11/node0"),
            config().with_blacklist([barred.clone()]),
        )
        .await;
        let b = TestNode::spawn(trusting_both("fisco-3.x/node0"), config()).await;
        assert_eq!(b.node_id(), barred);
        a.handle.operator().add_peer(b.addr.clone()).await.unwrap();
        let reason = a
            .wait_for("the refusal", |e| match e {
                Event::ConnectionRefused {
                    node_id, reason, ..
                } if node_id.as_ref() == Some(&barred) => Some(reason.clone()),
                _ => None,
            })
            .await;
        assert_eq!(reason, Refusal::Tls(RefusalReason::Blacklisted));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!a.is_connected(barred).await);
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_node_with_compression_off_exchanges_large_messages_with_one_with_it_on() {
    bounded(async {
        let big: Bytes = b"receipt "
            .iter()
            .copied()
            .cycle()
            .take(1 << 20)
            .collect::<Vec<u8>>()
            .into();
        let on = TestNode::spawn(trusting_both("fisco-3.x/node0"), messaging_config()).await;
        let mut off = TestNode::spawn(
            trusting_both("fisco-2.11/node0"),
            messaging_config().with_compression(false),
        )
        .await;
        let on_id = on.node_id();
        off.handle
            .operator()
            .add_peer(on.addr.clone())
            .await
            .unwrap();
        off.wait_connected(on_id.clone()).await;
        let _servers = [
            Server::start(&on.handle).await,
            Server::start(&off.handle).await,
        ];
        let reply = off
            .handle
            .request(on_id, MODULE, big.clone())
            .await
            .unwrap();
        assert_eq!(reply.len(), big.len() + b"reply:".len());
        let reply = on
            .handle
            .request(off.node_id(), MODULE, big.clone())
            .await
            .unwrap();
        assert_eq!(&reply[6..], &big[..]);
        on.shutdown().await;
        off.shutdown().await;
    })
    .await;
}
