//! An in-process network of [`member`] nodes on 127.0.0.1 connected along a
//! random degree-4 graph, and what the benchmark waits for: connections, gossipsub meshes,
//! sync views (and the link graph in them), deliveries (with duplicates counted), and the
//! transmissions every node made.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use libp2p::PeerId;
use tokio::sync::{mpsc, oneshot};

use crate::{
    graph::{self, Edges},
    member::{self, Command, Features, Member, Observed, Sent, Transport},
};

/// What a node knows of another node's record.
#[derive(Debug, Clone)]
struct Known {
    topics: BTreeSet<String>,
    neighbours: usize,
    at: Instant,
}

/// Deliveries of one message: `(node, at)` in arrival order.
type Deliveries = Vec<(usize, Instant)>;

/// Nodes on one process along a random graph, and what they observed.
pub struct Cluster {
    /// The nodes, by index.
    pub members: Vec<Member>,
    /// The graph's links (index pairs) the cluster dials.
    pub edges: Edges,
    observed: mpsc::Receiver<Observed>,
    index: HashMap<PeerId, usize>,
    connected: Vec<usize>,
    /// `views[node][owner]`: what `node` knows of `owner`'s record, and when it learned it.
    views: Vec<HashMap<usize, Known>>,
    /// Keyed by `(multicast, tag)`.
    delivered: HashMap<(bool, u64), Deliveries>,
    /// Sync record updates reported so far, all nodes together.
    updates: usize,
}

/// The outcome of one message.
pub struct Spread {
    /// Nodes that delivered it (at most once each counted).
    pub reached: usize,
    /// From the send to the last first delivery.
    pub took: Duration,
}

