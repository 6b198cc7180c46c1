//! `fisco-p2p demo`: a local network on 127.0.0.1, shown step by step.
//!
//! Makes a chain's certificates in a temporary directory, starts the nodes in this process
//! (real TCP and TLS on loopback), connects them in a partial mesh, and walks through what the
//! network does, measuring each step. Exits non-zero naming the first step that failed.

#![allow(clippy::print_stdout)]

mod network;
mod steps;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use network::{make_certificates, start_nodes, topology, wait_topology};
use steps::Demo;

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
        dir: &std::path::Path,
        edges: &[(usize, usize)],
        limit: Duration,
        results: &mut Vec<StepResult>,
    ) -> anyhow::Result<()> {
        let n = usize::from(self.nodes);
        let total = 8;

        let started = Instant::now();
        let ids = make_certificates(dir, n)?;
        let detail = format!(
            "a CA, an agency and {n} node certificates (secp256k1, FISCO layout) in {}",
            dir.display()
        );
        step(results, 1, total, "certificates", Ok(detail), started)?;
        for (i, id) in ids.iter().enumerate() {
            println!("      node{i}  {id}");
        }

        let started = Instant::now();
        let nodes = start_nodes(dir, n, edges).await?;
        let connected = wait_topology(&nodes, edges, limit).await.map(|()| {
            format!(
                "{} links up, each over mutual TLS checked against the CA",
                edges.len()
            )
        });
        let ok = connected.is_ok();
        step(results, 2, total, "connections", connected, started).ok();
        for (i, node) in nodes.iter().enumerate() {
            let list: Vec<String> = network::neighbours(edges, i)
                .iter()
                .map(|j| nodes[*j].name.clone())
                .collect();
            println!("      {} ({}) -- {}", node.name, node.addr, list.join(", "));
        }
        anyhow::ensure!(ok, "step 'connections' failed");

        let mut demo = Demo {
            nodes,
            edges: edges.to_vec(),
            limit,
        };
        let started = Instant::now();
        let outcome = demo.unicast().await;
        step(results, 3, total, "unicast", outcome, started)?;
        let started = Instant::now();
        let outcome = demo.state_sync().await;
        step(results, 4, total, "state sync", outcome, started)?;
        let started = Instant::now();
        let outcome = demo.send_to_topic().await;
        step(results, 5, total, "send to topic", outcome, started)?;
        let started = Instant::now();
        let outcome = demo.multicast().await;
        step(results, 6, total, "multicast", outcome, started)?;
        let started = Instant::now();
        let outcome = demo.broadcast().await;
        step(results, 7, total, "broadcast", outcome, started)?;
        let started = Instant::now();
        let outcome = demo.restart().await;
        step(results, 8, total, "restart", outcome, started)?;

        for node in demo.nodes {
            let _ = node.handle.shutdown().await;
        }
        Ok(())
    }
}

/// Prints one step's outcome and records it; an error becomes the error of the whole demo.
fn step(
    results: &mut Vec<StepResult>,
    number: usize,
    total: usize,
    name: &'static str,
    outcome: anyhow::Result<String>,
    started: Instant,
) -> anyhow::Result<()> {
    let took = started.elapsed();
    // Details quote what the nodes sent and said: escape it before it reaches the terminal.
    let (ok, detail) = match &outcome {
        Ok(detail) => (true, crate::cli::terminal::escape(detail).into_owned()),
        Err(e) => (
            false,
            crate::cli::terminal::escape(&format!("{e:#}")).into_owned(),
        ),
    };
    let mark = if ok { "ok" } else { "FAILED" };
    println!("[{number}/{total}] {name:<13} {mark:<6} {took:>8.1?}  {detail}");
    results.push(StepResult {
        name,
        ok,
        took,
        detail,
    });
    outcome
        .map(|_| ())
        .with_context(|| format!("step '{name}' failed"))
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
