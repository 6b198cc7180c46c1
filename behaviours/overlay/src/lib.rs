//! The routed overlay of fisco-p2p: every message reaches its targets over the links that
//! exist, on one long-lived stream per link.
//!
//! FISCO BCOS 2.x reaches only direct neighbours, so its networks must be full meshes; FISCO 3.x
//! adds distance-vector routing (beacons every 3 s, slow to converge after a failure). Here every
//! node already holds every other node's signed state-sync record, and each record lists its
//! owner's neighbours: every node knows the whole link graph and computes its own shortest-path
//! routes (link state), recomputed the moment a record or one of its own links changes.
//!
//! # Messages
//! - **Request and reply** (unicast): a request to any node with a route is forwarded hop by hop
//!   and ends in exactly one [`Event::Response`]: the reply, or why not (timeout, no route,
//!   refused by the destination, or a relay failure). A relay that loses its next hop sends an
//!   error back to the origin at once, and the origin retries on the new route within the
//!   request's timeout (at most `max_attempts` sends). The destination delivers each request
//!   once however often it is retried, and answers a retry it already replied to from a small
//!   reply cache.
//! - **Multicast** to the followers of a topic (the node finds them in the sync view): one copy
//!   per first hop, carrying the list of followers behind that hop, so the copies form a tree of
//!   shortest paths. A relay splits the list by its own next hops; nodes on the way that do not
//!   follow the topic forward without delivering; every follower delivers once.
//! - **Broadcast**: a signed flood over every link, each node delivering the first copy and
//!   forwarding it to its other neighbours (a later copy over a shorter path is forwarded again,
//!   never delivered again), within the hop limit.
//!
//! ## Why not gossipsub for multicast
//! gossipsub relays a topic's messages only among nodes that follow the topic and that it is
//! connected to. In a partial mesh a follower may have no following neighbour at all (a line
//! A - B - C where only C follows: B never relays), so gossipsub can reach it only by dialling
//! it directly, which opens connections the operator never configured, and its mesh
//! maintenance sends control traffic on every link. The tree above crosses exactly one link per
//! hop of each shortest path, and non-followers forward without subscribing.
//!
//! # Trust
//! The origin signs each envelope (kind, module, message ID, origin, target, payload) with its
//! node key; relays forward the signed body byte for byte and cannot alter, re-address or forge
//! it. The destination checks the signature against the origin's node ID and applies its
//! access list to the **origin**, so a node barred by the access list cannot reach it through a
//! relay either. An envelope sent straight to its destination over one link is not signed: the
//! TLS link already proves who sent it, and such an envelope is never relayed. What relays may
//! change, they must change: the hop count and a multicast's follower list (a relay that lies
//! about it can only send a copy to a node that then refuses it as not following the topic).
//!
//! # Wire format
//! One long-lived substream per direction and link, protocol [`PROTOCOL_NAME`], carrying frames
//! `[u32 length][u8 hops][u32 time left in ms][u16 n][n x (u8 len, PeerId)][body]`: the hops
//! crossed so far, the time the origin still waits (requests; relays forget a request after
//! it), a multicast's followers behind this hop, then the signed body (see `envelope.rs`). A
//! length prefix over the maximum message size resets the substream before anything is
//! allocated.
//!
//! # Compression
//! Like FISCO (2.x snappy, 3.x zstd), payloads over 1 KiB are compressed, with zstd at level 1,
//! on each stream whose two ends both compress: a node that compresses offers
//! [`PROTOCOL_NAME_ZSTD`] first, so the protocol each direction negotiates says whether its
//! frames may be compressed, and a node with compression off still talks to one with it on.
//! There a codec byte follows the length prefix: plain, or a `u32` decompressed length and the
//! zstd frame. That length is checked against the maximum message size before anything is
//! inflated, into a buffer of exactly that size: a zip bomb is refused, not inflated.
//! Compression is per link (a relay inflates, and compresses again for its next link); the
//! origin's signature covers the plain bytes.
//!
//! # Example
//! ```
//! use std::collections::BTreeSet;
//! use bytes::Bytes;
//! use fisco_p2p_overlay as overlay;
//! use libp2p::identity::Keypair;
//!
//! let mut behaviour =
//!     overlay::Behaviour::new(Keypair::generate_secp256k1(), overlay::Config::default());
//! // State sync says which nodes each node is linked with; the node passes it on.
//! let (b, c) = (Keypair::generate_secp256k1(), Keypair::generate_secp256k1());
//! let (b, c) = (b.public().to_peer_id(), c.public().to_peer_id());
//! behaviour.set_neighbours(c, BTreeSet::from([b]));
//! // Without a link to b, c is not reachable yet: the request waits for a route (up to the
//! // route wait) and its outcome arrives later as `Event::Response`.
//! let id = behaviour.request(c, 9, Bytes::from_static(b"block 42?"), None)?;
//! assert_eq!(behaviour.in_flight(), 1);
//! assert!(behaviour.route(&c).is_none());
//! # let _ = id;
//! # Ok::<(), overlay::SendError>(())
//! ```
//! Put the behaviour in the node's `#[derive(NetworkBehaviour)]` next to the state-sync one,
//! feed it every record's neighbours ([`Behaviour::set_neighbours`]) and react to its [`Event`]s.
//!
//! # Layout
//! - `core/`: the sans-I/O core, driven by inputs and `now`: `routes.rs` (the graph and the
//!   routing table), `requests.rs` (requests this node sent), `relay.rs` (what relays and
//!   destinations remember), `flood.rs` (multicast and broadcast), `expiring.rs` (a bounded,
//!   time-limited map); `sim.rs` runs whole networks of cores for the property tests;
//! - `envelope.rs`: the body format; `seal.rs`: signing and verification; `frame.rs`: framing
//!   on the stream; `compress.rs`: zstd for payloads over 1 KiB;
//! - `handler.rs`: one link's streams, its bounded send queue, and the signature checks;
//! - `behaviour.rs`: the [`Behaviour`] and its methods; `behaviour_swarm.rs`: its side facing the
//!   swarm (the `NetworkBehaviour` implementation, frames to the links, the timer).

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod behaviour;
mod compress;
mod config;
mod core;
mod envelope;
mod error;
mod frame;
mod handler;
mod id;
mod seal;
mod stats;
#[cfg(feature = "test-utils")]
pub mod testing;
mod upgrade;

