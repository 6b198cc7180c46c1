//! Scenario 9: multicast to the 10 followers of a topic in a network of 50 nodes on a random
//! degree-4 graph: time until every follower delivered, and message transmissions over links
//! per message.
//!
//! - **ours**: the overlay at swarm level, with sync on; the origin finds the followers in its
//!   sync view and the copies follow a tree of shortest paths, relayed by nodes that do not
//!   follow the topic. The benchmark also computes that tree from the graph (same tie-break),
//!   to check that each of its links carries exactly one copy.
//! - **gossipsub**: in a partial mesh gossipsub relays only among subscribers, so to reach 10
//!   followers scattered over 50 nodes *every* node must subscribe to the topic (a follower whose
//!   neighbours do not subscribe is otherwise unreachable without new connections). The
//!   followers' deliveries are timed; every node's publish and forward sends count.
//!
//! Origins rotate over the nodes that do not follow, so every message has the same 10 targets in
//! both networks. The networks take turns message by message.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::ensure;
use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

use crate::{
    cluster::Cluster,
    graph,
    ids::Chain,
    member::{self, Command, Features, Transport},
    plot::Figure,
    report::{Better, Report, Row, Stack},
    stats::Samples,
    Settings,
};

const NODES: usize = 50;
const FOLLOWERS: usize = 10;
/// The topic the followers follow in the overlay network (sync records).
const TOPIC: &str = "followers";
const PAYLOAD: usize = 256;
const MESSAGE_LIMIT: Duration = Duration::from_secs(10);
const SETUP_LIMIT: Duration = Duration::from_secs(90);
const SEED: u64 = 9;

struct Side {
    stack: Stack,
    label: &'static str,
    gossipsub: bool,
    cluster: Cluster,
    times: Vec<Duration>,
    incomplete: usize,
}

impl Side {
    async fn transmissions(&mut self) -> anyhow::Result<u64> {
        let sent = self.cluster.sent().await?;
        Ok(if self.gossipsub {
            sent.gossipsub
        } else {
            sent.overlay[3]
        })
    }

    async fn send(
        &mut self,
        origin: usize,
        tag: u64,
        followers: &BTreeSet<usize>,
        record: bool,
    ) -> anyhow::Result<()> {
        let payload = member::payload(tag, PAYLOAD);
        let command = if self.gossipsub {
            Command::Publish(payload)
        } else {
            Command::Multicast(TOPIC.into(), payload)
        };
        let since = Instant::now();
        self.cluster.send(origin, command).await?;
        let spread = self
            .cluster
            .wait_delivered_to(true, tag, followers, since, MESSAGE_LIMIT)
            .await;
        if record {
            if spread.reached < followers.len() {
                self.incomplete += 1;
            } else {
                self.times.push(spread.took);
            }
        }
        Ok(())
    }
}

/// The overlay network, with the followers following [`TOPIC`] and every view complete.
async fn overlay(chain: &mut Chain, followers: &BTreeSet<usize>) -> anyhow::Result<Side> {
    let transports = chain
        .nodes(NODES)?
        .into_iter()
        .map(Transport::Ours)
        .collect();
    let features = Features {
        overlay: true,
        sync: true,
        gossipsub: false,
    };
    let mut cluster = Cluster::start(transports, features, SEED).await?;
    cluster.connect(SETUP_LIMIT).await?;
    for &f in followers {
        cluster.send(f, Command::Follow(TOPIC.into())).await?;
    }
    let since = Instant::now();
    for &f in followers {
        cluster.wait_topic(f, TOPIC, since, SETUP_LIMIT).await?;
    }
    cluster.wait_links(SETUP_LIMIT).await?;
    Ok(Side {
        stack: Stack::Ours,
        label: "ours (overlay multicast)",
        gossipsub: false,
        cluster,
        times: Vec::new(),
        incomplete: 0,
    })
}

