//! Property tests of the core on the simulator: reachability, exactly-once delivery, failover.

use std::{collections::BTreeSet, time::Duration};

use bytes::Bytes;
use libp2p::PeerId;
use proptest::prelude::*;

use super::sim::{Sim, LATENCY};
use crate::{
    envelope::{Envelope, Header, Kind, Target},
    frame::Frame,
    id::MessageId,
    seal::{KeySeal, Seal},
    Config, Event, Refusal, RequestError, SignatureError,
};

/// A random connected graph on `n` nodes: a random spanning tree plus random extra links.
fn graph(max: usize) -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (2usize..=max).prop_flat_map(|n| {
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

fn build(n: usize, links: &[(usize, usize)], seed: u64) -> Sim {
    let mut sim = Sim::new(n, Config::default(), seed);
    for &(a, b) in links {
        sim.link(a, b);
    }
    // Let every node learn every link.
    sim.run(Duration::from_millis(200));
    sim
}

/// Replies node `i` got: (destination, result).
fn responses(sim: &Sim, i: usize) -> Vec<(PeerId, Result<Bytes, RequestError>)> {
    sim.events(i)
        .filter_map(|e| match e {
            Event::Response {
                destination,
                result,
                ..
            } => Some((*destination, result.clone().map(|r| r.payload))),
            _ => None,
        })
        .collect()
}

/// Requests node `i` delivered: (origin, payload).
fn requests(sim: &Sim, i: usize) -> Vec<(PeerId, Bytes)> {
    sim.events(i)
        .filter_map(|e| match e {
            Event::Request {
                origin, payload, ..
            } => Some((*origin, payload.clone())),
            _ => None,
        })
        .collect()
}

fn payload(from: usize, to: usize) -> Bytes {
    Bytes::from(format!("{from}->{to}"))
}

fn reversed(bytes: &Bytes) -> Bytes {
    bytes.iter().rev().copied().collect::<Vec<u8>>().into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_request_between_any_two_nodes_of_a_connected_graph_gets_one_reply(
        (n, links) in graph(9),
        seed in any::<u64>(),
    ) {
        let mut sim = build(n, &links, seed);
        for from in 0..n {
            for to in (0..n).filter(|to| *to != from) {
                let dest = sim.id(to);
                sim.with(from, |c, now| c.request(dest, 1, payload(from, to), None, now))
                    .unwrap()
                    .unwrap();
            }
        }
        sim.run(Duration::from_secs(1));
        for from in 0..n {
            let got = responses(&sim, from);
            prop_assert_eq!(got.len(), n - 1, "node {} got {:?}", from, got);
            for (dest, result) in got {
                let to = sim.index_of(&dest);
                prop_assert_eq!(result, Ok(reversed(&payload(from, to))));
            }
        }
        for to in 0..n {
            let delivered = requests(&sim, to);
            let distinct: BTreeSet<_> = delivered.iter().collect();
            prop_assert_eq!(distinct.len(), delivered.len(), "node {} delivered twice", to);
            prop_assert_eq!(delivered.len(), n - 1);
        }
        // A relay forgets a request when its answer passes back, or (answers may take another
        // shortest path) at the request's deadline: nothing stays behind.
        sim.run(Config::default().request_timeout() + Duration::from_secs(2));
        for i in 0..n {
            let core = sim.nodes[i].core.as_ref().unwrap();
            prop_assert_eq!((core.in_flight(), core.forwarded()), (0, 0), "node {}", i);
        }
    }

    #[test]
    fn a_multicast_reaches_every_follower_once_with_one_copy_per_tree_link(
        (n, links) in graph(10),
        followers in proptest::collection::btree_set(0usize..10, 0..10),
        sender in 0usize..10,
        seed in any::<u64>(),
    ) {
        let mut sim = build(n, &links, seed);
        let sender = sender % n;
        let followers: BTreeSet<usize> = followers.into_iter().filter(|f| *f < n).collect();
        let ids: Vec<PeerId> = followers.iter().map(|f| sim.id(*f)).collect();
        // The tree the copies should take: every link on each follower's path, once.
        let mut tree = BTreeSet::new();
        for f in followers.iter().filter(|f| **f != sender) {
            let dest = sim.id(*f);
            let mut at = sender;
            while at != *f {
                let next = sim.with(at, |c, _| c.route(&dest)).unwrap().unwrap().next_hop;
                let next = sim.index_of(&next);
                tree.insert((at, next));
                at = next;
            }
        }
        let before = sim.transmissions[3];
        sim.with(sender, |c, now| c.multicast("blocks", ids, 2, Bytes::from_static(b"m"), now))
            .unwrap()
            .unwrap();
        sim.run(Duration::from_secs(1));
        for i in 0..n {
            let got = sim.events(i).filter(|e| matches!(e, Event::Multicast { .. })).count();
            let wanted = usize::from(followers.contains(&i) && i != sender);
            prop_assert_eq!(got, wanted, "node {} delivered {} copies", i, got);
        }
        prop_assert_eq!(sim.transmissions[3] - before, tree.len() as u64);
        let sent = sim.events(sender).find_map(|e| match e {
            Event::MulticastSent { sent, unreachable, .. } => Some((*sent, unreachable.len())),
            _ => None,
        });
        prop_assert_eq!(sent, Some((followers.iter().filter(|f| **f != sender).count(), 0)));
    }

    #[test]
    fn a_broadcast_reaches_every_node_once(
        (n, links) in graph(10),
        origin in 0usize..10,
        seed in any::<u64>(),
    ) {
        let mut sim = build(n, &links, seed);
        let origin = origin % n;
        sim.with(origin, |c, now| c.broadcast(3, Bytes::from_static(b"b"), now)).unwrap().unwrap();
        sim.run(Duration::from_secs(1));
        for i in 0..n {
            let got = sim.events(i).filter(|e| matches!(e, Event::Broadcast { .. })).count();
            prop_assert_eq!(got, usize::from(i != origin), "node {}", i);
        }
    }

    #[test]
    fn a_request_outlives_a_relay_killed_on_its_path_when_another_route_exists(
        n in 5usize..9,
        kill_after in 0u64..40,
        seed in any::<u64>(),
    ) {
        // A ring: the destination opposite the origin has two disjoint paths.
        let links: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
        let mut sim = build(n, &links, seed);
        let (origin, dest) = (0, n / 2);
        let dest_id = sim.id(dest);
        let relays: Vec<usize> = {
            let path = sim.with(origin, |c, _| c.path(&dest_id)).unwrap().unwrap();
            path[1..path.len() - 1].iter().map(|p| sim.index_of(p)).collect()
        };
        prop_assert!(!relays.is_empty());
        let victim = relays[(seed as usize) % relays.len()];
        sim.with(origin, |c, now| c.request(dest_id, 1, Bytes::from_static(b"x"), None, now))
            .unwrap()
            .unwrap();
        sim.run(Duration::from_millis(kill_after));
        sim.kill(victim);
        sim.run(Duration::from_secs(1));
        let got = responses(&sim, origin);
        prop_assert_eq!(got.len(), 1, "{:?}", got);
        prop_assert_eq!(&got[0].1, &Ok(Bytes::from_static(b"x")));
        prop_assert!(requests(&sim, dest).len() == 1, "delivered once");
    }

    #[test]
    fn every_request_ends_exactly_once_while_links_flap(
        (n, links) in graph(8),
        flaps in proptest::collection::vec((0u64..400, any::<prop::sample::Index>()), 1..8),
        seed in any::<u64>(),
    ) {
        let mut sim = build(n, &links, seed);
        sim.sync_delay = Duration::from_millis(300);
        let mut sent = 0;
        for step in 0..40u64 {
            let from = (step as usize) % n;
            let to = (from + 1 + (step as usize / n)) % n;
            if from != to {
                let dest = sim.id(to);
                let unique = Bytes::from(format!("{step}"));
                if sim.with(from, |c, now| c.request(dest, 1, unique, None, now)).unwrap().is_ok() {
                    sent += 1;
                }
            }
            for (at, link) in &flaps {
                if *at / 10 == step {
                    let (a, b) = links[link.index(links.len())];
                    sim.unlink(a, b);
                }
                if *at / 10 + 20 == step {
                    let (a, b) = links[link.index(links.len())];
                    sim.link(a, b);
                }
            }
            sim.run(Duration::from_millis(10));
        }
        sim.run(Duration::from_secs(12));
        let ended: usize = (0..n).map(|i| responses(&sim, i).len()).sum();
        prop_assert_eq!(ended, sent);
        for to in 0..n {
            let delivered = requests(&sim, to);
            let distinct: BTreeSet<_> = delivered.iter().collect();
            prop_assert_eq!(distinct.len(), delivered.len(), "node {} delivered twice", to);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn no_follower_delivers_a_multicast_twice_while_views_disagree(
        (n, links) in graph(8),
        flaps in proptest::collection::vec((0u64..20, any::<prop::sample::Index>()), 1..6),
        seed in any::<u64>(),
    ) {
        let mut sim = build(n, &links, seed);
        sim.sync_delay = Duration::from_millis(300);
        let everyone: Vec<PeerId> = (0..n).map(|i| sim.id(i)).collect();
        for step in 0..20u64 {
            let sender = (step as usize) % n;
            let followers = everyone.clone();
            sim.with(sender, |c, now| c.multicast("t", followers, 1, Bytes::from(format!("{step}")), now))
                .unwrap()
                .unwrap();
            for (at, link) in &flaps {
                let (a, b) = links[link.index(links.len())];
                if *at == step { sim.unlink(a, b); }
                if *at + 5 == step { sim.link(a, b); }
            }
            sim.run(Duration::from_millis(20));
        }
        sim.run(Duration::from_secs(3));
        for i in 0..n {
            let got: Vec<Bytes> = sim.events(i).filter_map(|e| match e {
                Event::Multicast { payload, .. } => Some(payload.clone()),
                _ => None,
            }).collect();
            let distinct: BTreeSet<_> = got.iter().collect();
            prop_assert_eq!(distinct.len(), got.len(), "node {} delivered a multicast twice", i);
        }
    }
}

/// A line `0 - 1 - 2`.
fn line() -> Sim {
    build(3, &[(0, 1), (1, 2)], 7)
}

#[test]
fn a_forged_request_is_refused_at_the_destination_naming_the_origin_and_the_relay() {
    let mut sim = line();
    let (claimed, relay, dest) = (sim.id(0), sim.id(1), sim.id(2));
    // Node 1 forges a request "from" node 0, signed with its own key.
    let forger = KeySeal::new(sim.nodes[1].keypair.clone());
    let header = Header {
        kind: Kind::Request,
        module: 1,
        id: MessageId::new(1, 1),
        origin: claimed,
        target: Target::Node(dest),
    };
    let envelope = Envelope::build(
        header,
        Bytes::from_static(b"pay me"),
        Some(&forger as &dyn Seal),
    )
    .unwrap();
    let frame = Frame {
        hops: 2,
        ttl_ms: 5000,
        dests: Vec::new(),
        envelope,
    };
    sim.inject(1, 2, &frame);
    sim.run(Duration::from_millis(50));
    assert!(requests(&sim, 2).is_empty(), "a forgery was delivered");
    let refusal = sim.events(2).find_map(|e| match e {
        Event::Refused {
            from,
            origin,
            reason,
        } => Some((*from, *origin, reason.clone())),
        _ => None,
    });
    assert_eq!(
        refusal,
        Some((
            relay,
            Some(claimed),
            Refusal::Signature(SignatureError::BadSignature)
        ))
    );
}

#[test]
fn an_unsigned_envelope_from_anyone_but_its_origin_is_refused() {
    let mut sim = line();
    let (claimed, dest) = (sim.id(0), sim.id(2));
    let header = Header {
        kind: Kind::Request,
        module: 1,
        id: MessageId::new(1, 1),
        origin: claimed,
        target: Target::Node(dest),
    };
    let envelope = Envelope::build(header, Bytes::from_static(b"x"), None).unwrap();
    sim.inject(
        1,
        2,
        &Frame {
            hops: 1,
            ttl_ms: 5000,
            dests: Vec::new(),
            envelope,
        },
    );
    sim.run(Duration::from_millis(50));
    assert!(requests(&sim, 2).is_empty());
    assert!(sim.events(2).any(|e| matches!(
        e,
        Event::Refused {
            reason: Refusal::Signature(SignatureError::Unsigned),
            ..
        }
    )));
}

#[test]
fn a_barred_origin_cannot_reach_a_node_through_a_relay() {
    let mut sim = Sim::new(3, Config::default(), 3);
    let barred = sim.id(0);
    sim.nodes[2].barred.insert(barred);
    sim.start(2);
    sim.link(0, 1);
    sim.link(1, 2);
    sim.run(Duration::from_millis(200));
    let dest = sim.id(2);
    sim.with(0, |c, now| {
        c.request(dest, 1, Bytes::from_static(b"x"), None, now)
    })
    .unwrap()
    .unwrap();
    sim.run(Duration::from_millis(200));
    assert!(requests(&sim, 2).is_empty());
    let got = responses(&sim, 0);
    assert!(
        matches!(&got[..], [(_, Err(RequestError::Refused(_)))]),
        "{got:?}"
    );
    let relay = sim.id(1);
    assert!(sim.events(2).any(|e| matches!(
        e,
        Event::Refused { from, origin: Some(o), reason: Refusal::Barred(_) } if *from == relay && *o == barred
    )));
}

#[test]
fn a_request_to_a_node_without_a_route_fails_with_no_route_after_the_route_wait() {
    let mut sim = build(2, &[(0, 1)], 1);
    let nowhere = PeerId::random();
    sim.with(0, |c, now| c.request(nowhere, 1, Bytes::new(), None, now))
        .unwrap()
        .unwrap();
    sim.run(Config::default().route_wait() - Duration::from_millis(10));
    assert!(responses(&sim, 0).is_empty(), "waits for a route");
    sim.run(Duration::from_millis(20));
    assert_eq!(
        responses(&sim, 0),
        vec![(nowhere, Err(RequestError::NoRoute))]
    );
}

#[test]
fn a_request_waiting_for_a_route_goes_the_moment_one_appears() {
    let mut sim = build(3, &[(0, 1)], 2);
    let dest = sim.id(2);
    sim.with(0, |c, now| {
        c.request(dest, 1, Bytes::from_static(b"ab"), None, now)
    })
    .unwrap()
    .unwrap();
    sim.run(Duration::from_millis(500));
    assert!(responses(&sim, 0).is_empty());
    sim.link(1, 2);
    sim.run(Duration::from_millis(200));
    assert_eq!(
        responses(&sim, 0),
        vec![(dest, Ok(Bytes::from_static(b"ba")))]
    );
}

#[test]
fn an_unanswered_request_times_out_once() {
    let mut sim = build(2, &[(0, 1)], 3);
    sim.nodes[1].serve = false;
    let dest = sim.id(1);
    sim.with(0, |c, now| {
        c.request(dest, 1, Bytes::new(), Some(Duration::from_millis(300)), now)
    })
    .unwrap()
    .unwrap();
    sim.run(Duration::from_secs(2));
    assert_eq!(responses(&sim, 0), vec![(dest, Err(RequestError::Timeout))]);
}

#[test]
fn a_relay_that_loses_its_next_hop_fails_the_request_back_at_once() {
    // 0 - 1 - 2 - 3 with no other path: the request fails fast when 2 dies.
    let mut sim = build(4, &[(0, 1), (1, 2), (2, 3)], 4);
    sim.nodes[3].serve = false;
    let dest = sim.id(3);
    sim.with(0, |c, now| c.request(dest, 1, Bytes::new(), None, now))
        .unwrap()
        .unwrap();
    sim.run(LATENCY * 4);
    sim.kill(2);
    sim.run(Duration::from_secs(3));
    let got = responses(&sim, 0);
    assert_eq!(got.len(), 1);
    assert!(
        matches!(
            got[0].1,
            Err(RequestError::NoRoute | RequestError::RelayFailed { .. })
        ),
        "{got:?}"
    );
    // Far sooner than the 10 s timeout: the route wait after the last retry at most.
    let ended = sim.nodes[0]
        .events
        .iter()
        .find(|(_, e)| matches!(e, Event::Response { .. }))
        .unwrap()
        .0;
    assert!(ended - sim.nodes[0].events[0].0 < Duration::from_secs(3));
}

#[test]
fn a_request_is_sent_again_when_a_connection_to_its_destination_loses_frames() {
    // 0 - 1 - 2: the request to 2 goes through 1. A connection from 0 to 2 (say a direct one
    // closed as the duplicate of a simultaneous dial) that loses frames may have carried 2's
    // reply back: the request is sent again, and 2 still delivers it once.
    let mut sim = line();
    sim.nodes[2].serve = false;
    let dest = sim.id(2);
    sim.with(0, |c, now| c.request(dest, 1, Bytes::new(), None, now))
        .unwrap()
        .unwrap();
    sim.run(LATENCY * 4);
    sim.with(0, |c, now| c.frames_lost(dest, now));
    sim.run(Duration::from_secs(1));
    assert_eq!(sim.with(0, |c, _| c.stats().retries), Some(1));
    assert_eq!(requests(&sim, 2).len(), 1, "delivered once");
    assert_eq!(sim.with(2, |c, _| c.stats().duplicates), Some(1));
}
