//! Node configuration.

use std::{sync::Arc, time::Duration};

use libp2p::Multiaddr;

use super::Recorder;
use crate::identity::NodeId;

/// Configuration of a [`Node`](super::Node). Every field has a default suited to a consortium
/// chain of tens of nodes; see [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) listen: Vec<Multiaddr>,
    pub(crate) peers: Vec<Multiaddr>,
    pub(crate) blacklist: Vec<NodeId>,
    pub(crate) whitelist: Vec<NodeId>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_connections: u32,
    pub(crate) max_pending_incoming: u32,
    pub(crate) max_pending_per_ip: u32,
    pub(crate) first_bytes_timeout: Duration,
    pub(crate) max_concurrent_dials: u32,
    pub(crate) command_capacity: usize,
    pub(crate) event_capacity: usize,
    pub(crate) max_message_size: usize,
    pub(crate) inbox_capacity: usize,
    pub(crate) inbox_bytes: usize,
    pub(crate) max_topics: usize,
    pub(crate) topics: Vec<String>,
    pub(crate) recorder: Option<Arc<dyn Recorder>>,
    /// Each protocol's own configuration: the setters below that concern one protocol change
    /// it here, and `with_*_config` replaces it whole.
    pub(crate) peering: fisco_p2p_peers::Config,
    pub(crate) sync: fisco_p2p_sync::Config,
    pub(crate) overlay: fisco_p2p_overlay::Config,
}

