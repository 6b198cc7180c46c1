//! Properties of the routing table on random graphs that every node sees alike.

use std::collections::{BTreeSet, HashMap};

use libp2p::PeerId;
use proptest::prelude::*;

use super::{shortest_paths, Routes, View};

/// `n` peers and the links of a random graph over them (connected or not).
fn graph() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (1usize..=12).prop_flat_map(|n| {
        let links = proptest::collection::vec((0..n, 0..n), 0..3 * n);
        (Just(n), links)
    })
}

fn peers(n: usize) -> Vec<PeerId> {
    let mut peers: Vec<PeerId> = (0..n).map(|_| PeerId::random()).collect();
    peers.sort();
    peers
}

/// Node `i`'s routes when every record tells the truth.
fn routes_of(i: usize, peers: &[PeerId], links: &[(usize, usize)]) -> Routes {
    let mut routes = Routes::new(peers[i]);
    let mut neighbours: HashMap<usize, BTreeSet<PeerId>> = HashMap::new();
    for &(a, b) in links.iter().filter(|(a, b)| a != b) {
        neighbours.entry(a).or_default().insert(peers[b]);
        neighbours.entry(b).or_default().insert(peers[a]);
    }
    for (node, listed) in &neighbours {
        if *node == i {
            for peer in listed {
                routes.set_link(*peer, true);
            }
        } else {
            routes.set_neighbours(peers[*node], listed.clone());
        }
    }
    routes
}

/// Hop distances from `source` by plain BFS on the undirected graph.
fn distances(source: usize, n: usize, links: &[(usize, usize)]) -> Vec<Option<u32>> {
    let mut dist = vec![None; n];
    dist[source] = Some(0);
    let mut frontier = vec![source];
    while let Some(at) = frontier.first().copied() {
        frontier.remove(0);
        for &(a, b) in links {
            for (x, y) in [(a, b), (b, a)] {
                if x == at && dist[y].is_none() {
                    dist[y] = Some(dist[at].unwrap() + 1);
                    frontier.push(y);
                }
            }
        }
    }
    dist
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_reachable_node_has_a_shortest_route_and_hop_by_hop_forwarding_never_loops(
        (n, links) in graph(),
    ) {
        let peers = peers(n);
        let links: Vec<(usize, usize)> = links.into_iter().filter(|(a, b)| a != b).collect();
        let mut tables: Vec<Routes> = (0..n).map(|i| routes_of(i, &peers, &links)).collect();
        for source in 0..n {
            let dist = distances(source, n, &links);
            for dest in (0..n).filter(|d| *d != source) {
                let route = tables[source].route(&peers[dest]);
                prop_assert_eq!(route.map(|r| r.hops), dist[dest], "{} -> {}", source, dest);
                if route.is_none() {
                    continue;
                }
                // Follow every node's own next hop: exactly `dist` steps, each one closer.
                let mut at = source;
                for step in 0..dist[dest].unwrap() {
                    let next = tables[at].route(&peers[dest]).unwrap().next_hop;
                    let next = peers.iter().position(|p| *p == next).unwrap();
                    prop_assert_eq!(distances(next, n, &links)[dest], Some(dist[dest].unwrap() - step - 1));
                    at = next;
                }
                prop_assert_eq!(at, dest);
            }
        }
    }

    #[test]
    fn a_link_only_one_end_lists_is_never_used((n, links) in graph(), liar in 0usize..12) {
        let peers = peers(n);
        let liar = liar % n;
        let links: Vec<(usize, usize)> = links.into_iter().filter(|(a, b)| a != b).collect();
        for viewer in (0..n).filter(|v| *v != liar) {
            let mut honest = routes_of(viewer, &peers, &links);
            let before = honest.table();
            // The liar claims a link to every node; none of them lists it back.
            let mut claimed: BTreeSet<PeerId> = peers.iter().copied().collect();
            claimed.remove(&peers[liar]);
            honest.set_neighbours(peers[liar], claimed);
            // Links the viewer has with the liar itself are first-hand, and stay.
            prop_assert_eq!(honest.table(), before, "viewer {}", viewer);
        }
    }
}

#[test]
fn ties_go_to_the_smallest_first_hop() {
    // A square 0 - 1 - 3 and 0 - 2 - 3: two shortest paths from 0 to 3.
    let peers = peers(4);
    let mut routes = routes_of(0, &peers, &[(0, 1), (1, 3), (0, 2), (2, 3)]);
    let route = routes.route(&peers[3]).unwrap();
    assert_eq!(route.hops, 2);
    assert_eq!(route.next_hop, peers[1].min(peers[2]));
}

#[test]
fn the_path_follows_each_relay_s_own_choice() {
    let peers = peers(5);
    let links = [(0, 1), (1, 2), (2, 3), (3, 4)];
    let mut routes = routes_of(0, &peers, &links);
    assert_eq!(routes.path(&peers[4]).unwrap(), peers.to_vec());
    let view = View {
        local: peers[0],
        links: &BTreeSet::new(),
        advertised: &HashMap::new(),
    };
    assert!(shortest_paths(&view, peers[0]).is_empty());
}

#[test]
fn own_links_count_before_any_record_lists_them() {
    let peers = peers(2);
    let mut routes = Routes::new(peers[0]);
    routes.set_link(peers[1], true);
    assert_eq!(routes.route(&peers[1]).unwrap().hops, 1);
    routes.set_link(peers[1], false);
    assert!(routes.route(&peers[1]).is_none());
}
