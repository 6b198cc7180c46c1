//! What a node tells the application.

use std::{fmt, time::Duration};

use libp2p::Multiaddr;

use crate::{identity::NodeId, tls::RefusalReason};

/// Which side opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// This node dialled.
    Outbound,
    /// The peer dialled this node.
    Inbound,
}

/// Why a peer is no longer connected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The peer closed the connection or the link broke (the I/O error says how).
    ConnectionLost(String),
    /// The peer stopped answering heartbeats.
    HeartbeatTimeout,
    /// The peer was put on the blacklist.
    Blacklisted,
    /// A whitelist was set that does not name the peer.
    NotWhitelisted,
    /// The application asked to disconnect it (or removed it from the static peers).
    Requested,
    /// This node is shutting down.
    Shutdown,
    /// The peer kept sending what had to be refused (forged signatures, malformed or oversize
    /// frames); it is kept out for a minute.
    Misbehaving(String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionLost(error) => write!(f, "connection lost: {error}"),
            Self::HeartbeatTimeout => f.write_str("heartbeat timeout"),
            Self::Blacklisted => f.write_str("blacklisted"),
            Self::NotWhitelisted => f.write_str("not whitelisted"),
            Self::Requested => f.write_str("disconnected on request"),
            Self::Shutdown => f.write_str("node shutting down"),
            Self::Misbehaving(what) => write!(f, "misbehaving: {what}"),
        }
    }
}

/// Why a connection attempt did not become a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The TLS handshake refused it; the reason says which check failed, on either side.
    Tls(RefusalReason),
    /// A connection limit of this node was reached.
    ConnectionLimit(String),
    /// The connection attempt (TCP, protocol negotiation, TLS, multiplexer) did not finish in
    /// time: the peer is overloaded, stalled, or not a fisco-p2p node.
    Timeout,
    /// The address could not be reached (connection refused, unreachable, DNS failure).
    Unreachable(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls(reason) => write!(f, "{reason}"),
            Self::ConnectionLimit(limit) => write!(f, "connection limit reached: {limit}"),
            Self::Timeout => f.write_str("connection attempt timed out"),
            Self::Unreachable(error) => write!(f, "unreachable: {error}"),
        }
    }
}

/// An event of the node, as seen by [`Events`](super::Events).
#[derive(Debug, Clone)]
pub enum Event {
    /// The node listens on a new address.
    Listening {
        /// The address.
        address: Multiaddr,
    },
    /// The first connection to a node was established.
    PeerConnected {
        /// The node, as its certificate says.
        node_id: NodeId,
        /// The remote address of the connection.
        address: Multiaddr,
        /// Who dialled.
        direction: Direction,
    },
    /// The last connection to a node was closed.
    PeerDisconnected {
        /// The node.
        node_id: NodeId,
        /// Why.
        reason: DisconnectReason,
    },
    /// A connection attempt failed, in either direction.
    ConnectionRefused {
        /// The remote node, when known (always for a dial to a known node; never for an
        /// inbound handshake that failed before the certificate was checked).
        node_id: Option<NodeId>,
        /// The remote address.
        address: Option<Multiaddr>,
        /// Who dialled.
        direction: Direction,
        /// Why it was refused.
        reason: Refusal,
    },
    /// A static peer address could not be connected; it is retried after `retry_in`.
    StaticPeerUnreachable {
        /// The static address.
        address: Multiaddr,
        /// Failed attempts in a row.
        failures: u32,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// A static peer address leads to this node itself; it is no longer dialled.
    SelfDial {
        /// The address.
        address: Multiaddr,
    },
    /// State sync brought a node's new state (first seen, or a higher seq).
    PeerStateChanged {
        /// The node.
        node_id: NodeId,
        /// The seq of its new state.
        seq: u64,
        /// The topics it follows now.
        topics: Vec<String>,
    },
    /// A node marked offline was heard of again.
    PeerOnline {
        /// The node.
        node_id: NodeId,
    },
    /// A node was not heard of, directly or through others, for the offline time.
    PeerOffline {
        /// The node.
        node_id: NodeId,
    },
    /// A node was not heard of for the forget time; its state was dropped.
    PeerForgotten {
        /// The node.
        node_id: NodeId,
    },
    /// A neighbour sent something that was refused (forged or altered record or envelope, an
    /// origin the access lists bar, oversize or malformed frame); it was dropped and the
    /// connection kept.
    InvalidMessage {
        /// The neighbour that sent it (the relay, when it came through one).
        node_id: NodeId,
        /// The node it claimed to come from, when that is known and not the neighbour itself.
        origin: Option<NodeId>,
        /// The protocol it came over (`sync`, `broadcast`, ...).
        protocol: &'static str,
        /// What was wrong.
        reason: String,
    },
}
