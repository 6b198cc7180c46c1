//! The results table and `target/bench/net.json`: every figure, and each baseline's ratio
//! ours / baseline, computed from figures measured in the same run.

use std::{fmt::Write as _, path::Path};

use serde_json::{json, Value};

use crate::stats::Samples;

/// The stack a row measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    /// fisco-p2p: TCP + our CA-verified secp256k1 TLS + yamux + our behaviours (the overlay),
    /// at swarm level.
    Ours,
    /// fisco-p2p measured through the node API (`Node::spawn`, `Handle`).
    OursNode,
    /// libp2p gossipsub over our transport: a baseline that separates the transport's share
    /// from the protocol's.
    GossipsubOurTls,
    /// tokio TCP, length-prefixed frames: the physical limit of the box.
    RawTcp,
    /// rustls TLS 1.3 over TCP, P-256 certificates, mutual authentication, same framing.
    Rustls,
    /// stock rust-libp2p: TCP + noise + yamux + request_response (CBOR) or gossipsub.
    Libp2p,
}

impl Stack {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Stack::Ours => "ours",
            Stack::OursNode => "ours (node API)",
            Stack::GossipsubOurTls => "gossipsub (our TLS)",
            Stack::RawTcp => "raw TCP",
            Stack::Rustls => "rustls",
            Stack::Libp2p => "libp2p noise",
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Stack::Ours | Stack::OursNode)
    }
}

/// Which direction of a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
}

/// One measured figure.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// "1", "2", ... as issue 5 numbers the scenarios.
    pub(crate) scenario: &'static str,
    /// The case within the scenario ("256 B, 1 in flight", "N = 50").
    pub(crate) case: String,
    pub(crate) stack: Stack,
    /// What was measured ("round trips/s", "latency").
    pub(crate) metric: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) better: Better,
    pub(crate) median: f64,
    /// `None` where a p99 means nothing (a handful of runs).
    pub(crate) p99: Option<f64>,
    pub(crate) samples: usize,
    /// Anything the figure needs to be read right (duplicates, variant).
    pub(crate) note: String,
}

impl Row {
    pub(crate) fn from_samples(
        scenario: &'static str,
        case: impl Into<String>,
        stack: Stack,
        metric: &'static str,
        unit: &'static str,
        better: Better,
        samples: &Samples,
    ) -> Row {
        Row {
            scenario,
            case: case.into(),
            stack,
            metric,
            unit,
            better,
            median: samples.median(),
            p99: Some(samples.p99()),
            samples: samples.len(),
            note: String::new(),
        }
    }

    pub(crate) fn without_p99(mut self) -> Row {
        self.p99 = None;
        self
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }

    fn same_figure(&self, other: &Row) -> bool {
        self.scenario == other.scenario && self.case == other.case && self.metric == other.metric
    }
}

/// A target the issue sets: `ours` at least `at_least` times `baseline` on one figure.
#[derive(Debug, Clone)]
pub(crate) struct Goal {
    pub(crate) scenario: &'static str,
    pub(crate) case: &'static str,
    pub(crate) metric: &'static str,
    pub(crate) ours: Stack,
    pub(crate) baseline: Stack,
    pub(crate) at_least: f64,
}

/// The goals of the benchmark section: node API request/reply at 64 in flight.
pub(crate) const GOALS: [Goal; 2] = [
    Goal {
        scenario: "1",
        case: "256 B, 64 in flight",
        metric: "round trips/s",
        ours: Stack::OursNode,
        baseline: Stack::Libp2p,
        at_least: 1.5,
    },
    Goal {
        scenario: "1",
        case: "256 B, 64 in flight",
        metric: "round trips/s",
        ours: Stack::OursNode,
        baseline: Stack::Rustls,
        at_least: 0.5,
    },
];

/// Everything one run measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
}

/// How much slower ours is than a baseline on one figure: > 1 means slower (or more memory).
pub(crate) fn slowdown(ours: &Row, baseline: &Row) -> f64 {
    match ours.better {
        Better::Higher => baseline.median / ours.median,
        Better::Lower => ours.median / baseline.median,
    }
}

impl Report {
    pub(crate) fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// The row of ours measuring the same figure as `baseline` (swarm level preferred).
    fn ours_for(&self, baseline: &Row) -> Option<&Row> {
        let mut ours = self
            .rows
            .iter()
            .filter(|r| r.stack.is_ours() && r.same_figure(baseline));
        let first = ours.next()?;
        Some(
            std::iter::once(first)
                .chain(ours)
                .find(|r| r.stack == Stack::Ours)
                .unwrap_or(first),
        )
    }

