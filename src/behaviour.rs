//! The composed network behaviour: every protocol a node speaks, driven by one Swarm.

use libp2p::{
    connection_limits,
    gossipsub::{self, AllowAllSubscriptionFilter, IdentityTransform, MaxCountSubscriptionFilter},
    swarm::NetworkBehaviour,
};

/// Gossipsub as the node uses it: signed messages, at most the configured number of topics.
pub(crate) type Multicast =
    gossipsub::Behaviour<IdentityTransform, MaxCountSubscriptionFilter<AllowAllSubscriptionFilter>>;

/// The protocols of a fisco-p2p node. Each field is one behaviour; the swarm hands every event of
/// each to the node's event loop as a `BehaviourEvent` variant of the same name.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Refuses connections beyond the configured totals (libp2p connection-limits).
    pub(crate) limits: connection_limits::Behaviour,
    /// Keeps the static peers connected, exactly one connection per node pair, and runs the
    /// heartbeat that drops dead links (FISCO: every 5 s).
    pub(crate) peers: fisco_p2p_peers::Behaviour,
    /// Seq state sync: every node's signed record (addresses, topics, state) network-wide.
    pub(crate) sync: fisco_p2p_sync::Behaviour,
    /// Requests to one node by node ID, each ending in exactly one reply or error.
    pub(crate) unicast: fisco_p2p_unicast::Behaviour,
    /// Flood to every node, each delivering each message once.
    pub(crate) broadcast: fisco_p2p_broadcast::Behaviour,
    /// Topic multicast (gossipsub), reaching each follower once.
    pub(crate) multicast: Multicast,
}
