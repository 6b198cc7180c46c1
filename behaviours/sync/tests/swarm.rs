//! The sync behaviour in real swarms over libp2p's memory transport.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{attacker::Attacker, wire, Net, INTERVAL};
use fisco_p2p_sync::{CodecError, Event, RecordError};
use libp2p::{identity::Keypair, PeerId};

const CONVERGE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn two_nodes_exchange_signed_records() {
    let mut net = Net::new(2).await;
    net.sync_mut(0).follow("blocks").unwrap();
    net.sync_mut(0)
        .set_state("height", Bytes::from_static(b"42"))
        .unwrap();
    let addr = net.addrs[1].clone();
    net.sync_mut(1)
        .set_listen_addrs(vec![addr.clone()])
        .unwrap();
    net.link(0, 1).await;

    net.until(CONVERGE, "both records exchanged", Net::converged)
        .await;
    let (a, b) = (net.id(0), net.id(1));
    let seen_by_b = net.sync(1).record(&a).unwrap();
    assert!(seen_by_b.follows("blocks"));
    assert_eq!(seen_by_b.state().get("height").unwrap().as_ref(), b"42");
    assert_eq!(net.sync(0).record(&b).unwrap().addrs(), &[addr]);
    assert_eq!(net.sync(1).followers("blocks"), vec![a]);
    assert!(net
        .events(1)
        .any(|e| matches!(e, Event::RecordUpdated { peer, .. } if *peer == a)));
}

#[tokio::test]
async fn a_topic_followed_at_one_end_of_a_line_of_five_is_known_at_the_other_end_within_four_periods(
) {
    let mut net = Net::new(5).await;
    net.line().await;
    net.until(CONVERGE, "the line to converge", Net::converged)
        .await;

    net.sync_mut(4).follow("blocks").unwrap();
    let far_end = net.id(4);
    let took = net
        .until(4 * INTERVAL, "the topic at the far end", |net| {
            net.sync(0).followers("blocks") == vec![far_end]
        })
        .await;
    tracing::info!(?took, "topic crossed four hops");
}

#[tokio::test]
async fn a_restarted_node_is_accepted_with_a_higher_seq() {
    let mut net = Net::new(3).await;
    net.line().await;
    net.sync_mut(2)
        .set_state("run", Bytes::from_static(b"first"))
        .unwrap();
    net.until(CONVERGE, "the first run's record", Net::converged)
        .await;
    let old_seq = net.sync(2).local_record().seq();

    net.kill(2);
    net.run_for(Duration::from_millis(100)).await;
    net.start(2).await;
    net.sync_mut(2)
        .set_state("run", Bytes::from_static(b"second"))
        .unwrap();
    net.link(1, 2).await;

    let restarted = net.id(2);
    net.until(CONVERGE, "the second run's record at the far end", |net| {
        net.sync(0).record(&restarted).is_some_and(|r| {
            r.state()
                .get("run")
                .is_some_and(|v| v.as_ref() == b"second")
        })
    })
    .await;
    assert!(net.sync(0).record(&restarted).unwrap().seq() > old_seq);
}

#[tokio::test]
async fn a_killed_node_goes_offline_then_is_forgotten_while_live_ones_stay_online() {
    let mut net = Net::new(3).await;
    net.line().await;
    net.until(CONVERGE, "the line to converge", Net::converged)
        .await;
    let dead = net.id(2);
    net.kill(2);
    let killed_at = Instant::now();

    let reported = |net: &Net, i: usize, offline: bool| {
        net.events[i].iter().find_map(|(at, e)| match e {
            Event::PeerOffline { peer } if offline && *peer == dead => Some(*at),
            Event::PeerForgotten { peer } if !offline && *peer == dead => Some(*at),
            _ => None,
        })
    };
    let config_offline = Duration::from_millis(1500);
    net.until(
        Duration::from_secs(5),
        "both nodes to forget the dead one",
        |net| reported(net, 0, false).is_some() && reported(net, 1, false).is_some(),
    )
    .await;
    for i in 0..2 {
        let offline = reported(&net, i, true).unwrap() - killed_at;
        // At most one announcement period of staleness per hop, plus scheduling slack.
        assert!(
            offline + INTERVAL * 2 >= config_offline,
            "node {i} early: {offline:?}"
        );
        assert!(
            offline <= config_offline + INTERVAL,
            "node {i} late: {offline:?}"
        );
        assert!(net.sync(i).record(&dead).is_none());
        assert!(!net
            .events(i)
            .any(|e| matches!(e, Event::PeerOffline { peer } if *peer != dead)));
    }
    assert!(net.sync(0).entry(&net.id(1)).unwrap().is_online());
}

/// Serves the attacker's own record honestly and forges every other one (signed with the
/// attacker's key, claiming a huge seq).
fn serve_forgeries(keypair: &Keypair, owners: &[Bytes]) -> wire::Response {
    let own = keypair.public().to_peer_id();
    let envelopes = owners
        .iter()
        .map(|owner| {
            let owner = PeerId::from_bytes(owner).unwrap();
            match owner == own {
                true => wire::Body::new(owner, 1, "attacker").signed_by(keypair),
                false => wire::Body::new(owner, u64::MAX / 2, "forged").signed_by(keypair),
            }
        })
        .collect();
    wire::Response::Records(envelopes)
}

