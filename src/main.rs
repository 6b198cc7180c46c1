//! The `fisco-p2p` command line.
fn main() {}
