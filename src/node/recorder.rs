//! [`Recorder`]: what the node reports as it runs, for a metrics layer to count. The node calls
//! it and knows nothing of how it counts; `fisco-p2p-metrics` implements it with Prometheus
//! counters. Every method has an empty default, so a recorder implements only what it counts.

use std::time::Duration;

use super::{Event, Message};

/// Receives what a node does, as it does it; give one to the node with
/// [`Config::with_recorder`](super::Config::with_recorder). Called from the node's event loop:
/// each method must return quickly and never block.
pub trait Recorder: Send + Sync + std::fmt::Debug + 'static {
    /// An event the node emits (connections, disconnections by reason, refusals, state updates).
    fn event(&self, event: &Event) {
        let _ = event;
    }

    /// A message this node sends, with its payload size.
    fn message_sent(&self, kind: MessageKind, bytes: usize) {
        let _ = (kind, bytes);
    }

    /// A message delivered to this node (a request to one of its modules, a multicast or a
    /// broadcast), with its payload size.
    fn message_received(&self, kind: MessageKind, bytes: usize) {
        let _ = (kind, bytes);
    }

    /// A request this node sent has ended, exactly once per request, whichever way it ended.
    fn request_completed(&self, kind: RequestKind, took: Duration, outcome: RequestOutcome) {
        let _ = (kind, took, outcome);
    }

    /// This node's own record changed: its seq and how many topics it follows.
    fn local_record(&self, seq: u64, topics: usize) {
        let _ = (seq, topics);
    }

    /// The overlay's counters, handed over once when the node starts; read them when you like.
    fn overlay_stats(&self, stats: fisco_p2p_overlay::StatsHandle) {
        let _ = stats;
    }

    /// libp2p's own swarm metrics (`libp2p_*`), if this recorder keeps them: the node feeds
    /// them every swarm event. Needs the `libp2p-metrics` feature.
    #[cfg(feature = "libp2p-metrics")]
    fn libp2p(&self) -> Option<&libp2p::metrics::Metrics> {
        None
    }
}

/// The kind of a message, as a multicast or broadcast delivered counts under its own kind.
impl MessageKind {
    /// The kind of `message`.
    pub fn of(message: &Message) -> Self {
        match message {
            Message::Request(_) => Self::Unicast,
            Message::Multicast { .. } => Self::Multicast,
            Message::Broadcast { .. } => Self::Broadcast,
        }
    }
}

/// The kind of a message, as metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request to one node, or its reply.
    Unicast,
    /// A message to the followers of a topic.
    Multicast,
    /// A message to every node.
    Broadcast,
}

impl MessageKind {
    /// `unicast`, `multicast` or `broadcast`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unicast => "unicast",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
        }
    }
}

impl MessageKind {
    /// Every kind, for declaring each label series before first use.
    pub const ALL: [MessageKind; 3] = [Self::Unicast, Self::Multicast, Self::Broadcast];
}

/// What a request was addressed to, as the latency histogram labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A request to one node by its ID.
    Node,
    /// A request to one follower of a topic, with failover.
    Topic,
}

impl RequestKind {
    /// `node` or `topic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Topic => "topic",
        }
    }
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 2] = [Self::Node, Self::Topic];
}

/// How a request ended, as the latency histogram labels it. Each request ends in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestOutcome {
    /// The target replied.
    Reply,
    /// No reply within the request's timeout.
    Timeout,
    /// No route to the target appeared in time.
    Unreachable,
    /// The way to the target broke (a relay or this node's link to the first hop) on every
    /// attempt, or the request crossed the hop limit.
    Disconnected,
    /// The target answered with an error: unknown module, too large, refused by its
    /// application or its access lists.
    Rejected,
    /// Anything else, including a request refused here before it was sent.
    Error,
}

impl RequestOutcome {
    /// Every outcome.
    pub const ALL: [RequestOutcome; 6] = [
        Self::Reply,
        Self::Timeout,
        Self::Unreachable,
        Self::Disconnected,
        Self::Rejected,
        Self::Error,
    ];

    /// `reply`, `timeout`, `unreachable`, `disconnected`, `rejected` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reply => "reply",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::Disconnected => "disconnected",
            Self::Rejected => "rejected",
            Self::Error => "error",
        }
    }

    /// The outcome of a request that failed with `error`.
    pub fn of_error(error: &super::RequestError) -> Self {
        use super::RequestError;
        match error {
            RequestError::Timeout => Self::Timeout,
            RequestError::NoRoute => Self::Unreachable,
            RequestError::RelayFailed { .. } | RequestError::HopLimit => Self::Disconnected,
            RequestError::UnknownModule(_)
            | RequestError::TooLarge { .. }
            | RequestError::Application(_)
            | RequestError::Refused(_) => Self::Rejected,
            _ => Self::Error,
        }
    }
}
