//! The node's view of the network as gauges, computed at each scrape by a [`Collector`]: how many
//! nodes are connected, known and online, and the seq and topic count of the node's own record.
//!
//! The sets behind the counts follow the events the node reports to [`Metrics::record_event`]
//! (connections, state records, liveness), so whatever encodes the registry (the admin API, an
//! application's own exporter) reads current values without asking the node anything;
//! [`Metrics::observe`] lines them up with the node's own answer when one is at hand.
//!
//! [`Metrics::record_event`]: super::Metrics::record_event
//! [`Metrics::observe`]: super::Metrics::observe

use std::{
    collections::HashSet,
    sync::{Mutex, MutexGuard},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::gauge::ConstGauge,
};

use fisco_p2p::{
    identity::NodeId,
    node::{Event, PeerInfo, Status},
};

/// What the gauges are computed from.
#[derive(Debug, Default)]
pub(super) struct View {
    connected: HashSet<NodeId>,
    known: HashSet<NodeId>,
    offline: HashSet<NodeId>,
    local_seq: u64,
    topics: usize,
}

impl View {
    pub(super) fn record(&mut self, event: &Event) {
        match event {
            Event::PeerConnected { node_id, .. } => {
                self.connected.insert(node_id.clone());
                self.known.insert(node_id.clone());
                self.offline.remove(node_id);
            }
            Event::PeerDisconnected { node_id, .. } => {
                self.connected.remove(node_id);
            }
            Event::PeerStateChanged { node_id, .. } => {
                self.known.insert(node_id.clone());
            }
            Event::PeerOnline { node_id } => {
                self.offline.remove(node_id);
            }
            Event::PeerOffline { node_id } if self.known.contains(node_id) => {
                self.offline.insert(node_id.clone());
            }
            Event::PeerForgotten { node_id } => {
                self.offline.remove(node_id);
                if !self.connected.contains(node_id) {
                    self.known.remove(node_id);
                }
            }
            _ => {}
        }
    }

    pub(super) fn local_record(&mut self, seq: u64, topics: usize) {
        self.local_seq = seq;
        self.topics = topics;
    }

    /// Replaces everything with the node's own answers.
    pub(super) fn observe(&mut self, status: &Status, peers: &[PeerInfo]) {
        self.local_record(status.seq, status.topics.len());
        self.connected = peers
            .iter()
            .filter(|p| p.connected)
            .map(|p| p.node_id.clone())
            .collect();
        self.known = peers.iter().map(|p| p.node_id.clone()).collect();
        self.offline = peers
            .iter()
            .filter(|p| !p.online)
            .map(|p| p.node_id.clone())
            .collect();
    }
}

/// The collector of the view's gauges.
#[derive(Debug, Default)]
pub(super) struct ViewCollector {
    pub(super) view: Mutex<View>,
}

impl ViewCollector {
    pub(super) fn lock(&self) -> MutexGuard<'_, View> {
        // Plain counts: a panic elsewhere while holding the lock leaves them usable.
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn count(n: usize) -> ConstGauge {
    ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Collector for ViewCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let gauges = {
            let view = self.lock();
            let online = view.known.difference(&view.offline).count();
            [
                (
                    "connected_peers",
                    "Nodes connected now",
                    count(view.connected.len()),
                ),
                (
                    "known_nodes",
                    "Other nodes known through state sync or a connection",
                    count(view.known.len()),
                ),
                (
                    "online_nodes",
                    "Known nodes heard of recently, directly or through others",
                    count(online),
                ),
                (
                    "local_seq",
                    "Seq of this node's own state record",
                    ConstGauge::new(i64::try_from(view.local_seq).unwrap_or(i64::MAX)),
                ),
                (
                    "followed_topics",
                    "Topics this node follows",
                    count(view.topics),
                ),
            ]
        };
        for (name, help, gauge) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}
