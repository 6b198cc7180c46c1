//! The routed overlay's counters, read at each scrape from the [`StatsHandle`] of the node the
//! metrics were given to: envelopes handed to links (by kind) and relayed for others, retries,
//! no-route errors, drops by reason, and the number of nodes with a route.
//!
//! Before a node is attached every series reads 0, so dashboards and alerts see them from the
//! start.

use std::sync::Mutex;

use fisco_p2p_overlay::{Stats, StatsHandle};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{counter::ConstCounter, gauge::ConstGauge, MetricType},
    registry::Unit,
};

/// Collects the overlay's counters.
#[derive(Debug, Default)]
pub(super) struct OverlayCollector {
    pub(super) handle: Mutex<Option<StatsHandle>>,
}

const KINDS: [&str; 5] = ["request", "reply", "error", "multicast", "broadcast"];

fn drops(stats: &Stats) -> [(&'static str, u64); 7] {
    [
        ("hop_limit", stats.dropped_hop_limit),
        ("queue_full", stats.dropped_queue_full),
        ("bad_signature", stats.dropped_bad_signature),
        ("barred_origin", stats.dropped_barred_origin),
        ("malformed", stats.dropped_malformed),
        ("duplicate", stats.duplicates),
        ("over_budget", stats.dropped_over_budget),
    ]
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    value: u64,
) -> std::fmt::Result {
    let counter = ConstCounter::new(value);
    let metric = encoder.encode_descriptor(name, help, unit.as_ref(), counter.metric_type())?;
    counter.encode(metric)
}

fn labelled(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &'static str,
    values: &[(&'static str, u64)],
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (value_label, value) in values {
        let labels = [(label, *value_label)];
        ConstCounter::new(*value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for OverlayCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let (stats, routes) = match &*self
            .handle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            Some(handle) => (handle.stats(), handle.routes()),
            None => (Stats::default(), 0),
        };
        let sent: Vec<(&'static str, u64)> = KINDS.iter().copied().zip(stats.sent).collect();
        labelled(
            &mut encoder,
            "overlay_envelopes_sent",
            "Envelopes handed to links, by kind (every link a message crosses counts once)",
            "kind",
            &sent,
        )?;
        counter(
            &mut encoder,
            "overlay_sent",
            "Bytes of envelopes handed to links",
            Some(Unit::Bytes),
            stats.sent_bytes,
        )?;
        counter(
            &mut encoder,
            "overlay_relayed",
            "Envelopes this node forwarded for other nodes",
            None,
            stats.relayed,
        )?;
        counter(
            &mut encoder,
            "overlay_relayed",
            "Bytes of envelopes this node forwarded for other nodes",
            Some(Unit::Bytes),
            stats.relayed_bytes,
        )?;
        counter(
            &mut encoder,
            "overlay_retries",
            "Requests sent again on a new route after a relay failed",
            None,
            stats.retries,
        )?;
        counter(
            &mut encoder,
            "overlay_no_route",
            "Envelopes or followers that found no route",
            None,
            stats.no_route,
        )?;
        labelled(
            &mut encoder,
            "overlay_dropped",
            "Envelopes dropped, by reason",
            "reason",
            &drops(&stats),
        )?;
        let gauge = ConstGauge::new(i64::try_from(routes).unwrap_or(i64::MAX));
        let metric = encoder.encode_descriptor(
            "routes",
            "Nodes this node has a route to",
            None,
            gauge.metric_type(),
        )?;
        gauge.encode(metric)
    }
}
