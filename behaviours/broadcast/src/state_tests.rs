//! Property tests of the seen-cache and a deterministic flood simulation over random graphs.

use std::collections::{BTreeSet, HashMap, VecDeque};

use proptest::prelude::*;

use super::*;

const TTL: Duration = Duration::from_secs(10);

/// One sighting: which ID (from a small set, so repeats are common), after how many hops, and
/// how many milliseconds after the previous sighting.
fn sightings() -> impl Strategy<Value = Vec<(u8, u8, u64)>> {
    prop::collection::vec((0u8..12, 1u8..20, 0u64..3_000), 0..300)
}

proptest! {
    #[test]
    fn the_cache_never_holds_more_than_its_capacity(
        capacity in 1usize..20,
        events in sightings(),
    ) {
        let mut cache = SeenCache::new(capacity, TTL);
        let mut now = Instant::now();
        for (id, hops, dt) in events {
            now += Duration::from_millis(dt);
            cache.record(id, hops, now);
            prop_assert!(cache.len() <= capacity);
        }
    }

    #[test]
    fn a_message_is_never_delivered_twice_within_the_ttl(events in sightings()) {
        // Capacity above the number of distinct IDs: only time may make the cache forget.
        let mut flood = Flood::new(16, SeenCache::new(64, TTL));
        let mut delivered: HashMap<u8, Instant> = HashMap::new();
        let mut now = Instant::now();
        for (id, hops, dt) in events {
            now += Duration::from_millis(dt);
            if flood.on_copy(id, hops, now).deliver {
                if let Some(last) = delivered.get(&id) {
                    prop_assert!(now.duration_since(*last) >= TTL, "id {id} delivered twice");
                }
                delivered.insert(id, now);
            }
        }
    }

    #[test]
    fn a_copy_is_forwarded_only_below_the_hop_limit_and_over_a_shorter_path(
        hop_limit in 1u8..20,
        events in sightings(),
    ) {
        let mut flood = Flood::new(hop_limit, SeenCache::new(64, TTL));
        let mut now = Instant::now();
        for (id, hops, dt) in events {
            now += Duration::from_millis(dt);
            let best_before = flood.seen().best_hops(&id, now);
            let useful = flood.is_useful(&id, hops, now);
            let verdict = flood.on_copy(id, hops, now);
            prop_assert_eq!(verdict.deliver, best_before.is_none());
            let shorter = best_before.is_none_or(|best| hops < best);
            prop_assert_eq!(verdict.forward, hops < hop_limit && shorter);
            // `is_useful` is exactly "this copy would be delivered or forwarded".
            prop_assert_eq!(useful, verdict.deliver || verdict.forward);
        }
    }
}

/// A connected graph on `n` nodes: a random spanning tree plus random extra edges.
fn connected_graph() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (2usize..9).prop_flat_map(|n| {
        let tree = prop::collection::vec(any::<prop::sample::Index>(), n - 1);
        let extra = prop::collection::vec((0..n, 0..n), 0..n * 2);
        (Just(n), tree, extra).prop_map(|(n, tree, extra)| {
            let mut edges = BTreeSet::new();
            for (i, parent) in tree.into_iter().enumerate() {
                let child = i + 1;
                edges.insert((parent.index(child), child));
            }
            for (a, b) in extra {
                if a != b {
                    edges.insert((a.min(b), a.max(b)));
                }
            }
            (n, edges.into_iter().collect())
        })
    })
}

fn distances(n: usize, adjacency: &[Vec<usize>], origin: usize) -> Vec<Option<u8>> {
    let mut dist = vec![None; n];
    dist[origin] = Some(0u8);
    let mut queue = VecDeque::from([origin]);
    while let Some(node) = queue.pop_front() {
        for &next in &adjacency[node] {
            if dist[next].is_none() {
                dist[next] = dist[node].map(|d| d + 1);
                queue.push_back(next);
            }
        }
    }
    dist
}

proptest! {
    /// Copies in flight are taken in an arbitrary order (the network may reorder them freely);
    /// whatever the order, exactly the nodes within `hop_limit` links of the origin deliver,
    /// each exactly once, and the origin never does.
    #[test]
    fn a_flood_reaches_exactly_the_nodes_within_the_hop_limit_once_each(
        (n, edges) in connected_graph(),
        hop_limit in 1u8..6,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..2_000),
    ) {
        let mut adjacency = vec![Vec::new(); n];
        for &(a, b) in &edges {
            adjacency[a].push(b);
            adjacency[b].push(a);
        }
        let now = Instant::now();
        let mut nodes: Vec<Flood<u32>> =
            (0..n).map(|_| Flood::new(hop_limit, SeenCache::new(16, TTL))).collect();
        let origin = 0;
        let message = 77u32;
        nodes[origin].on_local(message, now);
        // (to, from, hops)
        let mut in_flight: Vec<(usize, usize, u8)> =
            adjacency[origin].iter().map(|&to| (to, origin, 1)).collect();
        let mut deliveries = vec![0usize; n];
        let mut picks = picks.into_iter();
        while !in_flight.is_empty() {
            let at = picks.next().map_or(0, |p| p.index(in_flight.len()));
            let (to, from, hops) = in_flight.swap_remove(at);
            if !nodes[to].is_useful(&message, hops, now) {
                continue;
            }
            let verdict = nodes[to].on_copy(message, hops, now);
            deliveries[to] += usize::from(verdict.deliver);
            if verdict.forward {
                for &next in adjacency[to].iter().filter(|&&p| p != from && p != origin) {
                    in_flight.push((next, to, hops + 1));
                }
            }
        }
        let dist = distances(n, &adjacency, origin);
        for node in 0..n {
            let expected = usize::from(node != origin && dist[node].is_some_and(|d| d <= hop_limit));
            prop_assert_eq!(deliveries[node], expected, "node {} at distance {:?}", node, dist[node]);
        }
    }
}

#[test]
fn an_id_is_forgotten_after_the_ttl_and_delivered_again() {
    let mut flood = Flood::new(4, SeenCache::new(8, TTL));
    let start = Instant::now();
    assert!(flood.on_copy(1u8, 1, start).deliver);
    assert!(
        !flood
            .on_copy(1u8, 1, start + TTL - Duration::from_millis(1))
            .deliver
    );
    assert!(flood.on_copy(1u8, 1, start + TTL).deliver);
}

#[test]
fn a_full_cache_evicts_the_oldest_id_first() {
    let mut cache = SeenCache::new(2, TTL);
    let now = Instant::now();
    cache.record(1u8, 1, now);
    cache.record(2u8, 1, now);
    cache.record(3u8, 1, now);
    assert_eq!(cache.best_hops(&1, now), None);
    assert_eq!(cache.best_hops(&2, now), Some(1));
    assert_eq!(cache.best_hops(&3, now), Some(1));
}
