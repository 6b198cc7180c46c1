//! The node ID blacklist and whitelist (FISCO `certificate_blacklist` / `certificate_whitelist`).
//!
//! FISCO's rules: the blacklist wins; an empty whitelist allows every node; a non-empty whitelist
//! allows only the nodes it names. The TLS verifier consults the lists during every handshake, so
//! a barred node never gets a connection. Changes apply at once to new handshakes; the node
//! watches [`AccessList::changes`] to re-check and disconnect peers that are connected already.

use std::{
    collections::HashSet,
    sync::{Arc, PoisonError, RwLock},
};

use tokio::sync::watch;

use super::RefusalReason;
use fisco_p2p_identity::NodeId;

/// Which node IDs may connect. Cheap to clone: clones share the same lists.
#[derive(Clone, Debug)]
pub struct AccessList {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    lists: RwLock<Lists>,
    /// Counts changes; receivers wake up on each one.
    changes: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Lists {
    blacklist: HashSet<NodeId>,
    whitelist: HashSet<NodeId>,
}

impl Lists {
    fn check(&self, node: &NodeId) -> Result<(), RefusalReason> {
        if self.blacklist.contains(node) {
            Err(RefusalReason::Blacklisted)
        } else if !self.whitelist.is_empty() && !self.whitelist.contains(node) {
            Err(RefusalReason::NotWhitelisted)
        } else {
            Ok(())
        }
    }
}

impl Default for AccessList {
    /// Empty lists: every node with a valid certificate may connect.
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                lists: RwLock::default(),
                changes: watch::Sender::new(0),
            }),
        }
    }
}

impl AccessList {
    /// Empty lists: every node with a valid certificate may connect.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `node` may connect: `Err(Blacklisted)` or `Err(NotWhitelisted)` if not.
    pub fn check(&self, node: &NodeId) -> Result<(), RefusalReason> {
        self.read(|lists| lists.check(node))
    }

    /// Whether both lists are empty (every node with a valid certificate may connect).
    pub fn is_empty(&self) -> bool {
        self.read(|lists| lists.blacklist.is_empty() && lists.whitelist.is_empty())
    }

    /// Replaces the blacklist.
    pub fn set_blacklist(&self, nodes: impl IntoIterator<Item = NodeId>) {
        let nodes = nodes.into_iter().collect();
        self.change(|lists| lists.blacklist = nodes);
    }

    /// Replaces the whitelist; an empty one allows every node.
    pub fn set_whitelist(&self, nodes: impl IntoIterator<Item = NodeId>) {
        let nodes = nodes.into_iter().collect();
        self.change(|lists| lists.whitelist = nodes);
    }

    /// Bars `node`; returns whether it was not blacklisted before.
    pub fn add_to_blacklist(&self, node: NodeId) -> bool {
        self.change(|lists| lists.blacklist.insert(node))
    }

    /// Lifts the bar on `node`; returns whether it was blacklisted.
    pub fn remove_from_blacklist(&self, node: &NodeId) -> bool {
        self.change(|lists| lists.blacklist.remove(node))
    }

    /// Allows `node` (and, if the whitelist was empty, only it); returns whether it is new.
    pub fn add_to_whitelist(&self, node: NodeId) -> bool {
        self.change(|lists| lists.whitelist.insert(node))
    }

    /// Removes `node` from the whitelist; returns whether it was there. Removing the last entry
    /// empties the whitelist, which allows every node again.
    pub fn remove_from_whitelist(&self, node: &NodeId) -> bool {
        self.change(|lists| lists.whitelist.remove(node))
    }

    /// The blacklisted node IDs, sorted.
    pub fn blacklist(&self) -> Vec<NodeId> {
        self.read(|lists| sorted(&lists.blacklist))
    }

    /// The whitelisted node IDs, sorted.
    pub fn whitelist(&self) -> Vec<NodeId> {
        self.read(|lists| sorted(&lists.whitelist))
    }

