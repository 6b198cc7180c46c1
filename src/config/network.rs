//! A whole local network on disk, as FISCO's `build_chain.sh` makes one: a chain CA, an agency,
//! and N node directories each holding its certificates and a ready `node.toml` that lists the
//! other nodes as peers (`fisco-p2p certs network`).
//!
//! Layout of `out`:
//! - `ca/`: `ca.crt`, `ca.key` (chain `chain0`);
//! - `agency/`: `agency.crt`, `agency.key`, `ca.crt` (agency `agency0`);
//! - `node0/` ... `node{N-1}/`: `node.key`, `node.crt`, `ca.crt`, `node.nodeid`, `node.toml`.
//!
//! Node `i` listens on `listen_ip:(base_port + i)` and serves its admin API on
//! `127.0.0.1:(base_port + ADMIN_PORT_OFFSET + i)`: 30300.. and 31300.. by default.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::file::NodeFile;
use super::value::Address;
use crate::certs::{
    write_agency_dir, write_ca_dir, write_node_dir, CertSpec, CertsError, Role, DEFAULT_DAYS,
};
use crate::identity::NodeId;

/// Admin port of node `i` = base port + this + `i`.
pub const ADMIN_PORT_OFFSET: u16 = 1000;
/// Most nodes [`write_network`] makes at once.
pub const MAX_NETWORK_NODES: usize = 1000;
/// Name of the configuration file written into each node directory.
pub const NODE_TOML_FILE: &str = "node.toml";

/// What network to make: `out/ca`, `out/agency` and `out/node{i}` node directories.
#[derive(Debug, Clone)]
pub struct NetworkSpec {
    out: PathBuf,
    nodes: usize,
    base_port: u16,
    listen_ip: IpAddr,
    days: u32,
    force: bool,
}

impl NetworkSpec {
    /// A network of `nodes` nodes in `out`, listening on 127.0.0.1:30300 and up, certificates
    /// valid for [`DEFAULT_DAYS`], refusing a non-empty `out`.
    pub fn new(out: impl Into<PathBuf>, nodes: usize) -> Self {
        Self {
            out: out.into(),
            nodes,
            base_port: 30300,
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            days: DEFAULT_DAYS,
            force: false,
        }
    }

    /// Port of node 0; node `i` listens on `base_port + i`.
    pub fn with_base_port(mut self, port: u16) -> Self {
        self.base_port = port;
        self
    }

    /// The IP every node listens on and peers dial (not 0.0.0.0: peers could not dial it).
    pub fn with_listen_ip(mut self, ip: IpAddr) -> Self {
        self.listen_ip = ip;
        self
    }

    /// Validity of the certificates, in days from now.
    pub fn with_days(mut self, days: u32) -> Self {
        self.days = days;
        self
    }

    /// Writes into a non-empty `out`, replacing the keys and files of the same names.
    pub fn with_force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    fn check(&self) -> Result<(), NetworkError> {
        if self.nodes == 0 || self.nodes > MAX_NETWORK_NODES {
            return Err(NetworkError::BadSpec(format!(
                "{} nodes: give from 1 to {MAX_NETWORK_NODES}",
                self.nodes
            )));
        }
        if self.base_port == 0 {
            return Err(NetworkError::BadSpec(
                "base port 0: give a port such as 30300".into(),
            ));
        }
        let last_admin =
            usize::from(self.base_port) + usize::from(ADMIN_PORT_OFFSET) + self.nodes - 1;
        if last_admin > usize::from(u16::MAX) {
            return Err(NetworkError::BadSpec(format!(
                "ports up to {last_admin} needed (admin ports are base + {ADMIN_PORT_OFFSET} + i), \
                 beyond 65535; give a lower base port"
            )));
        }
        if self.listen_ip.is_unspecified() {
            return Err(NetworkError::BadSpec(format!(
                "listen IP {}: peers dial the listen IP, so give one they can reach, such as 127.0.0.1",
                self.listen_ip
            )));
        }
        Ok(())
    }