impl Default for Config {
    /// - listen: none (the node only dials);
    /// - static peers: none;
    /// - blacklist, whitelist: empty (everyone the CA vouches for may connect);
    /// - heartbeat every 1 s, a link that does not answer one within 2 s is dropped: a silent
    ///   cut is noticed within 3 s and routes move around it (FISCO probes every 5 s and waits
    ///   60 s; a routed network cannot wait that long). On an idle link this costs one 8-byte
    ///   probe and its echo a second each way, about 200 bytes/s with TCP, TLS and yamux
    ///   framing;
    /// - TLS handshake timeout: 10 s;
    /// - redial backoff: from 100 ms, doubling, capped at 10 s (FISCO's fixed redial period);
    /// - at most 256 established connections and 64 inbound handshakes in progress (plus as many
    ///   from static peers' IPs), at most 4 of them from one IP; an inbound connection that sends
    ///   nothing within 3 s is closed; at most 32 dials in flight (all lowered at start if the
    ///   file descriptor limit cannot hold them, see [`Config::with_max_connections`]);
    /// - 64 queued commands from handles, 1024 buffered events per event stream;
    /// - messages of at most 32 MiB (FISCO 3.x), requests time out after 10 s;
    /// - state sync announces every 2 s (FISCO 3.x's beacon); a node unheard of for 30 s is
    ///   marked offline, after 5 min it is forgotten;
    /// - 1024 messages and 32 MiB of payload queued per module inbox (one larger message is still
    ///   taken into an empty inbox); at most 1024 topics per node;
    /// - a message with no route to its target waits up to 2 s for state sync to bring one;
    /// - a message crosses at most 16 links;
    /// - no direct connections: the node talks only over the links the operator configured
    ///   (and inbound ones), relaying through neighbours;
    /// - payloads over 1 KiB are compressed (zstd level 1) on links whose other end compresses
    ///   too, as FISCO 3.x does by default;
    /// - no topics followed at start;
    /// - no metrics.
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            peers: Vec::new(),
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_pending_incoming: 64,
            max_pending_per_ip: 4,
            first_bytes_timeout: crate::tls::DEFAULT_FIRST_BYTES_TIMEOUT,
            max_concurrent_dials: 32,
            command_capacity: 64,
            event_capacity: 1024,
            max_message_size: super::MAX_MESSAGE_SIZE,
            inbox_capacity: 1024,
            inbox_bytes: super::MAX_MESSAGE_SIZE,
            max_topics: 1024,
            topics: Vec::new(),
            recorder: None,
            // The protocols' own defaults, but for the heartbeat: FISCO's (every 5 s, 10 s to
            // answer) is too slow for routing around a cut link.
            peering: fisco_p2p_peers::Config::default()
                .with_heartbeat_interval(Duration::from_secs(1))
                .with_heartbeat_timeout(Duration::from_secs(2)),
            sync: fisco_p2p_sync::Config::default(),
            overlay: fisco_p2p_overlay::Config::default(),
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
        self.peering = self.peering.with_heartbeat_interval(interval);
        self
    }

    /// How long a heartbeat may go unanswered before the connection is dropped.
    pub fn with_heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.peering = self.peering.with_heartbeat_timeout(timeout);
        self
    }

    /// Longest time a TLS handshake may take.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// First and largest delay between redials of an unreachable static peer.
    pub fn with_redial_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.peering = self
            .peering
            .with_initial_backoff(initial)
            .with_max_backoff(max);
        self
    }

    /// Most established connections the node keeps (each node pair uses one).
    ///
    /// At start the node raises its soft file descriptor limit to the hard limit, and if even
    /// that cannot hold the established connections, the pending handshakes (twice
    /// [`with_max_pending_incoming`](Self::with_max_pending_incoming)) and the dials in flight
    /// plus 128 descriptors for everything else, it lowers these limits in proportion and says
    /// so at WARN.
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Most inbound connections from strangers in their handshake at once (connections from the
    /// IPs of static peers have as many places of their own). When the table is full a newcomer
    /// is not refused: a pending connection is evicted instead, one that has sent nothing yet
    /// before one that has, from the IP holding the most, the oldest.
    pub fn with_max_pending_incoming(mut self, max: u32) -> Self {
        self.max_pending_incoming = max.max(1);
        self
    }

    /// Most inbound connections in their handshake at once from one IP (static peers' IPs
    /// excepted). A newcomer beyond it evicts the IP's oldest connection that has sent nothing
    /// yet, or is refused if all of them are mid-handshake.
    pub fn with_max_pending_per_ip(mut self, max: u32) -> Self {
        self.max_pending_per_ip = max.max(1);
        self
    }

    /// How long an inbound connection may stay silent: it is closed if its first bytes (and,
    /// separately, its TLS ClientHello) do not arrive within this, however long the whole
    /// handshake may take ([`with_handshake_timeout`](Self::with_handshake_timeout)).
    pub fn with_first_bytes_timeout(mut self, timeout: Duration) -> Self {
        self.first_bytes_timeout = timeout;
        self
    }

    /// Most dials in flight at once; more wait for a free slot. There is never more than one
    /// dial in flight to one node.
    pub fn with_max_concurrent_dials(mut self, max: u32) -> Self {
        self.max_concurrent_dials = max.max(1);
        self
    }

    /// Capacity of the command queue shared by all handles; a full queue makes handle calls wait.
    pub fn with_command_capacity(mut self, capacity: usize) -> Self {
        self.command_capacity = capacity.max(1);
        self
    }

    /// Largest message payload the application sends or accepts (the overlay's frames get room
    /// for their envelope on top); a peer announcing a larger frame is refused before anything
    /// is allocated. Use the same value on every node.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.max(1024);
        self
    }

    /// Default timeout of a request ([`Handle::request`](super::Handle::request)).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.overlay = self.overlay.with_request_timeout(timeout);
        self
    }

    /// How often state sync announces the records this node holds to its neighbours.
    pub fn with_announce_interval(mut self, interval: Duration) -> Self {
        self.sync = self.sync.with_announce_interval(interval);
        self
    }

    /// After how long without news a node is marked offline, and after how long it is forgotten.
    pub fn with_liveness(mut self, offline_after: Duration, forget_after: Duration) -> Self {
        let forget_after = forget_after.max(offline_after);
        self.sync = self
            .sync
            .with_offline_after(offline_after)
            .with_forget_after(forget_after);
        self
    }

    /// Messages queued per module inbox before new requests are answered "busy" and new
    /// multicasts and broadcasts are dropped (and logged).
    pub fn with_inbox_capacity(mut self, capacity: usize) -> Self {
        self.inbox_capacity = capacity.max(1);
        self
    }

    /// Payload bytes queued per module inbox before new requests are answered "busy" and new
    /// multicasts and broadcasts are dropped and counted (one message larger than this is still
    /// taken into an empty inbox).
    pub fn with_inbox_bytes(mut self, bytes: usize) -> Self {
        self.inbox_bytes = bytes;
        self
    }

    /// Most topics this node follows, and accepts from each peer.
    pub fn with_max_topics(mut self, max: usize) -> Self {
        self.max_topics = max.max(1);
        self
    }

    /// How long a request or multicast waits for a route to a node that has none yet (state
    /// sync has not brought its links, or the network is split) before it fails with "no route".
    pub fn with_route_wait(mut self, wait: Duration) -> Self {
        self.overlay = self.overlay.with_route_wait(wait);
        self
    }

    /// Most links any message crosses (at least 1); ends transient loops while routes converge.
    /// Make it at least the diameter of the network.
    pub fn with_hop_limit(mut self, hops: u8) -> Self {
        self.overlay = self.overlay.with_hop_limit(hops.max(1));
        self
    }

    /// Whether the node may open a direct connection to a node it exchanges a lot with (more
    /// than 100 messages in 10 s) and can reach at an address state sync advertised. Off by
    /// default: like FISCO, a node then has only the links its operator configured, plus the
    /// inbound ones, and reaches every other node through relays.
    pub fn with_direct_connections(mut self, enabled: bool) -> Self {
        self.overlay = self.overlay.with_direct_connections(enabled);
        self
    }

    /// Whether to compress payloads over 1 KiB (zstd, level 1) on every link whose other end
    /// compresses too (FISCO's `enable_compression`, on by default). A node with compression
    /// off still talks to one with it on: each link negotiates it in each direction.
    pub fn with_compression(mut self, enabled: bool) -> Self {
        self.overlay = self.overlay.with_compression(enabled);
        self
    }

    /// A topic to follow from the start.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topics.push(topic.into());
        self
    }

    /// Events buffered per event stream; a stream that falls further behind skips the oldest
    /// events and is told how many it missed.
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// A recorder the node tells what it does: its events, the messages it sends and delivers,
    /// the outcome of every request, and its swarm events (see [`Recorder`];
    /// `fisco-p2p-metrics` has one that keeps Prometheus metrics).
    pub fn with_recorder(mut self, recorder: Arc<dyn Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Replaces the peers protocol's configuration (static peers' redial backoff, heartbeat,
    /// dial queue). The node still sets at start what it owns: the dial cap (fitted to the file
    /// descriptors, see [`with_max_concurrent_dials`](Self::with_max_concurrent_dials)), the
    /// static peers' IPs and how dial errors are described.
    pub fn with_peers_config(mut self, config: fisco_p2p_peers::Config) -> Self {
        self.peering = config;
        self
    }

    /// Replaces the state-sync protocol's configuration (announce interval, liveness, record
    /// limits).
    pub fn with_sync_config(mut self, config: fisco_p2p_sync::Config) -> Self {
        self.sync = config;
        self
    }

    /// Replaces the overlay's configuration (timeouts, retries, caches, queues, budgets). The
    /// node still sets its message size at start from
    /// [`with_max_message_size`](Self::with_max_message_size), with room for the envelope.
    pub fn with_overlay_config(mut self, config: fisco_p2p_overlay::Config) -> Self {
        self.overlay = config;
        self
    }

    /// The peers protocol's configuration, as the node will hand it over.
    pub fn peers_config(&self) -> &fisco_p2p_peers::Config {
        &self.peering
    }

    /// The state-sync protocol's configuration.
    pub fn sync_config(&self) -> &fisco_p2p_sync::Config {
        &self.sync
    }

    /// The overlay's configuration (its message size is set from the node's at start).
    pub fn overlay_config(&self) -> &fisco_p2p_overlay::Config {
        &self.overlay
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Config;
    use crate::protocols::overlay;

    #[test]
    fn protocol_settings_live_in_each_protocols_own_config() {
        let second = Duration::from_secs(1);
        let config = Config::default()
            .with_heartbeat_interval(second / 2)
            .with_redial_backoff(second / 10, 5 * second)
            .with_announce_interval(3 * second)
            .with_liveness(20 * second, 10 * second)
            .with_request_timeout(4 * second)
            .with_hop_limit(0);
        assert_eq!(config.peers_config().heartbeat_interval(), second / 2);
        assert_eq!(config.peers_config().max_backoff(), 5 * second);
        assert_eq!(config.sync_config().announce_interval(), 3 * second);
        assert_eq!(
            config.sync_config().forget_after(),
            20 * second,
            "never before offline"
        );
        assert_eq!(config.overlay_config().request_timeout(), 4 * second);
        assert_eq!(config.overlay_config().hop_limit(), 1);
        // A whole protocol configuration replaces what the setters had set.
        let config = config.with_overlay_config(overlay::Config::default().with_hop_limit(3));
        assert_eq!(config.overlay_config().hop_limit(), 3);
        assert_eq!(config.overlay_config().request_timeout(), 10 * second);
    }

    #[test]
    fn one_message_size_is_the_default_of_every_protocol() {
        let config = Config::default();
        assert_eq!(config.max_message_size, crate::node::MAX_MESSAGE_SIZE);
        assert_eq!(config.inbox_bytes, crate::node::MAX_MESSAGE_SIZE);
        assert_eq!(
            config.overlay_config().max_message_size(),
            crate::node::MAX_MESSAGE_SIZE + overlay::ENVELOPE_OVERHEAD
        );
    }
}