    /// A receiver that wakes after every change (its value counts changes), so the node can
    /// re-[`check`](Self::check) its connected peers and disconnect the barred ones.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn read<T>(&self, f: impl FnOnce(&Lists) -> T) -> T {
        // A panic while holding the lock cannot leave the sets half-changed (each change is a
        // single insert, remove or assignment), so a poisoned lock is still consistent.
        f(&self
            .inner
            .lists
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn change<T>(&self, f: impl FnOnce(&mut Lists) -> T) -> T {
        let result = {
            let mut lists = self
                .inner
                .lists
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            f(&mut lists)
        };
        // Notify after releasing the lock, so woken receivers can read the new lists at once.
        self.inner.changes.send_modify(|count| *count += 1);
        result
    }
}

fn sorted(set: &HashSet<NodeId>) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = set.iter().cloned().collect();
    nodes.sort();
    nodes
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use fisco_p2p_identity::NodeKey;

    fn nodes(count: usize) -> Vec<NodeId> {
        (0..count).map(|_| NodeKey::generate().node_id()).collect()
    }

    #[test]
    fn empty_lists_allow_every_node() {
        let access = AccessList::new();
        assert_eq!(access.check(&nodes(1)[0].clone()), Ok(()));
    }

    #[test]
    fn the_blacklist_wins_over_the_whitelist() {
        let node = nodes(1)[0].clone();
        let access = AccessList::new();
        access.add_to_whitelist(node.clone());
        access.add_to_blacklist(node.clone());
        assert_eq!(access.check(&node), Err(RefusalReason::Blacklisted));
    }

    #[test]
    fn a_non_empty_whitelist_bars_the_nodes_it_does_not_name() {
        let [listed, other] = nodes(2).try_into().expect("two nodes");
        let access = AccessList::new();
        access.set_whitelist([listed.clone()]);
        assert_eq!(access.check(&listed), Ok(()));
        assert_eq!(access.check(&other), Err(RefusalReason::NotWhitelisted));
        access.remove_from_whitelist(&listed);
        assert_eq!(
            access.check(&other),
            Ok(()),
            "an emptied whitelist allows all"
        );
    }

    #[test]
    fn clones_share_the_lists_and_every_change_is_announced() {
        let node = nodes(1)[0].clone();
        let access = AccessList::new();
        let mut changes = access.changes();
        let clone = access.clone();
        clone.add_to_blacklist(node.clone());
        assert!(changes.has_changed().expect("sender alive"));
        assert_eq!(*changes.borrow_and_update(), 1);
        assert_eq!(access.check(&node), Err(RefusalReason::Blacklisted));
        assert_eq!(access.blacklist(), vec![node.clone()]);
        clone.remove_from_blacklist(&node);
        assert_eq!(*changes.borrow_and_update(), 2);
        assert_eq!(access.check(&node), Ok(()));
    }

    proptest! {
        /// FISCO's rule, stated independently: blacklisted -> refused; else a non-empty
        /// whitelist must name the node.
        #[test]
        fn check_follows_fisco_rules(
            black in proptest::collection::vec(any::<bool>(), 6),
            white in proptest::collection::vec(any::<bool>(), 6),
            probe in 0usize..6,
        ) {
            let ids = pool();
            let access = AccessList::new();
            access.set_blacklist(ids.iter().zip(&black).filter(|(_, on)| **on).map(|(id, _)| id.clone()));
            access.set_whitelist(ids.iter().zip(&white).filter(|(_, on)| **on).map(|(id, _)| id.clone()));
            let expected = if black[probe] {
                Err(RefusalReason::Blacklisted)
            } else if white.iter().any(|on| *on) && !white[probe] {
                Err(RefusalReason::NotWhitelisted)
            } else {
                Ok(())
            };
            prop_assert_eq!(access.check(&ids[probe]), expected);
        }
    }

    /// Six fixed node IDs, generated once (key generation is the slow part).
    fn pool() -> &'static [NodeId] {
        static POOL: std::sync::OnceLock<Vec<NodeId>> = std::sync::OnceLock::new();
        POOL.get_or_init(|| nodes(6))
    }
}