/// The gossipsub network (noise), every node subscribed, meshes formed.
async fn gossipsub() -> anyhow::Result<Side> {
    let transports = (0..NODES).map(|_| Transport::Stock).collect();
    let features = Features {
        overlay: false,
        sync: false,
        gossipsub: true,
    };
    let mut cluster = Cluster::start(transports, features, SEED).await?;
    cluster.connect(SETUP_LIMIT).await?;
    cluster.wait_mesh(SETUP_LIMIT).await?;
    Ok(Side {
        stack: Stack::Libp2p,
        label: "gossipsub over noise (all 50 subscribed)",
        gossipsub: true,
        cluster,
        times: Vec::new(),
        incomplete: 0,
    })
}

pub(crate) async fn run(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
    figures: &mut Vec<Figure>,
) -> anyhow::Result<()> {
    let mut order: Vec<usize> = (0..NODES).collect();
    order.shuffle(&mut StdRng::seed_from_u64(SEED));
    let followers: BTreeSet<usize> = order[..FOLLOWERS].iter().copied().collect();
    let origins: Vec<usize> = order[FOLLOWERS..].to_vec();
    let mut sides = vec![overlay(chain, &followers).await?, gossipsub().await?];

    // Every node of the overlay network knows the same followers.
    let known = sides[0].cluster.followers(origins[0], TOPIC).await?;
    let known: BTreeSet<usize> = known
        .iter()
        .filter_map(|p| sides[0].cluster.index_of(p))
        .collect();
    ensure!(known == followers, "the sync view lists other followers");

    let messages = settings.pick(5, 200) as u64;
    let warm_up = 5;
    let mut before = vec![0; sides.len()];
    for tag in 0..warm_up + messages {
        if tag == warm_up {
            for (side, before) in sides.iter_mut().zip(&mut before) {
                *before = side.transmissions().await?;
            }
        }
        let origin = origins[tag as usize % origins.len()];
        for side in sides.iter_mut() {
            side.send(origin, tag, &followers, tag >= warm_up).await?;
        }
    }

    // The tree each message should have crossed: one copy per link of it.
    let edges = sides[0].cluster.edges.clone();
    let dist = graph::distances(NODES, &edges);
    let keys: Vec<_> = sides[0].cluster.members.iter().map(|m| m.peer).collect();
    let tree: usize = (warm_up..warm_up + messages)
        .map(|tag| {
            let origin = origins[tag as usize % origins.len()];
            graph::tree_links(&edges, &dist, &keys, origin, &followers)
        })
        .sum();
    let tree = tree as f64 / messages as f64;

    let case = format!("{FOLLOWERS} of {NODES} follow");
    let mut series = Vec::new();
    for (mut side, before) in sides.into_iter().zip(before) {
        let duplicates = side
            .cluster
            .duplicates(true, Duration::from_millis(300))
            .await;
        let per_message = (side.transmissions().await? - before) as f64 / messages as f64;
        let samples = Samples::millis(&side.times);
        report.push(
            Row::from_samples(
                "9",
                case.clone(),
                side.stack,
                "time to all",
                "ms",
                Better::Lower,
                &samples,
            )
            .with_note(format!(
                "{}: {duplicates} duplicate deliveries (all nodes), {} of {messages} incomplete",
                side.label, side.incomplete
            )),
        );
        let note = if side.gossipsub {
            format!("{}: publish and forward sends", side.label)
        } else {
            format!(
                "{}: copies sent; the shortest-path trees have {tree:.1} links per message",
                side.label
            )
        };
        report.push(
            Row::from_samples(
                "9",
                case.clone(),
                side.stack,
                "links crossed/msg",
                "",
                Better::Lower,
                &Samples::new(vec![per_message]),
            )
            .without_p99()
            .with_note(note),
        );
        series.push((side.label.to_owned(), samples));
    }
    figures.push(Figure {
        file: "multicast-50.svg",
        title: format!(
            "Time until all {FOLLOWERS} followers of {NODES} nodes delivered a 256 B multicast"
        ),
        x_label: "time to all followers (ms, log scale)",
        series,
    });
    Ok(())
}
