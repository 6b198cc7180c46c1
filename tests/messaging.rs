//! Messages and state between real nodes (TCP + TLS on 127.0.0.1) in full mesh, line, ring and
//! star topologies: each kind reaches exactly its targets, once.

#![allow(clippy::unwrap_used)]

use fisco_p2p_testnode as common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::network::*;
use common::*;
use fisco_p2p::node::{CallError, Message, MulticastError, RequestError, SendError, TopicError};

const NODES: usize = 6;

/// Waits until `observer` knows, through state sync, that `node` follows `topic`.
async fn wait_topic_known(observer: &TestNode, node: fisco_p2p::identity::NodeId, topic: &str) {
    eventually("the topic is known through state sync", async || {
        observer
            .handle
            .peers()
            .await
            .unwrap()
            .iter()
            .any(|p| p.node_id == node && p.topics.iter().any(|t| t == topic))
    })
    .await;
}

async fn every_message_kind_reaches_its_targets_once(topology: Topology) {
    let edges = topology.edges(NODES);
    let nodes = start(identities(NODES), &edges).await;
    let mut servers = Vec::new();
    for node in &nodes {
        servers.push(Server::start(&node.handle).await);
    }
    let ids: Vec<_> = nodes.iter().map(|n| n.node_id()).collect();
    let (first, last) = (0, NODES - 1);

    // A topic followed at one end is known at the other end within a few announcements.
    let followed = Instant::now();
    nodes[last].handle.subscribe("blocks").await.unwrap();
    nodes[2].handle.subscribe("blocks").await.unwrap();
    wait_topic_known(&nodes[first], ids[last].clone(), "blocks").await;
    wait_topic_known(&nodes[first], ids[2].clone(), "blocks").await;
    let took = followed.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "{topology:?}: topic took {took:?}"
    );
    // Every node comes to see every other node, connected or not.
    eventually("every node knows every other node", async || {
        for node in &nodes {
            if node.handle.peers().await.unwrap().len() != NODES - 1 {
                return false;
            }
        }
        true
    })
    .await;

    // A broadcast reaches every other node exactly once, and not its origin.
    nodes[first]
        .handle
        .broadcast(MODULE, Bytes::from_static(b"to all"))
        .await
        .unwrap();
    let is_broadcast =
        |d: &Delivery| matches!(d, Delivery::Broadcast { payload, .. } if payload == "to all");
    wait_servers("the broadcast arrived everywhere", &servers, |i, s| {
        i == first || s.count(is_broadcast) >= 1
    })
    .await;

    // A multicast from a node that does not follow the topic reaches exactly the followers.
    let sent_to = nodes[first]
        .handle
        .multicast("blocks", MODULE, Bytes::from_static(b"block 1"))
        .await
        .unwrap();
    assert_eq!(sent_to, 2, "{topology:?}");
    let is_multicast = |d: &Delivery| matches!(d, Delivery::Multicast { payload, topic, .. } if payload == "block 1" && topic == "blocks");
    wait_servers("the multicast reached the followers", &servers, |i, s| {
        !(i == last || i == 2) || s.count(is_multicast) >= 1
    })
    .await;

    // Give duplicates time to show up, then count.
    tokio::time::sleep(Duration::from_millis(700)).await;
    for (i, server) in servers.iter().enumerate() {
        let broadcasts = server.count(is_broadcast);
        assert_eq!(
            broadcasts,
            usize::from(i != first),
            "{topology:?}: node {i} got the broadcast {broadcasts} times"
        );
        let multicasts = server.count(is_multicast);
        let follower = i == last || i == 2;
        assert_eq!(
            multicasts,
            usize::from(follower),
            "{topology:?}: node {i} got the multicast {multicasts} times"
        );
    }
    // Origins are reported by node ID.
    assert!(servers[last]
        .deliveries
        .lock()
        .unwrap()
        .iter()
        .all(|d| matches!(d, Delivery::Broadcast { from, .. } | Delivery::Multicast { from, .. } if *from == ids[first])));

    // A request reaches a node that is not a neighbour, and its reply comes back.
    let far = (1..NODES)
        .rev()
        .find(|&j| !edges.contains(&(first, j)))
        .unwrap_or(last);
    let reply = nodes[first]
        .handle
        .request(ids[far].clone(), MODULE, Bytes::from_static(b"ping"))
        .await
        .unwrap();
    assert_eq!(reply, "reply:ping");

    for node in nodes {
        node.shutdown().await;
    }
}

