//! The events of `GET /v1/events`: one JSON object each, whose `type` says which.

use serde::{Deserialize, Serialize};

use super::Data;
use fisco_p2p::{identity::NodeId, node::Direction};

/// Every `type` an [`Event`] can have, in the order of the docs.
pub const EVENT_TYPES: [&str; 13] = [
    "listening",
    "peer_connected",
    "peer_disconnected",
    "connection_refused",
    "static_peer_unreachable",
    "self_dial",
    "peer_state",
    "peer_online",
    "peer_offline",
    "peer_forgotten",
    "invalid_message",
    "message",
    "lagged",
];

/// One event of `GET /v1/events`: a JSON object whose `type` names the variant in snake case
/// (`peer_connected`), beside the variant's fields.
///
/// Every kind this version of the server sends is here. A newer server may send kinds this
/// type lacks; [`EventStream::next`](crate::client::EventStream::next) skips them, and
/// [`EventStream::next_json`](crate::client::EventStream::next_json) gives every event as
/// it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The node listens on a new address.
    Listening {
        /// The address, as a multiaddr.
        address: String,
    },
    /// A node connected.
    PeerConnected {
        /// The node.
        node_id: NodeId,
        /// Its address on this connection.
        address: String,
        /// Which side dialled.
        direction: Direction,
    },
    /// A node's last connection closed.
    PeerDisconnected {
        /// The node.
        node_id: NodeId,
        /// One word (`connection_lost`, `heartbeat_timeout`, `blacklisted`, ...).
        reason: String,
        /// The reason in words.
        message: String,
    },
    /// A connection attempt failed.
    ConnectionRefused {
        /// The node, when known.
        node_id: Option<NodeId>,
        /// The address, when known.
        address: Option<String>,
        /// Which side dialled.
        direction: Direction,
        /// One word (`unknown_ca`, `expired`, `blacklisted`, `unreachable`, ...).
        reason: String,
        /// The reason in words.
        message: String,
    },
    /// A static peer address could not be connected; it is retried later.
    StaticPeerUnreachable {
        /// The address.
        address: String,
        /// Failures in a row.
        failures: u32,
        /// When the next attempt is, in milliseconds.
        retry_in_ms: u64,
    },
    /// A static peer address turned out to be this node's own; it is no longer dialled.
    SelfDial {
        /// The address.
        address: String,
    },
    /// State sync brought a node's new state.
    PeerState {
        /// The node.
        node_id: NodeId,
        /// The seq of its new state record.
        seq: u64,
        /// The topics it follows.
        topics: Vec<String>,
    },
    /// A node marked offline was heard of again.
    PeerOnline {
        /// The node.
        node_id: NodeId,
    },
    /// A node was not heard of for the offline time.
    PeerOffline {
        /// The node.
        node_id: NodeId,
    },
    /// A node was not heard of for the forget time; its state was dropped.
    PeerForgotten {
        /// The node.
        node_id: NodeId,
    },
    /// A neighbour sent something that was refused and dropped.
    InvalidMessage {
        /// The neighbour.
        node_id: NodeId,
        /// The node it claimed to come from, when it came through a relay.
        origin: Option<NodeId>,
        /// The protocol it came on (`sync`, `broadcast`, ...).
        protocol: String,
        /// Why it was refused.
        reason: String,
    },
    /// A message for the default module: a request it answered, a multicast or a broadcast.
    Message {
        /// How it was sent.
        kind: MessageKind,
        /// The node that sent it.
        from: NodeId,
        /// The topic of a multicast; `null` otherwise.
        topic: Option<String>,
        /// The module it was sent to.
        module: u16,
        /// Its payload, or only its size when it is over the feed's limit.
        #[serde(flatten)]
        data: Data,
    },
    /// Events were lost.
    Lagged {
        /// How many.
        missed: u64,
        /// Who fell behind.
        source: LagSource,
        /// What happened, in words.
        message: String,
    },
}

impl Event {
    /// The event's `type`, one of [`EVENT_TYPES`].
    pub fn kind(&self) -> &'static str {
        let index = match self {
            Self::Listening { .. } => 0,
            Self::PeerConnected { .. } => 1,
            Self::PeerDisconnected { .. } => 2,
            Self::ConnectionRefused { .. } => 3,
            Self::StaticPeerUnreachable { .. } => 4,
            Self::SelfDial { .. } => 5,
            Self::PeerState { .. } => 6,
            Self::PeerOnline { .. } => 7,
            Self::PeerOffline { .. } => 8,
            Self::PeerForgotten { .. } => 9,
            Self::InvalidMessage { .. } => 10,
            Self::Message { .. } => 11,
            Self::Lagged { .. } => 12,
        };
        EVENT_TYPES[index]
    }
}

/// How a [`Event::Message`] was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A request to this node, which the default module answered by echoing it.
    Unicast,
    /// A message to every follower of a topic.
    Multicast,
    /// A message to every node.
    Broadcast,
    /// A kind this client does not know (from a newer node): read, never sent.
    #[serde(other)]
    Unknown,
}

/// Who fell behind, in an [`Event::Lagged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagSource {
    /// The admin API fell behind the node: every client gets this, and the streams go on.
    Node,
    /// This client read too slowly: its stream ends after this event.
    Client,
    /// A source this client does not know (from a newer node): read, never sent.
    #[serde(other)]
    Unknown,
}
