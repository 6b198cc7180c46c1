//! Building the Swarm: the transport (TCP, admission, the TLS upgrade, yamux, DNS), the connection
//! limits sized to the file descriptors, and every protocol of [`Behaviour`].
//!
//! Layout: `transport.rs` (the transport), `admission.rs` (pre-handshake admission of inbound
//! connections, its table in `admission/table.rs`), `fd_limit.rs` (raising the descriptor limit,
//! sizing the connection limits), `classify.rs` (naming why a connection attempt failed).

mod admission;
pub(super) mod classify;
mod fd_limit;
mod transport;
mod turned_away;

use std::time::Duration;

use libp2p::{connection_limits, identity::Keypair, tcp, Swarm};

use super::{Config, NodeError};
use crate::{
    behaviour::Behaviour,
    identity::{Directory, NodeIdentity},
    tls::{self, AccessList},
};

pub(super) fn build(
    identity: &NodeIdentity,
    config: &Config,
    access: AccessList,
    directory: Directory,
) -> Result<Swarm<Behaviour>, NodeError> {
    let connections = Connections::new(config);
    let tls = tls::Config::new(identity, access.clone())
        .map_err(|e| NodeError::Tls(Box::new(e)))?
        .with_handshake_timeout(config.handshake_timeout)
        .with_first_bytes_timeout(config.first_bytes_timeout)
        .with_directory(directory.clone());
    let tcp = tcp::Config::default().nodelay(true);
    let setup = |e: &dyn std::fmt::Display| NodeError::Setup(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_other_transport(|_| transport::build(tcp, tls, &connections.admission))
        .map_err(|e| setup(&e))?
        .with_dns()
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| behaviour(key, config, &connections, access, directory))
        .map_err(|e| setup(&e))?
        // The peers behaviour keeps connections alive; this only bounds connections that no
        // behaviour needs any more.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        // Bounds a whole connection attempt; longer than the TLS timeout so that a stalled TLS
        // handshake is reported as such, with the peer's node ID when known.
        .with_connection_timeout(config.handshake_timeout + Duration::from_secs(5))
        .build();
    Ok(swarm)
}

/// What bounds the node's connections: the limits sized to the file descriptors, admission of
/// inbound connections, and the static peers' IPs that admission always lets in.
struct Connections {
    budget: fd_limit::Budget,
    admission: admission::Admission,
    static_ips: fisco_p2p_peers::StaticIps,
}

impl Connections {
    fn new(config: &Config) -> Self {
        let budget = fd_limit::raise_and_fit(fd_limit::Budget::of(config));
        let static_ips = fisco_p2p_peers::StaticIps::default();
        let settings = admission::Settings {
            limits: admission::Limits {
                capacity: budget.pending as usize,
                per_ip: config.max_pending_per_ip as usize,
            },
            first_bytes: config.first_bytes_timeout,
        };
        Self {
            budget,
            admission: admission::Admission::new(settings, static_ips.clone()),
            static_ips,
        }
    }

    /// libp2p's limits on established connections (pending ones are admission's).
    fn limits(&self) -> connection_limits::Behaviour {
        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(self.budget.established))
            // Two, not one: when two nodes dial each other at once both connections must exist
            // for a moment so that the peers behaviour can keep the same one on both sides.
            .with_max_established_per_peer(Some(2));
        connection_limits::Behaviour::new(limits)
    }

    /// The peers behaviour's settings.
    fn peers(&self, config: &Config) -> fisco_p2p_peers::Config {
        config
            .peering
            .clone()
            .with_max_concurrent_dials(self.budget.dials as usize)
            .with_static_ips(self.static_ips.clone())
            .with_dial_error_describer(classify::describe_dial_error)
    }
}

fn behaviour(
    key: &Keypair,
    config: &Config,
    connections: &Connections,
    access: AccessList,
    directory: Directory,
) -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let local = key.public().to_peer_id();
    // Sync keeps its own message limit: its records are bounded by their own size limit, not by
    // the application's payload size.
    let sync = config.sync.clone();
    let overlay_config = config
        .overlay
        .clone()
        .with_max_message_size(config.max_message_size + fisco_p2p_overlay::ENVELOPE_OVERHEAD);
    let mut overlay = fisco_p2p_overlay::Behaviour::new(key.clone(), overlay_config);
    // The access lists apply to the origin of every message, not only to the neighbour that
    // passed it on: a barred node cannot reach this one through a relay either.
    // An RSA origin's envelopes carry its key: file it before the access check below.
    let keys = directory.clone();
    overlay.set_key_sink(move |key| keys.learn_key(key));
    // An RSA origin is named through the directory (its handshake, its signed record or its
    // envelopes filed it); one not known yet passes only while the lists are empty.
    overlay.set_access(move |origin| match directory.node_id(origin) {
        Some(node) => access.check(&node).map_err(|reason| reason.to_string()),
        None if access.is_empty() => Ok(()),
        None => Err(
            "origin's RSA key not known yet (no handshake or record from it), so the \
                     access lists cannot be checked"
                .to_string(),
        ),
    });
    Ok(Behaviour {
        limits: connections.limits(),
        peers: fisco_p2p_peers::Behaviour::new(local, connections.peers(config)),
        sync: fisco_p2p_sync::Behaviour::new(key.clone(), sync)?,
        overlay,
    })
}
