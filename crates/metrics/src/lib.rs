//! Prometheus metrics of a node, served by the admin API at `GET /metrics`, or by any exporter
//! that encodes [`Metrics::registry`].
//!
//! One [`Metrics`] belongs to one node. Who feeds what:
//! - the node's event loop, through the [`Recorder`] trait, when the node was given the metrics
//!   with [`Config::with_recorder`](fisco_p2p::node::Config::with_recorder): every event it emits
//!   (connections, disconnections by reason, refusals by reason, state updates, liveness), every
//!   message it sends and delivers (count and payload bytes, by kind), the outcome and latency
//!   of every request it sends, and its swarm events, which
//!   libp2p's own metrics (`libp2p_*`: connection durations, dial errors...) count;
//! - at each scrape, collectors: the node's view of the network (connected, known and online
//!   nodes, from the events above; its own seq and topic count, from
//!   the node, or [`Metrics::observe`]), `fisco_p2p_build_info`, and the
//!   standard `process_*` metrics (CPU, memory, file descriptors).
//!
//! Every labelled series exists from the start at zero, so a rate or an alert works before the
//! first event. Every name starts with `fisco_p2p_` (ours), `libp2p_` (libp2p's) or `process_`.
//! [`Metrics::encode_as`] writes OpenMetrics or the Prometheus 0.0.4 text format
//! ([`Format::negotiate`] picks one from an `Accept` header).

/// Label values: [`fisco_p2p::node::codes`], and the kinds of messages and requests.
pub mod labels {
    pub use fisco_p2p::node::codes::*;
    pub use fisco_p2p::node::{MessageKind, RequestKind, RequestOutcome};
}
mod overlay;
mod process;
mod text;
mod view;

use std::{fmt, time::Duration};

use prometheus_client::{
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{exponential_buckets, Histogram},
        info::Info,
    },
    registry::{Registry, Unit},
};

use fisco_p2p::node::{Event, PeerInfo, Recorder, Status};
pub use labels::{MessageKind, RequestKind, RequestOutcome};
pub use text::{to_text_004, Format};

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];
type Histograms = Family<Labels2, Histogram, fn() -> Histogram>;

