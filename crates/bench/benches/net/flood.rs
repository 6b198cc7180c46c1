//! Scenarios 4 and 5 on in-process networks of N nodes (random degree-4 graph, 127.0.0.1):
//! broadcast delivery time, duplicates and link transmissions, and state convergence after a
//! topic is followed.
//!
//! Scenario 4 compares the overlay's signed flood (our TLS) with stock libp2p gossipsub (noise),
//! and also runs gossipsub over our TLS, which separates the transport's share from the
//! protocol's. The three networks run side by side and take turns message by message. Swarm
//! level: the node API adds the same command and inbox hops to every message (scenario 1 shows
//! what they cost).

use std::time::{Duration, Instant};

use crate::{
    cluster::Cluster,
    ids::Chain,
    member::{self, Command, Features, Sent, Transport},
    plot::Figure,
    report::{Better, Report, Row, Stack},
    stats::Samples,
    Settings,
};

/// Longest wait for one message to reach every node.
const MESSAGE_LIMIT: Duration = Duration::from_secs(10);
const SETUP_LIMIT: Duration = Duration::from_secs(60);
const PAYLOAD: usize = 256;

struct Contender {
    stack: Stack,
    label: &'static str,
    multicast: bool,
    cluster: Cluster,
    times: Vec<Duration>,
    incomplete: usize,
}

impl Contender {
    /// Message transmissions over links so far: the overlay's broadcasts, or gossipsub's
    /// message sends.
    async fn transmissions(&mut self) -> anyhow::Result<u64> {
        let sent: Sent = self.cluster.sent().await?;
        Ok(if self.multicast {
            sent.gossipsub
        } else {
            sent.overlay[4]
        })
    }
}

async fn contenders(chain: &mut Chain, n: usize, seed: u64) -> anyhow::Result<Vec<Contender>> {
    let only = |overlay, gossipsub| Features {
        overlay,
        sync: false,
        gossipsub,
    };
    let ours = |chain: &mut Chain| -> anyhow::Result<Vec<Transport>> {
        Ok(chain.nodes(n)?.into_iter().map(Transport::Ours).collect())
    };
    let specs = [
        (
            Stack::Ours,
            "ours (overlay broadcast)",
            false,
            ours(chain)?,
            only(true, false),
        ),
        (
            Stack::GossipsubOurTls,
            "gossipsub over our TLS",
            true,
            ours(chain)?,
            only(false, true),
        ),
        (
            Stack::Libp2p,
            "gossipsub over noise",
            true,
            (0..n).map(|_| Transport::Stock).collect(),
            only(false, true),
        ),
    ];
    let mut all = Vec::new();
    for (stack, label, multicast, transports, features) in specs {
        let mut cluster = Cluster::start(transports, features, seed).await?;
        cluster.connect(SETUP_LIMIT).await?;
        if multicast {
            cluster.wait_mesh(SETUP_LIMIT).await?;
        }
        all.push(Contender {
            stack,
            label,
            multicast,
            cluster,
            times: Vec::new(),
            incomplete: 0,
        });
    }
    Ok(all)
}

async fn send(c: &mut Contender, tag: u64, record: bool) -> anyhow::Result<()> {
    let n = c.cluster.len();
    let origin = (tag as usize) % n;
    let payload = member::payload(tag, PAYLOAD);
    let command = if c.multicast {
        Command::Publish(payload)
    } else {
        Command::Broadcast(payload)
    };
    let since = Instant::now();
    c.cluster.send(origin, command).await?;
    let spread = c
        .cluster
        .wait_delivered(c.multicast, tag, n - 1, since, MESSAGE_LIMIT)
        .await;
    if record {
        if spread.reached < n - 1 {
            c.incomplete += 1;
        } else {
            c.times.push(spread.took);
        }
    }
    Ok(())
}

/// Scenario 4: N = 10 and 50.
pub(crate) async fn broadcast(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
    figures: &mut Vec<Figure>,
) -> anyhow::Result<()> {
    for n in [10, 50] {
        let mut all = contenders(chain, n, n as u64).await?;
        let messages = settings.pick(5, 300) as u64;
        let warm_up = 5;
        let mut before = vec![0; all.len()];
        for tag in 0..warm_up + messages {
            if tag == warm_up {
                for (c, before) in all.iter_mut().zip(&mut before) {
                    *before = c.transmissions().await?;
                }
            }
            for c in all.iter_mut() {
                send(c, tag, tag >= warm_up).await?;
            }
        }
        let mut series = Vec::new();
        for (mut c, before) in all.into_iter().zip(before) {
            let duplicates = c
                .cluster
                .duplicates(c.multicast, Duration::from_millis(300))
                .await;
            let per_message = (c.transmissions().await? - before) as f64 / messages as f64;
            let samples = Samples::millis(&c.times);
            let note = format!(
                "{}: {duplicates} duplicates, {} of {messages} incomplete",
                c.label, c.incomplete
            );
            report.push(
                Row::from_samples(
                    "4",
                    format!("N = {n}"),
                    c.stack,
                    "links crossed/msg",
                    "",
                    Better::Lower,
                    &Samples::new(vec![per_message]),
                )
                .without_p99()
                .with_note(format!(
                    "{}: message transmissions over links per message ({} links)",
                    c.label,
                    c.cluster.edges.len()
                )),
            );
            report.push(
                Row::from_samples(
                    "4",
                    format!("N = {n}"),
                    c.stack,
                    "time to all",
                    "ms",
                    Better::Lower,
                    &samples,
                )
                .with_note(note),
            );
            series.push((c.label.to_owned(), samples));
        }
        if n == 50 {
            figures.push(Figure {
                file: "broadcast-50.svg",
                title: format!(
                    "Time until all {n} nodes delivered a 256 B message (degree-4 graph)"
                ),
                x_label: "time to all nodes (ms, log scale)",
                series,
            });
        }
    }
    Ok(())
}

/// Scenario 5: a node follows a new topic; time until every other node's sync view shows it.
pub(crate) async fn convergence(
    settings: &Settings,
    chain: &mut Chain,
    report: &mut Report,
) -> anyhow::Result<()> {
    for n in [10, 50] {
        let transports = chain.nodes(n)?.into_iter().map(Transport::Ours).collect();
        let features = Features {
            overlay: false,
            sync: true,
            gossipsub: false,
        };
        let mut cluster = Cluster::start(transports, features, n as u64 + 1).await?;
        cluster.connect(SETUP_LIMIT).await?;
        let initial = cluster.wait_views(SETUP_LIMIT).await?;
        let rounds = settings.pick(2, 20);
        let mut times = Vec::with_capacity(rounds);
        for round in 0..rounds {
            let owner = (round * 7) % n;
            let topic = format!("topic-{round}");
            let since = Instant::now();
            cluster.send(owner, Command::Follow(topic.clone())).await?;
            times.push(
                cluster
                    .wait_topic(owner, &topic, since, SETUP_LIMIT)
                    .await?,
            );
        }
        report.push(
            Row::from_samples(
                "5",
                format!("N = {n}"),
                Stack::Ours,
                "time to all",
                "ms",
                Better::Lower,
                &Samples::millis(&times),
            )
            .with_note(format!(
                "sync defaults; all records known {initial:.1?} after connecting; \
                 {} record updates reported (one per node and record: {})",
                cluster.record_updates(),
                n * (n - 1)
            )),
        );
    }
    Ok(())
}
