//! A map bounded in size and in time: every entry has its own expiry; when full, the entry that
//! would expire first makes room.

use std::{
    collections::{BTreeSet, HashMap},
    hash::Hash,
    time::Instant,
};

/// See the module docs. `K` is ordered so that expiries tie-break deterministically.
#[derive(Debug)]
pub(crate) struct Expiring<K, V> {
    capacity: usize,
    entries: HashMap<K, (Instant, V)>,
    by_expiry: BTreeSet<(Instant, K)>,
}

impl<K: Hash + Ord + Copy, V> Expiring<K, V> {
    /// An empty map holding at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Expiring {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// Inserts or replaces `key`, expiring at `expires`; returns the entry evicted to make room.
    pub(crate) fn insert(&mut self, key: K, value: V, expires: Instant) -> Option<(K, V)> {
        let mut evicted = None;
        if let Some((old, _)) = self.entries.remove(&key) {
            self.by_expiry.remove(&(old, key));
        } else if self.entries.len() >= self.capacity {
            if let Some((_, first)) = self.by_expiry.pop_first() {
                evicted = self.entries.remove(&first).map(|(_, v)| (first, v));
            }
        }
        self.entries.insert(key, (expires, value));
        self.by_expiry.insert((expires, key));
        evicted
    }

    /// When the next entry expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.by_expiry.first().map(|(at, _)| *at)
    }

    /// The value of `key` unless it expired by `now`.
    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v)
    }

    /// The value of `key` unless it expired by `now`, to change it.
    pub(crate) fn get_mut(&mut self, key: &K, now: Instant) -> Option<&mut V> {
        self.entries
            .get_mut(key)
            .filter(|(expires, _)| *expires > now)
            .map(|(_, v)| v)
    }

    /// Removes `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (expires, value) = self.entries.remove(key)?;
        self.by_expiry.remove(&(expires, *key));
        Some(value)
    }

    /// Removes and returns every entry expired by `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(K, V)> {
        let mut gone = Vec::new();
        while let Some((at, key)) = self.by_expiry.first().copied() {
            if at > now {
                break;
            }
            self.by_expiry.pop_first();
            if let Some((_, value)) = self.entries.remove(&key) {
                gone.push((key, value));
            }
        }
        gone
    }

    /// Number of entries (expired ones may linger until [`expire`](Self::expire)).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn entries_expire_at_their_own_time() {
        let now = Instant::now();
        let mut map = Expiring::new(10);
        map.insert(1, "a", now + Duration::from_secs(2));
        map.insert(2, "b", now + Duration::from_secs(1));
        assert_eq!(map.get(&1, now), Some(&"a"));
        let later = now + Duration::from_millis(1500);
        assert_eq!(map.get(&2, later), None);
        assert_eq!(map.expire(later), vec![(2, "b")]);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn a_full_map_evicts_the_entry_expiring_first() {
        let now = Instant::now();
        let mut map = Expiring::new(2);
        map.insert(1, (), now + Duration::from_secs(3));
        map.insert(2, (), now + Duration::from_secs(1));
        assert_eq!(
            map.insert(3, (), now + Duration::from_secs(2)),
            Some((2, ()))
        );
        assert_eq!(map.len(), 2);
        assert!(map.get(&1, now).is_some() && map.get(&3, now).is_some());
    }

    #[test]
    fn replacing_a_key_moves_its_expiry() {
        let now = Instant::now();
        let mut map = Expiring::new(2);
        map.insert(1, "a", now + Duration::from_secs(1));
        map.insert(1, "b", now + Duration::from_secs(5));
        assert!(map.expire(now + Duration::from_secs(2)).is_empty());
        assert_eq!(map.remove(&1), Some("b"));
        assert!(map.expire(now + Duration::from_secs(10)).is_empty());
    }
}
