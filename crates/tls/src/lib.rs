//! The `/fisco-tls/1.0.0` security upgrade: CA-verified, mutually authenticated TLS 1.3 with
//! secp256k1 (FISCO 2.x) or RSA (FISCO 3.x) node keys.
//!
//! Two nodes that connect first agree on `/fisco-tls/1.0.0` by multistream-select, then run a
//! TLS 1.3 handshake in which each presents its FISCO certificate bundle (`node.crt`) and proves
//! it holds `node.key`. Each side checks the other's chain against its `ca.crt`, reads the peer's
//! node ID from the node certificate's public key, and consults its [`AccessList`]. The upgrade
//! yields the peer's libp2p `PeerId`, which is its node ID in libp2p form; an RSA node's PeerId is
//! a hash of its key, so the upgrade also files the node ID in the [`Config::directory`] for the
//! way back.
//!
//! rustls, webpki and ring know nothing of secp256k1, so `provider.rs` adds it: a private-use TLS
//! signature scheme signed through libsecp256k1, and a webpki verification algorithm for chains.
//! RSA node keys sign their handshakes with RSA-PSS through ring, as TLS 1.3 requires.
//!
//! Every refusal names its reason ([`RefusalReason`]) on both sides: the refusing side returns
//! [`UpgradeError::Refused`]; the refused side reads it from the TLS alert and returns
//! [`UpgradeError::RefusedByPeer`]. [`refusal_reason`] digs it out of a swarm's connection error.
//! The upgrade itself logs only at DEBUG: a remote party can cause a refusal at will, so the
//! warning belongs to whoever knows its address and can rate-limit it (the node does, per IP).
//!
//! A listener waits at most [`Config::with_first_bytes_timeout`] (default 3 s) for the dialer's
//! ClientHello and at most [`Config::with_handshake_timeout`] for the whole handshake.
//!
//! # Example
//!
//! ```
//! use fisco_p2p_identity::NodeIdentity;
//! use fisco_p2p_tls as tls;
//! use libp2p::{swarm::dummy, tcp, yamux, SwarmBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../certs/fisco-2.5/node0");
//! let identity = NodeIdentity::load_dir(dir)?;
//! let access = tls::AccessList::new(); // keep a clone to change the lists at runtime
//! let config = tls::Config::new(&identity, access.clone())?;
//! let swarm = SwarmBuilder::with_existing_identity(identity.keypair().clone())
//!     .with_tokio()
//!     .with_tcp(tcp::Config::default(), config.into_security_upgrade(), yamux::Config::default)?
//!     .with_behaviour(|_| dummy::Behaviour)?
//!     .build();
//! assert_eq!(*swarm.local_peer_id(), identity.node_id().to_peer_id());
//! # Ok(())
//! # }
//! ```
//!
//! Layout: `config.rs` ([`Config`]); `upgrade.rs`, the libp2p upgrade; `verifier.rs`, the rustls
//! verifiers and handshake signatures; `chain.rs`, the certificate chain check; `provider.rs`,
//! secp256k1 for rustls; `access.rs` ([`AccessList`]); `error.rs`, reasons and errors.

mod access;
mod chain;
mod config;
mod error;
mod provider;
mod upgrade;
mod verifier;

pub use access::AccessList;
pub use config::{Config, DEFAULT_FIRST_BYTES_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, PROTOCOL_NAME};
pub use error::{find_upgrade_error, refusal_reason, RefusalReason, TlsError, UpgradeError};
pub use upgrade::Stream;

#[cfg(test)]
mod tests;
