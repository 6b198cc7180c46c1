//! Random 4-regular connected graphs: the union of two random Hamiltonian cycles that share no
//! edge. Every node has exactly four neighbours, and the graph is connected by construction.

use std::collections::BTreeSet;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// Undirected edges `(a, b)` with `a < b`.
pub type Edges = Vec<(usize, usize)>;

/// A random 4-regular connected graph on `n >= 6` nodes; the same `seed` gives the same graph.
pub fn degree_four(n: usize, seed: u64) -> Edges {
    assert!(
        n >= 6,
        "a simple 4-regular graph from two cycles needs at least 6 nodes"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    loop {
        let mut edges = BTreeSet::new();
        let mut simple = true;
        for _ in 0..2 {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            for i in 0..n {
                let (a, b) = (order[i], order[(i + 1) % n]);
                simple &= edges.insert((a.min(b), a.max(b)));
            }
        }
        if simple {
            return edges.into_iter().collect();
        }
    }
}

/// The neighbours of `node`.
pub fn neighbours(edges: &[(usize, usize)], node: usize) -> Vec<usize> {
    edges
        .iter()
        .filter_map(|&(a, b)| {
            if a == node {
                Some(b)
            } else if b == node {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

/// Hop distances between all pairs of nodes (`u32::MAX`: unreachable), by breadth-first search.
pub fn distances(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<u32>> {
    let adjacency: Vec<Vec<usize>> = (0..n).map(|i| neighbours(edges, i)).collect();
    (0..n)
        .map(|source| {
            let mut dist = vec![u32::MAX; n];
            dist[source] = 0;
            let mut queue = std::collections::VecDeque::from([source]);
            while let Some(u) = queue.pop_front() {
                for &v in &adjacency[u] {
                    if dist[v] == u32::MAX {
                        dist[v] = dist[u] + 1;
                        queue.push_back(v);
                    }
                }
            }
            dist
        })
        .collect()
}

/// The links the overlay's multicast from `origin` to `targets` crosses: every node forwards
/// towards each target to the neighbour one step closer with the smallest `key` (the overlay's
/// tie-break is the smallest PeerId), so the copies follow a tree of shortest paths.
pub fn tree_links<K: Ord>(
    edges: &[(usize, usize)],
    dist: &[Vec<u32>],
    key: &[K],
    origin: usize,
    targets: &BTreeSet<usize>,
) -> usize {
    let mut links = BTreeSet::new();
    for &target in targets {
        let mut at = origin;
        while at != target {
            let Some(next) = neighbours(edges, at)
                .into_iter()
                .filter(|&v| dist[v][target].saturating_add(1) == dist[at][target])
                .min_by(|&a, &b| key[a].cmp(&key[b]))
            else {
                break;
            };
            links.insert((at.min(next), at.max(next)));
            at = next;
        }
    }
    links.len()
}
