//! Node configuration.

use std::time::Duration;

use libp2p::Multiaddr;

use crate::identity::NodeId;

/// Configuration of a [`Node`](super::Node). Every field has a default suited to a consortium
/// chain of tens of nodes; see [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: Vec<Multiaddr>,
    pub(crate) peers: Vec<Multiaddr>,
    pub(crate) blacklist: Vec<NodeId>,
    pub(crate) whitelist: Vec<NodeId>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) redial_initial: Duration,
    pub(crate) redial_max: Duration,
    pub(crate) max_connections: u32,
    pub(crate) max_pending_incoming: u32,
    pub(crate) command_capacity: usize,
    pub(crate) event_capacity: usize,
}

impl Default for Config {
    /// - listen: none (the node only dials);
    /// - static peers: none;
    /// - blacklist, whitelist: empty (everyone the CA vouches for may connect);
    /// - heartbeat every 5 s (FISCO's), a link that does not answer one within 10 s is dropped;
    /// - TLS handshake timeout: 10 s;
    /// - redial backoff: from 100 ms, doubling, capped at 10 s (FISCO's fixed redial period);
    /// - at most 256 established connections and 64 handshakes in progress;
    /// - 64 queued commands from handles, 1024 buffered events per event stream.
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            peers: Vec::new(),
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            redial_initial: Duration::from_millis(100),
            redial_max: Duration::from_secs(10),
            max_connections: 256,
            max_pending_incoming: 64,
            command_capacity: 64,
            event_capacity: 1024,
        }
    }
}

impl Config {
    /// Adds an address to listen on (port 0 picks a free port).
    pub fn with_listen(mut self, address: Multiaddr) -> Self {
        self.listen.push(address);
        self
    }

    /// Adds a static peer: dialled at start and kept connected.
    pub fn with_peer(mut self, address: Multiaddr) -> Self {
        self.peers.push(address);
        self
    }

    /// Node IDs refused at the TLS handshake (FISCO `certificate_blacklist`, `crl.N`).
    pub fn with_blacklist(mut self, nodes: impl IntoIterator<Item = NodeId>) -> Self {
        self.blacklist = nodes.into_iter().collect();
        self
    }

    /// If not empty, the only node IDs allowed to connect (FISCO `certificate_whitelist`, `cal.N`).
    /// The blacklist wins over it.
    pub fn with_whitelist(mut self, nodes: impl IntoIterator<Item = NodeId>) -> Self {
        self.whitelist = nodes.into_iter().collect();
        self
    }

    /// How often each connection is probed by a heartbeat.
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long a heartbeat may go unanswered before the connection is dropped.
    pub fn with_heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// Longest time a TLS handshake may take.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// First and largest delay between redials of an unreachable static peer.
    pub fn with_redial_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.redial_initial = initial;
        self.redial_max = max;
        self
    }

    /// Most established connections the node keeps (each node pair uses one).
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Most inbound connections in their handshake at once.
    pub fn with_max_pending_incoming(mut self, max: u32) -> Self {
        self.max_pending_incoming = max;
        self
    }

    /// Capacity of the command queue shared by all handles; a full queue makes handle calls wait.
    pub fn with_command_capacity(mut self, capacity: usize) -> Self {
        self.command_capacity = capacity.max(1);
        self
    }

    /// Events buffered per event stream; a stream that falls further behind skips the oldest
    /// events and is told how many it missed.
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }
}