    fn port(&self, index: usize, offset: u16) -> u16 {
        // check() bounded base + offset + index by u16::MAX.
        let port = usize::from(self.base_port) + usize::from(offset) + index;
        u16::try_from(port).unwrap_or(u16::MAX)
    }
}

/// One node [`write_network`] made.
#[derive(Debug, Clone)]
pub struct NetworkNode {
    name: String,
    dir: PathBuf,
    node_id: NodeId,
    listen: SocketAddr,
    admin: SocketAddr,
}

impl NetworkNode {
    /// Its name, `node<i>` (the certificate's CN and the directory's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its `node.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(NODE_TOML_FILE)
    }

    /// Its node ID.
    pub fn node_id(&self) -> NodeId {
        self.node_id.clone()
    }

    /// The address it listens on.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The address of its admin API.
    pub fn admin(&self) -> SocketAddr {
        self.admin
    }
}

/// Why a network could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The node count, ports or IP cannot be used; the message says what to give instead.
    #[error("cannot make this network: {0}")]
    BadSpec(String),
    /// The output directory holds files; a new network could silently mix with an old one.
    #[error("{}: the directory is not empty; choose another one or pass --force to write into it", .0.display())]
    NotEmpty(PathBuf),
    /// Reading the directory, or making a certificate, failed.
    #[error(transparent)]
    Certs(#[from] CertsError),
    /// Writing a `node.toml` failed.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Makes the network `spec` describes; returns its nodes in order.
pub fn write_network(spec: &NetworkSpec) -> Result<Vec<NetworkNode>, NetworkError> {
    spec.check()?;
    refuse_non_empty(&spec.out, spec.force)?;
    let ca_dir = spec.out.join("ca");
    let agency_dir = spec.out.join("agency");
    write_ca_dir(
        &ca_dir,
        &CertSpec::new(Role::Chain, "chain0").with_days(spec.days),
        spec.force,
    )?;
    write_agency_dir(
        &ca_dir,
        &agency_dir,
        &CertSpec::new(Role::Agency, "agency0").with_days(spec.days),
        spec.force,
    )?;
    let mut nodes = Vec::with_capacity(spec.nodes);
    for index in 0..spec.nodes {
        let name = format!("node{index}");
        let dir = spec.out.join(&name);
        let node_spec = CertSpec::new(Role::Node, &name).with_days(spec.days);
        let node_id = write_node_dir(&ca_dir, Some(&agency_dir), &dir, &node_spec, spec.force)?;
        nodes.push(NetworkNode {
            name,
            dir,
            node_id,
            listen: SocketAddr::new(spec.listen_ip, spec.port(index, 0)),
            admin: SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                spec.port(index, ADMIN_PORT_OFFSET),
            ),
        });
    }
    for node in &nodes {
        write_node_toml(node, &nodes)?;
    }
    tracing::info!(out = %spec.out.display(), nodes = nodes.len(), "network written");
    Ok(nodes)
}

fn refuse_non_empty(out: &Path, force: bool) -> Result<(), NetworkError> {
    let io_error = |source| NetworkError::Write {
        path: out.to_owned(),
        source,
    };
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if !force && entries.next().is_some() {
                return Err(NetworkError::NotEmpty(out.to_owned()));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

fn write_node_toml(node: &NetworkNode, all: &[NetworkNode]) -> Result<(), NetworkError> {
    let peers = all
        .iter()
        .filter(|other| other.name != node.name)
        .map(|other| Address::from(other.listen))
        .collect();
    let file = NodeFile::default()
        .with_dir(".")
        .with_listen(vec![Address::from(node.listen)])
        .with_peers(peers)
        .with_admin(Some(node.admin));
    let path = node.config_path();
    std::fs::write(&path, file.to_toml()).map_err(|source| NetworkError::Write { path, source })
}
