//! Floods over 6 in-memory nodes in line, ring, star and full-mesh topologies.

mod common;

use std::{collections::HashMap, time::Duration};

use bytes::Bytes;
use common::{full_mesh, line, ring, star, uniform, Node};
use fisco_p2p_broadcast::{self as broadcast, Event, MessageId};
use libp2p::PeerId;

const NODES: usize = 6;
/// How long to listen for copies after broadcasting; in memory a flood settles in milliseconds,
/// the rest of the window is there to catch duplicates.
const WINDOW: Duration = Duration::from_millis(1500);
const MODULE: u16 = 9;

async fn events_of_all(nodes: &mut [Node]) -> Vec<Vec<Event>> {
    futures::future::join_all(nodes.iter_mut().map(|node| node.events_during(WINDOW))).await
}

/// Every node broadcasts one message at the same time; each must receive the other nodes'
/// messages exactly once, with origin, module and payload intact, and never its own.
async fn every_node_receives_every_other_nodes_message_exactly_once(edges: &[(usize, usize)]) {
    let mut nodes = uniform(NODES, broadcast::Config::default(), edges).await;
    let mut sent: HashMap<MessageId, (PeerId, Bytes)> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let payload = Bytes::from(format!("hello from node {i}"));
        let id = node
            .broadcast(MODULE, payload.clone())
            .await
            .expect("queued");
        sent.insert(id, (node.peer_id, payload));
    }
    let events = events_of_all(&mut nodes).await;
    for (i, events) in events.iter().enumerate() {
        let mut copies: HashMap<MessageId, usize> = HashMap::new();
        for event in events {
            let Event::Received {
                origin,
                message_id,
                module,
                payload,
                ..
            } = event
            else {
                panic!("node {i} reported {event:?}");
            };
            let (sender, sent_payload) = &sent[message_id];
            assert_eq!((origin, module, payload), (sender, &MODULE, sent_payload));
            assert_ne!(
                *origin, nodes[i].peer_id,
                "node {i} received its own message"
            );
            *copies.entry(*message_id).or_default() += 1;
        }
        assert_eq!(copies.len(), NODES - 1, "node {i} got {copies:?}");
        assert!(
            copies.values().all(|&n| n == 1),
            "node {i} got duplicates: {copies:?}"
        );
    }
}

#[tokio::test]
async fn in_a_line_every_node_receives_every_other_nodes_message_exactly_once() {
    every_node_receives_every_other_nodes_message_exactly_once(&line(NODES)).await;
}

#[tokio::test]
async fn in_a_ring_every_node_receives_every_other_nodes_message_exactly_once() {
    every_node_receives_every_other_nodes_message_exactly_once(&ring(NODES)).await;
}

#[tokio::test]
async fn in_a_star_every_node_receives_every_other_nodes_message_exactly_once() {
    every_node_receives_every_other_nodes_message_exactly_once(&star(NODES)).await;
}

#[tokio::test]
async fn in_a_full_mesh_every_node_receives_every_other_nodes_message_exactly_once() {
    every_node_receives_every_other_nodes_message_exactly_once(&full_mesh(NODES)).await;
}

#[tokio::test]
async fn in_a_line_each_copy_counts_its_hops_and_comes_from_the_neighbour_towards_the_origin() {
    let mut nodes = uniform(NODES, broadcast::Config::default(), &line(NODES)).await;
    let id = nodes[0]
        .broadcast(MODULE, Bytes::from_static(b"x"))
        .await
        .expect("queued");
    let events = events_of_all(&mut nodes).await;
    for (i, events) in events.iter().enumerate().skip(1) {
        match events.as_slice() {
            [Event::Received {
                message_id,
                hops,
                from,
                ..
            }] => {
                assert_eq!(*message_id, id);
                assert_eq!(usize::from(*hops), i, "node {i}");
                assert_eq!(*from, nodes[i - 1].peer_id, "node {i}");
            }
            other => panic!("node {i} reported {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_message_travels_no_further_than_the_hop_limit() {
    let config = broadcast::Config::default().with_hop_limit(2);
    let mut nodes = uniform(NODES, config, &line(NODES)).await;
    let id = nodes[0]
        .broadcast(MODULE, Bytes::from_static(b"near"))
        .await
        .expect("queued");
    let events = events_of_all(&mut nodes).await;
    for (i, events) in events.iter().enumerate() {
        let got = events
            .iter()
            .filter(|e| matches!(e, Event::Received { message_id, .. } if *message_id == id))
            .count();
        let expected = usize::from((1..=2).contains(&i));
        assert_eq!(got, expected, "node {i} (distance {i}, hop limit 2)");
    }
    // The far end is still connected and flooding: its own message reaches node 3 and 4.
    let id = nodes[5]
        .broadcast(MODULE, Bytes::from_static(b"back"))
        .await
        .expect("queued");
    let events = events_of_all(&mut nodes).await;
    let reached: Vec<usize> = (0..NODES)
        .filter(|&i| {
            events[i]
                .iter()
                .any(|e| matches!(e, Event::Received { message_id, .. } if *message_id == id))
        })
        .collect();
    assert_eq!(reached, vec![3, 4]);
}

#[tokio::test]
async fn a_payload_over_the_maximum_is_refused_before_anything_is_sent() {
    let nodes = uniform(
        2,
        broadcast::Config::default().with_max_message_size(1024),
        &[(0, 1)],
    )
    .await;
    let err = nodes[0]
        .broadcast(MODULE, vec![0u8; 1024])
        .await
        .expect_err("too large");
    assert!(
        matches!(err, broadcast::Error::TooLarge { max: 1024, .. }),
        "{err}"
    );
    // A payload whose signed frame just fits is accepted.
    nodes[0]
        .broadcast(MODULE, vec![0u8; 800])
        .await
        .expect("fits");
}
