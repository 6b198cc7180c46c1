//! A per-source rate limiter for what remote parties can make a node do: above all, write log
//! lines.
//!
//! A node that logs one WARN per refused connection hands every stranger a pen: one local attacker
//! once made a node write 1.31 M lines (309 MB) in 40 s. [`PerSource`] decides, for each event
//! caused by a remote source (an IP address, a node ID, a static address), whether it may be
//! logged now. Each source has a token bucket (a burst, then one more line per period), and all
//! sources together share a global bucket, so that an attacker with many addresses (an IPv6
//! prefix, a botnet) gets no more log lines than one with a single address. A line that is let
//! through reports how many lines of its source were suppressed since the previous one, so the
//! log still says how much happened.
//!
//! The limiter has no clock: every call takes `now`, so it is tested exactly and driven by
//! whatever clock the caller has. Its memory is bounded: it tracks at most
//! [`Config::with_max_sources`] sources and forgets the least recently seen one to make room.
//!
//! # Example
//! ```
//! use std::time::{Duration, Instant};
//! use fisco_p2p_ratelimit::{Config, PerSource, Verdict};
//!
//! // First failure, then at most one line a minute while it lasts.
//! let mut limiter = PerSource::new(Config::default().with_burst(1).with_period(Duration::from_secs(60)));
//! let start = Instant::now();
//! assert_eq!(limiter.check("10.0.0.1", start), Verdict::Allow { suppressed: 0 });
//! assert_eq!(limiter.check("10.0.0.1", start + Duration::from_secs(1)), Verdict::Suppress);
//! assert_eq!(
//!     limiter.check("10.0.0.1", start + Duration::from_secs(61)),
//!     Verdict::Allow { suppressed: 1 }
//! );
//! // Another source has its own budget.
//! assert!(limiter.check("10.0.0.2", start).is_allowed());
//! ```
//!
//! A caller logs only when the verdict allows it:
//! ```ignore
//! if let Verdict::Allow { suppressed } = limiter.check(ip, Instant::now()) {
//!     tracing::warn!(%ip, suppressed, "inbound connection refused");
//! }
//! ```

pub mod budget;

pub use budget::{Budget, Budgets};

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, Instant},
};

/// Configuration of a [`PerSource`] limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    burst: u32,
    period: Duration,
    global_burst: u32,
    global_period: Duration,
    max_sources: usize,
}

impl Default for Config {
    /// - per source: a burst of 5, then one more every 10 s;
    /// - all sources together: a burst of 100, then one more every 100 ms (10 a second);
    /// - at most 1024 sources tracked.
    ///
    /// So a flood from any number of sources writes at most about 600 lines a minute.
    fn default() -> Self {
        Self {
            burst: 5,
            period: Duration::from_secs(10),
            global_burst: 100,
            global_period: Duration::from_millis(100),
            max_sources: 1024,
        }
    }
}

impl Config {
    /// Events a source may cause at once before it is limited (at least 1).
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = burst.max(1);
        self
    }

    /// Time after which a limited source may cause one more event (at least 1 ms).
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period.max(Duration::from_millis(1));
        self
    }

    /// The budget of all sources together: a burst, then one more event per period.
    pub fn with_global(mut self, burst: u32, period: Duration) -> Self {
        self.global_burst = burst.max(1);
        self.global_period = period.max(Duration::from_millis(1));
        self
    }

    /// Most sources remembered at once (at least 1); the least recently seen is forgotten to make
    /// room, and starts afresh when seen again (the global budget still bounds it).
    pub fn with_max_sources(mut self, max: usize) -> Self {
        self.max_sources = max.max(1);
        self
    }
}

/// Whether an event may be acted on (logged) now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Go ahead; `suppressed` events of this source were suppressed since its previous allowed
    /// one (say so in the line).
    Allow {
        /// Events of this source suppressed since the last allowed one.
        suppressed: u64,
    },
    /// Stay silent: the source, or all sources together, used up their budget.
    Suppress,
}

impl Verdict {
    /// Whether the event may be acted on.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// A token bucket: `tokens` left, last refilled at `refilled_at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    refilled_at: Instant,
}

impl Bucket {
    fn full(burst: u32, now: Instant) -> Self {
        Self {
            tokens: burst,
            refilled_at: now,
        }
    }

    /// Adds one token per whole period elapsed since the last refill, up to `burst`.
    fn refill(&mut self, burst: u32, period: Duration, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let periods = elapsed.as_nanos() / period.as_nanos().max(1);
        if periods == 0 {
            return;
        }
        let added = u32::try_from(periods).unwrap_or(u32::MAX);
        self.tokens = self.tokens.saturating_add(added).min(burst);
        if self.tokens == burst {
            self.refilled_at = now;
        } else {
            // Keep the remainder of the current period, so refills do not drift.
            self.refilled_at += period * added;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Source {
    bucket: Bucket,
    /// Events suppressed since the last allowed one.
    suppressed: u64,
    last_seen: Instant,
}

/// Rate-limits events per source and overall. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct PerSource<K> {
    config: Config,
    sources: HashMap<K, Source>,
    global: Option<Bucket>,
    suppressed_total: u64,
}

impl<K: Hash + Eq + Clone> PerSource<K> {
    /// A limiter with no source seen yet.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            sources: HashMap::new(),
            global: None,
            suppressed_total: 0,
        }
    }

    /// Decides whether an event caused by `source` at `now` may be acted on, and counts it.
    pub fn check(&mut self, source: K, now: Instant) -> Verdict {
        let config = self.config;
        if !self.sources.contains_key(&source) && self.sources.len() >= config.max_sources {
            self.forget_least_recent();
        }
        let global = self
            .global
            .get_or_insert_with(|| Bucket::full(config.global_burst, now));
        global.refill(config.global_burst, config.global_period, now);
        let entry = self.sources.entry(source).or_insert_with(|| Source {
            bucket: Bucket::full(config.burst, now),
            suppressed: 0,
            last_seen: now,
        });
        entry.last_seen = entry.last_seen.max(now);
        entry.bucket.refill(config.burst, config.period, now);
        if entry.bucket.tokens == 0 || global.tokens == 0 {
            entry.suppressed = entry.suppressed.saturating_add(1);
            self.suppressed_total = self.suppressed_total.saturating_add(1);
            return Verdict::Suppress;
        }
        entry.bucket.tokens -= 1;
        global.tokens -= 1;
        Verdict::Allow {
            suppressed: std::mem::take(&mut entry.suppressed),
        }
    }

    /// Forgets `source`: its next event is treated as its first (say, once a failing peer is
    /// back, so that its next failure is logged at once).
    pub fn forget(&mut self, source: &K) {
        self.sources.remove(source);
    }

    /// How many sources are tracked now (at most [`Config::with_max_sources`]).
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Events suppressed since the limiter was made, all sources together.
    pub fn suppressed_total(&self) -> u64 {
        self.suppressed_total
    }

    fn forget_least_recent(&mut self) {
        // O(sources), bounded by max_sources; only paid when a new source arrives at a full table.
        let oldest = self
            .sources
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            self.sources.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests;
