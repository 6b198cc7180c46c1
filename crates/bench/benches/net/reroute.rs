//! Scenario 10: route convergence. 50 nodes through the node API, default configuration, static
//! peers along a random degree-4 graph. One link is cut, and the time from the cut until every
//! node's routing table is the one of the graph without that link is measured. Two kinds of cut:
//!
//! - **clean**: the node that dialled the link removes the other from its static peers, which
//!   closes the connection (both ends see it at once; nothing redials it). Then the link is
//!   restored (added back as a static peer): the time until every table is the one of the whole
//!   graph again (this includes the dial and the TLS handshake);
//! - **silent**: the link runs through a TCP proxy that stops forwarding without closing
//!   anything; only the heartbeat (every 1 s, dropped after 2 s without answer) can tell.
//!
//! A table is right when it has a route to every reachable node, of the graph's shortest
//! distance, through a neighbour one step closer: then no route crosses a link that does not
//! exist. The benchmark polls every node's `Handle::routes()` (all nodes at once, about every
//! millisecond), so a figure is late by at most one poll.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use anyhow::bail;
use fisco_p2p::{identity::NodeId, node::RouteInfo};
use futures::future::join_all;

use crate::{
    graph,
    ids::Chain,
    nodes::{self, BenchNode},
    proxy::Proxy,
    report::{Better, Report, Row, Stack},
    stats::Samples,
    Settings,
};

const NODES: usize = 50;
const SEED: u64 = 10;
const LIMIT: Duration = Duration::from_secs(60);

/// The graph a table must match.
struct Expected {
    adjacency: Vec<BTreeSet<usize>>,
    dist: Vec<Vec<u32>>,
}

impl Expected {
    fn new(edges: &[(usize, usize)]) -> Expected {
        Expected {
            adjacency: (0..NODES)
                .map(|i| graph::neighbours(edges, i).into_iter().collect())
                .collect(),
            dist: graph::distances(NODES, edges),
        }
    }

    /// Whether node `me`'s table routes along shortest paths of this graph, to every node.
    fn matches(&self, me: usize, routes: &[RouteInfo], index: &HashMap<NodeId, usize>) -> bool {
        let reachable = (0..NODES)
            .filter(|&d| d != me && self.dist[me][d] != u32::MAX)
            .count();
        routes.len() == reachable
            && routes.iter().all(|route| {
                let (Some(&dest), Some(&hop)) =
                    (index.get(&route.destination), index.get(&route.next_hop))
                else {
                    return false;
                };
                route.hops == self.dist[me][dest]
                    && self.adjacency[me].contains(&hop)
                    && self.dist[hop][dest].saturating_add(1) == route.hops
            })
    }
}

struct Network {
    nodes: Vec<BenchNode>,
    index: HashMap<NodeId, usize>,
    edges: Vec<(usize, usize)>,
    /// The links dialled through a proxy, to be cut silently.
    proxies: HashMap<(usize, usize), Proxy>,
}

