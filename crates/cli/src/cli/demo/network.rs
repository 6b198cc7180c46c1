//! The demo's network: certificates on disk, nodes in this process, a partial mesh, and a server
//! on each node that answers requests and records what arrives.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use fisco_p2p::{
    certs::{self, CertSpec, Role},
    identity::{NodeId, NodeIdentity},
    node::{Config, Event, Events, Handle, Message, Node},
};
use libp2p::Multiaddr;
use tokio::task::JoinHandle;

/// The module the demo's servers register.
pub(super) const MODULE: u16 = 1;

/// What a node's server saw arrive (multicasts and broadcasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    Multicast {
        from: NodeId,
        topic: String,
        payload: Bytes,
        hops: u8,
    },
    Broadcast {
        from: NodeId,
        payload: Bytes,
        hops: u8,
    },
}

/// One running demo node.
pub(super) struct DemoNode {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) handle: Handle,
    pub(super) events: Events,
    pub(super) addr: Multiaddr,
    pub(super) seen: Arc<Mutex<Vec<Seen>>>,
    server: JoinHandle<()>,
}

impl DemoNode {
    pub(super) fn id(&self) -> NodeId {
        self.handle.node_id()
    }

    /// How many recorded arrivals satisfy `f`.
    pub(super) fn count(&self, f: impl Fn(&Seen) -> bool) -> usize {
        self.seen
            .lock()
            .map(|s| s.iter().filter(|x| f(x)).count())
            .unwrap_or(0)
    }
}

impl Drop for DemoNode {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A ring with chords: connected, not a full mesh, and with paths longer than one hop.
pub(super) fn topology(n: usize) -> Vec<(usize, usize)> {
    let mut edges = BTreeSet::new();
    for i in 0..n {
        edges.insert(ordered(i, (i + 1) % n));
    }
    for i in (0..n).step_by(3) {
        let j = (i + n / 2) % n;
        if i != j {
            edges.insert(ordered(i, j));
        }
    }
    edges.into_iter().collect()
}

fn ordered(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

pub(super) fn neighbours(edges: &[(usize, usize)], node: usize) -> Vec<usize> {
    edges
        .iter()
        .filter_map(|&(a, b)| match node {
            _ if a == node => Some(b),
            _ if b == node => Some(a),
            _ => None,
        })
        .collect()
}

/// Hops between `from` and `to` (breadth-first search over `edges`).
pub(super) fn distance(edges: &[(usize, usize)], from: usize, to: usize) -> usize {
    let mut frontier = vec![from];
    let mut seen = BTreeSet::from([from]);
    let mut hops = 0;
    while !frontier.is_empty() {
        if frontier.contains(&to) {
            return hops;
        }
        hops += 1;
        let next: Vec<usize> = frontier
            .iter()
            .flat_map(|&n| neighbours(edges, n))
            .filter(|n| seen.insert(*n))
            .collect();
        frontier = next;
    }
    usize::MAX
}

pub(super) fn make_certificates(dir: &Path, n: usize) -> anyhow::Result<Vec<NodeId>> {
    let ca_dir = dir.join("ca");
    let agency_dir = dir.join("agency");
    certs::write_ca_dir(&ca_dir, &CertSpec::new(Role::Chain, "chain0"), false)?;
    certs::write_agency_dir(
        &ca_dir,
        &agency_dir,
        &CertSpec::new(Role::Agency, "agency0"),
        false,
    )?;
    (0..n)
        .map(|i| {
            let spec = CertSpec::new(Role::Node, format!("node{i}"));
            Ok(certs::write_node_dir(
                &ca_dir,
                Some(&agency_dir),
                &dir.join(format!("node{i}")),
                &spec,
                false,
            )?)
        })
        .collect()
}

pub(super) fn node_config(listen: Multiaddr) -> Config {
    Config::default()
        .with_listen(listen)
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_heartbeat_timeout(Duration::from_secs(3))
        .with_redial_backoff(Duration::from_millis(50), Duration::from_secs(1))
        .with_announce_interval(Duration::from_millis(500))
}

pub(super) async fn start_node(dir: &Path, name: &str, config: Config) -> anyhow::Result<DemoNode> {
    let node_dir = dir.join(name);
    let identity = NodeIdentity::load_dir(&node_dir)?;
    let (handle, events) = Node::spawn(identity, config)
        .await
        .with_context(|| format!("{name} did not start"))?;
    let addr = handle
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("{name} listens nowhere"))?;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = serve(&handle, name, seen.clone()).await?;
    Ok(DemoNode {
        name: name.to_owned(),
        dir: node_dir,
        handle,
        events,
        addr,
        seen,
        server,
    })
}

/// Answers requests with "<name> got <request> over <hops> links", records multicasts and
/// broadcasts.
async fn serve(
    handle: &Handle,
    name: &str,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut inbox = handle.register(MODULE).await?;
    let name = name.to_owned();
    Ok(tokio::spawn(async move {
        while let Some(message) = inbox.next().await {
            let arrived = match message {
                Message::Request(request) => {
                    let text = format!(
                        "{name} got '{}' over {} links",
                        String::from_utf8_lossy(&request.payload),
                        request.hops
                    );
                    let _ = request.responder.reply(text.into()).await;
                    continue;
                }
                Message::Multicast {
                    from,
                    topic,
                    payload,
                    hops,
                } => Seen::Multicast {
                    from,
                    topic,
                    payload,
                    hops,
                },
                Message::Broadcast {
                    from,
                    payload,
                    hops,
                } => Seen::Broadcast {
                    from,
                    payload,
                    hops,
                },
            };
            if let Ok(mut seen) = seen.lock() {
                seen.push(arrived);
            }
        }
    }))
}

pub(super) async fn start_nodes(
    dir: &Path,
    n: usize,
    edges: &[(usize, usize)],
) -> anyhow::Result<Vec<DemoNode>> {
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let listen = "/ip4/127.0.0.1/tcp/0".parse()?;
        nodes.push(start_node(dir, &format!("node{i}"), node_config(listen)).await?);
    }
    // The lower-numbered end of each link dials; the other end accepts.
    for &(a, b) in edges {
        nodes[a]
            .handle
            .operator()
            .add_peer(nodes[b].addr.clone())
            .await?;
    }
    Ok(nodes)
}

/// Waits until every node is connected to at least its neighbours.
pub(super) async fn wait_topology(
    nodes: &[DemoNode],
    edges: &[(usize, usize)],
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let ids: HashMap<NodeId, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
    for (i, node) in nodes.iter().enumerate() {
        let want: BTreeSet<usize> = neighbours(edges, i).into_iter().collect();
        loop {
            let have: BTreeSet<usize> = node
                .handle
                .connected_peers()
                .await?
                .iter()
                .filter_map(|p| ids.get(&p.node_id).copied())
                .collect();
            if want.is_subset(&have) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} is connected to {:?}, expected {:?}",
                    node.name,
                    have,
                    want
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

/// Waits until `accept` holds, polling every 10 ms, for at most `limit`.
pub(super) async fn wait_until(
    what: &str,
    limit: Duration,
    mut accept: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if accept().await? {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("timed out after {limit:?} waiting until {what}")
}

pub(super) async fn wait_event(
    events: &mut Events,
    limit: Duration,
    mut accept: impl FnMut(&Event) -> bool,
) -> anyhow::Result<()> {
    tokio::time::timeout(limit, async {
        while let Some(event) = events.next().await {
            if accept(&event) {
                return Ok(());
            }
        }
        bail!("the node stopped")
    })
    .await
    .context("timed out")?
}
