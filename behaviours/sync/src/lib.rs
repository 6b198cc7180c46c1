//! Seq state sync: every node knows every other node's signed record, in any connected topology.
//!
//! FISCO BCOS nodes keep a small piece of state each (the topics they follow, in FISCO) under a
//! `seq` that grows with every change, and tell their neighbours the seq so they can fetch what
//! changed. This crate does the same, network-wide rather than only between direct neighbours.
//!
//! # The protocol
//! - **Records.** Each node owns one [`Record`]: its PeerId, `seq`, listen addresses, followed
//!   topics and application key/value state. Every local change increments `seq`, and the owner
//!   signs the CBOR encoding with its node key. Receivers check the signature against the public
//!   key inlined in the owner's PeerId (secp256k1 node keys, like ed25519 ones, are inlined), so a
//!   relaying node can neither forge nor alter a record. A record with a bad signature, the wrong
//!   owner or over the size limit is dropped and the sender reported ([`Event::InvalidRecord`]).
//! - **Announce and fetch.** Every `announce_interval` (2 s) each node sends its connected
//!   neighbours a *digest*, `(owner, seq, age)` for every record it holds; after a local change or
//!   on learning a newer record it sends a partial digest of what changed, after a short delay
//!   that batches bursts. A neighbour that sees a higher seq than its own fetches the record from
//!   the announcer and then announces it in turn, so records travel hop by hop to every node of a
//!   connected network, a few round trips per hop.
//! - **Liveness.** The `age` in a digest line says how long ago the announcer last knew the owner
//!   alive (0 for itself and its direct neighbours). Receivers keep the freshest; when a node dies
//!   no fresh evidence is born, ages grow everywhere, and the node is reported
//!   [offline](Event::PeerOffline) after `offline_after` and [forgotten](Event::PeerForgotten)
//!   after `forget_after`. Details and limits in `state/liveness.rs`.
//! - **Restarts.** A node starts its seq at the wall-clock time in milliseconds, so after a
//!   restart its new record outranks the old one. If a neighbour announces our own record at a
//!   seq at or above the current one (clock stepped back, or more than 1000 changes a second),
//!   the node fetches it, and if it really carries our signature, jumps above it and announces
//!   again. A digest line alone never moves our seq, so no peer can push it to `u64::MAX`.
//! - **Bounds.** At most `max_records` records, each at most `max_record_size`; frames at most
//!   `max_message_size`, checked on the length prefix before allocating; one announcement and one
//!   fetch in flight per neighbour; at most 64 records per fetch.
//!
//! # Layout
//! - `lib.rs`: this overview, [`Event`], [`PROTOCOL_NAME`].
//! - `behaviour.rs`: [`Behaviour`], its API and the glue between transport, timer and state;
//!   `behaviour/swarm.rs`: its `NetworkBehaviour` implementation.
//! - `state/`: the sans-I/O protocol core (`fetch.rs`, `liveness.rs`, `view.rs`) and its tests;
//!   `sim.rs` (with `sim/mallory.rs`, a forger): the deterministic network simulator the property
//!   tests run on.
//! - `record.rs`: [`Record`], signing and verification. `message.rs` and `codec.rs`: the wire.
//! - `config.rs`, `error.rs`: [`Config`] and the error types.
//!
//! # Example
//! ```
//! use fisco_p2p_sync as sync;
//! use libp2p::identity::Keypair;
//!
//! let mut sync = sync::Behaviour::new(Keypair::generate_secp256k1(), sync::Config::default())?;
//! let seq = sync.local_record().seq();
//! assert!(sync.follow("blocks")?);
//! assert_eq!(sync.local_record().seq(), seq + 1);
//! assert_eq!(sync.followers("blocks"), vec![sync.local_record().owner()]);
//! # Ok::<(), sync::Error>(())
//! ```
//! Put the behaviour in the node's `#[derive(NetworkBehaviour)]`, call
//! [`Behaviour::set_listen_addrs`] with the dialable addresses, and react to its [`Event`]s.
//! The periodic announcements keep connections open as long as the swarm's idle connection
//! timeout (10 s by default) is longer than `announce_interval`.

#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod behaviour;
mod codec;
mod config;
mod error;
#[allow(unreachable_pub)] // see the module docs
mod message;
mod record;
#[cfg(test)]
mod sim;
mod state;

use libp2p::PeerId;

pub use behaviour::Behaviour;
pub use config::Config;
pub use error::{CodecError, Error, RecordError};
pub use record::Record;
pub use state::Entry;

/// The protocol id negotiated on sync streams.
pub const PROTOCOL_NAME: &str = "/fisco/sync/1.0.0";

/// What the sync behaviour tells the application.
#[derive(Debug, Clone)]
pub enum Event {
    /// A node's record was learned for the first time, or replaced by one with a higher seq.
    RecordUpdated {
        /// The record's owner.
        peer: PeerId,
        /// The new record.
        record: Record,
    },
    /// A node marked offline came back: it was heard of again within `offline_after`.
    PeerOnline {
        /// The node.
        peer: PeerId,
    },
    /// A node has not been heard of, directly or through others, for `offline_after`.
    PeerOffline {
        /// The node.
        peer: PeerId,
    },
    /// A node has not been heard of for `forget_after`; its record was dropped.
    PeerForgotten {
        /// The node.
        peer: PeerId,
    },
    /// A neighbour sent a record that failed the checks; it was dropped.
    InvalidRecord {
        /// The neighbour that sent it (not necessarily the record's claimed owner).
        from: PeerId,
        /// What was wrong.
        reason: RecordError,
    },
    /// A neighbour sent a frame that is over the size limit or not a sync message; the stream
    /// was reset and the connection kept.
    InvalidMessage {
        /// The neighbour that sent it.
        from: PeerId,
        /// What was wrong.
        error: CodecError,
    },
}