impl Network {
    /// Starts the nodes and connects them; the links in `silent` go through a proxy.
    async fn start(chain: &mut Chain, silent: &[(usize, usize)]) -> anyhow::Result<Network> {
        let mut nodes = Vec::with_capacity(NODES);
        for _ in 0..NODES {
            nodes.push(nodes::spawn_local(chain.node()?).await?);
        }
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.handle.node_id(), i))
            .collect();
        let edges = graph::degree_four(NODES, SEED);
        let mut proxies = HashMap::new();
        for &(a, b) in &edges {
            let addr = if silent.contains(&(a, b)) {
                let proxy = Proxy::start(socket_addr(&nodes[b].addr)?).await?;
                let addr = proxy.addr.clone();
                proxies.insert((a, b), proxy);
                addr
            } else {
                nodes[b].addr.clone()
            };
            nodes[a].handle.operator().add_peer(addr).await?;
        }
        let deadline = Instant::now() + LIMIT;
        for node in &nodes {
            while node.handle.connected_peers().await?.len() < 4 {
                if Instant::now() > deadline {
                    bail!("node {} did not get its 4 peers", node.handle.node_id());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(Network {
            nodes,
            index,
            edges,
            proxies,
        })
    }

    /// The graph without link `cut`.
    fn without(&self, cut: (usize, usize)) -> Expected {
        let rest: Vec<(usize, usize)> = self.edges.iter().copied().filter(|&e| e != cut).collect();
        Expected::new(&rest)
    }

    /// Waits until every node's table matches `expected`; returns the time from `since` until
    /// the last one was seen matching.
    async fn converged(&self, expected: &Expected, since: Instant) -> anyhow::Result<Duration> {
        let mut pending: BTreeSet<usize> = (0..NODES).collect();
        let mut last = since;
        while !pending.is_empty() {
            let polls = pending.iter().map(|&i| async move {
                let routes = self.nodes[i].handle.routes().await;
                (i, routes, Instant::now())
            });
            for (i, routes, at) in join_all(polls).await {
                if expected.matches(i, &routes?, &self.index) {
                    pending.remove(&i);
                    last = last.max(at);
                }
            }
            if since.elapsed() > LIMIT {
                bail!(
                    "{} nodes still route wrongly after {LIMIT:?}",
                    pending.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(last.saturating_duration_since(since))
    }

    async fn shutdown(self) {
        for node in &self.nodes {
            let _ = node.handle.shutdown().await;
        }
    }
}

/// The socket address of a `/ip4/.../tcp/...` address.
fn socket_addr(addr: &libp2p::Multiaddr) -> anyhow::Result<std::net::SocketAddr> {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    for protocol in addr.iter() {
        match protocol {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Tcp(port) => {
                if let Some(ip) = ip {
                    return Ok(std::net::SocketAddr::new(ip, port));
                }
            }
            _ => {}
        }
    }
    bail!("{addr} is not an IPv4 TCP address")
}

pub(crate) async fn run(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
) -> anyhow::Result<()> {
    let all = graph::degree_four(NODES, SEED);
    // Any one link may go: the other Hamiltonian cycle of the graph keeps it connected. Every
    // 7th link is cut cleanly, every 11th (from the 3rd) silently: spread over the graph.
    let silent: Vec<(usize, usize)> = all
        .iter()
        .copied()
        .skip(3)
        .step_by(11)
        .take(settings.pick(1, 8))
        .collect();
    let clean: Vec<(usize, usize)> = all
        .iter()
        .copied()
        .filter(|e| !silent.contains(e))
        .step_by(7)
        .collect();
    let mut net = Network::start(chain, &silent).await?;
    let whole = Expected::new(&net.edges);
    let initial = net.converged(&whole, Instant::now()).await?;
    let (mut cuts, mut restores, mut silences) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..settings.pick(2, 20) {
        let (a, b) = clean[round % clean.len()];
        let cut = net.without((a, b));
        let since = Instant::now();
        net.nodes[a]
            .handle
            .operator()
            .remove_peer(net.nodes[b].addr.clone())
            .await?;
        cuts.push(net.converged(&cut, since).await?);
        let since = Instant::now();
        net.nodes[a]
            .handle
            .operator()
            .add_peer(net.nodes[b].addr.clone())
            .await?;
        restores.push(net.converged(&whole, since).await?);
    }
    for &(a, b) in &silent {
        let cut = net.without((a, b));
        let Some(proxy) = net.proxies.remove(&(a, b)) else {
            bail!("no proxy on link {a}-{b}");
        };
        let since = Instant::now();
        proxy.freeze();
        silences.push(net.converged(&cut, since).await?);
        // Heal it without the proxy, for the next round.
        net.nodes[a]
            .handle
            .operator()
            .remove_peer(proxy.addr.clone())
            .await?;
        drop(proxy);
        net.nodes[a]
            .handle
            .operator()
            .add_peer(net.nodes[b].addr.clone())
            .await?;
        net.converged(&whole, Instant::now()).await?;
    }
    let row = |case: &str, times: &[Duration], note: String| {
        Row::from_samples(
            "10",
            case,
            Stack::OursNode,
            "time to all routes",
            "ms",
            Better::Lower,
            &Samples::millis(times),
        )
        .with_note(note)
    };
    report.push(row(
        "clean link cut, 50 nodes",
        &cuts,
        format!(
            "node defaults; {} links, degree 4; every table right {initial:.1?} after all links were up",
            net.edges.len()
        ),
    ));
    report.push(row(
        "link restored, 50 nodes",
        &restores,
        "from add_peer: dial, TLS handshake, then the news spreads".into(),
    ));
    report.push(row(
        "silent link cut, 50 nodes",
        &silences,
        "a proxy stops forwarding; heartbeat every 1 s, dropped after 2 s unanswered".into(),
    ));
    net.shutdown().await;
    Ok(())
}
