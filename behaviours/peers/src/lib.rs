//! Keeps a node's static peers connected, the way FISCO BCOS nodes keep their `[p2p] node.N` list
//! connected, and keeps exactly one connection per node pair.
//!
//! # What it does
//! - **Static peers.** Every configured address is dialled at start and redialled whenever it is not
//!   connected: after a failure with exponential backoff (starting at
//!   [`Config::with_initial_backoff`], default 100 ms, doubling up to [`Config::with_max_backoff`],
//!   default 10 s, FISCO's fixed redial period) with jitter; the backoff resets on success. A lost
//!   connection is redialled at once. Addresses can be added and removed at runtime.
//! - **Self dials.** An address that turns out to be our own (the swarm reports
//!   [`libp2p::swarm::DialError::LocalPeerId`]) is never dialled again.
//! - **One connection per node pair.** Two nodes that dial each other at the same moment end up with
//!   two connections. Both sides apply the same rule, with no message exchanged: keep the oldest
//!   connection dialled by the node with the smaller [`PeerId`]; if there is none, the oldest one
//!   dialled by the other node. Only the node that dialled the survivor closes the others: it
//!   alone knows that the survivor is established at both ends, so the other node never loses
//!   its last connection to a duplicate's closing. (FISCO 2.x dropped one duplicate on each side
//!   without agreement and could leave two nodes with no connection at all; its issue #4406.)
//! - **Long-lived connections and heartbeat.** Its connection handler keeps every connection
//!   alive and probes it with a heartbeat (protocol [`HEARTBEAT_PROTOCOL`]: an 8-byte nonce
//!   echoed back, every [`Config::with_heartbeat_interval`], default 5 s as in FISCO). A link
//!   that does not answer within [`Config::with_heartbeat_timeout`] (default 10 s) is closed and
//!   reported as [`Event::HeartbeatFailed`], so a dead link is found within interval + timeout.
//!
//! - **Bounded dialling.** [`Behaviour::dial`] dials a node at given addresses for any caller:
//!   a second call for the same node while its dial is in flight joins that dial instead of
//!   starting another, and at most [`Config::with_max_concurrent_dials`] dials (default 32) are
//!   in flight at once, the rest waiting in a bounded queue ([`Config::with_max_queued_dials`],
//!   default 1024). Static peers are dialled through the same table. A caller with requests for a
//!   node that is not connected calls `dial` for each (they share one dial), and waits for
//!   [`Event::DialFinished`] for that node (or the swarm's `ConnectionEstablished`).
//! - **An operator hears of unreachable static peers.** Each static address's dial failures are
//!   logged at WARN with the reason, the first one at once and then at most once a minute while
//!   they last, and its recovery as "reconnected after N failed attempts"; a node with static
//!   peers and no connection at all once each of them has failed says so at WARN.
//!
//! # Layout
//! - `lib.rs`: configuration and events;
//! - `behaviour.rs`: the [`Behaviour`]: the glue between the swarm and the parts below;
//! - `static_peers.rs`: the static addresses, their slots, what is logged about them;
//! - `static_ips.rs`: the static addresses' IPs, shared with the node's admission layer;
//! - `duplicates.rs`: the one-connection-per-pair rule (pure);
//! - `dialer.rs`: one dial per node, a cap on dials in flight, a bounded queue (sans I/O), and the
//!   answers of [`Behaviour::dial`];
//! - `backoff.rs`: the redial delay computation (sans I/O);
//! - `handler.rs`: the connection handler: keep-alive and heartbeat timing;
//! - `heartbeat.rs`: the heartbeat wire protocol.

mod backoff;
mod behaviour;
mod dialer;
mod duplicates;
mod handler;
mod heartbeat;
mod static_ips;
mod static_peers;

use std::time::Duration;

use libp2p::{
    swarm::{ConnectionId, DialError},
    Multiaddr, PeerId,
};

pub use behaviour::Behaviour;
pub use dialer::{Dial, DialQueueFull};
pub use handler::{Handler, HandlerEvent};
pub use heartbeat::PROTOCOL_NAME as HEARTBEAT_PROTOCOL;
pub use static_ips::StaticIps;
pub use static_peers::StaticPeerStatus;

