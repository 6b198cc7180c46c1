//! Single decisions of the state machine, driven by hand.

use std::time::{Duration, Instant};

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};

use crate::{
    error::Error,
    message::{DigestEntry, Request, Response, WirePeer},
    record::{Envelope, Record, SignedRecord},
    sim,
    state::{FetchId, Output, State},
    Event, RecordError,
};

fn start(keypair: &Keypair, now: Instant) -> State {
    State::new(keypair.clone(), sim::config(), 10, now).unwrap()
}

fn drain(state: &mut State) -> Vec<Output> {
    std::iter::from_fn(|| state.pop_output()).collect()
}

fn announce(owner: PeerId, seq: u64) -> Request {
    Request::Announce {
        full: true,
        entries: vec![DigestEntry {
            owner: WirePeer(owner),
            seq,
            age_ms: 0,
        }],
    }
}

fn fetches(outputs: &[Output]) -> Vec<(PeerId, FetchId)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Fetch { peer, id, .. } => Some((*peer, *id)),
            _ => None,
        })
        .collect()
}

fn envelope(keypair: &Keypair, owner: PeerId, seq: u64) -> Envelope {
    SignedRecord::sign(Record::new(owner, seq), keypair, 1024)
        .unwrap()
        .envelope
}

#[test]
fn a_digest_line_alone_cannot_move_our_seq() {
    let (me, neighbour, now) = (
        Keypair::generate_ed25519(),
        PeerId::random(),
        Instant::now(),
    );
    let my_id = me.public().to_peer_id();
    let mut state = start(&me, now);
    state.on_connected(neighbour, now);
    drain(&mut state);
    // Connecting listed the neighbour in our record: one change.
    let seq = state.local_record().seq();
    assert_eq!(seq, 11);

    // A neighbour claims to hold our record at u64::MAX: we ask for it rather than believe it.
    state.on_request(neighbour, announce(my_id, u64::MAX), now);
    let [(peer, id)] = fetches(&drain(&mut state))[..] else {
        panic!("expected one fetch of our own record");
    };
    assert_eq!(peer, neighbour);
    let forged = envelope(&Keypair::generate_ed25519(), my_id, u64::MAX);
    state.on_fetch_response(neighbour, id, vec![forged], now);
    assert_eq!(state.local_record().seq(), seq);
    assert!(drain(&mut state).iter().any(|o| matches!(
        o,
        Output::Event(Event::InvalidRecord {
            reason: RecordError::BadSignature { .. },
            ..
        })
    )));

    // A record we really signed in a previous run is jumped over.
    state.on_request(neighbour, announce(my_id, 20), now);
    let [(_, id)] = fetches(&drain(&mut state))[..] else {
        panic!("expected one fetch of our own record");
    };
    state.on_fetch_response(neighbour, id, vec![envelope(&me, my_id, 20)], now);
    assert_eq!(state.local_record().seq(), 21);
}

#[test]
fn a_record_announced_by_three_neighbours_is_fetched_once_and_retried_elsewhere_on_timeout() {
    let (me, now) = (Keypair::generate_ed25519(), Instant::now());
    let owner = Keypair::generate_ed25519();
    let owner_id = owner.public().to_peer_id();
    let neighbours = [PeerId::random(), PeerId::random(), PeerId::random()];
    let mut state = start(&me, now);
    for n in neighbours {
        state.on_connected(n, now);
    }
    drain(&mut state);
    for n in neighbours {
        state.on_request(n, announce(owner_id, 5), now);
    }
    let first = fetches(&drain(&mut state));
    assert_eq!(first.len(), 1, "{first:?}");

    let timeout = now + sim::config().fetch_timeout();
    assert!(state.poll_timeout() <= timeout);
    state.tick(timeout);
    let second = fetches(&drain(&mut state));
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(
        second[0].0, first[0].0,
        "retried the neighbour that timed out"
    );

    // The late answer of the first neighbour is ignored; the second one's is taken.
    state.on_fetch_response(
        first[0].0,
        first[0].1,
        vec![envelope(&owner, owner_id, 5)],
        now,
    );
    assert!(state.record(&owner_id).is_none());
    state.on_fetch_response(
        second[0].0,
        second[0].1,
        vec![envelope(&owner, owner_id, 5)],
        now,
    );
    assert_eq!(state.record(&owner_id).map(Record::seq), Some(5));
}

