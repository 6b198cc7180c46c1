//! [`NodeFile`]: what an operator configures for one node, whichever file it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::error::{ConfigError, Location};
use super::value::{de, Address};
use crate::identity::NodeId;
use crate::node;

/// Default largest message, in bytes: 32 MiB, FISCO 3.x's default.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 32 * 1024 * 1024;
/// Smallest `limits.max_message_size` accepted: 1 KiB.
pub const MIN_MESSAGE_SIZE: usize = 1024;
/// Largest `limits.max_message_size` accepted: 1 GiB (FISCO 2.x used 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 1024 * 1024 * 1024;
/// Default period of state-sync announcements: 2 s, FISCO 3.x's beacon period.
pub const DEFAULT_ANNOUNCE: Duration = Duration::from_secs(2);

/// One node's configuration as an operator writes it: the `node.toml` file, or what could be
/// read from a FISCO `config.ini` or `nodes.json`. Made by [`load`](super::load).
///
/// Every key is optional; [`NodeFile::default`] documents the defaults. The `run` command lets
/// flags override keys through the `with_*` setters. [`NodeFile::to_node_config`] gives the
/// [`node::Config`] for what the node supports; `admin`, `topics`, `limits.max_message_size` and
/// `intervals.announce` are read through their accessors by whoever wires those parts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeFile {
    /// The file this came from; set by the loader, not a key.
    #[serde(skip)]
    source: Option<PathBuf>,
    dir: Option<PathBuf>,
    listen: Vec<Address>,
    peers: Vec<Address>,
    #[serde(deserialize_with = "de::admin")]
    admin: Option<SocketAddr>,
    admin_public: bool,
    #[serde(deserialize_with = "de::topics")]
    topics: Vec<String>,
    #[serde(deserialize_with = "de::node_ids")]
    blacklist: Vec<NodeId>,
    #[serde(deserialize_with = "de::node_ids")]
    whitelist: Vec<NodeId>,
    limits: Limits,
    intervals: Intervals,
}

impl Default for NodeFile {
    /// - `dir`: none here; the `node.toml` loader uses the folder of the file when the key is
    ///   absent, the `config.ini` loader `[network_security] data_path` (default `conf/`);
    /// - `listen`, `peers`, `topics`, `blacklist`, `whitelist`: empty;
    /// - `admin`: none (no admin API); `admin_public`: false (a non-loopback `admin` is refused);
    /// - `limits`, `intervals`: see [`Limits::default`] and [`Intervals::default`].
    fn default() -> Self {
        Self {
            source: None,
            dir: None,
            listen: Vec::new(),
            peers: Vec::new(),
            admin: None,
            admin_public: false,
            topics: Vec::new(),
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            limits: Limits::default(),
            intervals: Intervals::default(),
        }
    }
}

impl NodeFile {
    /// The file this was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The node directory (`node.key`, `node.crt`, `ca.crt`), relative paths already resolved
    /// against the folder of the configuration file. None when the file does not say (a
    /// `nodes.json`).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Addresses to listen on.
    pub fn listen(&self) -> &[Address] {
        &self.listen
    }

    /// Static peers, dialled at start and kept connected.
    pub fn peers(&self) -> &[Address] {
        &self.peers
    }

