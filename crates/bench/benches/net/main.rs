//! `cargo bench --bench net [-- --quick] [--only 1,3] [--stack ours,libp2p] [--requests N]
//! [--in-flight K]`: our stack side by side with raw TCP, plain rustls and stock rust-libp2p, all
//! on 127.0.0.1 in one process run. `--stack`, `--requests` and `--in-flight` narrow scenario 1
//! down for profiling.
//!
//! Prints one table and writes `target/bench/net.json` (every figure and the ratios
//! ours / baseline) plus the latency plots `target/bench/*.svg`. `--quick` is a smoke run of a
//! few seconds that asserts nothing about speed. See `BENCHMARKS.md` for what each baseline
//! means and the latest figures.
//!
//! Layout (`benches/net/`, this file is `main.rs`): `stats.rs`, `report.rs`, `plot.rs`
//! (harness); `ids.rs`, `swarms.rs`, `rpc.rs`, `frames.rs`, `noderpc.rs`, `nodes.rs`, `pairs.rs`
//! (the stacks); one file per scenario group: `reqrep.rs` (1, 2), `connect.rs` (3), `flood.rs`
//! (4, 5), `reconnect.rs` (6), `memory.rs` (7), `hops.rs` (8), `multicast.rs` (9), `reroute.rs`
//! (10, with `proxy.rs`); `cluster.rs`, `member.rs` and `graph.rs` (many swarms in one process, shared with
//! `examples/scale.rs`, in this crate's library: `src/`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod connect;
mod flood;
mod frames;
mod hops;
mod machine;
mod memory;
mod multicast;
mod noderpc;
mod nodes;
mod pairs;
mod plot;
mod proxy;
mod reconnect;
mod report;
mod reqrep;
mod reroute;
mod rpc;
mod stats;

use std::{collections::BTreeSet, path::PathBuf, time::Instant};

// The helpers shared with the scale run, from this crate's library.
use fisco_p2p_bench::{cluster, graph, ids, member, rss, swarms};

use anyhow::Context as _;

/// What the command line asked for.
pub(crate) struct Settings {
    pub(crate) quick: bool,
    /// Scenario numbers to run; empty: all.
    only: BTreeSet<String>,
    /// Stacks scenarios 1 and 2 run (`ours`, `node`, `libp2p`, `rustls`, `tcp`); empty: all.
    /// For profiling one stack alone.
    pub(crate) stacks: BTreeSet<String>,
    /// Requests per round of scenario 1 instead of the default (for profiling).
    pub(crate) requests: Option<usize>,
    /// Requests in flight scenario 1 runs (default: 1 and 64).
    pub(crate) in_flight: Option<usize>,
}

impl Settings {
    /// `quick` in a smoke run, `full` otherwise.
    pub(crate) fn pick(&self, quick: usize, full: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }

    fn runs(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.contains(scenario)
    }

    fn parse(args: &[String]) -> anyhow::Result<Settings> {
        let mut settings = Settings {
            quick: false,
            only: BTreeSet::new(),
            stacks: BTreeSet::new(),
            requests: None,
            in_flight: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => settings.quick = true,
                "--only" => {
                    let list = args.next().context("--only needs a list such as 1,3")?;
                    settings.only = list.split(',').map(|s| s.trim().to_owned()).collect();
                }
                "--stack" => {
                    let list = args
                        .next()
                        .context("--stack needs a list such as ours,libp2p")?;
                    settings.stacks = list.split(',').map(|s| s.trim().to_owned()).collect();
                }
                "--requests" => {
                    let n = args.next().context("--requests needs a number")?;
                    settings.requests = Some(n.parse().context("--requests needs a number")?);
                }
                "--in-flight" => {
                    let n = args.next().context("--in-flight needs a number")?;
                    settings.in_flight = Some(n.parse().context("--in-flight needs a number")?);
                }
                // cargo bench passes --bench; libtest-style filters are not supported.
                _ => {}
            }
        }
        Ok(settings)
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(memory::CHILD_FLAG) {
        return memory::child(&args[1..]);
    }
    let settings = Settings::parse(&args)?;
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(settings))
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // The workspace's target directory (or CARGO_TARGET_DIR), not this crate's folder.
    let out_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let started = Instant::now();
    let machine = machine::describe();
    let mode = if settings.quick { "quick" } else { "full" };
    eprintln!("net bench ({mode}) on {}", machine["cpu"]);

    let mut report = report::Report::default();
    let mut figures = Vec::new();
    let mut chain = ids::Chain::new()?;
    let tls = ids::RustlsPair::new()?;

    if settings.runs("7") {
        eprintln!("[7] memory per node and per connection (child processes)");
        memory::run(&settings, &mut report).await?;
    }
    if settings.runs("1") {
        eprintln!("[1] request/reply round trips");
        reqrep::round_trips(&settings, &mut chain, &tls, &mut report, &mut figures).await?;
    }
    if settings.runs("2") {
        eprintln!("[2] bulk one-way messages");
        reqrep::bulk(&settings, &mut chain, &tls, &mut report).await?;
    }
    if settings.runs("3") {
        eprintln!("[3] connection establishment");
        connect::run(&settings, &mut chain, &tls, &mut report).await?;
    }
    if settings.runs("4") {
        eprintln!("[4] broadcast to N nodes");
        flood::broadcast(&settings, &mut chain, &mut report, &mut figures).await?;
    }
    if settings.runs("5") {
        eprintln!("[5] state convergence");
        flood::convergence(&settings, &mut chain, &mut report).await?;
    }
    if settings.runs("6") {
        eprintln!("[6] reconnect after a restart");
        reconnect::run(&settings, &mut chain, &mut report).await?;
    }
    if settings.runs("8") {
        eprintln!("[8] request/reply over 1, 2 and 4 hops (node API)");
        hops::run(&settings, &mut chain, &mut report, &mut figures).await?;
    }
    if settings.runs("9") {
        eprintln!("[9] multicast to 10 followers of 50 nodes");
        multicast::run(&settings, &mut chain, &mut report, &mut figures).await?;
    }
    if settings.runs("10") {
        eprintln!("[10] route convergence after a link cut (node API, 50 nodes)");
        reroute::run(&settings, &mut chain, &mut report).await?;
    }

    println!("\n{}", report.table());
    if settings.quick {
        println!("goals (smoke run: too few requests to judge them; run without --quick):");
    }
    print!("{}", report.goals_text());
    let json = out_dir.join("net.json");
    report.write_json(&json, &machine, mode)?;
    for figure in &figures {
        plot::write(&out_dir, figure)?;
    }
    println!(
        "wrote {} and {} plots in {} ({:.1?} in all)",
        json.display(),
        figures.len(),
        out_dir.display(),
        started.elapsed()
    );
    Ok(())
}
