//! The answers of the routes: what a 2xx answer holds, and the body of every error answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Data;
use fisco_p2p::identity::NodeId;

/// `GET /v1/status`: the node and how it is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// This node's ID.
    pub node_id: NodeId,
    /// The addresses it listens on, as multiaddrs.
    pub listen: Vec<String>,
    /// The seq of its own state record.
    pub seq: u64,
    /// The topics it follows.
    pub topics: Vec<String>,
    /// Nodes connected now.
    pub connected: usize,
    /// Nodes reachable over the links that exist, this node's neighbours included.
    pub routes: usize,
    /// Static peers are configured but none is connected: the node may be cut off.
    pub no_static_peer_connected: bool,
    /// Requests this node sent that have not ended yet.
    pub requests_in_flight: usize,
    /// Bytes waiting in the send queues of all links.
    pub queued_bytes: usize,
    /// Envelopes this node forwarded for others.
    pub relayed: u64,
    /// What was dropped so far, by reason (each also a metric).
    pub dropped: Dropped,
}

/// What a node dropped by design since it started, by reason, as [`Status`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Over a neighbour's or an origin's budget.
    pub over_budget: u64,
    /// At a full link queue.
    pub queue_full: u64,
    /// At a full module inbox.
    pub inbox_full: u64,
    /// Refused for a bad signature.
    pub bad_signature: u64,
    /// Refused for a barred origin.
    pub barred_origin: u64,
    /// Refused as malformed.
    pub malformed: u64,
    /// At the hop limit.
    pub hop_limit: u64,
    /// For want of a route.
    pub no_route: u64,
}

/// One node of `GET /v1/peers`: every node known, connected or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Its node ID.
    pub node_id: NodeId,
    /// Whether this node is connected to it.
    pub connected: bool,
    /// False for a node not heard of recently.
    pub online: bool,
    /// Its addresses, as multiaddrs.
    pub addrs: Vec<String>,
    /// The topics it follows.
    pub topics: Vec<String>,
    /// The seq of its state record.
    pub seq: u64,
    /// Its application state values that are UTF-8 text, by key.
    pub state: BTreeMap<String, String>,
    /// Its other application state values, in base64, by key; left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state_base64: BTreeMap<String, String>,
}

/// One address of `GET /v1/static-peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticPeer {
    /// The static peer's address.
    pub addr: String,
    /// The node connected at that address; `null` when none is.
    pub connected: Option<NodeId>,
    /// The address turned out to be this node's own; it is no longer dialled.
    pub own_address: bool,
}

/// One route of `GET /v1/routes`: where messages for a node go next, and how far it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The node the route leads to.
    pub destination: NodeId,
    /// The neighbour messages for the destination are handed to.
    pub next_hop: NodeId,
    /// The links on the shortest path.
    pub hops: u32,
    /// This node, each relay, then the destination, as this node sees the network.
    pub path: Vec<NodeId>,
}

/// `POST /v1/request` and `POST /v1/send-topic`: who replied, and the reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The node that replied.
    pub from: NodeId,
    /// The reply's payload (`data` or `data_base64`).
    #[serde(flatten)]
    pub data: Data,
}

/// `POST /v1/multicast`: how many followers of the topic the message went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multicast {
    /// The topic.
    pub topic: String,
    /// The followers the message was sent to.
    pub sent_to: usize,
}

/// `POST /v1/broadcast`: the broadcast went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Broadcast {
    /// Always true in a 2xx answer.
    pub sent: bool,
}

/// `POST /v1/subscribe` and `POST /v1/unsubscribe`: whether the node's topics changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The topic.
    pub topic: String,
    /// False when the node already followed it (subscribe) or did not follow it (unsubscribe).
    pub changed: bool,
}

/// `POST /v1/peers`: whether the address became a static peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAdded {
    /// The address, as given.
    pub addr: String,
    /// False when it already was a static peer.
    pub added: bool,
}

/// `DELETE /v1/peers`: whether the address was a static peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRemoved {
    /// The address, as given.
    pub addr: String,
    /// False when it was not a static peer.
    pub removed: bool,
}

/// The body of every error answer (4xx and 5xx): `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// What is wrong, and often what to do about it.
    pub error: String,
}
