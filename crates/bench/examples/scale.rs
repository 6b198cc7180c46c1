//! `cargo run --release --example scale [-- --nodes 100 --seed 1]`: many fisco-p2p nodes in one
//! process on 127.0.0.1, real TCP + our CA-verified TLS, connected along a random degree-4 graph.
//!
//! Steps, each timed: make the certificates; start the nodes; connect every link; sync views
//! complete (every node holds every other node's record); every tenth node follows a new topic
//! and every node learns it; every view holds the whole link graph; broadcasts reach every other
//! node, and multicasts every follower, exactly once, over the routed overlay. Then resident
//! memory. Exits non-zero naming the first step that failed.
//!
//! The nodes are swarms with the overlay and sync behaviours (the node's protocols, without its
//! event loop), shared with `cargo bench --bench net` (this crate's library). TODO(node API): a
//! `--node` mode running the same steps through `Node::spawn` and its `Handle`.

#![allow(clippy::print_stdout)]

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context as _};
use clap::Parser;

use fisco_p2p_bench::{
    cluster::Cluster,
    ids,
    member::{self, Command, Features, Transport},
    rss,
};

/// Longest any one step may take.
const STEP: Duration = Duration::from_secs(60);

#[derive(Debug, Parser)]
#[command(about = "Many fisco-p2p nodes in one process: connect, sync, broadcast, multicast")]
struct Args {
    /// Number of nodes (at least 6).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(6..=1000))]
    nodes: u16,
    /// Seed of the random degree-4 graph.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run without the sync behaviour (skips the sync, topic, links and multicast steps), to see
    /// broadcast alone.
    #[arg(long)]
    without_sync: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(usize::from(args.nodes), args.seed, !args.without_sync))
}

/// Prints one step's line.
fn step(name: &str, started: Instant, detail: impl std::fmt::Display) {
    println!("{name:<12} {:>9.1?}  {detail}", started.elapsed());
}

fn rss_mib() -> f64 {
    rss::rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The topic the followers follow.
const TOPIC: &str = "scale";

/// Sends message `tag` from `origin` (a broadcast to all, or a multicast to `followers`) and
/// checks that every node it is for delivered it exactly once; returns the time until the last
/// one did.
async fn spread(
    cluster: &mut Cluster,
    followers: Option<&BTreeSet<usize>>,
    origin: usize,
    tag: u64,
) -> anyhow::Result<Duration> {
    let payload = member::payload(tag, 256);
    let multicast = followers.is_some();
    let targets: BTreeSet<usize> = match followers {
        Some(followers) => followers.iter().copied().filter(|&f| f != origin).collect(),
        None => (0..cluster.len()).filter(|&i| i != origin).collect(),
    };
    let command = match followers {
        Some(_) => Command::Multicast(TOPIC.into(), payload),
        None => Command::Broadcast(payload),
    };
    let since = Instant::now();
    cluster.send(origin, command).await?;
    let spread = cluster
        .wait_delivered_to(multicast, tag, &targets, since, STEP)
        .await;
    ensure!(
        spread.reached == targets.len(),
        "reached {} of {} nodes",
        spread.reached,
        targets.len()
    );
    let duplicates = cluster
        .duplicates(multicast, Duration::from_millis(200))
        .await;
    ensure!(duplicates == 0, "{duplicates} duplicate deliveries");
    Ok(spread.took)
}

async fn run(n: usize, seed: u64, with_sync: bool) -> anyhow::Result<()> {
    let all = Instant::now();
    println!("scale: {n} nodes, random degree-4 graph (seed {seed}), TCP + TLS on 127.0.0.1\n");
    let base = rss_mib();

    let t = Instant::now();
    let identities = ids::Chain::new()?.nodes(n)?;
    step(
        "certificates",
        t,
        format!("{n} secp256k1 node certificates from one CA and agency"),
    );

    let t = Instant::now();
    let transports = identities.into_iter().map(Transport::Ours).collect();
    let features = Features {
        overlay: true,
        sync: with_sync,
        gossipsub: false,
    };
    let mut cluster = Cluster::start(transports, features, seed).await?;
    let started_rss = rss_mib();
    let behaviours = if with_sync {
        "overlay, sync"
    } else {
        "overlay"
    };
    step("start", t, format!("{n} nodes listening ({behaviours})"));

    let links = cluster.edges.len();
    let t = Instant::now();
    cluster
        .connect(STEP)
        .await
        .context("step 'connect' failed")?;
    step(
        "connect",
        t,
        format!("{links} links up, every node has its 4 neighbours"),
    );
    let connected_rss = rss_mib();

    let followers: BTreeSet<usize> = (0..n).step_by(10).collect();
    if with_sync {
        let t = Instant::now();
        cluster
            .wait_views(STEP)
            .await
            .context("step 'sync' failed")?;
        let detail = format!("every node holds all {} other records", n - 1);
        step("sync", t, detail);

        let t = Instant::now();
        for &f in &followers {
            cluster.send(f, Command::Follow(TOPIC.into())).await?;
        }
        let mut took = Duration::ZERO;
        for &f in &followers {
            let known = cluster
                .wait_topic(f, TOPIC, t, STEP)
                .await
                .context("step 'topic' failed")?;
            took = took.max(known);
        }
        step(
            "topic",
            t,
            format!(
                "{} nodes follow '{TOPIC}'; all {n} knew after {took:.1?}",
                followers.len()
            ),
        );

        let t = Instant::now();
        cluster
            .wait_links(STEP)
            .await
            .context("step 'links' failed")?;
        step(
            "links",
            t,
            format!("every view holds all {links} links: routes to every node"),
        );
    }

    for (round, tag) in [("first", 1), ("second", 3)] {
        let t = Instant::now();
        let took = spread(&mut cluster, None, 0, tag)
            .await
            .with_context(|| format!("step 'broadcast' ({round}) failed"))?;
        step(
            "broadcast",
            t,
            format!(
                "{round} 256 B message from node 0: {} nodes once each, last after {took:.1?}",
                n - 1
            ),
        );
    }

    if with_sync {
        let origin = (n / 2..n).find(|i| !followers.contains(i)).unwrap_or(1);
        for (round, tag) in [("first", 2), ("second", 4)] {
            let t = Instant::now();
            let took = spread(&mut cluster, Some(&followers), origin, tag)
                .await
                .with_context(|| format!("step 'multicast' ({round}) failed"))?;
            step(
                "multicast",
                t,
                format!(
                    "{round} 256 B message from node {origin}: {} followers once each, last after {took:.1?}",
                    followers.len()
                ),
            );
        }
    }

    println!(
        "\nmemory: RSS {base:.1} MiB before, {started_rss:.1} MiB with {n} nodes started, {connected_rss:.1} MiB connected, {:.1} MiB now",
        rss_mib()
    );
    println!(
        "        {:.0} KiB per node, {:.0} KiB per connection (both ends); {} open file descriptors",
        (started_rss - base) * 1024.0 / n as f64,
        (connected_rss - started_rss) * 1024.0 / links as f64,
        open_fds()
    );
    if with_sync {
        println!(
            "sync: {} record updates reported by all nodes together ({} would be one per node and record)",
            cluster.record_updates(),
            n * (n - 1)
        );
    }
    println!("all steps succeeded in {:.1?}", all.elapsed());
    Ok(())
}
