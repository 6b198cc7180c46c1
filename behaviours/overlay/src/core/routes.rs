//! Link-state routing: the link graph every node learns through state sync, and the next hop to
//! every node reachable in it.
//!
//! Each node's signed sync record lists the nodes it has a connection with. A link between two
//! other nodes counts only when **both** list each other, so a lying node cannot attract traffic
//! to a link that does not exist. This node's own links are the connections it has now: it knows
//! them first-hand, before any record says so.
//!
//! Routes are shortest paths by hop count. Ties are broken so that every node computes the same
//! answer from the same graph: the next hop to a node is the **smallest PeerId** among this
//! node's neighbours that lie on a shortest path to it. A next hop is always one step closer to
//! the destination, so on a graph every node agrees on, forwarding along next hops reaches the
//! destination in exactly the shortest distance and can never loop. While views differ (a change
//! still spreading), a transient loop is possible; the hop limit ends it.
//!
//! The table is recomputed lazily, after a change, by one breadth-first search: `O(E log N)`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use libp2p::PeerId;

/// Where to send an envelope for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The neighbour to hand it to.
    pub next_hop: PeerId,
    /// Links on the shortest path (1 for a neighbour).
    pub hops: u32,
}

/// The graph and the routing table derived from it.
#[derive(Debug)]
pub(crate) struct Routes {
    local: PeerId,
    /// This node's live links.
    links: BTreeSet<PeerId>,
    /// What each other node's record says its neighbours are.
    advertised: HashMap<PeerId, BTreeSet<PeerId>>,
    table: HashMap<PeerId, Route>,
    dirty: bool,
    /// Grows every time the table is recomputed and differs from before.
    version: u64,
}

impl Routes {
    pub(crate) fn new(local: PeerId) -> Self {
        Routes {
            local,
            links: BTreeSet::new(),
            advertised: HashMap::new(),
            table: HashMap::new(),
            dirty: false,
            version: 0,
        }
    }

    /// A link of this node came up (`true`) or went down.
    pub(crate) fn set_link(&mut self, peer: PeerId, up: bool) {
        let changed = if up {
            self.links.insert(peer)
        } else {
            self.links.remove(&peer)
        };
        self.dirty |= changed;
    }

    /// Whether this node has a live link to `peer`.
    pub(crate) fn is_link(&self, peer: &PeerId) -> bool {
        self.links.contains(peer)
    }

    /// This node's live links.
    pub(crate) fn links(&self) -> impl Iterator<Item = &PeerId> {
        self.links.iter()
    }

    /// `node`'s record now lists `neighbours`.
    pub(crate) fn set_neighbours(&mut self, node: PeerId, neighbours: BTreeSet<PeerId>) {
        if node == self.local {
            return;
        }
        if self.advertised.get(&node) != Some(&neighbours) {
            self.advertised.insert(node, neighbours);
            self.dirty = true;
        }
    }

    /// `node` was forgotten by state sync.
    pub(crate) fn remove_node(&mut self, node: &PeerId) {
        self.dirty |= self.advertised.remove(node).is_some();
    }

    /// The route to `dest`, if it is reachable.
    pub(crate) fn route(&mut self, dest: &PeerId) -> Option<Route> {
        self.refresh();
        self.table.get(dest).copied()
    }

    /// Every route, ordered by destination.
    pub(crate) fn table(&mut self) -> BTreeMap<PeerId, Route> {
        self.refresh();
        self.table.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// How many nodes have a route.
    pub(crate) fn len(&mut self) -> usize {
        self.refresh();
        self.table.len()
    }

    /// Grows whenever the routing table changes.
    pub(crate) fn version(&mut self) -> u64 {
        self.refresh();
        self.version
    }

    /// The path an envelope for `dest` takes if every node on the way sees the graph as this
    /// node does: this node, each relay, then `dest`.
    pub(crate) fn path(&mut self, dest: &PeerId) -> Option<Vec<PeerId>> {
        self.refresh();
        let hops = self.table.get(dest)?.hops as usize;
        let mut path = vec![self.local];
        let mut at = self.local;
        while at != *dest && path.len() <= hops {
            let next = shortest_paths(&self.view(), at).get(dest)?.next_hop;
            path.push(next);
            at = next;
        }
        (at == *dest).then_some(path)
    }

    fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let table = shortest_paths(&self.view(), self.local);
        if table != self.table {
            self.table = table;
            self.version += 1;
        }
    }

    fn view(&self) -> View<'_> {
        View {
            local: self.local,
            links: &self.links,
            advertised: &self.advertised,
        }
    }
}

/// The graph as one node sees it.
pub(crate) struct View<'a> {
    pub(crate) local: PeerId,
    pub(crate) links: &'a BTreeSet<PeerId>,
    pub(crate) advertised: &'a HashMap<PeerId, BTreeSet<PeerId>>,
}

impl View<'_> {
    /// The neighbours of `node`, in PeerId order: for this node its live links; for any other
    /// node the nodes it lists that list it back (or, for this node, that it is linked to).
    fn neighbours(&self, node: &PeerId) -> Vec<PeerId> {
        if *node == self.local {
            return self.links.iter().copied().collect();
        }
        let Some(listed) = self.advertised.get(node) else {
            return Vec::new();
        };
        listed
            .iter()
            .filter(|other| {
                if **other == self.local {
                    self.links.contains(node)
                } else {
                    self.advertised
                        .get(other)
                        .is_some_and(|back| back.contains(node))
                }
            })
            .copied()
            .collect()
    }
}

/// Breadth-first search from `source`: for every reachable node, the smallest first hop among
/// all shortest paths, and the distance.
pub(crate) fn shortest_paths(view: &View<'_>, source: PeerId) -> HashMap<PeerId, Route> {
    let mut table: HashMap<PeerId, Route> = HashMap::new();
    let mut frontier: Vec<PeerId> = view.neighbours(&source);
    for n in &frontier {
        table.insert(
            *n,
            Route {
                next_hop: *n,
                hops: 1,
            },
        );
    }
    let mut distance = 1;
    while !frontier.is_empty() {
        distance += 1;
        let mut next: BTreeMap<PeerId, PeerId> = BTreeMap::new();
        for u in &frontier {
            let first = table[u].next_hop;
            for v in view.neighbours(u) {
                if v == source || table.contains_key(&v) {
                    continue;
                }
                next.entry(v)
                    .and_modify(|best| *best = (*best).min(first))
                    .or_insert(first);
            }
        }
        for (v, first) in &next {
            table.insert(
                *v,
                Route {
                    next_hop: *first,
                    hops: distance,
                },
            );
        }
        frontier = next.into_keys().collect();
    }
    table
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
