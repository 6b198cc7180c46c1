//! The overlay's counters, readable from other threads: the behaviour publishes a copy after
//! each round of work, and a metrics exporter reads it whenever it is scraped.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use crate::Stats;

/// Fields of [`Stats`] in a fixed order, plus the route count.
const FIELDS: usize = 18;

/// A shared, lock-free view of an overlay's [`Stats`] and route count. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StatsHandle {
    values: Arc<[AtomicU64; FIELDS]>,
}

fn to_array(stats: &Stats, routes: usize) -> [u64; FIELDS] {
    let s = stats;
    [
        s.sent[0],
        s.sent[1],
        s.sent[2],
        s.sent[3],
        s.sent[4],
        s.sent_bytes,
        s.relayed,
        s.relayed_bytes,
        s.retries,
        s.no_route,
        s.dropped_hop_limit,
        s.dropped_queue_full,
        s.dropped_bad_signature,
        s.dropped_barred_origin,
        s.dropped_malformed,
        s.duplicates,
        s.dropped_over_budget,
        routes as u64,
    ]
}

impl StatsHandle {
    pub(crate) fn publish(&self, stats: &Stats, routes: usize) {
        for (slot, value) in self.values.iter().zip(to_array(stats, routes)) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    /// The counters as last published.
    pub fn stats(&self) -> Stats {
        let v: Vec<u64> = self
            .values
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect();
        Stats {
            sent: [v[0], v[1], v[2], v[3], v[4]],
            sent_bytes: v[5],
            relayed: v[6],
            relayed_bytes: v[7],
            retries: v[8],
            no_route: v[9],
            dropped_hop_limit: v[10],
            dropped_queue_full: v[11],
            dropped_bad_signature: v[12],
            dropped_barred_origin: v[13],
            dropped_malformed: v[14],
            duplicates: v[15],
            dropped_over_budget: v[16],
        }
    }

    /// How many nodes had a route, as last published.
    pub fn routes(&self) -> usize {
        self.values[FIELDS - 1].load(Ordering::Relaxed) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_published_reads_back() {
        let handle = StatsHandle::default();
        let stats = Stats {
            sent: [1, 2, 3, 4, 5],
            sent_bytes: 6,
            relayed: 7,
            relayed_bytes: 8,
            retries: 9,
            no_route: 10,
            dropped_hop_limit: 11,
            dropped_queue_full: 12,
            dropped_bad_signature: 13,
            dropped_barred_origin: 14,
            dropped_malformed: 15,
            duplicates: 16,
            dropped_over_budget: 17,
        };
        handle.clone().publish(&stats, 18);
        assert_eq!(handle.stats(), stats);
        assert_eq!(handle.routes(), 18);
    }
}
