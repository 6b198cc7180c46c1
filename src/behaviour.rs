//! The composed network behaviour: every protocol a node speaks, driven by one Swarm.

use libp2p::{connection_limits, ping, swarm::NetworkBehaviour};

/// The protocols of a fisco-p2p node. Each field is one behaviour; the swarm hands every event of
/// each to the node's event loop as a `BehaviourEvent` variant of the same name.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Refuses connections beyond the configured totals (libp2p connection-limits).
    pub(crate) limits: connection_limits::Behaviour,
    /// Keeps the static peers connected and exactly one connection per node pair.
    pub(crate) peers: fisco_p2p_peers::Behaviour,
    /// Heartbeat on every connection, so that dead links are found and dropped (FISCO: every 5 s).
    pub(crate) ping: ping::Behaviour,
}
