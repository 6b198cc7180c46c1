//! Node IDs and PeerIds of the nodes this node exchanges messages with, remembered.
//!
//! Turning a [`PeerId`] into a [`NodeId`] or back decodes a secp256k1 public key and decompresses
//! its point, a square root in the field: about 60 000 instructions. Callgrind found three such
//! conversions per request at 64 requests in flight (the destination in the `Handle` call, the
//! origin handed to the inbox, and the origin checked against the access list), two thirds of the
//! node's CPU time. A node talks to a bounded set of nodes, so each conversion is made once per
//! node and remembered, in a map that is emptied when it reaches its bound.

use std::collections::HashMap;

use libp2p::PeerId;

use crate::identity::NodeId;

/// Most nodes remembered in each direction; past it the map starts afresh.
const CAPACITY: usize = 4096;

/// See the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Ids {
    nodes: HashMap<PeerId, NodeId>,
    peers: HashMap<NodeId, PeerId>,
}

impl Ids {
    /// The node ID of `peer`, or `None` if it has none (not an inlined secp256k1 key).
    pub(crate) fn node_id(&mut self, peer: &PeerId) -> Option<NodeId> {
        if let Some(node) = self.nodes.get(peer) {
            return Some(*node);
        }
        let node = NodeId::from_peer_id(peer).ok()?;
        if self.nodes.len() >= CAPACITY {
            self.nodes.clear();
        }
        self.nodes.insert(*peer, node);
        Some(node)
    }

    /// The PeerId of `node`.
    pub(crate) fn peer_id(&mut self, node: NodeId) -> PeerId {
        if let Some(peer) = self.peers.get(&node) {
            return *peer;
        }
        let peer = node.to_peer_id();
        if self.peers.len() >= CAPACITY {
            self.peers.clear();
        }
        self.peers.insert(node, peer);
        peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_ids_convert_both_ways_like_the_uncached_functions() {
        let key = libp2p::identity::Keypair::generate_secp256k1();
        let peer = key.public().to_peer_id();
        let mut ids = Ids::default();
        let node = ids.node_id(&peer).expect("a secp256k1 peer has a node ID");
        assert_eq!(node, NodeId::from_peer_id(&peer).expect("converts"));
        assert_eq!(ids.node_id(&peer), Some(node));
        assert_eq!(ids.peer_id(node), peer);
        assert_eq!(ids.peer_id(node), peer);
    }

    #[test]
    fn a_peer_without_a_node_id_is_not_remembered() {
        let peer = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let mut ids = Ids::default();
        assert_eq!(ids.node_id(&peer), None);
        assert!(ids.nodes.is_empty());
    }

    #[test]
    fn the_maps_stay_within_their_bound() {
        let mut ids = Ids::default();
        for _ in 0..CAPACITY + 3 {
            let peer = libp2p::identity::Keypair::generate_secp256k1()
                .public()
                .to_peer_id();
            let node = ids.node_id(&peer).expect("converts");
            ids.peer_id(node);
        }
        assert!(ids.nodes.len() <= CAPACITY && ids.peers.len() <= CAPACITY);
    }
}
