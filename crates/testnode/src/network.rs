//! Networks of test nodes: identities from one CA made in memory, topologies, and inbox servers
//! that record every delivery.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use fisco_p2p::{
    certs::{self, CertSpec, Role},
    identity::{NodeId, NodeIdentity},
    node::{Config, Handle, Message},
};
use tokio::task::JoinHandle;

use super::{config, TestNode, WAIT};

/// The module the test servers register.
pub const MODULE: u16 = 7;

/// `n` node identities of one chain (CA, agency, nodes), made in memory.
pub fn identities(n: usize) -> Vec<NodeIdentity> {
    let ca = certs::new_ca(&CertSpec::new(Role::Chain, "chain0")).expect("CA");
    let agency = certs::new_agency(&CertSpec::new(Role::Agency, "agency0"), &ca).expect("agency");
    (0..n)
        .map(|i| {
            let (key, cert) =
                certs::new_node(&CertSpec::new(Role::Node, format!("node{i}")), &agency)
                    .expect("node certificate");
            let chain = vec![cert, agency.certificate().clone(), ca.certificate().clone()];
            NodeIdentity::from_parts(key, chain, vec![ca.certificate().clone()])
                .expect("node identity")
        })
        .collect()
}

/// The shapes the issue asks every message kind to work in.
#[derive(Debug, Clone, Copy)]
pub enum Topology {
    /// Every node linked to every other.
    FullMesh,
    /// Node i linked to i + 1.
    Line,
    /// A line whose ends are linked too.
    Ring,
    /// Node 0 linked to every other.
    Star,
}

impl Topology {
    /// The links of this shape over `n` nodes, each `(a, b)` with `a < b`.
    pub fn edges(self, n: usize) -> Vec<(usize, usize)> {
        let mut edges = BTreeSet::new();
        match self {
            Topology::FullMesh => {
                for a in 0..n {
                    for b in a + 1..n {
                        edges.insert((a, b));
                    }
                }
            }
            Topology::Line => edges.extend((1..n).map(|i| (i - 1, i))),
            Topology::Ring => {
                edges.extend((1..n).map(|i| (i - 1, i)));
                edges.insert((0, n - 1));
            }
            Topology::Star => edges.extend((1..n).map(|i| (0, i))),
        }
        edges.into_iter().collect()
    }
}

/// Messaging tests want quick state sync.
pub fn messaging_config() -> Config {
    config()
        .with_announce_interval(Duration::from_millis(200))
        .with_request_timeout(Duration::from_secs(5))
}

/// Starts `identities` and connects them as `edges` say; returns once every link is up.
pub async fn start(identities: Vec<NodeIdentity>, edges: &[(usize, usize)]) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for identity in identities {
        nodes.push(TestNode::spawn(identity, messaging_config()).await);
    }
    for &(a, b) in edges {
        let addr = nodes[b].addr.clone();
        nodes[a]
            .handle
            .operator()
            .add_peer(addr)
            .await
            .expect("node running");
    }
    for &(a, b) in edges {
        let b_id = nodes[b].node_id();
        nodes[a].wait_connected(b_id).await;
    }
    nodes
}

/// One delivery a test server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A multicast.
    Multicast {
        /// Its origin.
        from: NodeId,
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Bytes,
    },
    /// A broadcast.
    Broadcast {
        /// Its origin.
        from: NodeId,
        /// Its payload.
        payload: Bytes,
    },
}

/// Serves [`MODULE`] on a node: answers requests with `reply:` + the request, records the rest.
pub struct Server {
    /// What it received, in order.
    pub deliveries: Arc<Mutex<Vec<Delivery>>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Registers [`MODULE`] on `handle`'s node and serves it until dropped.
    pub async fn start(handle: &Handle) -> Server {
        let mut inbox = handle.register(MODULE).await.expect("node running");
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let seen = deliveries.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = inbox.next().await {
                match message {
                    Message::Request(request) => {
                        let mut reply = b"reply:".to_vec();
                        reply.extend_from_slice(&request.payload);
                        let _ = request.responder.reply(reply.into()).await;
                    }
                    Message::Multicast {
                        from,
                        topic,
                        payload,
                        ..
                    } => seen.lock().unwrap().push(Delivery::Multicast {
                        from,
                        topic,
                        payload,
                    }),
                    Message::Broadcast { from, payload, .. } => seen
                        .lock()
                        .unwrap()
                        .push(Delivery::Broadcast { from, payload }),
                }
            }
        });
        Server { deliveries, task }
    }

    /// How many deliveries satisfy `f`.
    pub fn count(&self, f: impl Fn(&Delivery) -> bool) -> usize {
        self.deliveries
            .lock()
            .unwrap()
            .iter()
            .filter(|d| f(d))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `check` holds for every server, failing after [`WAIT`].
pub async fn wait_servers(what: &str, servers: &[Server], check: impl Fn(usize, &Server) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if servers.iter().enumerate().all(|(i, s)| check(i, s)) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
