//! What a node reports of itself and of the others: plain data, answered by the event loop and
//! read by the application.

use std::collections::BTreeMap;

use bytes::Bytes;
use libp2p::Multiaddr;

use crate::identity::NodeId;

/// What a node knows of another node, through state sync and its own connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its node ID.
    pub node_id: NodeId,
    /// Whether this node has a connection to it.
    pub connected: bool,
    /// Whether it was heard of recently, directly or through other nodes.
    pub online: bool,
    /// The addresses it listens on, as it announced them.
    pub addrs: Vec<Multiaddr>,
    /// The topics it follows.
    pub topics: Vec<String>,
    /// The seq of its state (0 if no record of it has arrived yet).
    pub seq: u64,
    /// Its application state (see [`Handle::set_state`](super::Handle::set_state)).
    pub state: BTreeMap<String, Bytes>,
    /// The nodes its record says it has a connection with (routing counts a link when both
    /// ends list each other).
    pub neighbours: Vec<NodeId>,
}

/// This node's own standing, as [`Handle::status`](super::Handle::status) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Its node ID.
    pub node_id: NodeId,
    /// The addresses it listens on.
    pub listen: Vec<Multiaddr>,
    /// The seq of its state record.
    pub seq: u64,
    /// The topics it follows.
    pub topics: Vec<String>,
    /// How many nodes it is connected to.
    pub connected: usize,
    /// How many nodes it has a route to (over any number of relays).
    pub routes: usize,
    /// What the overlay did so far: envelopes sent and relayed, retries, drops by reason.
    pub overlay: fisco_p2p_overlay::Stats,
    /// Requests this node sent that have not ended yet.
    pub requests_in_flight: usize,
    /// Bytes waiting in the send queues of all links.
    pub queued_bytes: usize,
    /// Messages dropped so far because their module's inbox was full (requests among them were
    /// answered "busy"; multicasts and broadcasts are gone).
    pub inbox_dropped: u64,
    /// Static peers are configured, but none of them is connected: the node may be cut off
    /// (check the log's "static peer unreachable" warnings for the reasons).
    pub no_static_peer_connected: bool,
}

/// A route to a node, as [`Handle::routes`](super::Handle::routes) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The node.
    pub destination: NodeId,
    /// The neighbour messages for it are handed to.
    pub next_hop: NodeId,
    /// Links on the shortest path (1: a neighbour).
    pub hops: u32,
}

/// A connected node, as [`Handle::connected_peers`](super::Handle::connected_peers) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedPeer {
    /// Its node ID.
    pub node_id: NodeId,
    /// The remote address of the connection.
    pub address: Multiaddr,
    /// Who dialled.
    pub direction: super::Direction,
    /// Open connections to it: 1 in a steady state; 2 for a moment while a duplicate from a
    /// simultaneous dial is being closed.
    pub connections: u32,
}

/// A static peer address and where it stands, as [`Operator::static_peers`](super::Operator::static_peers) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticPeer {
    /// The configured address.
    pub address: Multiaddr,
    /// The node connected at this address, if any.
    pub connected: Option<NodeId>,
    /// Whether the address turned out to be this node's own (it is then never dialled).
    pub own_address: bool,
}