use bytes::Bytes;
use libp2p::{PeerId, StreamProtocol};

pub use behaviour::Behaviour;
pub use config::Config;
pub use core::routes::Route;
pub use error::{Refusal, ReplyError, RequestError, SendError};
pub use fisco_p2p_ratelimit::Budget;
pub use handler::{Handler, HandlerEvent, Outgoing};
pub use id::{MessageId, MulticastId, ReplyTo, RequestId};
pub use seal::SignatureError;
pub use stats::StatsHandle;
pub use upgrade::{Negotiated, Protocols};

/// Room a frame keeps beyond its payload: envelope header, key and signature, and a multicast
/// copy's list of followers. The largest payload is `max_message_size` less this.
pub const ENVELOPE_OVERHEAD: usize = 64 * 1024;

/// The protocol name of the per-link envelope streams.
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/fisco/overlay/1.0.0");

/// The same streams with the frames whose payload is over 1 KiB compressed (zstd, level 1):
/// offered before [`PROTOCOL_NAME`] by a node that compresses ([`Config::with_compression`]), so
/// each direction of a link compresses exactly when both of its ends do.
pub const PROTOCOL_NAME_ZSTD: StreamProtocol = StreamProtocol::new("/fisco/overlay/zstd/1.0.0");

/// A reply to a request this node sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The destination's bytes.
    pub payload: Bytes,
    /// Links the reply crossed.
    pub hops: u8,
}

