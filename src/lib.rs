//! fisco-p2p: the P2P network of FISCO BCOS on rust-libp2p.
//!
//! Nodes are named by their public key (the [`identity::NodeId`]): a secp256k1 key for FISCO 2.x
//! nodes, exactly what FISCO's tooling writes to `node.nodeid`, or an RSA key for FISCO 3.x nodes,
//! FISCO 3.x's P2P ID. They authenticate each other with CA-issued certificates in FISCO's file
//! layouts (2.x `node.key`, `node.crt`, `ca.crt`; 3.x `conf/ssl.key`, `ssl.crt`, `ca.crt`), read
//! FISCO's own `config.ini` of either line, and keep long-lived, self-healing connections whose
//! large payloads are compressed. Over them a node can
//! - send a **request** to one node by node ID and get its reply ([`node::Handle::request`]), even
//!   when that node is not a neighbour;
//! - send to **one follower** of a topic, failing over to the others
//!   ([`node::Handle::send_to_topic`], FISCO's AMOP unicast);
//! - **multicast** to every follower of a topic ([`node::Handle::multicast`]);
//! - **broadcast** to every node ([`node::Handle::broadcast`]);
//! - share a small **state** with every node through seq-numbered, signed records
//!   ([`node::Handle::set_state`], [`node::Handle::peers`]).
//!
//! Unlike FISCO 2.x, every kind of message reaches its targets in any connected topology (a
//! line, a ring, a partial mesh), each target exactly once.
//!
//! # Example
//! ```no_run
//! use bytes::Bytes;
//! use fisco_p2p::{identity::NodeIdentity, node::{Config, Message, Node}};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A node directory as FISCO's build_chain makes it: node.key, node.crt, ca.crt.
//! let identity = NodeIdentity::load_dir("nodes/127.0.0.1/node0/conf")?;
//! let config = Config::default()
//!     .with_listen("/ip4/0.0.0.0/tcp/30300".parse()?)
//!     .with_peer(fisco_p2p::node::parse_address("127.0.0.1:30301")?);
//! let (handle, mut events) = Node::spawn(identity, config).await?;
//!
//! // Serve module 1: answer every request. Match inside the loop: a `while let` on
//! // `Message::Request` alone would stop at the first multicast and drop the module, which
//! // unregisters it. `module.sender()` sends for the module from any task.
//! let mut module = handle.module(1).await?;
//! tokio::spawn(async move {
//!     while let Some(message) = module.next().await {
//!         match message {
//!             Message::Request(request) => {
//!                 let _ = request.responder.reply(Bytes::from_static(b"pong")).await;
//!             }
//!             Message::Multicast { topic, payload, .. } => {
//!                 tracing::info!(%topic, bytes = payload.len(), "multicast");
//!             }
//!             Message::Broadcast { payload, .. } => {
//!                 tracing::info!(bytes = payload.len(), "broadcast");
//!             }
//!         }
//!     }
//! });
//!
//! // Watch connections come and go.
//! while let Some(event) = events.next().await {
//!     tracing::info!(?event);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - [`identity`] (the `fisco-p2p-identity` crate): node IDs, node keys, loading and checking a
//!   node's certificate files; with [`certs`], generating FISCO-style CA, agency and node
//!   certificates (also `fisco-p2p certs`), and [`files`], reading the small files an operator
//!   names, regular files only and size-capped;
//! - [`tls`] (the `fisco-p2p-tls` crate): the CA-verified TLS 1.3 security upgrade (secp256k1
//!   and RSA node keys), with access lists;
//! - [`config`]: the operator's `node.toml`, FISCO `config.ini` and `nodes.json`; whole local networks;
//! - [`node`]: a running node: the task that owns the Swarm, its [`node::Handle`], events and
//!   module inboxes;
//! - `behaviour`: the composed libp2p behaviour, one field per protocol crate:
//!   `fisco-p2p-peers` (static peers, heartbeat, one connection per pair), `fisco-p2p-sync`
//!   (seq state sync, which also spreads every node's neighbours), `fisco-p2p-overlay` (the
//!   routed overlay: requests and replies, multicast and broadcast over the links that exist);
//!
//! Around the library, each in its own crate so that an application embedding a node compiles
//! none of them: `fisco-p2p-metrics` (Prometheus metrics, a [`node::Recorder`]),
//! `fisco-p2p-admin` (the local HTTP/JSON admin API and its client) and `fisco-p2p-cli` (the
//! `fisco-p2p` binary: `run`, `ctl`, `demo`, `certs`, `id`).
#![deny(missing_docs)]

pub mod config;
pub mod node;

mod behaviour;

pub use fisco_p2p_identity::{self as identity, certs, files};
pub use fisco_p2p_tls as tls;

/// The protocol crates, for applications that compose their own behaviour.
pub mod protocols {
    pub use fisco_p2p_overlay as overlay;
    pub use fisco_p2p_peers as peers;
    pub use fisco_p2p_sync as sync;
}

// The Rust blocks of the README and of docs/ compile as doctests (tests/docs.rs runs their shell
// blocks and reads their TOML blocks).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../docs/config.md")]
#[cfg(doctest)]
pub struct ConfigDoctests;

#[doc = include_str!("../docs/deploy.md")]
#[cfg(doctest)]
pub struct DeployDoctests;

#[doc = include_str!("../docs/troubleshooting.md")]
#[cfg(doctest)]
pub struct TroubleshootingDoctests;
