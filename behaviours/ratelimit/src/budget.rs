//! Budgets: how much work each source may give a node, in messages and bytes per second with a
//! burst, kept with two token buckets per source.
//!
//! Unlike [`PerSource`](crate::PerSource), which decides whether to *log* something, a budget
//! decides whether to *do* it: a message over budget is dropped by the caller. Sans-I/O: every
//! call takes `now`. Memory is bounded: at most `max_sources` sources are tracked, the least
//! recently used forgotten first (it then starts again with a full burst).

use std::{collections::HashMap, hash::Hash, time::Instant};

/// A rate and a burst, for messages and for bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Messages per second, steady.
    pub messages_per_second: u32,
    /// Messages allowed at once.
    pub message_burst: u32,
    /// Bytes per second, steady.
    pub bytes_per_second: u64,
    /// Bytes allowed at once (a message larger than this never passes).
    pub byte_burst: u64,
}

impl Budget {
    /// No limit at all.
    pub const UNLIMITED: Budget = Budget {
        messages_per_second: u32::MAX,
        message_burst: u32::MAX,
        bytes_per_second: u64::MAX,
        byte_burst: u64::MAX,
    };

    /// A budget on messages only.
    pub const fn messages(per_second: u32, burst: u32) -> Budget {
        Budget {
            messages_per_second: per_second,
            message_burst: burst,
            bytes_per_second: u64::MAX,
            byte_burst: u64::MAX,
        }
    }
}

/// The two buckets of one source.
#[derive(Debug, Clone)]
struct Buckets {
    messages: f64,
    bytes: f64,
    last: Instant,
}

impl Buckets {
    fn full(budget: &Budget, now: Instant) -> Self {
        Buckets {
            messages: f64::from(budget.message_burst),
            bytes: budget.byte_burst as f64,
            last: now,
        }
    }

    /// Refills for the time since the last call, then takes one message of `bytes` if both
    /// buckets hold enough.
    fn take(&mut self, budget: &Budget, bytes: usize, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.messages = (self.messages + elapsed * f64::from(budget.messages_per_second))
            .min(f64::from(budget.message_burst));
        self.bytes =
            (self.bytes + elapsed * budget.bytes_per_second as f64).min(budget.byte_burst as f64);
        let bytes = bytes as f64;
        if self.messages >= 1.0 && self.bytes >= bytes {
            self.messages -= 1.0;
            self.bytes -= bytes;
            true
        } else {
            false
        }
    }
}

/// A budget per source; see the module docs.
#[derive(Debug, Clone)]
pub struct Budgets<K> {
    budget: Budget,
    max_sources: usize,
    sources: HashMap<K, Buckets>,
}

impl<K: Hash + Eq + Clone> Budgets<K> {
    /// Every source gets `budget`; at most `max_sources` (at least 1) are tracked.
    pub fn new(budget: Budget, max_sources: usize) -> Self {
        Budgets {
            budget,
            max_sources: max_sources.max(1),
            sources: HashMap::new(),
        }
    }

    /// Charges one message of `bytes` to `source`: true if it is within the budget (and is then
    /// counted), false if the caller should drop it.
    pub fn charge(&mut self, source: &K, bytes: usize, now: Instant) -> bool {
        if !self.sources.contains_key(source) && self.sources.len() >= self.max_sources {
            if let Some(oldest) = self
                .sources
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| k.clone())
            {
                self.sources.remove(&oldest);
            }
        }
        let budget = &self.budget;
        self.sources
            .entry(source.clone())
            .or_insert_with(|| Buckets::full(budget, now))
            .take(budget, bytes, now)
    }

    /// Forgets `source` (it starts again with a full burst).
    pub fn forget(&mut self, source: &K) {
        self.sources.remove(source);
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let now = Instant::now();
        let mut budgets = Budgets::new(Budget::messages(10, 5), 16);
        let passed = (0..20).filter(|_| budgets.charge(&1, 1, now)).count();
        assert_eq!(passed, 5);
        let later = now + Duration::from_secs(1);
        let passed = (0..20).filter(|_| budgets.charge(&1, 1, later)).count();
        assert_eq!(passed, 5, "refilled to the burst, not beyond");
        assert!(
            budgets.charge(&2, 1, later),
            "another source has its own budget"
        );
    }

    #[test]
    fn bytes_are_budgeted_too() {
        let now = Instant::now();
        let budget = Budget {
            messages_per_second: 1000,
            message_burst: 1000,
            bytes_per_second: 1000,
            byte_burst: 4000,
        };
        let mut budgets = Budgets::new(budget, 16);
        assert!(budgets.charge(&"a", 3000, now));
        assert!(!budgets.charge(&"a", 3000, now));
        assert!(budgets.charge(&"a", 3000, now + Duration::from_secs(2)));
    }

    proptest! {
        #[test]
        fn no_more_passes_than_burst_plus_rate_times_elapsed(
            rate in 1u32..1000,
            burst in 1u32..1000,
            steps in proptest::collection::vec(0u64..50, 1..200),
        ) {
            let start = Instant::now();
            let mut budgets = Budgets::new(Budget::messages(rate, burst), 4);
            let mut now = start;
            let mut passed = 0u64;
            for ms in steps {
                now += Duration::from_millis(ms);
                if budgets.charge(&0u8, 1, now) {
                    passed += 1;
                }
            }
            let bound = f64::from(burst) + (now - start).as_secs_f64() * f64::from(rate) + 1.0;
            prop_assert!(passed as f64 <= bound, "{} passed, bound {}", passed, bound);
        }

        #[test]
        fn tracked_sources_stay_bounded(sources in 1u32..100, max in 1usize..20) {
            let now = Instant::now();
            let mut budgets = Budgets::new(Budget::messages(1, 1), max);
            for s in 0..sources {
                let _ = budgets.charge(&s, 1, now);
            }
            prop_assert!(budgets.len() <= max);
        }
    }
}
