//! What `cargo bench --bench net` and the scale run (`cargo run --example scale`) share: swarms
//! of our stack and of stock libp2p ([`swarms`]), a node driven by commands on its own task
//! ([`member`]), a cluster of them along a random graph ([`cluster`], [`graph`]), the chain of
//! certificates they use ([`ids`]) and the process's resident memory ([`rss`]).
//!
//! The benchmarks themselves are in `benches/net/` (one module per scenario) and
//! `benches/compression.rs`; their results and the analysis are in `BENCHMARKS.md` at the
//! workspace root.

pub mod cluster;
pub mod graph;
pub mod ids;
pub mod member;
pub mod rss;
pub mod swarms;
