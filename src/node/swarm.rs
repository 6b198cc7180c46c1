//! Building the Swarm: TCP, the TLS upgrade, yamux, DNS, and every protocol of [`Behaviour`].

use std::{convert::Infallible, time::Duration};

use libp2p::{connection_limits, identity::Keypair, tcp, yamux, Swarm};

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
    let tls = tls::Config::new(identity, access.clone())
        .map_err(|e| NodeError::Tls(Box::new(e)))?
        .with_handshake_timeout(config.handshake_timeout)
        .with_directory(directory.clone());
    let setup = |e: &dyn std::fmt::Display| NodeError::Setup(e.to_string());
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            move |_: &Keypair| Ok::<_, Infallible>(tls),
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_dns()
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| behaviour(key, config, access, directory))
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

fn behaviour(
    key: &Keypair,
    config: &Config,
    access: AccessList,
    directory: Directory,
) -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let local = key.public().to_peer_id();
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_pending_incoming(Some(config.max_pending_incoming))
        // Two, not one: when two nodes dial each other at once both connections must exist for a
        // moment so that the peers behaviour can keep the same one on both sides.
        .with_max_established_per_peer(Some(2));
    let peers = fisco_p2p_peers::Config::default()
        .with_initial_backoff(config.redial_initial)
        .with_max_backoff(config.redial_max)
        .with_heartbeat_interval(config.heartbeat_interval)
        .with_heartbeat_timeout(config.heartbeat_timeout);
    // Sync keeps its own message limit: its records are bounded by their own size limit, not by
    // the application's payload size.
    let mut sync =
        fisco_p2p_sync::Config::default().with_announce_interval(config.announce_interval);
    if let (Some(offline), Some(forget)) = (config.offline_after, config.forget_after) {
        sync = sync.with_offline_after(offline).with_forget_after(forget);
    }
    let overlay_config = fisco_p2p_overlay::Config::default()
        .with_max_message_size(config.max_message_size + fisco_p2p_overlay::ENVELOPE_OVERHEAD)
        .with_request_timeout(config.request_timeout)
        .with_hop_limit(config.hop_limit)
        .with_route_wait(config.route_wait)
        .with_direct_connections(config.direct_connections);
    let mut overlay = fisco_p2p_overlay::Behaviour::new(key.clone(), overlay_config);
    // The access lists apply to the origin of every message, not only to the neighbour that
    // passed it on: a barred node cannot reach this one through a relay either.
    // An RSA origin is named through the directory (its handshake or its signed record filed
    // it); one not known yet passes only while the lists are empty.
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
        limits: connection_limits::Behaviour::new(limits),
        peers: fisco_p2p_peers::Behaviour::new(local, peers),
        sync: fisco_p2p_sync::Behaviour::new(key.clone(), sync)?,
        overlay,
    })
}
