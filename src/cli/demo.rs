//! `fisco-p2p demo`: a local network on 127.0.0.1, shown step by step.
//!
//! Makes a chain's certificates in a temporary directory, starts the nodes in this process
//! (real TCP and TLS on loopback), connects them in a partial mesh, and walks through what the
//! network does, measuring each step. Exits non-zero naming the first step that failed.

#![allow(clippy::print_stdout)]

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _};
use clap::Args;
use fisco_p2p::{
    certs::{self, CertSpec, Role},
    identity::{NodeId, NodeIdentity},
    node::{Config, Event, Events, Handle, Node},
};
use libp2p::Multiaddr;

/// Arguments of `fisco-p2p demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Number of nodes (at least 3).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(3..=64))]
    nodes: u16,
    /// Longest time any one step may take, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Keep the certificate directory instead of deleting it at the end.
    #[arg(long)]
    keep: bool,
}

/// One running demo node.
struct DemoNode {
    name: String,
    dir: PathBuf,
    handle: Handle,
    events: Events,
    addr: Multiaddr,
}

/// The outcome of one step, for the summary table.
struct StepResult {
    name: &'static str,
    ok: bool,
    took: Duration,
    detail: String,
}

impl DemoArgs {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(self.run_async())
    }

    async fn run_async(self) -> anyhow::Result<()> {
        let n = usize::from(self.nodes);
        let limit = Duration::from_secs(self.seconds);
        let workdir = tempfile::Builder::new()
            .prefix("fisco-p2p-demo-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let edges = topology(n);
        println!(
            "fisco-p2p demo: {n} nodes in a partial mesh ({} links of {} possible), real TCP + TLS on 127.0.0.1\n",
            edges.len(),
            n * (n - 1) / 2
        );
        let mut results = Vec::new();
        let outcome = self
            .steps(workdir.path(), &edges, limit, &mut results)
            .await;
        print_summary(&results);
        if self.keep {
            let kept = workdir.keep();
            println!("\ncertificates kept in {}", kept.display());
        }
        outcome
    }

    async fn steps(
        &self,
        dir: &Path,
        edges: &[(usize, usize)],
        limit: Duration,
        results: &mut Vec<StepResult>,
    ) -> anyhow::Result<()> {
        let n = usize::from(self.nodes);
        let total = 3;

        let started = Instant::now();
        let ids = make_certificates(dir, n)?;
        let detail = format!(
            "a CA, an agency and {n} node certificates (secp256k1) in {}",
            dir.display()
        );
        step(results, 1, total, "certificates", true, started, detail);
        for (i, id) in ids.iter().enumerate() {
            println!("      node{i}  {id}");
        }

        let started = Instant::now();
        let mut nodes = start_nodes(dir, n, edges).await?;
        let connected = wait_topology(&mut nodes, edges, limit).await;
        let ok = connected.is_ok();
        let detail = match &connected {
            Ok(()) => format!(
                "{} links up, each over mutual TLS checked against the CA",
                edges.len()
            ),
            Err(e) => format!("{e:#}"),
        };
        step(results, 2, total, "connections", ok, started, detail);
        print_links(&nodes, edges);
        connected.context("step 'connections' failed")?;

        let victim = n / 2;
        let started = Instant::now();
        let restart = restart_node(&mut nodes, victim, edges, limit).await;
        let detail = match &restart {
            Ok(took) => format!(
                "{} stopped and restarted; its {} neighbours reconnected {:.0?} after the restart",
                nodes[victim].name,
                neighbours(edges, victim).len(),
                took
            ),
            Err(e) => format!("{e:#}"),
        };
        step(
            results,
            3,
            total,
            "restart",
            restart.is_ok(),
            started,
            detail,
        );
        restart.context("step 'restart' failed")?;

        for node in nodes {
            let _ = node.handle.shutdown().await;
        }
        Ok(())
    }
}