    /// `(baseline, ours, slowdown)` for every baseline row.
    pub(crate) fn comparisons(&self) -> Vec<(&Row, &Row, f64)> {
        self.rows
            .iter()
            .filter(|r| !r.stack.is_ours())
            .filter_map(|b| self.ours_for(b).map(|o| (b, o, slowdown(o, b))))
            .collect()
    }

    fn find(&self, scenario: &str, case: &str, metric: &str, stack: Stack) -> Option<&Row> {
        self.rows.iter().find(|r| {
            r.scenario == scenario && r.case == case && r.metric == metric && r.stack == stack
        })
    }

    /// `(goal, ours / baseline)` for every goal whose two figures this run measured (throughputs:
    /// higher is better, so the ratio is ours over the baseline).
    pub(crate) fn goals(&self) -> Vec<(Goal, f64)> {
        GOALS
            .iter()
            .filter_map(|g| {
                let ours = self.find(g.scenario, g.case, g.metric, g.ours)?;
                let base = self.find(g.scenario, g.case, g.metric, g.baseline)?;
                Some((g.clone(), ours.median / base.median))
            })
            .collect()
    }

    /// The goals, one line each, for the end of the table.
    pub(crate) fn goals_text(&self) -> String {
        let mut out = String::new();
        for (g, ratio) in self.goals() {
            let verdict = if ratio >= g.at_least { "met" } else { "MISSED" };
            let _ = writeln!(
                out,
                "goal [{}] {}, {}: {} / {} = {ratio:.2} (goal >= {}): {verdict}",
                g.scenario,
                g.case,
                g.metric,
                g.ours.label(),
                g.baseline.label(),
                g.at_least
            );
        }
        out
    }

    /// The table printed at the end of a run.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<3} {:<28} {:<16} {:<18} {:>10} {:>10} {:<5} {:>6} {:>9}  note",
            "#", "case", "stack", "metric", "median", "p99", "unit", "n", "ours/this"
        );
        for row in &self.rows {
            let ratio = if row.stack.is_ours() {
                String::new()
            } else {
                self.ours_for(row)
                    .map(|o| format!("{:.2}", o.median / row.median))
                    .unwrap_or_default()
            };
            let p99 = row.p99.map(fmt_num).unwrap_or_else(|| "-".into());
            let _ = writeln!(
                out,
                "{:<3} {:<28} {:<16} {:<18} {:>10} {:>10} {:<5} {:>6} {:>9}  {}",
                row.scenario,
                row.case,
                row.stack.label(),
                row.metric,
                fmt_num(row.median),
                p99,
                row.unit,
                row.samples,
                ratio,
                row.note
            );
        }
        out
    }

    /// The JSON document: machine, every row, and ratios ours / baseline.
    pub(crate) fn to_json(&self, machine: &Value, mode: &str) -> Value {
        let rows: Vec<Value> = self.rows.iter().map(row_json).collect();
        let ratios: Vec<Value> = self
            .comparisons()
            .into_iter()
            .map(|(b, o, slow)| {
                json!({
                    "scenario": b.scenario, "case": b.case, "metric": b.metric,
                    "ours": o.stack.label(), "baseline": b.stack.label(),
                    "ours_over_baseline": o.median / b.median,
                    "slowdown": slow,
                })
            })
            .collect();
        let goals: Vec<Value> = self
            .goals()
            .into_iter()
            .map(|(g, ratio)| {
                json!({
                    "scenario": g.scenario, "case": g.case, "metric": g.metric,
                    "ours": g.ours.label(), "baseline": g.baseline.label(),
                    "ours_over_baseline": ratio, "goal": g.at_least, "met": ratio >= g.at_least,
                })
            })
            .collect();
        json!({
            "mode": mode, "machine": machine, "rows": rows,
            "ratios": ratios, "goals": goals,
        })
    }

    pub(crate) fn write_json(
        &self,
        path: &Path,
        machine: &Value,
        mode: &str,
    ) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(&self.to_json(machine, mode))?;
        std::fs::write(path, text)?;
        Ok(())
    }
}

fn row_json(r: &Row) -> Value {
    json!({
        "scenario": r.scenario, "case": r.case, "stack": r.stack.label(),
        "metric": r.metric, "unit": r.unit,
        "better": if r.better == Better::Higher { "higher" } else { "lower" },
        "median": r.median, "p99": r.p99, "samples": r.samples, "note": r.note,
    })
}

/// Three significant digits, without exponent for the magnitudes we print.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
