//! The one-connection-per-pair rule, as a pure function both nodes of a pair apply alike.
//!
//! Two nodes that dial each other at the same moment end up with two connections. With no message
//! exchanged, both agree on the one to keep: the oldest connection dialled by the node with the
//! smaller `PeerId`, or if there is none, the oldest one dialled by the other node. Only the node
//! that dialled the survivor closes the others.
//!
//! Why only that node: a dialer counts a connection as established once the listener has
//! confirmed its multiplexer, that is, after the listener has established it too. So the
//! survivor's dialer knows that the survivor exists at both ends: when it closes a duplicate, the
//! other node loses nothing and sees no disconnection. If the survivor's listener closed
//! duplicates, the other node could lose its only connection for a moment and report the peer
//! disconnected and connected again.

use libp2p::{swarm::ConnectionId, PeerId};

/// An established connection to a peer, as the rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connection {
    pub(crate) id: ConnectionId,
    /// Whether this node dialled it.
    pub(crate) outbound: bool,
}

/// The connections to `peer` (oldest first) that node `local` closes.
pub(crate) fn doomed(
    local: &PeerId,
    peer: &PeerId,
    connections: &[Connection],
) -> Vec<ConnectionId> {
    if connections.len() < 2 {
        return Vec::new();
    }
    // Connections dialled by the smaller node are outbound for it and inbound for the other.
    let smaller_dials_outbound = local < peer;
    let survivor = connections
        .iter()
        .find(|c| c.outbound == smaller_dials_outbound)
        .or_else(|| connections.first());
    match survivor {
        Some(survivor) if survivor.outbound => connections
            .iter()
            .filter(|c| c.id != survivor.id)
            .map(|c| c.id)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn peers() -> (PeerId, PeerId) {
        let a = libp2p::identity::Keypair::ed25519_from_bytes([1; 32]).expect("key");
        let b = libp2p::identity::Keypair::ed25519_from_bytes([2; 32]).expect("key");
        let (a, b) = (a.public().to_peer_id(), b.public().to_peer_id());
        (a.min(b), a.max(b))
    }

    proptest! {
        /// Whatever set of connections two nodes end up with, and in whatever order each side
        /// saw them established, the connections neither side closes are exactly one.
        #[test]
        fn both_sides_keep_exactly_one_and_the_same_one(
            // Per connection: dialled by the smaller node?
            dialled_by_smaller in prop::collection::vec(any::<bool>(), 1..6),
            // Each side's establishment order (a permutation seed).
            small_order in any::<u64>(),
            large_order in any::<u64>(),
        ) {
            let (small, large) = peers();
            let n = dialled_by_smaller.len();
            let order = |seed: u64| {
                let mut idx: Vec<usize> = (0..n).collect();
                let mut s = seed;
                for i in (1..n).rev() {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    idx.swap(i, (s >> 33) as usize % (i + 1));
                }
                idx
            };
            // The same TCP connection has the same index on both sides.
            let view = |from_small: bool, order: Vec<usize>| -> Vec<Connection> {
                order.into_iter().map(|i| Connection {
                    id: ConnectionId::new_unchecked(i),
                    outbound: dialled_by_smaller[i] == from_small,
                }).collect()
            };
            let small_view = view(true, order(small_order));
            let large_view = view(false, order(large_order));
            let closed_by_small = doomed(&small, &large, &small_view);
            let closed_by_large = doomed(&large, &small, &large_view);
            let survivors: Vec<usize> = (0..n)
                .filter(|i| {
                    let id = ConnectionId::new_unchecked(*i);
                    !closed_by_small.contains(&id) && !closed_by_large.contains(&id)
                })
                .collect();
            prop_assert_eq!(survivors.len(), 1, "{:?} survive", survivors);
            // Only the survivor's dialer closes anything.
            let survivor = survivors[0];
            let dialled_by_small = dialled_by_smaller[survivor];
            let quiet_side_closed = if dialled_by_small {
                closed_by_large.len()
            } else {
                closed_by_small.len()
            };
            prop_assert_eq!(quiet_side_closed, 0);
        }
    }

    #[test]
    fn a_single_connection_is_never_closed() {
        let (small, large) = peers();
        let only = [Connection {
            id: ConnectionId::new_unchecked(0),
            outbound: true,
        }];
        assert!(doomed(&small, &large, &only).is_empty());
        assert!(doomed(&large, &small, &only).is_empty());
    }
}