/// What the overlay reports to the swarm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A request for this node; answer it with [`Behaviour::respond`].
    Request {
        /// Pass to [`Behaviour::respond`].
        reply_to: ReplyTo,
        /// The node that sent it (its signature, or the TLS link, checked).
        origin: PeerId,
        /// The application module it is for.
        module: u16,
        /// The application's bytes.
        payload: Bytes,
        /// Links it crossed (1: straight from the origin).
        hops: u8,
    },
    /// The outcome of a request this node sent: exactly one per [`RequestId`].
    Response {
        /// The ID [`Behaviour::request`] returned.
        id: RequestId,
        /// The node it was sent to.
        destination: PeerId,
        /// The reply, or why there is none.
        result: Result<Reply, RequestError>,
    },
    /// A multicast to a topic, with this node among the followers it was sent to. The topic is
    /// signed by the origin; the node should deliver it only if it follows the topic.
    Multicast {
        /// The node that sent it.
        origin: PeerId,
        /// The topic.
        topic: String,
        /// The application module it is for.
        module: u16,
        /// The application's bytes.
        payload: Bytes,
        /// Links it crossed.
        hops: u8,
    },
    /// How a multicast this node sent went out: followers it was sent to, and those for which no
    /// route appeared within the route wait.
    MulticastSent {
        /// The ID [`Behaviour::multicast`] returned.
        id: MulticastId,
        /// Followers a copy went towards.
        sent: usize,
        /// Followers without a route.
        unreachable: Vec<PeerId>,
    },
    /// A broadcast from another node, the first copy of it.
    Broadcast {
        /// The node that sent it.
        origin: PeerId,
        /// Its ID.
        id: MessageId,
        /// The application module it is for.
        module: u16,
        /// The application's bytes.
        payload: Bytes,
        /// Links it crossed.
        hops: u8,
    },
    /// Something a neighbour passed on was refused and dropped.
    Refused {
        /// The neighbour that sent it: the origin itself or the relay that passed it.
        from: PeerId,
        /// The origin it claims, when the envelope decoded that far.
        origin: Option<PeerId>,
        /// Why.
        reason: Refusal,
    },
    /// With direct connections enabled: this node exchanges a lot with `peer`, which is not a
    /// neighbour; the application may connect to it.
    DirectWanted {
        /// The node.
        peer: PeerId,
    },
}

/// Counters of what the overlay did, for metrics. All totals since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames handed to links, by kind: request, reply, error, multicast, broadcast.
    pub sent: [u64; 5],
    /// Bytes handed to links (frames, without the length prefix).
    pub sent_bytes: u64,
    /// Envelopes forwarded for other nodes.
    pub relayed: u64,
    /// Bytes of those envelopes.
    pub relayed_bytes: u64,
    /// Requests sent again after a relay failed.
    pub retries: u64,
    /// Envelopes or followers that had no route.
    pub no_route: u64,
    /// Envelopes dropped at the hop limit.
    pub dropped_hop_limit: u64,
    /// Frames dropped because a link's send queue was full.
    pub dropped_queue_full: u64,
    /// Envelopes refused for a bad or missing signature.
    pub dropped_bad_signature: u64,
    /// Envelopes refused because the access list bars their origin.
    pub dropped_barred_origin: u64,
    /// Frames refused as malformed or oversize.
    pub dropped_malformed: u64,
    /// Copies of messages already delivered.
    pub duplicates: u64,
    /// Frames dropped because their neighbour or their origin was over its budget.
    pub dropped_over_budget: u64,
}

impl Stats {
    /// The index of a kind in [`Stats::sent`].
    pub fn kind_index(kind: &str) -> Option<usize> {
        ["request", "reply", "error", "multicast", "broadcast"]
            .iter()
            .position(|k| *k == kind)
    }
}
