//! Tunables of the sync protocol.

use std::time::Duration;

/// Durations are capped here so that `Instant + duration` can never overflow (and panic).
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Upper bound of one digest line on the wire (a 38-byte PeerId, two u64 and CBOR map keys).
pub(crate) const DIGEST_ENTRY_SIZE: usize = 128;

/// Room kept in a message for everything around the records or digest lines it carries.
pub(crate) const MESSAGE_OVERHEAD: usize = 1024;

/// Configuration of the sync [`Behaviour`](crate::Behaviour).
///
/// Build it with [`Config::default`] and the consuming `with_*` setters. The defaults suit a network
/// of up to a few thousand nodes whose longest shortest path is at most about ten hops:
///
/// | setting | default | why |
/// |---|---|---|
/// | `announce_interval` | 2 s | FISCO 3.x's beacon period |
/// | `announce_delay` | 50 ms | batches a burst of changes into one announcement |
/// | `offline_after` | 30 s | an alive node's freshness decays by about one interval per hop, so this tolerates ~12 hops |
/// | `forget_after` | 5 min | long enough to ride out a restart or a short partition |
/// | `max_records` | 4096 | bounds the view; memory is at most `max_records * max_record_size` |
/// | `max_record_size` | 64 KiB | one node's signed record (addresses, topics, key/value state) |
/// | `max_message_size` | 32 MiB | FISCO 3.x's largest message, shared by every codec of the node |
/// | `fetch_timeout` | 10 s | a fetch that takes longer is retried from another neighbour |
/// | `max_neighbours` | 256 | neighbours listed in the local record (about 40 bytes each), for routing |
/// | `request_budget` | 100/s, burst 200 per neighbour | announcements and fetches a neighbour may send; an honest one sends a few a second |
#[derive(Debug, Clone)]
pub struct Config {
    announce_interval: Duration,
    announce_delay: Duration,
    offline_after: Duration,
    forget_after: Duration,
    max_records: usize,
    max_record_size: usize,
    max_message_size: usize,
    fetch_timeout: Duration,
    max_neighbours: usize,
    request_budget: (u32, u32),
}

impl Default for Config {
    fn default() -> Self {
        Self {
            announce_interval: Duration::from_secs(2),
            announce_delay: Duration::from_millis(50),
            offline_after: Duration::from_secs(30),
            forget_after: Duration::from_secs(300),
            max_records: 4096,
            max_record_size: 64 * 1024,
            max_message_size: fisco_p2p_framing::MAX_MESSAGE_SIZE,
            fetch_timeout: Duration::from_secs(10),
            max_neighbours: 256,
            request_budget: (100, 200),
        }
    }
}

impl Config {
    /// How often every node announces the digest of all records it holds to its neighbours.
    pub fn with_announce_interval(mut self, interval: Duration) -> Self {
        self.announce_interval = interval;
        self
    }

    /// How long a node waits after a local change, or after learning a newer record, before it
    /// announces; changes within that window go out in one announcement.
    pub fn with_announce_delay(mut self, delay: Duration) -> Self {
        self.announce_delay = delay;
        self
    }

    /// A node not heard of for this long is reported offline ([`Event::PeerOffline`](crate::Event)).
    ///
    /// Must exceed `(hops - 1) * (announce_interval + announce_interval / 10)` for the longest path
    /// `hops` of your network, otherwise distant alive nodes flap offline.
    pub fn with_offline_after(mut self, after: Duration) -> Self {
        self.offline_after = after;
        self
    }

    /// A node not heard of for this long is dropped from the view
    /// ([`Event::PeerForgotten`](crate::Event)). Counted from the same instant as `offline_after`.
    pub fn with_forget_after(mut self, after: Duration) -> Self {
        self.forget_after = after;
        self
    }

    /// The most records (including the local one) a node holds; records of further nodes are
    /// ignored until others are forgotten. Capped so that a full digest fits one message:
    /// at most `max_message_size / 128`.
    pub fn with_max_records(mut self, max: usize) -> Self {
        self.max_records = max;
        self
    }

    /// The largest encoded record accepted from the network or built locally. Capped at
    /// `max_message_size` less 1 KiB, so that any record can be served.
    pub fn with_max_record_size(mut self, max: usize) -> Self {
        self.max_record_size = max;
        self
    }

    /// The largest frame read or written on a sync stream; a longer length prefix is refused
    /// before any allocation and the stream is reset.
    pub fn with_max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = max;
        self
    }

    /// How long a fetch (or an announcement) may take before it is given up.
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The most neighbours the local record lists. Connections beyond it still work, but other
    /// nodes do not route through them.
    pub fn with_max_neighbours(mut self, max: usize) -> Self {
        self.max_neighbours = max;
        self
    }

    /// Announcements and fetches one neighbour may send: `per_second` steady, `burst` at once.
    /// Requests over it are dropped unanswered (the stream is reset) and counted.
    pub fn with_request_budget(mut self, per_second: u32, burst: u32) -> Self {
        self.request_budget = (per_second.max(1), burst.max(1));
        self
    }

    pub(crate) fn request_budget(&self) -> fisco_p2p_ratelimit::Budget {
        fisco_p2p_ratelimit::Budget::messages(self.request_budget.0, self.request_budget.1)
    }

    pub(crate) fn max_neighbours(&self) -> usize {
        self.max_neighbours
    }

    /// See [`with_announce_interval`](Self::with_announce_interval).
    pub fn announce_interval(&self) -> Duration {
        self.announce_interval
            .clamp(Duration::from_millis(1), MAX_DURATION)
    }

    pub(crate) fn announce_delay(&self) -> Duration {
        self.announce_delay.min(self.announce_interval())
    }

    /// The freshness lost per hop: a relayed "heard of" is worth a little less than a direct one,
    /// so network latency cannot make evidence fresher as it goes round a cycle.
    pub(crate) fn hop_penalty(&self) -> Duration {
        self.announce_interval() / 10
    }

    /// See [`with_offline_after`](Self::with_offline_after) (capped, like every duration here).
    pub fn offline_after(&self) -> Duration {
        self.offline_after.min(MAX_DURATION)
    }

    /// See [`with_forget_after`](Self::with_forget_after); never before `offline_after`.
    pub fn forget_after(&self) -> Duration {
        self.forget_after.max(self.offline_after).min(MAX_DURATION)
    }

    pub(crate) fn max_records(&self) -> usize {
        let fit = self.max_message_size.saturating_sub(MESSAGE_OVERHEAD) / DIGEST_ENTRY_SIZE;
        self.max_records.min(fit).max(1)
    }

    pub(crate) fn max_record_size(&self) -> usize {
        let fit = self.max_message_size.saturating_sub(MESSAGE_OVERHEAD);
        self.max_record_size.min(fit)
    }

    pub(crate) fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    pub(crate) fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout.min(MAX_DURATION)
    }
}