/// The metrics of one node; see the [module docs](self). Cheap to share behind an `Arc`: every
/// method takes `&self`.
pub struct Metrics {
    registry: Registry,
    libp2p: libp2p::metrics::Metrics,
    view: std::sync::Arc<view::ViewCollector>,
    overlay: std::sync::Arc<overlay::OverlayCollector>,
    connections: Family<Labels1, Counter>,
    disconnections: Family<Labels1, Counter>,
    refusals: Family<Labels2, Counter>,
    messages_sent: Family<Labels1, Counter>,
    messages_received: Family<Labels1, Counter>,
    bytes_sent: Family<Labels1, Counter>,
    bytes_received: Family<Labels1, Counter>,
    request_duration: Histograms,
    state_updates: Counter,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Request latency buckets: 1 ms doubling up to about 16 s (beyond the default 10 s timeout).
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// Metrics with every counter at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let libp2p = libp2p::metrics::Metrics::new(&mut registry);
        let metrics = Self {
            libp2p,
            view: Default::default(),
            overlay: Default::default(),
            connections: Family::default(),
            disconnections: Family::default(),
            refusals: Family::default(),
            messages_sent: Family::default(),
            messages_received: Family::default(),
            bytes_sent: Family::default(),
            bytes_received: Family::default(),
            request_duration: Family::new_with_constructor(request_histogram),
            state_updates: Counter::default(),
            registry: Registry::default(),
        };
        metrics.declare_series();
        metrics.register(registry)
    }

    /// Creates every labelled series at zero, so each exists before its first event.
    fn declare_series(&self) {
        for direction in ["inbound", "outbound"] {
            let _ = self.connections.get_or_create(&[("direction", direction)]);
            for reason in labels::REFUSAL_CODES {
                let _ = self
                    .refusals
                    .get_or_create(&[("direction", direction), ("reason", reason)]);
            }
        }
        for reason in labels::DISCONNECT_CODES {
            let _ = self.disconnections.get_or_create(&[("reason", reason)]);
        }
        for kind in MessageKind::ALL {
            let labels = [("kind", kind.as_str())];
            let _ = self.messages_sent.get_or_create(&labels);
            let _ = self.messages_received.get_or_create(&labels);
            let _ = self.bytes_sent.get_or_create(&labels);
            let _ = self.bytes_received.get_or_create(&labels);
        }
        for target in RequestKind::ALL {
            for outcome in RequestOutcome::ALL {
                let _ = self
                    .request_duration
                    .get_or_create(&[("target", target.as_str()), ("outcome", outcome.as_str())]);
            }
        }
    }

    fn register(mut self, mut registry: Registry) -> Self {
        registry.register_collector(Box::new(process::ProcessCollector));
        let ours = registry.sub_registry_with_prefix("fisco_p2p");
        ours.register(
            "build",
            "Version and platform of this fisco-p2p build (always 1)",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("os", std::env::consts::OS),
                ("arch", std::env::consts::ARCH),
                (
                    "profile",
                    if cfg!(debug_assertions) {
                        "debug"
                    } else {
                        "release"
                    },
                ),
            ]),
        );
        ours.register_collector(Box::new(std::sync::Arc::clone(&self.view)));
        ours.register_collector(Box::new(std::sync::Arc::clone(&self.overlay)));
        ours.register(
            "connections_established",
            "Connections to a new peer, by who dialled (direction)",
            self.connections.clone(),
        );
        ours.register(
            "disconnections",
            "Peers whose last connection closed, by reason",
            self.disconnections.clone(),
        );
        ours.register(
            "connection_refusals",
            "Connection attempts that failed, by direction and reason",
            self.refusals.clone(),
        );
        ours.register(
            "messages_sent",
            "Requests, multicasts and broadcasts this node sent, by kind (replies not counted)",
            self.messages_sent.clone(),
        );
        ours.register(
            "messages_received",
            "Messages delivered to this node's modules, by kind",
            self.messages_received.clone(),
        );
        ours.register_with_unit(
            "payload_sent",
            "Payload bytes of the messages sent, by kind",
            Unit::Bytes,
            self.bytes_sent.clone(),
        );
        ours.register_with_unit(
            "payload_received",
            "Payload bytes of the messages delivered, by kind",
            Unit::Bytes,
            self.bytes_received.clone(),
        );
        ours.register_with_unit(
            "request_duration",
            "Time from sending a request to its outcome, by target (node, topic) and outcome",
            Unit::Seconds,
            self.request_duration.clone(),
        );
        ours.register(
            "state_updates",
            "State records of other nodes received with a new seq",
            self.state_updates.clone(),
        );
        self.registry = registry;
        self
    }

    /// The registry holding every metric, for an application that exports metrics its own way
    /// (the collectors compute their values whenever it is encoded).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The metrics in `format`.
    pub fn encode_as(&self, format: Format) -> String {
        match format {
            Format::OpenMetrics => self.encode(),
            Format::Text004 => to_text_004(&self.encode()),
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Lines the view up with the node's own answers ([`Handle::status`] and
    /// [`Handle::peers`](fisco_p2p::node::Handle::peers)), for whoever has them at hand.
    ///
    /// [`Handle::status`]: fisco_p2p::node::Handle::status
    pub fn observe(&self, status: &Status, peers: &[PeerInfo]) {
        self.view.lock().observe(status, peers);
    }
}

/// The node tells its metrics what it does through [`Recorder`]; nothing else can (the counting
/// methods are not inherent, so an application holding the metrics cannot skew them by accident).
impl Recorder for Metrics {
    fn event(&self, event: &Event) {
        self.view.lock().record(event);
        match event {
            Event::PeerConnected { direction, .. } => {
                self.connections
                    .get_or_create(&[("direction", direction_str(*direction))])
                    .inc();
            }
            Event::PeerDisconnected { reason, .. } => {
                self.disconnections
                    .get_or_create(&[("reason", labels::disconnect_code(reason))])
                    .inc();
            }
            Event::ConnectionRefused {
                direction, reason, ..
            } => {
                self.refusals
                    .get_or_create(&[
                        ("direction", direction_str(*direction)),
                        ("reason", labels::refusal_code(reason)),
                    ])
                    .inc();
            }
            Event::PeerStateChanged { .. } => {
                self.state_updates.inc();
            }
            _ => {}
        }
    }

    fn message_sent(&self, kind: MessageKind, bytes: usize) {
        let labels = [("kind", kind.as_str())];
        self.messages_sent.get_or_create(&labels).inc();
        self.bytes_sent.get_or_create(&labels).inc_by(bytes as u64);
    }

    fn message_received(&self, kind: MessageKind, bytes: usize) {
        let labels = [("kind", kind.as_str())];
        self.messages_received.get_or_create(&labels).inc();
        self.bytes_received
            .get_or_create(&labels)
            .inc_by(bytes as u64);
    }

    fn request_completed(&self, kind: RequestKind, took: Duration, outcome: RequestOutcome) {
        self.request_duration
            .get_or_create(&[("target", kind.as_str()), ("outcome", outcome.as_str())])
            .observe(took.as_secs_f64());
    }

    fn local_record(&self, seq: u64, topics: usize) {
        self.view.lock().local_record(seq, topics);
    }

    fn overlay_stats(&self, stats: fisco_p2p_overlay::StatsHandle) {
        *self
            .overlay
            .handle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(stats);
    }

    fn libp2p(&self) -> Option<&libp2p::metrics::Metrics> {
        Some(&self.libp2p)
    }
}

fn direction_str(direction: fisco_p2p::node::Direction) -> &'static str {
    match direction {
        fisco_p2p::node::Direction::Outbound => "outbound",
        fisco_p2p::node::Direction::Inbound => "inbound",
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
