//! Outstanding requests and their deadlines, without I/O (`now` is an input).
//!
//! `request_response` has one timeout for the whole behaviour; each of our requests carries its
//! own. This table answers "which requests are overdue at `now`" and "when is the next
//! deadline", so the behaviour needs a single timer. A request leaves the table exactly once:
//! by its outcome or by its deadline, whichever comes first, so it ends exactly once.
//!
//! A substream that fails (end of file, reset) usually means the whole connection is going
//! down, and libp2p reports the stream failure *before* the connection's closure. So a stream
//! failure is held for a short grace period: if the peer's last connection closes meanwhile the
//! request ends as "disconnected", otherwise as the stream failure when the grace ends.

use std::{
    collections::{BTreeSet, HashMap},
    hash::Hash,
    time::Instant,
};

use libp2p::PeerId;

/// How a request left the table by time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Its own deadline passed.
    Timeout,
    /// Its substream failed with this error and the connection stayed up.
    StreamFailed(String),
}

#[derive(Debug)]
struct Entry {
    peer: PeerId,
    deadline: Instant,
    stream_error: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Pending<Id> {
    by_id: HashMap<Id, Entry>,
    deadlines: BTreeSet<(Instant, Id)>,
}

impl<Id: Copy + Hash + Ord> Pending<Id> {
    pub(crate) fn new() -> Self {
        Pending {
            by_id: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Adds a request to `peer` that times out at `deadline`.
    pub(crate) fn insert(&mut self, id: Id, peer: PeerId, deadline: Instant) {
        let entry = Entry {
            peer,
            deadline,
            stream_error: None,
        };
        if let Some(old) = self.by_id.insert(id, entry) {
            self.deadlines.remove(&(old.deadline, id));
        }
        self.deadlines.insert((deadline, id));
    }

    /// Takes a request out because it ended; `None` if it had already ended (e.g. timed out).
    pub(crate) fn remove(&mut self, id: &Id) -> Option<PeerId> {
        let entry = self.by_id.remove(id)?;
        self.deadlines.remove(&(entry.deadline, *id));
        Some(entry.peer)
    }

    /// Holds a stream failure until `until` (or the request's own deadline, if earlier), in
    /// case the connection turns out to be closing. False if the request had already ended.
    pub(crate) fn hold_stream_failure(&mut self, id: Id, error: String, until: Instant) -> bool {
        let Some(entry) = self.by_id.get_mut(&id) else {
            return false;
        };
        if until < entry.deadline {
            self.deadlines.remove(&(entry.deadline, id));
            entry.deadline = until;
            self.deadlines.insert((until, id));
        }
        entry.stream_error = Some(error);
        true
    }

    /// Takes out the requests to `peer` whose stream failure is on hold: its last connection
    /// closed, so they end as disconnected.
    pub(crate) fn take_held_for(&mut self, peer: &PeerId) -> Vec<Id> {
        let held: Vec<Id> = self
            .by_id
            .iter()
            .filter(|(_, e)| e.peer == *peer && e.stream_error.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in &held {
            self.remove(id);
        }
        held
    }

    /// Takes out every request whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Id, PeerId, Expired)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(entry) = self.by_id.remove(&id) {
                let how = entry
                    .stream_error
                    .map_or(Expired::Timeout, Expired::StreamFailed);
                expired.push((id, entry.peer, how));
            }
        }
        expired
    }

    /// The earliest deadline still pending.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, time::Duration};

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Send request `handle` with a timeout of this many ms.
        Send(u16, u64),
        /// Its outcome (reply, failure) arrives.
        Outcome(u16),
        /// Its substream fails; the failure is held this many ms.
        StreamFails(u16, u64),
        /// The peer's last connection closes.
        PeerGone,
        /// Time passes by this many ms; overdue requests expire.
        Tick(u64),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                (0u16..30, 0u64..5_000).prop_map(|(id, t)| Op::Send(id, t)),
                (0u16..30).prop_map(Op::Outcome),
                (0u16..30, 0u64..500).prop_map(|(id, t)| Op::StreamFails(id, t)),
                Just(Op::PeerGone),
                (0u64..3_000).prop_map(Op::Tick),
            ],
            0..200,
        )
    }

    /// Our model of one open request.
    struct Model {
        deadline: Instant,
        held: bool,
    }

    proptest! {
        /// Every request ends exactly once, only when overdue, a held stream failure ends as
        /// such unless the peer goes first, and the next deadline is always the earliest.
        #[test]
        fn every_request_ends_exactly_once_and_only_when_due(ops in ops()) {
            let peer = PeerId::random();
            let mut now = Instant::now();
            let mut table = Pending::new();
            let mut next_id = 0u64;
            let mut open: HashMap<u64, Model> = HashMap::new();
            let mut ended: HashSet<u64> = HashSet::new();
            let mut handles: HashMap<u16, u64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Send(handle, ms) => {
                        let (id, deadline) = (next_id, now + Duration::from_millis(ms));
                        next_id += 1;
                        table.insert(id, peer, deadline);
                        open.insert(id, Model { deadline, held: false });
                        handles.insert(handle, id);
                    }
                    Op::Outcome(handle) => {
                        let Some(&id) = handles.get(&handle) else { continue };
                        let removed = table.remove(&id).is_some();
                        prop_assert_eq!(removed, open.remove(&id).is_some());
                        if removed {
                            prop_assert!(ended.insert(id), "request {} ended twice", id);
                        }
                    }
                    Op::StreamFails(handle, ms) => {
                        let Some(&id) = handles.get(&handle) else { continue };
                        let until = now + Duration::from_millis(ms);
                        let held = table.hold_stream_failure(id, "eof".into(), until);
                        prop_assert_eq!(held, open.contains_key(&id));
                        if let Some(model) = open.get_mut(&id) {
                            model.deadline = model.deadline.min(until);
                            model.held = true;
                        }
                    }
                    Op::PeerGone => {
                        for id in table.take_held_for(&peer) {
                            prop_assert!(open.remove(&id).is_some_and(|m| m.held));
                            prop_assert!(ended.insert(id), "request {} ended twice", id);
                        }
                        prop_assert!(open.values().all(|m| !m.held));
                    }
                    Op::Tick(ms) => {
                        now += Duration::from_millis(ms);
                        for (id, _, how) in table.expire(now) {
                            let model = open.remove(&id);
                            prop_assert!(model.as_ref().is_some_and(|m| m.deadline <= now));
                            let held = model.is_some_and(|m| m.held);
                            prop_assert_eq!(matches!(how, Expired::StreamFailed(_)), held);
                            prop_assert!(ended.insert(id), "request {} ended twice", id);
                        }
                        prop_assert!(open.values().all(|m| m.deadline > now));
                    }
                }
                prop_assert_eq!(table.len(), open.len());
                prop_assert_eq!(table.next_deadline(), open.values().map(|m| m.deadline).min());
            }
        }
    }
}
