//! The flooding rules, without I/O: which copies of a message to deliver and which to forward.
//!
//! A node delivers a message the first time it sees its ID and forwards it to its neighbours
//! while the hop count is below the limit. It remembers IDs in a [`SeenCache`] that is bounded in
//! size and in time, and records the fewest hops each message took to reach it: a later copy that
//! arrived over a *shorter* path is forwarded again (never delivered again), so every node within
//! `hop_limit` links of the origin is reached even when a long path wins the race.
//!
//! Time is an input (`now`), so the rules are tested and simulated deterministically.

use std::{
    collections::{HashMap, VecDeque},
    hash::Hash,
    time::{Duration, Instant},
};

/// A bounded, time-limited memory of message IDs and the fewest hops each one took.
///
/// An entry lives for `ttl` after its first sighting. When full, the oldest entry is evicted
/// first: an evicted ID would be delivered again if it came back, so size the capacity for the
/// number of messages the network carries within one `ttl`.
#[derive(Debug)]
pub(crate) struct SeenCache<K> {
    capacity: usize,
    ttl: Duration,
    /// ID -> (first seen, fewest hops).
    entries: HashMap<K, (Instant, u8)>,
    /// IDs in order of first sighting; each ID in `entries` appears here exactly once.
    order: VecDeque<(Instant, K)>,
}

impl<K: Hash + Eq + Copy> SeenCache<K> {
    /// An empty cache holding at most `capacity` IDs (at least one), each for `ttl`.
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        SeenCache {
            capacity,
            ttl,
            entries: HashMap::with_capacity(capacity.min(4096)),
            order: VecDeque::with_capacity(capacity.min(4096)),
        }
    }

    /// The fewest hops recorded for `id`, if it was seen less than `ttl` ago.
    pub(crate) fn best_hops(&self, id: &K, now: Instant) -> Option<u8> {
        self.entries
            .get(id)
            .filter(|(first_seen, _)| !self.expired(*first_seen, now))
            .map(|(_, hops)| *hops)
    }

    /// Records a sighting of `id` after `hops` hops and returns the fewest hops recorded before
    /// it, or `None` if the ID was new (or had expired).
    pub(crate) fn record(&mut self, id: K, hops: u8, now: Instant) -> Option<u8> {
        self.expire(now);
        if let Some((_, best)) = self.entries.get_mut(&id) {
            let previous = *best;
            *best = previous.min(hops);
            return Some(previous);
        }
        if self.entries.len() >= self.capacity {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(id, (now, hops));
        self.order.push_back((now, id));
        None
    }

    #[cfg(test)]
    /// Number of IDs held (expired ones may linger until the next `record`).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn expired(&self, first_seen: Instant, now: Instant) -> bool {
        now.saturating_duration_since(first_seen) >= self.ttl
    }

    fn expire(&mut self, now: Instant) {
        while let Some((first_seen, id)) = self.order.front().copied() {
            if !self.expired(first_seen, now) {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&id);
        }
    }
}

/// What to do with a copy of a message whose signature checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Hand the message to the application: the first copy of this ID.
    pub(crate) deliver: bool,
    /// Send it on to the neighbours (with one more hop).
    pub(crate) forward: bool,
}

/// The flooding rules of one node.
#[derive(Debug)]
pub(crate) struct Flood<K> {
    seen: SeenCache<K>,
    hop_limit: u8,
}

impl<K: Hash + Eq + Copy> Flood<K> {
    /// Rules forwarding copies while their hop count is below `hop_limit`.
    pub(crate) fn new(hop_limit: u8, seen: SeenCache<K>) -> Self {
        Flood { seen, hop_limit }
    }

    /// Whether a copy that took `hops` hops can change anything: a new ID, or a shorter path
    /// that must be forwarded again. Checking this first spares verifying duplicates.
    pub(crate) fn is_useful(&self, id: &K, hops: u8, now: Instant) -> bool {
        match self.seen.best_hops(id, now) {
            None => true,
            Some(best) => hops < best && hops < self.hop_limit,
        }
    }

    /// Records a copy that took `hops` hops (verified by the caller) and says what to do with it.
    pub(crate) fn on_copy(&mut self, id: K, hops: u8, now: Instant) -> Verdict {
        let below_limit = hops < self.hop_limit;
        match self.seen.record(id, hops, now) {
            None => Verdict {
                deliver: true,
                forward: below_limit,
            },
            Some(best) => Verdict {
                deliver: false,
                forward: below_limit && hops < best,
            },
        }
    }

    /// Records a message this node originates, so copies coming back are ignored.
    pub(crate) fn on_local(&mut self, id: K, now: Instant) {
        self.seen.record(id, 0, now);
    }

    #[cfg(test)]
    /// The seen-cache, for inspection.
    pub(crate) fn seen(&self) -> &SeenCache<K> {
        &self.seen
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