    /// Address of the local admin API, or none for no admin API.
    pub fn admin(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// Whether the admin API may bind a non-loopback address.
    pub fn admin_public(&self) -> bool {
        self.admin_public
    }

    /// Topics to follow at start.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Node IDs refused at the handshake (FISCO `crl.N`).
    pub fn blacklist(&self) -> &[NodeId] {
        &self.blacklist
    }

    /// If not empty, the only node IDs allowed (FISCO `cal.N`).
    pub fn whitelist(&self) -> &[NodeId] {
        &self.whitelist
    }

    /// The `[limits]` section.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The `[intervals]` section.
    pub fn intervals(&self) -> &Intervals {
        &self.intervals
    }

    /// Sets the node directory (the `run --dir` flag), used as given.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Replaces the listen addresses (the `run --listen` flags).
    pub fn with_listen(mut self, listen: Vec<Address>) -> Self {
        self.listen = listen;
        self
    }

    /// Replaces the static peers (the `run --peer` flags).
    pub fn with_peers(mut self, peers: Vec<Address>) -> Self {
        self.peers = peers;
        self
    }

    /// Sets the admin API address (the `run --admin` flag); none turns the API off.
    pub fn with_admin(mut self, admin: Option<SocketAddr>) -> Self {
        self.admin = admin;
        self
    }

    /// Allows a non-loopback admin address (the `run --admin-public` flag).
    pub fn with_admin_public(mut self, public: bool) -> Self {
        self.admin_public = public;
        self
    }

    /// Replaces the topics followed at start (the `run --topic` flags).
    pub fn with_topics(mut self, topics: Vec<String>) -> Self {
        self.topics = topics;
        self
    }

    /// Replaces the blacklist.
    pub fn with_blacklist(mut self, nodes: Vec<NodeId>) -> Self {
        self.blacklist = nodes;
        self
    }

    /// Replaces the whitelist.
    pub fn with_whitelist(mut self, nodes: Vec<NodeId>) -> Self {
        self.whitelist = nodes;
        self
    }

    /// Adds the peers of `other` (typically a FISCO 3.x `nodes.json`) that are not peers yet,
    /// keeping the order: ours first, then the new ones. Returns how many were added.
    pub fn merge_peers_from(&mut self, other: &NodeFile) -> usize {
        let before = self.peers.len();
        for peer in &other.peers {
            if !self.peers.iter().any(|p| p.multiaddr() == peer.multiaddr()) {
                self.peers.push(peer.clone());
            }
        }
        self.peers.len() - before
    }

    /// The node configuration for what [`node::Config`] supports: listen addresses, static
    /// peers, black- and whitelist, heartbeat, handshake and redial intervals, connection
    /// limits. Everything was checked when the file was read, so this cannot fail.
    pub fn to_node_config(&self) -> node::Config {
        let mut config = node::Config::default()
            .with_blacklist(self.blacklist.iter().copied())
            .with_whitelist(self.whitelist.iter().copied())
            .with_heartbeat_interval(self.intervals.heartbeat)
            .with_heartbeat_timeout(self.intervals.heartbeat_timeout)
            .with_handshake_timeout(self.intervals.handshake_timeout)
            .with_redial_backoff(self.intervals.redial_initial, self.intervals.redial_max)
            .with_first_bytes_timeout(self.intervals.first_bytes_timeout)
            .with_max_connections(self.limits.max_connections)
            .with_max_pending_incoming(self.limits.max_pending_incoming)
            .with_max_pending_per_ip(self.limits.max_pending_per_ip)
            .with_max_concurrent_dials(self.limits.max_concurrent_dials);
        for address in &self.listen {
            config = config.with_listen(address.multiaddr().clone());
        }
        for address in &self.peers {
            config = config.with_peer(address.multiaddr().clone());
        }
        config
    }

    pub(crate) fn set_source(&mut self, path: &Path) {
        self.source = Some(path.to_owned());
    }

    /// Makes a relative `dir` relative to `base` (the folder of the configuration file), so the
    /// node finds its keys whatever the working directory.
    pub(crate) fn resolve_dir(&mut self, base: &Path) {
        if let Some(dir) = &self.dir {
            if dir.is_relative() {
                self.dir = Some(base.join(dir));
            }
        }
    }

    /// Checks what involves more than one key; single values were checked as they were read.
    pub(crate) fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let location = Location::new(path, None);
        if let Some(admin) = self.admin {
            if !admin.ip().is_loopback() && !self.admin_public {
                return Err(ConfigError::bad_value(
                    location,
                    "admin",
                    format!(
                        "{admin} is not a loopback address, so anyone who reaches it could drive \
                         the node; use 127.0.0.1:PORT, or set admin_public = true to expose it"
                    ),
                ));
            }
        }
        if self.intervals.redial_initial > self.intervals.redial_max {
            return Err(ConfigError::bad_value(
                location,
                "intervals.redial_initial",
                format!(
                    "{} is longer than intervals.redial_max ({}); make it shorter",
                    super::value::format_duration(self.intervals.redial_initial),
                    super::value::format_duration(self.intervals.redial_max)
                ),
            ));
        }
        Ok(())
    }
}

