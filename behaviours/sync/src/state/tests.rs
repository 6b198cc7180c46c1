//! Property tests of the protocol on the simulator, and unit tests of single decisions.

use std::time::Duration;

use bytes::Bytes;
use libp2p::identity::Keypair;
use proptest::prelude::*;

use crate::sim::{self, Change, Sim, STEP};
use crate::Event;

/// A random connected graph on `n` nodes: a random spanning tree (node `i` hangs off a random
/// earlier node, so the last node is a leaf of it) plus random extra links.
fn graph() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (2usize..=9).prop_flat_map(|n| {
        let tree = proptest::collection::vec(any::<prop::sample::Index>(), n - 1);
        let extra = proptest::collection::vec((0..n, 0..n), 0..n);
        (Just(n), tree, extra).prop_map(|(n, tree, extra)| {
            let mut links: Vec<(usize, usize)> = tree
                .iter()
                .enumerate()
                .map(|(i, parent)| (i + 1, parent.index(i + 1)))
                .collect();
            links.extend(extra.into_iter().filter(|(a, b)| a != b));
            (n, links)
        })
    })
}

fn change() -> impl Strategy<Value = Change> {
    let topic = prop::sample::select(vec!["blocks", "txs", "amop"]).prop_map(String::from);
    let key = prop::sample::select(vec!["height", "view"]).prop_map(String::from);
    prop_oneof![
        topic.clone().prop_map(Change::Follow),
        topic.prop_map(Change::Unfollow),
        (key.clone(), any::<u8>()).prop_map(|(k, v)| Change::SetState(k, Bytes::from(vec![v]))),
        key.prop_map(Change::RemoveState),
    ]
}

/// Changes at random steps of the first 1.5 s, on random nodes (index taken modulo n).
fn changes() -> impl Strategy<Value = Vec<(u32, usize, Change)>> {
    proptest::collection::vec((0u32..150, 0usize..64, change()), 0..24)
}

fn build(n: usize, links: &[(usize, usize)]) -> Sim {
    let mut sim = Sim::new(n, sim::config());
    for &(a, b) in links {
        sim.link(a, b);
    }
    sim
}

/// Applies `changes` at their steps while running 1.5 s.
fn run_changes(sim: &mut Sim, changes: &[(u32, usize, Change)]) {
    for step in 0..150 {
        for (_, node, change) in changes.iter().filter(|(at, _, _)| *at == step) {
            let node = node % sim.len();
            sim.change(node, change.clone());
        }
        sim.run(STEP);
    }
}

/// Runs until the honest nodes agree (checked every step) or `limit` passes; returns the time
/// it took.
fn converge(sim: &mut Sim, limit: Duration) -> Result<Duration, TestCaseError> {
    let start = sim.now;
    while !sim.divergence().is_empty() {
        prop_assert!(
            sim.now - start < limit,
            "no convergence after {limit:?}: {:?}",
            sim.divergence()
        );
        sim.run(STEP);
    }
    Ok(sim.now - start)
}

/// Per-hop propagation bound: announcement delay, a round trip each to announce and fetch, and
/// (when an announcement was in flight) waiting for the next periodic one.
const PER_HOP: Duration = Duration::from_millis(300);

