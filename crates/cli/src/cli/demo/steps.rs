//! The demo's steps. Each returns a one-line account of what it measured, or why it failed.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use bytes::Bytes;
use fisco_p2p::node::Event;

use super::network::{
    distance, neighbours, node_config, start_node, wait_event, wait_topology, wait_until, DemoNode,
    Seen, MODULE,
};

/// The topic the demo follows.
const TOPIC: &str = "blocks";

/// Shared inputs of every step.
pub(super) struct Demo {
    pub(super) nodes: Vec<DemoNode>,
    pub(super) edges: Vec<(usize, usize)>,
    pub(super) limit: Duration,
}

impl Demo {
    /// The node farthest from node0, and its distance in hops.
    fn farthest(&self) -> (usize, usize) {
        (1..self.nodes.len())
            .map(|j| (j, distance(&self.edges, 0, j)))
            .max_by_key(|&(j, d)| (d, j))
            .unwrap_or((1, 1))
    }

    /// Two followers of the topic, far from node0 and from each other.
    fn followers(&self) -> [usize; 2] {
        let (far, _) = self.farthest();
        let other = (1..self.nodes.len())
            .filter(|&j| j != far && !self.edges.contains(&(0, j)))
            .max_by_key(|&j| distance(&self.edges, far, j))
            .unwrap_or(if far == 1 { 2 } else { 1 });
        [far, other]
    }

    /// Names of the nodes on node0's path to node `to`, e.g. "node0 > node3 > node5", once
    /// state sync has brought the links on the way.
    async fn path(&self, to: usize) -> anyhow::Result<String> {
        let (handle, target) = (&self.nodes[0].handle, self.nodes[to].id());
        let what = format!("node0 has a route to {}", self.nodes[to].name);
        wait_until(&what, self.limit, async || {
            Ok(handle.path(target.clone()).await?.is_some())
        })
        .await?;
        let path = handle.path(target).await?.with_context(|| what.clone())?;
        let names: Vec<&str> = path
            .iter()
            .map(|id| {
                self.nodes
                    .iter()
                    .find(|n| n.id() == *id)
                    .map_or("?", |n| n.name.as_str())
            })
            .collect();
        Ok(names.join(" > "))
    }

    /// How many connections node0 has: the overlay relays, it never dials on its own.
    async fn links_of_node0(&self) -> anyhow::Result<usize> {
        Ok(self.nodes[0].handle.connected_peers().await?.len())
    }

    pub(super) async fn unicast(&mut self) -> anyhow::Result<String> {
        let (far, hops) = self.farthest();
        let links = self.links_of_node0().await?;
        let path = self.path(far).await?;
        let started = Instant::now();
        let reply = self.nodes[0]
            .handle
            .request(self.nodes[far].id(), MODULE, Bytes::from_static(b"hello"))
            .await?;
        let rtt = started.elapsed();
        let reply = String::from_utf8_lossy(&reply).into_owned();
        ensure!(
            reply.starts_with(&self.nodes[far].name),
            "unexpected reply {reply:?}"
        );
        ensure!(
            self.links_of_node0().await? == links,
            "node0 opened a connection of its own"
        );
        Ok(format!(
            "node0 -> {} ({hops} hops away, not a neighbour): request \"hello\" relayed along {path}, reply {reply:?} in {rtt:.1?}; node0 still has only its {links} configured links",
            self.nodes[far].name
        ))
    }

    pub(super) async fn state_sync(&mut self) -> anyhow::Result<String> {
        let followers = self.followers();
        let started = Instant::now();
        for &f in &followers {
            self.nodes[f].handle.subscribe(TOPIC).await?;
        }
        let ids: Vec<_> = followers.iter().map(|&f| self.nodes[f].id()).collect();
        let observer = &self.nodes[0].handle;
        wait_until("node0 knows both followers", self.limit, async || {
            let peers = observer.peers().await?;
            Ok(ids.iter().all(|id| {
                peers
                    .iter()
                    .any(|p| p.node_id == *id && p.topics.iter().any(|t| t == TOPIC))
            }))
        })
        .await?;
        Ok(format!(
            "{} and {} follow {TOPIC:?}; node0 learned it through seq announcements in {:.0?}",
            self.nodes[followers[0]].name,
            self.nodes[followers[1]].name,
            started.elapsed()
        ))
    }

    pub(super) async fn send_to_topic(&mut self) -> anyhow::Result<String> {
        let followers = self.followers();
        let links = self.links_of_node0().await?;
        let (node, reply) = self.nodes[0]
            .handle
            .send_to_topic(TOPIC, MODULE, Bytes::from_static(b"job 1"))
            .await?;
        let name = self
            .nodes
            .iter()
            .find(|n| n.id() == node)
            .map(|n| n.name.clone())
            .context("reply from an unknown node")?;
        let Some(&follower) = followers.iter().find(|&&f| self.nodes[f].id() == node) else {
            bail!("{name} does not follow {TOPIC:?}");
        };
        ensure!(
            self.links_of_node0().await? == links,
            "node0 opened a connection of its own"
        );
        Ok(format!(
            "node0 -> one follower of {TOPIC:?}: {name} answered {:?} (path {})",
            String::from_utf8_lossy(&reply),
            self.path(follower).await?
        ))
    }