#[tokio::test]
async fn every_message_kind_reaches_its_targets_once_in_a_full_mesh() {
    bounded(async {
        every_message_kind_reaches_its_targets_once(Topology::FullMesh).await;
    })
    .await;
}

#[tokio::test]
async fn every_message_kind_reaches_its_targets_once_in_a_line() {
    bounded(async {
        every_message_kind_reaches_its_targets_once(Topology::Line).await;
    })
    .await;
}

#[tokio::test]
async fn every_message_kind_reaches_its_targets_once_in_a_ring() {
    bounded(async {
        every_message_kind_reaches_its_targets_once(Topology::Ring).await;
    })
    .await;
}

#[tokio::test]
async fn every_message_kind_reaches_its_targets_once_in_a_star() {
    bounded(async {
        every_message_kind_reaches_its_targets_once(Topology::Star).await;
    })
    .await;
}

#[tokio::test]
async fn a_multicast_reaches_the_far_end_of_a_line_where_only_it_follows() {
    bounded(async {
        // A - B - C, only C follows: B would never relay a gossipsub message for C.
        let nodes = start(identities(3), &Topology::Line.edges(3)).await;
        let servers = [
            Server::start(&nodes[0].handle).await,
            Server::start(&nodes[1].handle).await,
            Server::start(&nodes[2].handle).await,
        ];
        nodes[2].handle.subscribe("only-c").await.unwrap();
        wait_topic_known(&nodes[0], nodes[2].node_id(), "only-c").await;
        let sent = nodes[0]
            .handle
            .multicast("only-c", MODULE, Bytes::from_static(b"hello c"))
            .await
            .unwrap();
        assert_eq!(sent, 1);
        wait_servers("C received it", &servers, |i, s| {
            i != 2 || s.count(|_| true) == 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(servers[0].count(|_| true), 0);
        assert_eq!(servers[1].count(|_| true), 0);
        assert_eq!(servers[2].count(|_| true), 1);
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_multicast_to_a_topic_nobody_follows_is_an_error() {
    bounded(async {
        let nodes = start(identities(2), &[(0, 1)]).await;
        let error = nodes[0]
            .handle
            .multicast("nobody", MODULE, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, MulticastError::NoFollower { .. }),
            "{error:?}"
        );
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_topic_reports_no_follower() {
    bounded(async {
        let nodes = start(identities(2), &[(0, 1)]).await;
        let error = nodes[0]
            .handle
            .send_to_topic("nobody", MODULE, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, TopicError::NoFollower { ref topic } if topic == "nobody"),
            "{error:?}"
        );
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_topic_fails_over_when_the_chosen_follower_is_killed() {
    bounded(async {
        // Node 0 sends; nodes 1 and 2 follow. Whichever gets the request first holds it unanswered and
        // is then killed; the send must fail over to the other, which answers.
        let mut nodes = start(identities(3), &[(0, 1), (0, 2)]).await;
        let (tx, mut reached) = tokio::sync::mpsc::channel(4);
        let victim_chosen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut servers = Vec::new();
        for (i, node) in nodes.iter().enumerate().skip(1) {
            node.handle.subscribe("amop").await.unwrap();
            let mut inbox = node.handle.register(MODULE).await.unwrap();
            let (tx, victim_chosen) = (tx.clone(), victim_chosen.clone());
            servers.push(tokio::spawn(async move {
                let mut held = Vec::new();
                while let Some(Message::Request(request)) = inbox.next().await {
                    let _ = tx.send(i).await;
                    if !victim_chosen.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        held.push(request); // never answered: this node is about to die
                    } else {
                        let _ = request.responder.reply(Bytes::from_static(b"done")).await;
                    }
                }
            }));
        }
        wait_topic_known(&nodes[0], nodes[1].node_id(), "amop").await;
        wait_topic_known(&nodes[0], nodes[2].node_id(), "amop").await;

        let sender = nodes[0].handle.clone();
        let send = tokio::spawn(async move {
            sender
                .send_to_topic("amop", MODULE, Bytes::from_static(b"job"))
                .await
        });
        let victim = tokio::time::timeout(WAIT, reached.recv())
            .await
            .unwrap()
            .unwrap();
        let survivor_id = nodes[3 - victim].node_id();
        nodes.remove(victim).shutdown().await;

        let (node, reply) = tokio::time::timeout(WAIT, send)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(node, survivor_id);
        assert_eq!(reply, "done");
        // Exactly two deliveries: the victim's and the survivor's; the failed node was not retried.
        assert_eq!(reached.try_recv().ok(), Some(3 - victim));
        assert!(reached.try_recv().is_err());
        for server in servers {
            server.abort();
        }
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn send_to_topic_returns_the_reply_of_a_surviving_follower() {
    bounded(async {
        let mut nodes = start(identities(3), &[(0, 1), (0, 2)]).await;
        let servers = [
            Server::start(&nodes[1].handle).await,
            Server::start(&nodes[2].handle).await,
        ];
        for node in &nodes[1..] {
            node.handle.subscribe("amop").await.unwrap();
        }
        wait_topic_known(&nodes[0], nodes[1].node_id(), "amop").await;
        wait_topic_known(&nodes[0], nodes[2].node_id(), "amop").await;
        // Kill follower 1 without the others knowing yet: the first try may hit it.
        let dead = nodes.remove(1);
        let dead_id = dead.node_id();
        drop(servers);
        dead.shutdown().await;
        let _server2 = Server::start(&nodes[1].handle).await;
        for _ in 0..4 {
            let (node, reply) = nodes[0]
                .handle
                .send_to_topic("amop", MODULE, Bytes::from_static(b"job"))
                .await
                .unwrap();
            assert_ne!(node, dead_id);
            assert_eq!(node, nodes[1].node_id());
            assert_eq!(reply, "reply:job");
        }
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_pending_request_fails_within_the_route_wait_when_the_peer_dies() {
    bounded(async {
        let mut nodes = start(identities(2), &[(0, 1)]).await;
        let mut inbox = nodes[1].handle.register(MODULE).await.unwrap();
        let target = nodes[1].node_id();
        let sender = nodes[0].handle.clone();
        let request = tokio::spawn(async move {
            sender
                .request(target, MODULE, Bytes::from_static(b"x"))
                .await
        });
        let held = tokio::time::timeout(WAIT, inbox.next()).await.unwrap();
        assert!(matches!(held, Some(Message::Request(_))));
        let killed = Instant::now();
        nodes.remove(1).shutdown().await;
        let result = tokio::time::timeout(WAIT, request).await.unwrap().unwrap();
        assert!(
            matches!(
                result,
                Err(CallError::Failed {
                    error: RequestError::NoRoute | RequestError::RelayFailed { .. },
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "failed after {:?}",
            killed.elapsed()
        );
        drop(held);
        nodes.remove(0).shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_request_times_out_when_no_reply_comes() {
    bounded(async {
        let nodes = start(identities(2), &[(0, 1)]).await;
        let mut inbox = nodes[1].handle.register(MODULE).await.unwrap();
        let holder = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some(message) = inbox.next().await {
                held.push(message);
            }
        });
        let started = Instant::now();
        let result = nodes[0]
            .handle
            .request_with_timeout(
                nodes[1].node_id(),
                MODULE,
                Bytes::new(),
                Duration::from_millis(300),
            )
            .await;
        assert!(
            matches!(
                result,
                Err(CallError::Failed {
                    error: RequestError::Timeout,
                    ..
                })
            ),
            "{result:?}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_secs(3),
            "{took:?}"
        );
        holder.abort();
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_request_for_an_unknown_module_is_answered_with_an_error() {
    bounded(async {
        let nodes = start(identities(2), &[(0, 1)]).await;
        let started = Instant::now();
        let result = nodes[0]
            .handle
            .request(nodes[1].node_id(), 99, Bytes::from_static(b"x"))
            .await;
        assert!(
            matches!(
                result,
                Err(CallError::Failed {
                    error: RequestError::UnknownModule(99),
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // Dropping an inbox unregisters its module.
        let inbox = nodes[1].handle.register(5).await.unwrap();
        drop(inbox);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let result = nodes[0]
            .handle
            .request(nodes[1].node_id(), 5, Bytes::from_static(b"x"))
            .await;
        assert!(
            matches!(
                result,
                Err(CallError::Failed {
                    error: RequestError::UnknownModule(5),
                    ..
                })
            ),
            "{result:?}"
        );
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_oversize_message_is_refused_before_sending_and_the_node_keeps_serving() {
    bounded(async {
        let mut nodes = Vec::new();
        for identity in identities(2) {
            let config = messaging_config().with_max_message_size(64 * 1024);
            nodes.push(TestNode::spawn(identity, config).await);
        }
        nodes[0]
            .handle
            .operator()
            .add_peer(nodes[1].addr.clone())
            .await
            .unwrap();
        let target = nodes[1].node_id();
        nodes[0].wait_connected(target.clone()).await;
        let _server = Server::start(&nodes[1].handle).await;
        let big = Bytes::from(vec![0u8; 100 * 1024]);
        let result = nodes[0]
            .handle
            .request(target.clone(), MODULE, big.clone())
            .await;
        assert!(
            matches!(
                result,
                Err(CallError::NotSent(SendError::TooLarge {
                    size: 102400,
                    max: 65536
                }))
            ),
            "{:?}",
            result.map(|r| r.len())
        );
        let result = nodes[0].handle.broadcast(MODULE, big.clone()).await;
        assert!(
            matches!(result, Err(SendError::TooLarge { .. })),
            "{result:?}"
        );
        let result = nodes[0]
            .handle
            .send_to_topic("t", MODULE, big.clone())
            .await;
        assert!(
            matches!(result, Err(TopicError::NotSent(SendError::TooLarge { .. }))),
            "{:?}",
            result.map(|r| r.0)
        );
        let result = nodes[0].handle.multicast("t", MODULE, big).await;
        assert!(
            matches!(
                result,
                Err(MulticastError::NotSent(SendError::TooLarge { .. }))
            ),
            "{result:?}"
        );
        let reply = nodes[0]
            .handle
            .request(target, MODULE, Bytes::from_static(b"small"))
            .await
            .unwrap();
        assert_eq!(reply, "reply:small");
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_restarted_node_keeps_increasing_its_seq_and_peers_accept_its_new_state() {
    bounded(async {
        let ids = identities(2);
        let mut a = TestNode::spawn(ids[0].clone(), messaging_config()).await;
        let b = TestNode::spawn(ids[1].clone(), messaging_config()).await;
        let b_id = b.node_id();
        let b_addr = b.addr.clone();
        a.handle.operator().add_peer(b_addr.clone()).await.unwrap();
        a.wait_connected(b_id.clone()).await;
        b.handle
            .set_state("height", Some(Bytes::from_static(b"10")))
            .await
            .unwrap();
        let state_of_b = async |a: &TestNode| {
            a.handle
                .peers()
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.node_id == b_id)
                .map(|p| (p.seq, p.state.get("height").cloned()))
        };
        eventually("a sees b's first state", async || {
            state_of_b(&a)
                .await
                .is_some_and(|(_, h)| h.as_deref() == Some(&b"10"[..]))
        })
        .await;
        let (seq_before, _) = state_of_b(&a).await.unwrap();

        b.shutdown().await;
        let b = TestNode::spawn(ids[1].clone(), messaging_config().with_listen(b_addr)).await;
        b.handle
            .set_state("height", Some(Bytes::from_static(b"11")))
            .await
            .unwrap();
        eventually("a sees b's state after the restart", async || {
            state_of_b(&a)
                .await
                .is_some_and(|(_, h)| h.as_deref() == Some(&b"11"[..]))
        })
        .await;
        let (seq_after, _) = state_of_b(&a).await.unwrap();
        assert!(
            seq_after > seq_before,
            "seq went from {seq_before} to {seq_after}"
        );
        a.shutdown().await;
        b.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_request_sent_before_state_sync_knows_the_target_waits_for_its_address() {
    bounded(async {
        // A line 0 - 1 - 2; node 0 asks node 2 at once, before any announcement told it where node 2 is.
        let nodes = start(identities(3), &Topology::Line.edges(3)).await;
        let _server = Server::start(&nodes[2].handle).await;
        let reply = nodes[0]
            .handle
            .request(nodes[2].node_id(), MODULE, Bytes::from_static(b"early"))
            .await
            .unwrap();
        assert_eq!(reply, "reply:early");
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_request_to_a_node_nobody_knows_fails_with_no_route_at_its_deadline() {
    bounded(async {
        let nodes = start(identities(2), &[(0, 1)]).await;
        let stranger = identities(1)[0].node_id();
        let started = Instant::now();
        let result = nodes[0]
            .handle
            .request_with_timeout(stranger, MODULE, Bytes::new(), Duration::from_millis(400))
            .await;
        assert!(
            matches!(
                result,
                Err(CallError::Failed {
                    error: RequestError::NoRoute,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(390));
        for node in nodes {
            node.shutdown().await;
        }
    })
    .await;
}

/// A `Module` carries one module's sends and receives: a request and a broadcast sent through
/// its sender arrive on the other node's module, and the reply
/// comes back. An `Events` stream that falls behind yields a `Lagged` item, then later events.
#[tokio::test]
async fn a_module_handle_sends_and_streams_its_messages_and_events_report_lag() {
    bounded(async {
        let mut ids = identities(3);
        let late = ids.pop().unwrap();
        let nodes = start(ids, &[(0, 1)]).await;
        let (a, b) = (&nodes[0], &nodes[1]);
        let mut module_b = b.handle.module(9).await.unwrap();
        let served = tokio::spawn(async move {
            // Read as a Stream.
            while let Some(message) = futures::StreamExt::next(&mut module_b).await {
                match message {
                    Message::Request(request) => {
                        let _ = request.responder.reply(Bytes::from_static(b"pong")).await;
                    }
                    Message::Broadcast { payload, .. } => return payload,
                    Message::Multicast { .. } => {}
                }
            }
            Bytes::new()
        });
        let module_a = a.handle.module(9).await.unwrap();
        let send = module_a.sender();
        assert_eq!((send.id(), module_a.id()), (9, 9));
        let reply = send
            .request(b.node_id(), Bytes::from_static(b"ping"))
            .await
            .unwrap();
        assert_eq!(reply, "pong");
        send.broadcast(Bytes::from_static(b"to all")).await.unwrap();
        assert_eq!(
            tokio::time::timeout(WAIT, served).await.unwrap().unwrap(),
            "to all"
        );

        // A node whose event streams hold 2 events joins; nobody reads its stream meanwhile.
        let c = TestNode::spawn(late, messaging_config().with_event_capacity(2)).await;
        let mut lagging = c.handle.events();
        c.handle.operator().add_peer(a.addr.clone()).await.unwrap();
        eventually("c knows a and b", async || {
            c.handle.peers().await.unwrap().len() == 2
        })
        .await;
        // As a Stream (the inherent `Events::next` skips lags with a warning).
        let first = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut lagging))
            .await
            .unwrap();
        assert!(
            matches!(first, Some(Err(fisco_p2p::node::Lagged(missed))) if missed > 0),
            "{first:?}"
        );
        // Later events follow the lag.
        b.handle.subscribe("after-the-lag").await.unwrap();
        let next = tokio::time::timeout(WAIT, futures::StreamExt::next(&mut lagging))
            .await
            .unwrap();
        assert!(matches!(next, Some(Ok(_))), "{next:?}");
        c.shutdown().await;
    })
    .await;
}