/// A two-node network plus an attacker connected to node 0.
async fn net_with_attacker() -> (Net, Attacker) {
    let mut net = Net::new(2).await;
    net.link(0, 1).await;
    net.until(CONVERGE, "the pair to converge", Net::converged)
        .await;
    let attacker = Attacker::spawn(Keypair::generate_secp256k1(), serve_forgeries).await;
    attacker.dial(net.addrs[0].clone()).await;
    let attacker_id = attacker.id;
    net.until(CONVERGE, "the attacker to connect", |net| {
        net.swarms[0].as_ref().unwrap().is_connected(&attacker_id)
    })
    .await;
    (net, attacker)
}

/// The node still syncs: a change at node 1 reaches node 0.
async fn assert_still_syncing(net: &mut Net) {
    net.sync_mut(1)
        .set_state("after", Bytes::from_static(b"attack"))
        .unwrap();
    net.until(CONVERGE, "a later change to sync", Net::converged)
        .await;
}

fn announce(entries: &[(PeerId, u64)]) -> Vec<u8> {
    let entries = entries
        .iter()
        .map(|(owner, seq)| wire::DigestEntry {
            owner: Bytes::from(owner.to_bytes()),
            seq: *seq,
            age_ms: 0,
        })
        .collect();
    wire::frame(&wire::Request::Announce {
        full: true,
        entries,
    })
}

#[tokio::test]
async fn a_forged_record_is_refused_and_the_sender_reported() {
    let (mut net, attacker) = net_with_attacker().await;
    let (victim, honest, mallory) = (net.id(0), net.id(1), attacker.id);
    let honest_before = net.sync(0).record(&honest).unwrap().clone();

    // Claim the honest node's record at a huge seq, and list our own record as a control.
    attacker
        .send(victim, announce(&[(honest, u64::MAX / 2), (mallory, 1)]))
        .await;
    net.until(CONVERGE, "the forgery reported", |net| {
        net.events(0).any(|e| {
            matches!(e, Event::InvalidRecord { from, reason: RecordError::BadSignature { owner, .. } }
                if *from == mallory && *owner == honest)
        })
    })
    .await;
    // The control, built by hand from the wire format, was accepted: only the forgery failed.
    net.until(CONVERGE, "the attacker's own record", |net| {
        net.sync(0)
            .record(&mallory)
            .is_some_and(|r| r.follows("attacker"))
    })
    .await;
    assert_eq!(net.sync(0).record(&honest), Some(&honest_before));
    assert_still_syncing(&mut net).await;
    assert!(!net.sync(1).local_record().follows("forged"));
}

#[tokio::test]
async fn an_oversize_frame_is_refused_without_allocating_and_the_connection_kept() {
    let (mut net, mut attacker) = net_with_attacker().await;
    let (victim, mallory) = (net.id(0), attacker.id);

    // Announce a 4 GiB frame, send 16 bytes of it.
    let mut frame = u32::MAX.to_be_bytes().to_vec();
    frame.extend([0xAB; 16]);
    attacker.send(victim, frame).await;
    net.until(CONVERGE, "the frame refused", |net| {
        net.events(0).any(|e| {
            matches!(e, Event::InvalidMessage { from, error: CodecError::TooLarge { size, .. } }
                if *from == mallory && *size == u64::from(u32::MAX))
        })
    })
    .await;
    let refused = attacker
        .expect(CONVERGE, |outcome| match outcome {
            common::attacker::Outcome::Failed(reason) => Some(reason),
            common::attacker::Outcome::Answered(bytes) if bytes.is_empty() => {
                Some("empty answer".into())
            }
            _ => None,
        })
        .await;
    tracing::info!(%refused, "the attacker's oversize request ended");

    assert!(net.swarms[0].as_ref().unwrap().is_connected(&mallory));
    assert_still_syncing(&mut net).await;
    // The same peer is still served: a well-formed announcement from it is taken up.
    attacker.send(victim, announce(&[(mallory, 1)])).await;
    net.until(CONVERGE, "the attacker's own record", |net| {
        net.sync(0).record(&mallory).is_some()
    })
    .await;
}

#[tokio::test]
async fn announcements_beyond_a_neighbours_budget_are_dropped_and_the_node_keeps_syncing() {
    let (mut net, mut attacker) = net_with_attacker().await;
    let (victim, mallory) = (net.id(0), attacker.id);
    // One announcement at a time, as fast as the victim answers: far more than the test budget
    // (a burst of 40, then 20 a second). Within budget they are answered; beyond it the stream is
    // closed unanswered.
    let mut outcomes = 0u32;
    for seq in 1..=120u64 {
        attacker.send(victim, announce(&[(mallory, seq)])).await;
        let outcome = async {
            loop {
                if let Ok(outcome) = tokio::time::timeout(
                    Duration::from_millis(5),
                    attacker.expect(Duration::from_secs(5), Some),
                )
                .await
                {
                    return outcome;
                }
                net.run_for(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(CONVERGE, outcome)
            .await
            .expect("an outcome");
        outcomes += 1;
    }
    let dropped = net.sync(0).dropped_over_budget();
    assert_eq!(outcomes, 120);
    // At least the burst went through; far more than the rate allows did not.
    assert!((40..=80).contains(&dropped), "{dropped} of 120 dropped");
    assert_still_syncing(&mut net).await;
}