/// How much staler liveness news gets per hop: an announcement period plus the hop penalty and
/// a round trip (200 + 20 + 20 ms in the simulator), rounded up.
const HOP_LAG: Duration = Duration::from_millis(250);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_connected_graph_converges_to_the_same_view((n, links) in graph(), changes in changes()) {
        let mut sim = build(n, &links);
        run_changes(&mut sim, &changes);
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        prop_assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }

    #[test]
    fn seq_never_goes_backwards_while_links_flap(
        (n, links) in graph(),
        changes in changes(),
        flaps in proptest::collection::vec((0u32..150, any::<prop::sample::Index>()), 0..12),
    ) {
        let mut sim = build(n, &links);
        for step in 0..150 {
            for (_, link) in flaps.iter().filter(|(at, _)| *at == step) {
                let (a, b) = links[link.index(links.len())];
                sim.unlink(a, b);
            }
            for (_, node, change) in changes.iter().filter(|(at, _, _)| *at == step) {
                sim.change(node % n, change.clone());
            }
            if step % 30 == 29 {
                for &(a, b) in &links {
                    sim.link(a, b);
                }
            }
            sim.run(STEP);
        }
        for &(a, b) in &links {
            sim.link(a, b);
        }
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        prop_assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }

    #[test]
    fn every_view_lists_exactly_the_links_that_exist_after_cuts(
        (n, links) in graph(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut sim = build(n, &links);
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        // Only links beyond the spanning tree (the first n - 1) are cut: the graph stays connected.
        let mut live: std::collections::BTreeSet<(usize, usize)> =
            links.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        let extra = &links[n - 1..];
        let tree: std::collections::BTreeSet<(usize, usize)> =
            links[..n - 1].iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        for cut in cuts.iter().filter(|_| !extra.is_empty()) {
            let (a, b) = extra[cut.index(extra.len())];
            let link = (a.min(b), a.max(b));
            if !tree.contains(&link) {
                sim.unlink(a, b);
                live.remove(&link);
            }
        }
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        for viewer in 0..n {
            let state = sim.state(viewer).unwrap();
            for owner in 0..n {
                let record = state.record(&sim.id(owner));
                prop_assert!(record.is_some(), "node {} has no record of node {}", viewer, owner);
                let expected: std::collections::BTreeSet<libp2p::PeerId> = live
                    .iter()
                    .filter_map(|&(a, b)| match owner {
                        o if o == a => Some(sim.id(b)),
                        o if o == b => Some(sim.id(a)),
                        _ => None,
                    })
                    .collect();
                prop_assert_eq!(record.unwrap().neighbours(), &expected, "node {} on node {}", viewer, owner);
            }
        }
        prop_assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }

    #[test]
    fn a_forged_record_never_wins(
        (n, links) in graph(),
        changes in changes(),
        victims in proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
    ) {
        let mut sim = build(n, &links);
        let mallory = sim.add_node(Keypair::generate_secp256k1(), true);
        for victim in &victims {
            sim.link(mallory, victim.index(n));
        }
        run_changes(&mut sim, &changes);
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        prop_assert!(sim.violations.is_empty(), "{:?}", sim.violations);
        let reports: Vec<_> = (0..n)
            .flat_map(|i| sim.events(i))
            .filter_map(|(_, e)| match e {
                Event::InvalidRecord { from, .. } => Some(*from),
                _ => None,
            })
            .collect();
        prop_assert!(!reports.is_empty(), "the forgeries went unreported");
        prop_assert!(reports.iter().all(|from| *from == sim.id(mallory)));
    }

    #[test]
    fn a_killed_node_goes_offline_then_is_forgotten_everywhere_on_time(
        (n, links) in graph().prop_filter("three nodes or more", |(n, _)| *n >= 3),
    ) {
        let mut sim = build(n, &links);
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        // The last node is a leaf of the spanning tree: the others stay connected without it.
        let dead = n - 1;
        let dead_id = sim.id(dead);
        let killed_at = sim.now;
        sim.kill(dead);
        let config = sim::config();
        sim.run(config.forget_after() + PER_HOP * n as u32);

        // Evidence never postdates the death, so nobody reports early on its own clock; but a
        // node h hops away heard of the dead node last up to about h announcement periods
        // before it died (liveness news travels one hop per announcement), so it may report
        // that much sooner.
        let lag = HOP_LAG * n as u32;
        let late = STEP * 2;
        for i in 0..dead {
            let at = |wanted: fn(&Event) -> Option<libp2p::PeerId>| -> Vec<_> {
                sim.events(i)
                    .iter()
                    .filter(|(_, e)| wanted(e) == Some(dead_id))
                    .map(|(t, _)| *t - killed_at)
                    .collect()
            };
            let offline = at(|e| match e { Event::PeerOffline { peer } => Some(*peer), _ => None });
            let forgotten = at(|e| match e { Event::PeerForgotten { peer } => Some(*peer), _ => None });
            prop_assert_eq!(offline.len(), 1, "node {} offline events: {:?}", i, offline);
            prop_assert!(offline[0] + lag >= config.offline_after(), "early: {:?}", offline[0]);
            prop_assert!(offline[0] <= config.offline_after() + late, "late: {:?}", offline[0]);
            prop_assert_eq!(forgotten.len(), 1, "node {} forgotten events: {:?}", i, forgotten);
            prop_assert!(forgotten[0] + lag >= config.forget_after(), "early: {:?}", forgotten[0]);
            prop_assert!(forgotten[0] <= config.forget_after() + late, "late: {:?}", forgotten[0]);
            let state = sim.state(i).unwrap();
            prop_assert!(state.record(&dead_id).is_none());
            // Live nodes never flap offline.
            let false_alarms: Vec<_> = sim.events(i).iter()
                .filter(|(_, e)| matches!(e, Event::PeerOffline { peer } if *peer != dead_id))
                .collect();
            prop_assert!(false_alarms.is_empty(), "node {}: {:?}", i, false_alarms);
        }
        prop_assert!(sim.divergence().is_empty(), "{:?}", sim.divergence());
    }

    #[test]
    fn a_restarted_node_with_a_clock_behind_overtakes_its_old_record(
        (n, links) in graph(),
        restarted in any::<prop::sample::Index>(),
    ) {
        let mut sim = build(n, &links);
        let k = restarted.index(n);
        for value in 0..3u8 {
            sim.change(k, Change::SetState("height".into(), Bytes::from(vec![value])));
        }
        converge(&mut sim, PER_HOP * n as u32 + Duration::from_secs(1))?;
        let old_seq = sim.state(k).unwrap().local_record().seq();

        sim.kill(k);
        sim.run(Duration::from_millis(100));
        sim.start(k, 1);
        sim.change(k, Change::Follow("after-restart".into()));
        for &(a, b) in &links {
            sim.link(a, b);
        }
        converge(&mut sim, PER_HOP * n as u32 * 2 + Duration::from_secs(1))?;
        let record = sim.state(k).unwrap().local_record().clone();
        prop_assert!(record.seq() > old_seq);
        prop_assert!(record.follows("after-restart"));
        prop_assert!(sim.violations.is_empty(), "{:?}", sim.violations);
    }
}

mod decisions;