/// The `[limits]` section: sizes and counts that bound the node's memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    #[serde(deserialize_with = "message_size")]
    max_message_size: usize,
    #[serde(deserialize_with = "de::positive_u32")]
    max_connections: u32,
    #[serde(deserialize_with = "de::positive_u32")]
    max_pending_incoming: u32,
    #[serde(deserialize_with = "de::positive_u32")]
    max_pending_per_ip: u32,
    #[serde(deserialize_with = "de::positive_u32")]
    max_concurrent_dials: u32,
}

impl Default for Limits {
    /// - `max_message_size`: 32 MiB ([`DEFAULT_MAX_MESSAGE_SIZE`]);
    /// - `max_connections`: 256, `max_pending_incoming`: 64, `max_pending_per_ip`: 4,
    ///   `max_concurrent_dials`: 32 (those of [`node::Config`]).
    fn default() -> Self {
        let node = node::Config::default();
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: node.max_connections,
            max_pending_incoming: node.max_pending_incoming,
            max_pending_per_ip: node.max_pending_per_ip,
            max_concurrent_dials: node.max_concurrent_dials,
        }
    }
}

impl Limits {
    /// Largest message sent or accepted, in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Most established connections.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Most inbound connections from strangers in their handshake at once.
    pub fn max_pending_incoming(&self) -> u32 {
        self.max_pending_incoming
    }

    /// Most inbound connections in their handshake at once from one IP.
    pub fn max_pending_per_ip(&self) -> u32 {
        self.max_pending_per_ip
    }

    /// Most dials in flight at once.
    pub fn max_concurrent_dials(&self) -> u32 {
        self.max_concurrent_dials
    }
}

fn message_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    de::counted(deserializer, |value| {
        match usize::try_from(value) {
        Ok(size) if (MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&size) => Ok(size),
        _ => Err(format!(
            "{value} bytes is out of range; write a number of bytes from {MIN_MESSAGE_SIZE} (1 KiB) \
             to {MAX_MESSAGE_SIZE} (1 GiB), such as 33554432 for 32 MiB"
        )),
    }
    })
}

/// The `[intervals]` section: periods and timeouts, written like `"5s"`, `"500ms"`, `"2m"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intervals {
    #[serde(deserialize_with = "de::duration")]
    heartbeat: Duration,
    #[serde(deserialize_with = "de::duration")]
    heartbeat_timeout: Duration,
    #[serde(deserialize_with = "de::duration")]
    redial_initial: Duration,
    #[serde(deserialize_with = "de::duration")]
    redial_max: Duration,
    #[serde(deserialize_with = "de::duration")]
    announce: Duration,
    #[serde(deserialize_with = "de::duration")]
    handshake_timeout: Duration,
    #[serde(deserialize_with = "de::duration")]
    first_bytes_timeout: Duration,
}

impl Default for Intervals {
    /// Those of [`node::Config`]: heartbeat 5 s (FISCO's), heartbeat timeout 10 s, redial from
    /// 100 ms up to 10 s (FISCO's fixed redial period), handshake timeout 10 s, first bytes of
    /// an inbound connection within 3 s; and state-sync announcements every 2 s
    /// ([`DEFAULT_ANNOUNCE`]).
    fn default() -> Self {
        let node = node::Config::default();
        Self {
            heartbeat: node.heartbeat_interval,
            heartbeat_timeout: node.heartbeat_timeout,
            redial_initial: node.redial_initial,
            redial_max: node.redial_max,
            announce: DEFAULT_ANNOUNCE,
            handshake_timeout: node.handshake_timeout,
            first_bytes_timeout: node.first_bytes_timeout,
        }
    }
}

impl Intervals {
    /// How often each connection is probed.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// How long a probe may go unanswered before the connection is dropped.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// First delay before redialling an unreachable static peer.
    pub fn redial_initial(&self) -> Duration {
        self.redial_initial
    }

    /// Largest delay between redials.
    pub fn redial_max(&self) -> Duration {
        self.redial_max
    }

    /// Period of state-sync announcements.
    pub fn announce(&self) -> Duration {
        self.announce
    }

    /// Longest TLS handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Longest an inbound connection may stay silent before its first bytes.
    pub fn first_bytes_timeout(&self) -> Duration {
        self.first_bytes_timeout
    }
}