#[test]
fn an_unrequested_record_is_reported_not_stored() {
    let (me, neighbour, now) = (
        Keypair::generate_ed25519(),
        PeerId::random(),
        Instant::now(),
    );
    let (asked, other) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (asked_id, other_id) = (asked.public().to_peer_id(), other.public().to_peer_id());
    let mut state = start(&me, now);
    state.on_connected(neighbour, now);
    state.on_request(neighbour, announce(asked_id, 3), now);
    let [(_, id)] = fetches(&drain(&mut state))[..] else {
        panic!("expected one fetch");
    };
    state.on_fetch_response(neighbour, id, vec![envelope(&other, other_id, 3)], now);
    assert!(state.record(&other_id).is_none());
    assert!(drain(&mut state).iter().any(|o| matches!(
        o,
        Output::Event(Event::InvalidRecord {
            reason: RecordError::Unrequested { .. },
            ..
        })
    )));
}

#[test]
fn an_oversize_local_change_is_refused_and_the_record_kept() {
    let (me, now) = (Keypair::generate_ed25519(), Instant::now());
    let config = sim::config().with_max_record_size(256);
    let mut state = State::new(me, config, 10, now).unwrap();
    let before = state.poll_timeout();
    let result = state.change_local(now, |r| {
        r.state_mut()
            .insert("blob".into(), Bytes::from(vec![0; 1024]));
        true
    });
    assert!(matches!(
        result,
        Err(Error::RecordTooLarge { max: 256, .. })
    ));
    assert_eq!(state.local_record().seq(), 10);
    assert!(state.local_record().state().is_empty());
    assert_eq!(state.poll_timeout(), before, "nothing to announce");
}

#[test]
fn a_local_change_is_announced_after_the_delay_as_a_partial_digest() {
    let (me, neighbour, now) = (
        Keypair::generate_ed25519(),
        PeerId::random(),
        Instant::now(),
    );
    let mut state = start(&me, now);
    state.on_connected(neighbour, now);
    drain(&mut state);
    state.on_announce_done(neighbour, now);

    state
        .change_local(now, |r| r.topics_mut().insert("blocks".into()))
        .unwrap();
    let due = now + Duration::from_millis(20);
    assert_eq!(state.poll_timeout(), due);
    state.tick(due);
    let outputs = drain(&mut state);
    let [Output::Announce {
        peer,
        request: Request::Announce {
            full: false,
            entries,
        },
    }] = &outputs[..]
    else {
        panic!("expected one partial announcement, got {outputs:?}");
    };
    assert_eq!(*peer, neighbour);
    assert_eq!(entries.len(), 1);
    // 10 at start, 11 with the neighbour listed, 12 with the topic.
    assert_eq!((entries[0].owner.0, entries[0].seq), (state.local_id(), 12));
}

#[test]
fn a_fetch_is_answered_with_the_held_records_only() {
    let (me, now) = (Keypair::generate_ed25519(), Instant::now());
    let mut state = start(&me, now);
    let asked = vec![WirePeer(state.local_id()), WirePeer(PeerId::random())];
    let Response::Records(envelopes) =
        state.on_request(PeerId::random(), Request::Fetch(asked), now)
    else {
        panic!("a fetch is answered with records");
    };
    assert_eq!(envelopes.len(), 1);
    let record = SignedRecord::verify(envelopes[0].clone(), 1024)
        .unwrap()
        .record;
    assert_eq!(&record, state.local_record());
}

#[test]
fn news_due_while_an_announcement_is_in_flight_follows_its_ack() {
    let (me, neighbour, now) = (
        Keypair::generate_ed25519(),
        PeerId::random(),
        Instant::now(),
    );
    let mut state = start(&me, now);
    state.on_connected(neighbour, now);
    drain(&mut state);

    // The initial announcement is still unacknowledged when a change is due.
    state
        .change_local(now, |r| r.topics_mut().insert("blocks".into()))
        .unwrap();
    let due = state.poll_timeout();
    state.tick(due);
    assert!(
        drain(&mut state).is_empty(),
        "one announcement in flight per neighbour"
    );

    state.on_announce_done(neighbour, due);
    let outputs = drain(&mut state);
    let [Output::Announce {
        request: Request::Announce {
            full: true,
            entries,
        },
        ..
    }] = &outputs[..]
    else {
        panic!("expected a full announcement right after the ack, got {outputs:?}");
    };
    assert!(entries
        .iter()
        .any(|e| e.owner.0 == state.local_id() && e.seq == 12));
}
