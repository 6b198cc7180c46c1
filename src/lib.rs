//! fisco-p2p: the P2P network of FISCO BCOS on rust-libp2p.
//!
//! Nodes are named by their secp256k1 public key (the [`identity::NodeId`]), authenticate each other
//! with CA-issued certificates in FISCO's file layout, and talk over long-lived connections.
//!
//! # Layout
//! - [`identity`]: node IDs, node keys, loading and checking a node's certificate files;
//! - [`certs`]: generating FISCO-style CA, agency and node certificates (also `fisco-p2p certs`);
//! - [`config`]: the operator's `node.toml`, FISCO `config.ini` and `nodes.json`; whole local networks;
//! - [`tls`]: the CA-verified secp256k1 TLS 1.3 security upgrade, with access lists;
//! - [`node`]: a running node: the task that owns the Swarm, its [`node::Handle`] and events;
//! - `behaviour`: the composed libp2p behaviour (static peers, heartbeat, limits).
#![warn(missing_docs)]

pub mod admin;
pub mod certs;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod node;
pub mod tls;

mod behaviour;