/// Configuration of the peers [`Behaviour`].
#[derive(Debug, Clone)]
pub struct Config {
    initial_backoff: Duration,
    max_backoff: Duration,
    jitter: f64,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    max_concurrent_dials: usize,
    max_queued_dials: usize,
    static_ips: StaticIps,
    describe_dial_error: fn(&DialError) -> String,
}

impl Default for Config {
    /// - initial backoff: 100 ms;
    /// - maximum backoff: 10 s (FISCO's fixed redial period);
    /// - jitter: 20 % of each delay, either way;
    /// - heartbeat every 5 s (FISCO's), answered within 10 s or the connection is closed;
    /// - at most 32 dials in flight, 1024 more waiting;
    /// - a fresh [`StaticIps`] view; dial errors described by their `Display`.
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            jitter: 0.2,
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            max_concurrent_dials: 32,
            max_queued_dials: 1024,
            static_ips: StaticIps::default(),
            describe_dial_error: |error| error.to_string(),
        }
    }
}

impl Config {
    /// See [`with_initial_backoff`](Self::with_initial_backoff).
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// See [`with_max_backoff`](Self::with_max_backoff).
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// See [`with_heartbeat_interval`](Self::with_heartbeat_interval).
    pub fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }

    /// See [`with_heartbeat_timeout`](Self::with_heartbeat_timeout).
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// Delay before the first redial after a failed dial.
    pub fn with_initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// Largest delay between two dials of one address.
    pub fn with_max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Fraction of each delay (0.0 to 1.0) by which it is randomly moved either way.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 1.0);
        self
    }

    /// Time between two heartbeats on a connection.
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long a heartbeat (stream opening included) may take before the link counts as dead.
    pub fn with_heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// Most dials in flight at once (at least 1); more wait in a queue.
    pub fn with_max_concurrent_dials(mut self, max: usize) -> Self {
        self.max_concurrent_dials = max.max(1);
        self
    }

    /// Most dials waiting for a free slot; [`Behaviour::dial`] refuses more.
    pub fn with_max_queued_dials(mut self, max: usize) -> Self {
        self.max_queued_dials = max;
        self
    }

    /// The shared view the behaviour keeps current with the IPs of the static addresses (give a
    /// clone to whoever needs it, such as the node's admission of inbound connections).
    pub fn with_static_ips(mut self, ips: StaticIps) -> Self {
        self.static_ips = ips;
        self
    }

    /// How a failed dial is described in logs and [`Event::DialFailed`]; the node passes one that
    /// names the TLS refusal reason rather than the transport's nested error text.
    pub fn with_dial_error_describer(mut self, describe: fn(&DialError) -> String) -> Self {
        self.describe_dial_error = describe;
        self
    }

    fn heartbeat(&self) -> handler::HeartbeatConfig {
        handler::HeartbeatConfig {
            interval: self.heartbeat_interval,
            timeout: self.heartbeat_timeout,
        }
    }

    fn backoff(&self) -> backoff::BackoffConfig {
        backoff::BackoffConfig {
            initial: self.initial_backoff,
            max: self.max_backoff.max(self.initial_backoff),
            jitter: self.jitter,
        }
    }
}

/// What the peers behaviour reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// A static address could not be dialled; it is tried again after `retry_in`.
    DialFailed {
        /// The static address.
        address: Multiaddr,
        /// Failures in a row for this address.
        failures: u32,
        /// When the next attempt is made.
        retry_in: Duration,
        /// Why the dial failed, as the swarm reported it.
        error: String,
    },
    /// A dial requested through [`Behaviour::dial`] ended.
    DialFinished {
        /// The node dialled.
        peer: PeerId,
        /// Why it failed; `None` when the node is connected.
        error: Option<String>,
    },
    /// A static address turned out to be this node itself; it is not dialled again.
    SelfDial {
        /// The address that reached this node.
        address: Multiaddr,
    },
    /// A connection did not answer its heartbeat in time and is being closed.
    HeartbeatFailed {
        /// The peer.
        peer: PeerId,
        /// The connection.
        connection: ConnectionId,
        /// What failed.
        reason: String,
    },
    /// A second connection to a peer was closed by the one-connection-per-pair rule.
    DuplicateClosed {
        /// The peer.
        peer: PeerId,
        /// The connection that is being closed.
        connection: ConnectionId,
    },
}