/// A ring with chords: connected, not a full mesh, and with paths longer than one hop.
fn topology(n: usize) -> Vec<(usize, usize)> {
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

fn neighbours(edges: &[(usize, usize)], node: usize) -> Vec<usize> {
    edges
        .iter()
        .filter_map(|&(a, b)| match node {
            _ if a == node => Some(b),
            _ if b == node => Some(a),
            _ => None,
        })
        .collect()
}

fn make_certificates(dir: &Path, n: usize) -> anyhow::Result<Vec<NodeId>> {
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

fn node_config(listen: Multiaddr) -> Config {
    Config::default()
        .with_listen(listen)
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_heartbeat_timeout(Duration::from_secs(3))
        .with_redial_backoff(Duration::from_millis(50), Duration::from_secs(1))
}

async fn start_node(dir: &Path, name: &str, config: Config) -> anyhow::Result<DemoNode> {
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
    Ok(DemoNode {
        name: name.to_owned(),
        dir: node_dir,
        handle,
        events,
        addr,
    })
}

async fn start_nodes(
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
        nodes[a].handle.add_peer(nodes[b].addr.clone()).await?;
    }
    Ok(nodes)
}

/// Waits until every node is connected to exactly its neighbours.
async fn wait_topology(
    nodes: &mut [DemoNode],
    edges: &[(usize, usize)],
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    let ids: HashMap<NodeId, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.handle.node_id(), i))
        .collect();
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
            if have == want {
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

async fn restart_node(
    nodes: &mut [DemoNode],
    victim: usize,
    edges: &[(usize, usize)],
    limit: Duration,
) -> anyhow::Result<Duration> {
    let victim_id = nodes[victim].handle.node_id();
    nodes[victim].handle.shutdown().await?;
    // Every neighbour notices the loss.
    for j in neighbours(edges, victim) {
        wait_event(
            &mut nodes[j].events,
            limit,
            |e| matches!(e, Event::PeerDisconnected { node_id, .. } if *node_id == victim_id),
        )
        .await
        .with_context(|| format!("node{j} did not notice node{victim} going away"))?;
    }
    let dir = nodes[victim]
        .dir
        .parent()
        .context("node directory has a parent")?
        .to_owned();
    let restarted = Instant::now();
    let name = nodes[victim].name.clone();
    let config = node_config(nodes[victim].addr.clone());
    let node = start_node(&dir, &name, config).await?;
    // It dials its higher neighbours, the lower ones redial it.
    for &(a, b) in edges.iter().filter(|&&(a, _)| a == victim) {
        debug_assert_eq!(a, victim);
        node.handle.add_peer(nodes[b].addr.clone()).await?;
    }
    nodes[victim] = node;
    wait_topology(nodes, edges, limit).await?;
    Ok(restarted.elapsed())
}

async fn wait_event(
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

fn step(
    results: &mut Vec<StepResult>,
    number: usize,
    total: usize,
    name: &'static str,
    ok: bool,
    started: Instant,
    detail: String,
) {
    let took = started.elapsed();
    let mark = if ok { "ok" } else { "FAILED" };
    println!("[{number}/{total}] {name:<13} {mark:<6} {took:>8.1?}  {detail}");
    results.push(StepResult {
        name,
        ok,
        took,
        detail,
    });
}

fn print_links(nodes: &[DemoNode], edges: &[(usize, usize)]) {
    for (i, node) in nodes.iter().enumerate() {
        let list: Vec<String> = neighbours(edges, i)
            .iter()
            .map(|j| nodes[*j].name.clone())
            .collect();
        println!("      {} ({}) -- {}", node.name, node.addr, list.join(", "));
    }
}

fn print_summary(results: &[StepResult]) {
    println!("\nsummary");
    println!("  {:<13} {:<7} {:>9}", "step", "result", "time");
    for r in results {
        let mark = if r.ok { "ok" } else { "FAILED" };
        println!("  {:<13} {:<7} {:>9.1?}", r.name, mark, r.took);
    }
    let failed: Vec<&str> = results.iter().filter(|r| !r.ok).map(|r| r.name).collect();
    if failed.is_empty() {
        println!("  all {} steps succeeded", results.len());
    } else {
        println!("  failed: {}", failed.join(", "));
        for r in results.iter().filter(|r| !r.ok) {
            println!("  {}: {}", r.name, r.detail);
        }
    }
}
