//! [`Directory`]: the way back from a libp2p [`PeerId`] to a [`NodeId`], for RSA nodes.
//!
//! A secp256k1 PeerId inlines its key, so its node ID is read straight from it. An RSA PeerId is
//! a SHA-256 hash of the key: the key must have been seen. A node sees it in three places, and
//! each feeds the directory: the peer's certificate in the TLS handshake, the peer's signed
//! state-sync record (which carries the key when the PeerId does not), and a relayed envelope
//! (which carries it for the same reason). Every key fed in was checked to hash to the PeerId it
//! is filed under, because a PeerId is derived from it here.
//!
//! The directory is bounded: past [`Directory::capacity`] entries the least recently used is
//! forgotten. A forgotten node is learnt again from its next handshake, record or envelope.
//!
//! It also remembers the node IDs read from secp256k1 PeerIds: reading one decompresses a curve
//! point (about 60 000 instructions), and the node does it for every message otherwise. That
//! cache is bounded too, and emptied when full: anything in it is read again at that cost.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use libp2p::PeerId;

use super::NodeId;

/// Default bound: the state-sync view's default bound (4096 records) plus room for the
/// connections of nodes whose record has not arrived yet.
pub const DEFAULT_DIRECTORY_CAPACITY: usize = 8192;

/// PeerId -> NodeId for nodes whose PeerId does not inline their key. Cheap to clone: clones
/// share the same entries (the TLS upgrade fills it, the node reads it).
#[derive(Clone, Debug)]
pub struct Directory {
    inner: Arc<Mutex<Inner>>,
}

/// Most secp256k1 node IDs remembered (each read again from its PeerId when forgotten).
const SECP256K1_CACHE: usize = 4096;

#[derive(Debug)]
struct Inner {
    entries: HashMap<PeerId, (NodeId, u64)>,
    /// Node IDs read from secp256k1 PeerIds.
    inlined: HashMap<PeerId, NodeId>,
    /// Counts uses; an entry's value is the count at its last use.
    clock: u64,
    capacity: usize,
}

impl Default for Directory {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_DIRECTORY_CAPACITY)
    }
}

impl Directory {
    /// An empty directory of [`DEFAULT_DIRECTORY_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty directory holding at most `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                entries: HashMap::new(),
                inlined: HashMap::new(),
                clock: 0,
                capacity: capacity.max(1),
            })),
        }
    }

    /// The most entries kept.
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// RSA nodes held now (secp256k1 node IDs remembered are not counted).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Files `node` under its PeerId. A node whose PeerId inlines its key needs no entry.
    pub fn learn(&self, node: &NodeId) {
        if node.kind() == super::KeyKind::Secp256k1 {
            return;
        }
        let peer = node.to_peer_id();
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        if let Some(entry) = inner.entries.get_mut(&peer) {
            entry.1 = now;
            return;
        }
        if inner.entries.len() >= inner.capacity {
            // A linear scan, only when a new node arrives at a full directory.
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(peer, _)| *peer);
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.entries.insert(peer, (node.clone(), now));
    }

    /// Files the node of a libp2p public key (from a record or an envelope); a key of another
    /// type is ignored.
    pub fn learn_key(&self, key: &libp2p::identity::PublicKey) {
        if let Ok(node) = NodeId::from_libp2p_public_key(key) {
            self.learn(&node);
        }
    }

    /// The node ID of `peer`: read from the PeerId itself when it inlines the key, else looked up.
    pub fn node_id(&self, peer: &PeerId) -> Option<NodeId> {
        let mut inner = self.lock();
        if let Some(node) = inner.inlined.get(peer) {
            return Some(node.clone());
        }
        inner.clock += 1;
        let now = inner.clock;
        if let Some(entry) = inner.entries.get_mut(peer) {
            entry.1 = now;
            return Some(entry.0.clone());
        }
        let node = NodeId::from_peer_id(peer).ok()?;
        if inner.inlined.len() >= SECP256K1_CACHE {
            inner.inlined.clear();
        }
        inner.inlined.insert(*peer, node.clone());
        Some(node)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change is one insert or remove: a poisoned lock still holds a consistent map.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rsa_id() -> NodeId {
        crate::PrivateKey::from_pem(include_str!("../../../certs/fisco-3.x/node1/conf/ssl.key"))
            .unwrap()
            .node_id()
    }

    #[test]
    fn an_rsa_node_is_found_once_learnt_and_a_secp256k1_node_always() {
        let directory = Directory::new();
        let rsa = rsa_id();
        assert_eq!(directory.node_id(&rsa.to_peer_id()), None);
        directory.learn(&rsa);
        assert_eq!(directory.node_id(&rsa.to_peer_id()), Some(rsa));
        let secp = crate::NodeKey::generate().node_id();
        directory.learn(&secp);
        assert_eq!(directory.len(), 1, "an inlined key needs no entry");
        assert_eq!(directory.node_id(&secp.to_peer_id()), Some(secp));
    }

    #[test]
    fn a_full_directory_forgets_the_least_recently_used() {
        let keys: Vec<NodeId> = [
            include_str!("../../../certs/fisco-3.x/node0/conf/ssl.key"),
            include_str!("../../../certs/fisco-3.x/node1/conf/ssl.key"),
            include_str!("../../../certs/fisco-3.x/node2/conf/ssl.key"),
        ]
        .iter()
        .map(|pem| crate::PrivateKey::from_pem(pem).unwrap().node_id())
        .collect();
        let directory = Directory::with_capacity(2);
        directory.learn(&keys[0]);
        directory.learn(&keys[1]);
        // Using the first makes the second the least recently used.
        assert!(directory.node_id(&keys[0].to_peer_id()).is_some());
        directory.learn(&keys[2]);
        assert_eq!(directory.len(), 2);
        assert!(directory.node_id(&keys[0].to_peer_id()).is_some());
        assert!(directory.node_id(&keys[1].to_peer_id()).is_none());
        assert!(directory.node_id(&keys[2].to_peer_id()).is_some());
    }
}
