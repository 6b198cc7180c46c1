//! [`NodeFile`]: what an operator configures for one node, whichever file it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::credentials::Credentials;
use super::error::{ConfigError, Location};
use super::sections::{Intervals, Limits};
use super::value::{de, Address};
use crate::identity::NodeId;
use crate::node;

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
    admin_token_file: Option<PathBuf>,
    #[serde(deserialize_with = "de::host_names")]
    admin_hosts: Vec<String>,
    #[serde(deserialize_with = "de::topics")]
    topics: Vec<String>,
    #[serde(deserialize_with = "de::node_ids")]
    blacklist: Vec<NodeId>,
    #[serde(deserialize_with = "de::node_ids")]
    whitelist: Vec<NodeId>,
    direct_connections: bool,
    enable_compression: bool,
    limits: Limits,
    intervals: Intervals,
    /// The certificate files a FISCO `config.ini` names; set by its loader, not a key.
    #[serde(skip)]
    credentials: Option<Credentials>,
    /// Keys of the file that the node does not use, with why; set by the loader, not a key.
    #[serde(skip)]
    unused: Vec<String>,
    /// The FISCO 3.x `nodes.json` the peers came from; set by the loader, not a key.
    #[serde(skip)]
    peers_file: Option<PathBuf>,
}

impl Default for NodeFile {
    /// - `dir`: none here; the `node.toml` loader uses the folder of the file when the key is
    ///   absent, the `config.ini` loader `[network_security] data_path` (default `conf/`);
    /// - `listen`, `peers`, `topics`, `blacklist`, `whitelist`: empty;
    /// - `admin`: none (no admin API); `admin_public`: false (a non-loopback `admin` is refused);
    ///   `admin_token_file`: none (no token; required with `admin_public`); `admin_hosts`: none
    ///   (the API answers requests addressed to IP addresses and `localhost` only);
    /// - `direct_connections`: false (only configured and inbound links; other nodes are reached
    ///   through relays);
    /// - `enable_compression`: true (FISCO's default): payloads over 1 KiB are compressed on
    ///   links whose other end compresses too;
    /// - `limits`, `intervals`: see [`Limits::default`] and [`Intervals::default`].
    fn default() -> Self {
        Self {
            source: None,
            dir: None,
            listen: Vec::new(),
            peers: Vec::new(),
            admin: None,
            admin_public: false,
            admin_token_file: None,
            admin_hosts: Vec::new(),
            topics: Vec::new(),
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            direct_connections: false,
            enable_compression: true,
            limits: Limits::default(),
            intervals: Intervals::default(),
            credentials: None,
            unused: Vec::new(),
            peers_file: None,
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

    /// The file holding the admin API's bearer token, relative paths resolved against the
    /// folder of the configuration file.
    pub fn admin_token_file(&self) -> Option<&Path> {
        self.admin_token_file.as_deref()
    }

    /// Host names the admin API answers besides IP addresses and `localhost`.
    pub fn admin_hosts(&self) -> &[String] {
        &self.admin_hosts
    }

    /// Topics to follow at start.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Whether the node may open direct connections to busy correspondents.
    pub fn direct_connections(&self) -> bool {
        self.direct_connections
    }

    /// Whether payloads over 1 KiB are compressed (FISCO `enable_compression`, 2.x
    /// `enable_compress`).
    pub fn enable_compression(&self) -> bool {
        self.enable_compression
    }

    /// The certificate files a FISCO `config.ini` names, when it was one; the node then loads
    /// them instead of a node directory.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Keys of the file the node does not use, each with why (FISCO `config.ini` files hold
    /// many keys of other parts of a FISCO node); `run` lists them once at start.
    pub fn unused(&self) -> &[String] {
        &self.unused
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

    /// Sets the node directory (the `run --dir` flag), used as given; it replaces the
    /// certificate files a `config.ini` named.
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self.credentials = None;
        self
    }

    /// Compresses payloads over 1 KiB, or not.
    pub fn with_enable_compression(mut self, enable: bool) -> Self {
        self.enable_compression = enable;
        self
    }

    pub(crate) fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    pub(crate) fn with_unused(mut self, unused: Vec<String>) -> Self {
        self.unused = unused;
        self
    }

    pub(crate) fn with_peers_file(mut self, path: PathBuf) -> Self {
        self.peers_file = Some(path);
        self
    }

    /// The FISCO 3.x `nodes.json` the static peers were read from (`config.ini` names it with
    /// `[p2p] nodes_path` and `nodes_file`); a reload reads it again.
    pub fn peers_file(&self) -> Option<&Path> {
        self.peers_file.as_deref()
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

    /// Sets the admin token file (the `run --admin-token-file` flag), used as given.
    pub fn with_admin_token_file(mut self, path: Option<PathBuf>) -> Self {
        self.admin_token_file = path;
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
            .with_blacklist(self.blacklist.iter().cloned())
            .with_whitelist(self.whitelist.iter().cloned())
            .with_heartbeat_interval(self.intervals.heartbeat())
            .with_heartbeat_timeout(self.intervals.heartbeat_timeout())
            .with_handshake_timeout(self.intervals.handshake_timeout())
            .with_redial_backoff(self.intervals.redial_initial(), self.intervals.redial_max())
            .with_max_connections(self.limits.max_connections())
            .with_max_pending_incoming(self.limits.max_pending_incoming())
            .with_first_bytes_timeout(self.intervals.first_bytes_timeout())
            .with_max_pending_per_ip(self.limits.max_pending_per_ip())
            .with_max_concurrent_dials(self.limits.max_concurrent_dials())
            .with_direct_connections(self.direct_connections)
            .with_compression(self.enable_compression);
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
        for path in [&mut self.dir, &mut self.admin_token_file]
            .into_iter()
            .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// Checks what involves more than one key; single values were checked as they were read.
    pub(crate) fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let location = Location::new(path, None);
        if let Some(admin) = self.admin {
            if !admin.ip().is_loopback() && self.admin_public && self.admin_token_file.is_none() {
                return Err(ConfigError::bad_value(
                    location,
                    "admin_token_file",
                    format!(
                        "missing, but admin = \"{admin}\" is reachable from other machines \
                         (admin_public = true): anyone who reaches it could drive the node; \
                         make a token with `openssl rand -hex 32 > admin.token`, chmod 600 it \
                         and set admin_token_file = \"admin.token\""
                    ),
                ));
            }
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
        if self.intervals.redial_initial() > self.intervals.redial_max() {
            return Err(ConfigError::bad_value(
                location,
                "intervals.redial_initial",
                format!(
                    "{} is longer than intervals.redial_max ({}); make it shorter",
                    super::value::format_duration(self.intervals.redial_initial()),
                    super::value::format_duration(self.intervals.redial_max())
                ),
            ));
        }
        Ok(())
    }
}
