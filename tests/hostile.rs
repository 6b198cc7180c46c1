//! A node on a hostile network: strangers flooding its port, peers speaking garbage or stalling,
//! and the log lines and refusals a clean start must not produce.
//!
//! `hostile/clean.rs`: what a healthy network must not report; `hostile/flood.rs`: idle
//! connection floods from one and from many source IPs; `hostile/garbage.rs`: malformed, truncated
//! and stalled handshakes, and a peer opening thousands of substreams; `hostile/attacker.rs`: the
//! raw clients these tests use; `hostile/logs.rs`: what the node tells its operator, and the
//! bounded number of lines a stranger can make it write.

// The shared helpers (common/network.rs) unwrap their mutexes.
#![allow(clippy::unwrap_used)]
// The attack tests report what they measured (run with --nocapture to see it).
#![allow(clippy::print_stderr)]

use fisco_p2p_testnode as common;

#[path = "hostile/attacker.rs"]
mod attacker;
#[path = "hostile/clean.rs"]
mod clean;
#[path = "hostile/flood.rs"]
mod flood;
#[path = "hostile/garbage.rs"]
mod garbage;
#[path = "hostile/logs.rs"]
mod logs;
