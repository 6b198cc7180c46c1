//! Scenarios 1 and 2: request/reply round trips (256 B, 1 and 64 in flight) and bulk one-way
//! unicast (1 MiB messages), on one connection per stack.
//!
//! Rounds are interleaved across stacks (raw TCP, rustls, libp2p, ours, raw TCP, ...) so that
//! drift on this shared machine hits every stack alike; throughput is the median over rounds,
//! latency quantiles are over every request of every round.

use std::time::Duration;

use bytes::Bytes;

use crate::{
    ids::{Chain, RustlsPair},
    pairs::{self, Pair},
    plot::Figure,
    report::{Better, Report, Row, Stack},
    stats::Samples,
    Settings,
};

/// How much each round does, and how many rounds.
struct Plan {
    count: usize,
    in_flight: usize,
    rounds: usize,
}

struct Measured {
    stack: Stack,
    latencies: Vec<Duration>,
    per_round: Vec<f64>,
}

/// Runs `plan` on every pair; returns, per stack, the latencies and the rate per round
/// (`units_per_request` units per request per second).
async fn measure(
    pairs: &mut [Pair],
    payload: &Bytes,
    plan: &Plan,
    units_per_request: f64,
) -> anyhow::Result<Vec<Measured>> {
    let mut measured: Vec<Measured> = pairs
        .iter()
        .map(|p| Measured {
            stack: p.stack(),
            latencies: Vec::new(),
            per_round: Vec::new(),
        })
        .collect();
    // Warm-up: connections, allocator, yamux windows.
    for pair in pairs.iter_mut() {
        pair.round(
            payload,
            (plan.count / 10).max(plan.in_flight),
            plan.in_flight,
        )
        .await?;
    }
    for _ in 0..plan.rounds {
        for (pair, m) in pairs.iter_mut().zip(&mut measured) {
            let round = pair.round(payload, plan.count, plan.in_flight).await?;
            let rate = plan.count as f64 * units_per_request / round.elapsed.as_secs_f64();
            m.per_round.push(rate);
            m.latencies.extend(round.latencies);
        }
    }
    Ok(measured)
}

/// Scenario 1: 256 B requests and replies, 1 and 64 in flight.
pub(crate) async fn round_trips(
    settings: &Settings,
    chain: &mut Chain,
    tls: &RustlsPair,
    report: &mut Report,
    figures: &mut Vec<Figure>,
) -> anyhow::Result<()> {
    let payload = Bytes::from(vec![0x5a; 256]);
    let mut pairs = pairs::all(chain, tls, &payload, &settings.stacks).await?;
    let cases = match settings.in_flight {
        Some(k) => vec![k],
        None => vec![1, 64],
    };
    for in_flight in cases {
        let default = settings.pick(200, if in_flight == 1 { 3000 } else { 20_000 });
        let plan = Plan {
            count: settings.requests.unwrap_or(default),
            in_flight,
            rounds: settings.pick(1, 5),
        };
        let case = format!("256 B, {in_flight} in flight");
        let measured = measure(&mut pairs, &payload, &plan, 1.0).await?;
        let mut series = Vec::new();
        for m in measured {
            let rate = Samples::new(m.per_round);
            report.push(
                Row::from_samples(
                    "1",
                    &case,
                    m.stack,
                    "round trips/s",
                    "1/s",
                    Better::Higher,
                    &rate,
                )
                .without_p99(),
            );
            let latency = Samples::micros(&m.latencies);
            report.push(Row::from_samples(
                "1",
                &case,
                m.stack,
                "latency",
                "µs",
                Better::Lower,
                &latency,
            ));
            series.push((m.stack.label().to_owned(), latency));
        }
        figures.push(Figure {
            file: if in_flight == 1 {
                "reqrep-1.svg"
            } else {
                "reqrep-64.svg"
            },
            title: format!("Request/reply latency, {case}, one connection"),
            x_label: "round-trip latency (µs, log scale)",
            series,
        });
    }
    Ok(())
}

/// Scenario 2: 1 MiB messages one way, each acknowledged by an empty reply, 8 in flight.
pub(crate) async fn bulk(
    settings: &Settings,
    chain: &mut Chain,
    tls: &RustlsPair,
    report: &mut Report,
) -> anyhow::Result<()> {
    const MIB: usize = 1024 * 1024;
    let payload = Bytes::from(vec![0xa5; MIB]);
    let mut pairs = pairs::all(chain, tls, &Bytes::new(), &settings.stacks).await?;
    let plan = Plan {
        count: settings.pick(16, 200),
        in_flight: 8,
        rounds: settings.pick(1, 5),
    };
    let measured = measure(&mut pairs, &payload, &plan, MIB as f64 / 1e6).await?;
    for m in measured {
        let rate = Samples::new(m.per_round);
        report.push(
            Row::from_samples(
                "2",
                "1 MiB messages, 8 in flight",
                m.stack,
                "throughput",
                "MB/s",
                Better::Higher,
                &rate,
            )
            .without_p99(),
        );
    }
    Ok(())
}
