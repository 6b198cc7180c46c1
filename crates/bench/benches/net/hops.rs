//! Scenario 8: request/reply over 1, 2 and 4 hops through the node API.
//!
//! Five nodes in a line, `n0 - n1 - n2 - n3 - n4`, each a static peer of the one before, default
//! configuration (no direct connections: relays are the only way). `n0` sends 256 B requests to
//! `n1`, `n2` and `n4`, whose inboxes answer with 256 B; rounds alternate between the three
//! destinations. Over relays the origin signs each request and the destination its reply, and
//! each end checks the other's signature (relays check none); a direct neighbour signs nothing.

use std::time::Duration;

use anyhow::{ensure, Context as _};
use bytes::Bytes;
use fisco_p2p::identity::NodeId;

use crate::{
    ids::Chain,
    noderpc,
    nodes::{self, BenchNode},
    pairs::Server,
    plot::Figure,
    report::{Better, Report, Row, Stack},
    rpc::Round,
    stats::Samples,
    Settings,
};

/// Nodes on the line.
const LINE: usize = 5;
/// Destinations, by their distance from `n0`.
const HOPS: [usize; 3] = [1, 2, 4];

/// The line: `n0` first; the servers' tasks run as long as they are kept.
struct Line {
    nodes: Vec<BenchNode>,
    _servers: Vec<Server>,
}

async fn line(chain: &mut Chain, reply: &Bytes) -> anyhow::Result<Line> {
    // Built from the far end, so each node starts with the next one as its static peer.
    let mut nodes: Vec<BenchNode> = Vec::with_capacity(LINE);
    for _ in 0..LINE {
        let config = nodes::config("/ip4/127.0.0.1/tcp/0".parse()?);
        let config = match nodes.last() {
            Some(next) => config.with_peer(next.addr.clone()),
            None => config,
        };
        nodes.push(nodes::spawn(chain.node()?, config).await?);
    }
    nodes.reverse();
    let mut servers = Vec::new();
    for &hops in &HOPS {
        servers.push(noderpc::serve(&nodes[hops].handle, reply).await?);
    }
    let far = nodes[LINE - 1].handle.node_id();
    let deadline = tokio::time::Instant::now() + nodes::WAIT;
    loop {
        let path = nodes[0].handle.path(far.clone()).await?;
        if path.as_ref().is_some_and(|p| p.len() == LINE) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no route along the line from n0 to n{} (path {path:?})",
            LINE - 1
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Line {
        nodes,
        _servers: servers,
    })
}

pub(crate) async fn run(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
    figures: &mut Vec<Figure>,
) -> anyhow::Result<()> {
    let payload = Bytes::from(vec![0x5a; 256]);
    let line = line(chain, &payload).await?;
    let client = &line.nodes[0].handle;
    let targets: Vec<NodeId> = HOPS
        .iter()
        .map(|&h| line.nodes[h].handle.node_id())
        .collect();
    for in_flight in [1, 64] {
        let count = settings.pick(200, if in_flight == 1 { 2000 } else { 10_000 });
        let rounds = settings.pick(1, 5);
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); HOPS.len()];
        let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); HOPS.len()];
        for target in &targets {
            noderpc::round(client, target.clone(), &payload, count / 10, in_flight)
                .await
                .context("warm-up")?;
        }
        for _ in 0..rounds {
            for (i, target) in targets.iter().cloned().enumerate() {
                let Round {
                    latencies: l,
                    elapsed,
                } = noderpc::round(client, target, &payload, count, in_flight)
                    .await
                    .with_context(|| format!("{} hops", HOPS[i]))?;
                rates[i].push(count as f64 / elapsed.as_secs_f64());
                latencies[i].extend(l);
            }
        }
        let mut series = Vec::new();
        for (i, hops) in HOPS.iter().enumerate() {
            let case = format!("{hops} hop{}, {in_flight} in flight", plural(*hops));
            let rate = Samples::new(std::mem::take(&mut rates[i]));
            let row = |metric, unit, better, s: &Samples| {
                Row::from_samples("8", case.clone(), Stack::OursNode, metric, unit, better, s)
            };
            report.push(row("round trips/s", "1/s", Better::Higher, &rate).without_p99());
            let latency = Samples::micros(&latencies[i]);
            report.push(row("latency", "µs", Better::Lower, &latency));
            series.push((format!("{hops} hop{}", plural(*hops)), latency));
        }
        if in_flight == 1 {
            figures.push(Figure {
                file: "hops-1.svg",
                title: "Request/reply latency over 1, 2 and 4 hops, node API, 1 in flight".into(),
                x_label: "round-trip latency (µs, log scale)",
                series,
            });
        }
    }
    for node in &line.nodes {
        let _ = node.handle.shutdown().await;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
