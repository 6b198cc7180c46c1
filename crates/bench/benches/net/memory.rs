//! Scenario 7: resident memory per node and per idle connection, N nodes in one process, each
//! with 4 peers (random degree-4 graph). Each variant runs in a fresh child process (this bench
//! binary re-run with [`CHILD_FLAG`]), so that memory freed by other scenarios cannot hide growth.
//!
//! Variants: ours through the node API (`Node::spawn`: TLS, yamux, static peers, heartbeat,
//! sync, overlay); ours at swarm level with the overlay + sync (the node's protocols without its
//! event loop); gossipsub over our TLS; stock libp2p (noise) with gossipsub. Per connection
//! counts both ends (both are in the process).

use std::{process::Stdio, time::Duration};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::{
    cluster::Cluster,
    graph,
    ids::Chain,
    member::{Features, Transport},
    nodes,
    report::{Better, Report, Row, Stack},
    rss::rss_bytes,
    stats::Samples,
    Settings,
};

/// First argument that makes this binary measure one variant and print one JSON line.
pub(crate) const CHILD_FLAG: &str = "--memory-child";

const VARIANTS: [(&str, Stack); 4] = [
    ("ours-node", Stack::OursNode),
    ("ours-swarm", Stack::Ours),
    ("ours-gossipsub", Stack::GossipsubOurTls),
    ("stock-gossipsub", Stack::Libp2p),
];

const LIMIT: Duration = Duration::from_secs(120);

pub(crate) async fn run(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let n = settings.pick(20, 100);
    let exe = std::env::current_exe()?;
    for (variant, stack) in VARIANTS {
        let output = tokio::process::Command::new(&exe)
            .args([CHILD_FLAG, variant, &n.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .await?;
        if !output.status.success() {
            bail!("memory child {variant} failed: {}", output.status);
        }
        let figures: Value = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("memory child {variant} printed no JSON"))?;
        let get = |k: &str| {
            figures[k]
                .as_f64()
                .with_context(|| format!("{variant}: no {k}"))
        };
        let (base, started, connected) = (get("base")?, get("started")?, get("connected")?);
        let edges = get("edges")?;
        let case = format!("N = {n}, 4 peers each");
        let per = |bytes: f64| Samples::new(vec![bytes / 1024.0]);
        let node = per((started - base) / n as f64);
        let conn = per((connected - started) / edges);
        let row = |metric, s: &Samples| {
            Row::from_samples("7", case.clone(), stack, metric, "KiB", Better::Lower, s)
                .without_p99()
        };
        report.push(row("RSS per node", &node).with_note(variant));
        report.push(row("RSS per connection", &conn).with_note(format!(
            "{variant}: {:.1} MiB for {n} connected nodes",
            connected / 1024.0 / 1024.0
        )));
    }
    Ok(())
}

/// The child: `<variant> <n>`; prints `{"base", "started", "connected", "edges"}` in bytes.
pub(crate) fn child(args: &[String]) -> anyhow::Result<()> {
    let variant = args.first().context("variant")?.clone();
    let n: usize = args.get(1).context("node count")?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let figures = runtime.block_on(measure(&variant, n))?;
    #[allow(clippy::print_stdout)]
    {
        println!("{figures}");
    }
    Ok(())
}

async fn settle() -> f64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    rss_bytes().unwrap_or(0) as f64
}

async fn measure(variant: &str, n: usize) -> anyhow::Result<Value> {
    let mut chain = Chain::new()?;
    let ids = chain.nodes(n)?;
    let edges = graph::degree_four(n, 99);
    let base = settle().await;
    let (started, connected) = match variant {
        "ours-node" => nodes_variant(ids, &edges).await?,
        "ours-swarm" | "ours-gossipsub" | "stock-gossipsub" => {
            let full = variant == "ours-swarm";
            let features = Features {
                overlay: full,
                sync: full,
                gossipsub: !full,
            };
            let transports = match variant {
                "stock-gossipsub" => (0..n).map(|_| Transport::Stock).collect(),
                _ => ids.into_iter().map(Transport::Ours).collect(),
            };
            let mut cluster = Cluster::start(transports, features, 99).await?;
            let started = settle().await;
            cluster.connect(LIMIT).await?;
            let connected = settle().await;
            drop(cluster);
            (started, connected)
        }
        other => bail!("unknown memory variant {other}"),
    };
    Ok(json!({"base": base, "started": started, "connected": connected, "edges": edges.len()}))
}

async fn nodes_variant(
    ids: Vec<fisco_p2p::identity::NodeIdentity>,
    edges: &[(usize, usize)],
) -> anyhow::Result<(f64, f64)> {
    let mut all = Vec::with_capacity(ids.len());
    for id in ids {
        all.push(nodes::spawn_local(id).await?);
    }
    let started = settle().await;
    for &(a, b) in edges {
        all[a]
            .handle
            .operator()
            .add_peer(all[b].addr.clone())
            .await?;
    }
    let deadline = tokio::time::Instant::now() + LIMIT;
    for node in &all {
        while node.handle.connected_peers().await?.len() < 4 {
            if tokio::time::Instant::now() > deadline {
                bail!("node {} did not get its 4 peers", node.handle.node_id());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let connected = settle().await;
    for node in &all {
        let _ = node.handle.shutdown().await;
    }
    Ok((started, connected))
}
