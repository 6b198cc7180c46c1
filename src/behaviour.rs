//! The composed network behaviour: every protocol a node speaks, driven by one Swarm.

use libp2p::{connection_limits, swarm::NetworkBehaviour};

/// The protocols of a fisco-p2p node. Each field is one behaviour; the swarm hands every event of
/// each to the node's event loop as a `BehaviourEvent` variant of the same name.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Refuses connections beyond the configured totals (libp2p connection-limits).
    pub(crate) limits: connection_limits::Behaviour,
    /// Keeps the static peers connected, exactly one connection per node pair, and runs the
    /// heartbeat that drops dead links.
    pub(crate) peers: fisco_p2p_peers::Behaviour,
    /// Seq state sync: every node's signed record (addresses, topics, neighbours, state)
    /// network-wide.
    pub(crate) sync: fisco_p2p_sync::Behaviour,
    /// The routed overlay: requests and replies, multicast and broadcast to any node over the
    /// links that exist, on one stream per link.
    pub(crate) overlay: fisco_p2p_overlay::Behaviour,
}