    pub(super) async fn multicast(&mut self) -> anyhow::Result<String> {
        let followers = self.followers();
        let payload = Bytes::from_static(b"block #1");
        let is_it = |s: &Seen| matches!(s, Seen::Multicast { payload: p, .. } if p == "block #1");
        let started = Instant::now();
        let sent = self.nodes[0]
            .handle
            .multicast(TOPIC, MODULE, payload)
            .await?;
        let nodes = &self.nodes;
        wait_until(
            "every follower received the multicast",
            self.limit,
            async || Ok(followers.iter().all(|&f| nodes[f].count(is_it) >= 1)),
        )
        .await?;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await; // room for duplicates to show
        let counts: Vec<usize> = self.nodes.iter().map(|n| n.count(is_it)).collect();
        for (i, &count) in counts.iter().enumerate() {
            let expected = usize::from(followers.contains(&i));
            ensure!(
                count == expected,
                "{} received it {count} times, expected {expected}",
                self.nodes[i].name
            );
        }
        let mut trail = Vec::new();
        for &f in &followers {
            let hops = self.nodes[f]
                .seen
                .lock()
                .ok()
                .and_then(|seen| {
                    seen.iter().find_map(|s| match s {
                        Seen::Multicast { payload, hops, .. } if payload == "block #1" => {
                            Some(*hops)
                        }
                        _ => None,
                    })
                })
                .unwrap_or(0);
            trail.push(format!(
                "{} over {hops} links ({})",
                self.nodes[f].name,
                self.path(f).await?
            ));
        }
        Ok(format!(
            "node0 (not a follower) -> {TOPIC:?}: sent to {sent} followers, each received it once in {took:.0?}: {}; the other {} nodes received nothing",
            trail.join(", "),
            self.nodes.len() - 1 - followers.len()
        ))
    }

    pub(super) async fn broadcast(&mut self) -> anyhow::Result<String> {
        let origin = 1;
        let is_it =
            |s: &Seen| matches!(s, Seen::Broadcast { payload: p, .. } if p == "to everyone");
        let started = Instant::now();
        self.nodes[origin]
            .handle
            .broadcast(MODULE, Bytes::from_static(b"to everyone"))
            .await?;
        let nodes = &self.nodes;
        wait_until(
            "every node received the broadcast",
            self.limit,
            async || {
                Ok(nodes
                    .iter()
                    .enumerate()
                    .all(|(i, n)| i == origin || n.count(is_it) >= 1))
            },
        )
        .await?;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        for (i, node) in self.nodes.iter().enumerate() {
            let count = node.count(is_it);
            let expected = usize::from(i != origin);
            ensure!(
                count == expected,
                "{} received it {count} times, expected {expected}",
                node.name
            );
        }
        Ok(format!(
            "{} -> all: each of the other {} nodes received it exactly once, all within {took:.1?} of the call (flooded hop by hop, duplicates dropped)",
            self.nodes[origin].name,
            self.nodes.len() - 1
        ))
    }

    pub(super) async fn restart(&mut self) -> anyhow::Result<String> {
        let victim = self.nodes.len() / 2;
        let victim_id = self.nodes[victim].id();
        self.nodes[victim].handle.shutdown().await?;
        for j in neighbours(&self.edges, victim) {
            wait_event(
                &mut self.nodes[j].events,
                self.limit,
                |e| matches!(e, Event::PeerDisconnected { node_id, .. } if *node_id == victim_id),
            )
            .await
            .with_context(|| format!("{} did not notice the stop", self.nodes[j].name))?;
        }
        let parent = self.nodes[victim]
            .dir
            .parent()
            .context("node directory has a parent")?
            .to_owned();
        let name = self.nodes[victim].name.clone();
        let config = node_config(self.nodes[victim].addr.clone());
        let restarted = Instant::now();
        let node = start_node(&parent, &name, config).await?;
        for &(_, b) in self.edges.iter().filter(|&&(a, _)| a == victim) {
            node.handle
                .operator()
                .add_peer(self.nodes[b].addr.clone())
                .await?;
        }
        self.nodes[victim] = node;
        wait_topology(&self.nodes, &self.edges, self.limit).await?;
        let took = restarted.elapsed();
        // And it is reachable again by node ID.
        let reply = self.nodes[0]
            .handle
            .request(victim_id, MODULE, Bytes::from_static(b"welcome back"))
            .await?;
        if reply.is_empty() {
            bail!("empty reply after the restart");
        }
        Ok(format!(
            "{name} stopped and restarted on the same port; its {} neighbours reconnected {took:.0?} after the restart, and it answers requests again",
            neighbours(&self.edges, victim).len()
        ))
    }
}
