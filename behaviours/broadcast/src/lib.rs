//! Broadcast for fisco-p2p: one node sends, every node of the network receives, exactly once.
//!
//! FISCO BCOS 2.x broadcast reached only direct neighbours, so its networks had to be full
//! meshes. Here a message is *flooded*: each node forwards a message it sees for the first time
//! to all its neighbours except the one it came from, so it crosses any connected topology
//! (line, ring, star, partial mesh).
//!
//! - **Exactly once.** Every node remembers the IDs it has seen in a bounded, time-limited cache
//!   and delivers only the first copy of each message. The origin never delivers its own.
//! - **Bounded flood.** A hop count grows on every link; copies stop being forwarded at the hop
//!   limit. A later copy that came over a shorter path is forwarded again (never re-delivered),
//!   so every node within the limit is reached whatever order copies arrive in.
//! - **Authentic.** The origin signs each message with its node key; a relay cannot forge the
//!   origin or alter the module or payload. Copies whose signature fails are dropped and
//!   reported as [`Event::Invalid`] naming the peer that sent them. (The hop count is not
//!   signed, since relays must change it: a lying relay can change how far a copy travels,
//!   never what it says, and every node still delivers it once.)
//! - **Bounded memory.** Frames above the maximum size are refused from their length prefix,
//!   before any allocation, by resetting the substream; the connection and the node carry on.
//!   Each connection has a bounded send queue: when a slow peer's queue is full the newest frame
//!   for it is dropped and counted ([`Behaviour::dropped_frames`]).
//!
//! IDs are remembered for the seen-cache TTL only: a copy replayed after that is delivered
//! again. Applications that must never process a message twice should keep their own record.
//!
//! # Wire format
//! One long-lived substream per direction and connection, protocol [`PROTOCOL_NAME`], carrying
//! frames `[length: u32 BE][hops: u8][body]`; the body is the CBOR array
//! `[origin public key, message ID, module, payload, signature]` (see `protocol.rs`).
//!
//! # Layout
//! - `behaviour.rs`: [`Behaviour`], signing, checking and choosing where copies go;
//! - `state.rs`: the flooding rules and seen-cache, without I/O (`now` is an input);
//! - `handler.rs`: one connection's substreams and its bounded send queue;
//! - `protocol.rs`: [`MessageId`], the signed body; `codec.rs`: length-prefixed frames;
//! - `config.rs`: [`Config`].
//!
//! # Example
//! ```
//! use bytes::Bytes;
//! use fisco_p2p_broadcast as broadcast;
//! use libp2p::identity::Keypair;
//!
//! let mut behaviour = broadcast::Behaviour::new(
//!     Keypair::generate_secp256k1(),
//!     broadcast::Config::default().with_hop_limit(8),
//! );
//! // Queued for every connected neighbour; `Event::Received` on every other node.
//! let id = behaviour.broadcast(9, Bytes::from_static(b"block 42")).expect("small enough");
//! assert_eq!(id.to_bytes().len(), 16);
//! ```

#![warn(missing_docs)]

mod behaviour;
mod codec;
mod config;
mod handler;
mod protocol;
mod state;

use bytes::Bytes;
use libp2p::{PeerId, StreamProtocol};

pub use behaviour::Behaviour;
pub use config::Config;
pub use handler::{Handler, HandlerEvent, Outgoing};
pub use protocol::MessageId;

/// The protocol name negotiated on broadcast substreams.
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/fisco/broadcast/1.0.0");

/// What the broadcast behaviour reports to the swarm.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message from another node arrived for the first time and its signature checked out.
    Received {
        /// The node that broadcast it (signed).
        origin: PeerId,
        /// Its network-wide ID.
        message_id: MessageId,
        /// The application module it is for.
        module: u16,
        /// The application's bytes.
        payload: Bytes,
        /// Links crossed on the way here (1 = straight from the origin).
        hops: u8,
        /// The neighbour that handed it over.
        from: PeerId,
    },
    /// A neighbour sent something that was refused; the frame was dropped.
    Invalid {
        /// The neighbour that sent it (not necessarily its author).
        from: PeerId,
        /// What was wrong.
        reason: InvalidReason,
    },
}

/// Why a frame from a neighbour was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvalidReason {
    /// The length prefix announced more than our maximum message size; the substream was reset
    /// without reading the frame. The peer is misconfigured (larger limit) or hostile.
    #[error("frame of {len} bytes announced, over the maximum of {max}; substream reset")]
    TooLarge {
        /// Announced frame length.
        len: u64,
        /// Our maximum ([`Config::with_max_message_size`]).
        max: usize,
    },
    /// The frame does not decode as a broadcast message (wrong structure, bad key, hop count 0).
    #[error("malformed broadcast frame: {0}")]
    Malformed(String),
    /// The signature does not match the claimed origin and content: forged or altered on the
    /// way. Not delivered, not forwarded.
    #[error("signature does not verify for claimed origin {origin}")]
    BadSignature {
        /// The origin the frame claims.
        origin: PeerId,
    },
}

/// Why [`Behaviour::broadcast`] refused a message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signed frame would exceed the maximum message size; send less, or raise
    /// [`Config::with_max_message_size`] on every node.
    #[error("message frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Frame size this message would need (or payload size, if that alone is too large).
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Too many frames are waiting for the swarm to hand them to connections; poll the swarm
    /// and retry, or raise [`Config::with_max_pending`].
    #[error("{limit} frames already waiting to be sent; retry after the swarm has been polled")]
    QueueFull {
        /// The configured limit.
        limit: usize,
    },
    /// The node key could not sign the message (e.g. a key type without signing support).
    #[error("cannot sign the broadcast: {0}")]
    Signing(String),
}
