//! Random 4-regular connected graphs: the union of two random Hamiltonian cycles that share no
//! edge. Every node has exactly four neighbours, and the graph is connected by construction.

use std::collections::BTreeSet;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

/// Undirected edges `(a, b)` with `a < b`.
pub(crate) type Edges = Vec<(usize, usize)>;

/// A random 4-regular connected graph on `n >= 6` nodes; the same `seed` gives the same graph.
pub(crate) fn degree_four(n: usize, seed: u64) -> Edges {
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
pub(crate) fn neighbours(edges: &[(usize, usize)], node: usize) -> Vec<usize> {
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
