//! Outstanding requests and their deadlines, without I/O (`now` is an input).
//!
//! `request_response` has one timeout for the whole behaviour; each of our requests carries its
//! own. This table answers "which requests are overdue at `now`" and "when is the next
//! deadline", so the behaviour needs a single timer. A request leaves the table exactly once:
//! by its outcome or by its deadline, whichever comes first, so it ends exactly once.

use std::{
    collections::{BTreeSet, HashMap},
    hash::Hash,
    time::Instant,
};

use libp2p::PeerId;

#[derive(Debug)]
pub(crate) struct Pending<Id> {
    by_id: HashMap<Id, (PeerId, Instant)>,
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
        if let Some((_, old)) = self.by_id.insert(id, (peer, deadline)) {
            self.deadlines.remove(&(old, id));
        }
        self.deadlines.insert((deadline, id));
    }

    /// Takes a request out because it ended; `None` if it had already ended (e.g. timed out).
    pub(crate) fn remove(&mut self, id: &Id) -> Option<PeerId> {
        let (peer, deadline) = self.by_id.remove(id)?;
        self.deadlines.remove(&(deadline, *id));
        Some(peer)
    }

    /// Takes out every request whose deadline is at or before `now`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Id, PeerId)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some((peer, _)) = self.by_id.remove(&id) {
                expired.push((id, peer));
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
        /// Send request `id` with a timeout of this many ms.
        Send(u16, u64),
        /// Its outcome (reply, failure) arrives.
        Outcome(u16),
        /// Time passes by this many ms; overdue requests expire.
        Tick(u64),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                (0u16..30, 0u64..5_000).prop_map(|(id, t)| Op::Send(id, t)),
                (0u16..30).prop_map(Op::Outcome),
                (0u64..3_000).prop_map(Op::Tick),
            ],
            0..200,
        )
    }

    proptest! {
        /// Every request ends exactly once, and never after its deadline has been checked.
        #[test]
        fn every_request_ends_exactly_once_and_only_expires_when_overdue(ops in ops()) {
            let peer = PeerId::random();
            let start = Instant::now();
            let mut now = start;
            let mut table = Pending::new();
            let mut next_id = 0u64;
            // Our model: request id -> deadline, for requests not yet ended.
            let mut open: HashMap<u64, Instant> = HashMap::new();
            let mut ended: HashSet<u64> = HashSet::new();
            let mut handles: HashMap<u16, u64> = HashMap::new();
            for op in ops {
                match op {
                    Op::Send(handle, ms) => {
                        let id = next_id;
                        next_id += 1;
                        let deadline = now + Duration::from_millis(ms);
                        table.insert(id, peer, deadline);
                        open.insert(id, deadline);
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
                    Op::Tick(ms) => {
                        now += Duration::from_millis(ms);
                        for (id, _) in table.expire(now) {
                            let deadline = open.remove(&id);
                            prop_assert!(deadline.is_some_and(|d| d <= now));
                            prop_assert!(ended.insert(id), "request {} ended twice", id);
                        }
                        // Nothing overdue is left behind.
                        prop_assert!(open.values().all(|d| *d > now));
                    }
                }
                prop_assert_eq!(table.len(), open.len());
                prop_assert_eq!(table.next_deadline(), open.values().min().copied());
            }
        }
    }
}