impl Cluster {
    /// Starts one node per transport, with `features`, on the graph of `seed`.
    pub async fn start(
        transports: Vec<Transport>,
        features: Features,
        seed: u64,
    ) -> anyhow::Result<Cluster> {
        let n = transports.len();
        let (tx, observed) = mpsc::channel(16 * 1024);
        let mut members = Vec::with_capacity(n);
        for (i, transport) in transports.into_iter().enumerate() {
            members.push(member::start(i, transport, features, tx.clone()).await?);
        }
        let index = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.peer, i))
            .collect();
        Ok(Cluster {
            members,
            edges: graph::degree_four(n, seed),
            observed,
            index,
            connected: vec![0; n],
            views: vec![HashMap::new(); n],
            delivered: HashMap::new(),
            updates: 0,
        })
    }

    /// Sync record updates (`RecordUpdated`) all nodes reported so far.
    pub fn record_updates(&self) -> usize {
        self.updates
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no node.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Hands `command` to node `node`.
    pub async fn send(&self, node: usize, command: Command) -> anyhow::Result<()> {
        self.members[node]
            .commands
            .send(command)
            .await
            .context("node task stopped")
    }

    /// Takes one observation, waiting until `deadline`; false if none came.
    async fn pump(&mut self, deadline: Instant) -> bool {
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.observed.recv()).await {
            Ok(Some(seen)) => {
                self.record(seen);
                true
            }
            _ => false,
        }
    }

    fn record(&mut self, seen: Observed) {
        match seen {
            Observed::Connected { node } => self.connected[node] += 1,
            Observed::Delivered {
                node,
                multicast,
                tag,
                at,
            } => {
                self.delivered
                    .entry((multicast, tag))
                    .or_default()
                    .push((node, at));
            }
            Observed::Learned {
                node,
                owner,
                topics,
                neighbours,
                at,
            } => {
                self.updates += 1;
                if let Some(&owner) = self.index.get(&owner) {
                    let known = Known {
                        topics: topics.into_iter().collect(),
                        neighbours,
                        at,
                    };
                    self.views[node].insert(owner, known);
                }
            }
        }
    }

    /// Dials every edge (lower index dials) and waits until every node has all its neighbours.
    pub async fn connect(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        for &(a, b) in &self.edges.clone() {
            self.send(a, Command::Dial(self.members[b].addr.clone()))
                .await?;
        }
        let deadline = started + limit;
        let degree: Vec<usize> = (0..self.len())
            .map(|i| graph::neighbours(&self.edges, i).len())
            .collect();
        let short = |c: &Cluster| (0..c.len()).filter(|&i| c.connected[i] < degree[i]).count();
        while short(self) > 0 {
            if !self.pump(deadline).await {
                let short = short(self);
                bail!("{short} nodes still lack neighbours after {limit:?}");
            }
        }
        Ok(started.elapsed())
    }

    /// Waits until every node's gossipsub mesh holds all four neighbours.
    pub async fn wait_mesh(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let deadline = started + limit;
        for node in 0..self.len() {
            loop {
                let (reply, answer) = oneshot::channel();
                self.send(node, Command::MeshPeers(reply)).await?;
                // Keep draining while the node answers, so no node blocks on a full queue.
                let mut answer = std::pin::pin!(answer);
                let peers = loop {
                    tokio::select! {
                        peers = &mut answer => break peers.context("node task stopped")?,
                        _ = self.pump(deadline) => {}
                    }
                };
                if peers >= 4 {
                    break;
                }
                if Instant::now() > deadline {
                    bail!("node {node} has {peers} gossipsub mesh peers after {limit:?}");
                }
                let pause = Instant::now() + Duration::from_millis(50);
                while self.pump(pause).await {}
            }
        }
        Ok(started.elapsed())
    }

    /// Waits until every node has a record of every other node.
    pub async fn wait_views(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let n = self.len();
        let complete = |c: &Cluster| {
            (0..n).all(|i| {
                (0..n)
                    .filter(|&j| j != i)
                    .all(|j| c.views[i].contains_key(&j))
            })
        };
        while !complete(self) {
            if !self.pump(started + limit).await {
                bail!("sync views incomplete after {limit:?}");
            }
        }
        Ok(started.elapsed())
    }

    /// Waits until every node's view lists every other node with all its neighbours: the link
    /// graph is complete everywhere, so every overlay has its final routes.
    pub async fn wait_links(&mut self, limit: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let n = self.len();
        let degree: Vec<usize> = (0..n)
            .map(|i| graph::neighbours(&self.edges, i).len())
            .collect();
        let complete = |c: &Cluster| {
            (0..n).all(|i| {
                (0..n).filter(|&j| j != i).all(|j| {
                    c.views[i]
                        .get(&j)
                        .is_some_and(|known| known.neighbours == degree[j])
                })
            })
        };
        while !complete(self) {
            if !self.pump(started + limit).await {
                bail!("link graph incomplete in some views after {limit:?}");
            }
        }
        Ok(started.elapsed())
    }

    /// Waits until every node other than `owner` knows that `owner` follows `topic`; returns
    /// the time from `since` to the last node learning it.
    pub async fn wait_topic(
        &mut self,
        owner: usize,
        topic: &str,
        since: Instant,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let n = self.len();
        fn knows<'a>(c: &'a Cluster, i: usize, owner: usize, topic: &str) -> Option<&'a Instant> {
            c.views[i]
                .get(&owner)
                .filter(|known| known.topics.contains(topic))
                .map(|known| &known.at)
        }
        while (0..n).any(|i| i != owner && knows(self, i, owner, topic).is_none()) {
            if !self.pump(since + limit).await {
                bail!("topic {topic} of node {owner} not known everywhere after {limit:?}");
            }
        }
        let last = (0..n)
            .filter(|&i| i != owner)
            .filter_map(|i| knows(self, i, owner, topic).copied())
            .max()
            .unwrap_or(since);
        Ok(last.saturating_duration_since(since))
    }

    /// Waits until message `tag` has reached `expected` distinct nodes, or `limit` passed.
    pub async fn wait_delivered(
        &mut self,
        multicast: bool,
        tag: u64,
        expected: usize,
        since: Instant,
        limit: Duration,
    ) -> Spread {
        let distinct = |c: &Cluster| {
            c.delivered.get(&(multicast, tag)).map_or(0, |d| {
                d.iter()
                    .map(|(node, _)| *node)
                    .collect::<BTreeSet<_>>()
                    .len()
            })
        };
        while distinct(self) < expected && self.pump(since + limit).await {}
        let last = self
            .delivered
            .get(&(multicast, tag))
            .and_then(|d| d.iter().map(|(_, at)| *at).max());
        Spread {
            reached: distinct(self),
            took: last.map_or(limit, |at| at.saturating_duration_since(since)),
        }
    }

    /// Waits until message `tag` has reached every node of `targets`, or `limit` passed.
    pub async fn wait_delivered_to(
        &mut self,
        multicast: bool,
        tag: u64,
        targets: &BTreeSet<usize>,
        since: Instant,
        limit: Duration,
    ) -> Spread {
        let firsts = |c: &Cluster| {
            let mut firsts: HashMap<usize, Instant> = HashMap::new();
            for (node, at) in c.delivered.get(&(multicast, tag)).into_iter().flatten() {
                if targets.contains(node) {
                    firsts.entry(*node).or_insert(*at);
                }
            }
            firsts
        };
        while firsts(self).len() < targets.len() && self.pump(since + limit).await {}
        let firsts = firsts(self);
        let last = firsts.values().max();
        Spread {
            reached: firsts.len(),
            took: last.map_or(limit, |at| at.saturating_duration_since(since)),
        }
    }

    /// What every node sent so far, summed.
    pub async fn sent(&mut self) -> anyhow::Result<Sent> {
        let mut total = Sent::default();
        for node in 0..self.len() {
            let (reply, answer) = oneshot::channel();
            self.send(node, Command::Sent(reply)).await?;
            let mut answer = std::pin::pin!(answer);
            let deadline = Instant::now() + Duration::from_secs(10);
            let sent = loop {
                tokio::select! {
                    sent = &mut answer => break sent.context("node task stopped")?,
                    _ = self.pump(deadline) => {}
                }
            };
            for (sum, n) in total.overlay.iter_mut().zip(sent.overlay) {
                *sum += n;
            }
            total.gossipsub += sent.gossipsub;
        }
        Ok(total)
    }

    /// The nodes that follow `topic` in node `node`'s sync view.
    pub async fn followers(&mut self, node: usize, topic: &str) -> anyhow::Result<Vec<PeerId>> {
        let (reply, answer) = oneshot::channel();
        self.send(node, Command::Followers(topic.to_owned(), reply))
            .await?;
        answer.await.context("node task stopped")
    }

    /// The index of the node with this peer ID.
    pub fn index_of(&self, peer: &PeerId) -> Option<usize> {
        self.index.get(peer).copied()
    }

    /// Drains observations until none came for `quiet` (at most `4 * quiet`, as other
    /// behaviours may keep reporting), then counts deliveries beyond the first per node and
    /// message, over every message so far.
    pub async fn duplicates(&mut self, multicast: bool, quiet: Duration) -> usize {
        let end = Instant::now() + quiet * 4;
        while self.pump((Instant::now() + quiet).min(end)).await {}
        self.delivered
            .iter()
            .filter(|((m, _), _)| *m == multicast)
            .map(|(_, d)| d.len() - d.iter().map(|(n, _)| *n).collect::<BTreeSet<_>>().len())
            .sum()
    }
}
