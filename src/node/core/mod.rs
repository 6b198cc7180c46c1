//! The node's decisions, without I/O: what the event loop (the driver, `driver/`) asks before it
//! acts, so that two nodes, a test and the driver agree on them. Nothing here touches the
//! Swarm, a channel or the clock: time comes in as an argument, effects go out as values.
//!
//! - [`calls`]: how each call of the application ends (requests to a node, sends to a topic
//!   with failover, multicasts), with deadlines: `handle(input, now)` then `poll_output()`
//!   for what to do, `poll_timeout()`, `handle_timeout(now)`;
//! - [`failover`]: which follower of a topic to try next;
//! - [`links`]: which peers are connected, and why each went;
//! - [`misbehaviour`]: when a neighbour has had too many messages refused, and its ban.
//!
//! Each has property tests of its rules.

pub(crate) mod calls;
pub(crate) mod failover;
pub(crate) mod links;
pub(crate) mod misbehaviour;
