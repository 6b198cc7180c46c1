//! Configuration of the overlay.

use std::time::Duration;

use crate::Budget;

/// Durations are capped so that `Instant + duration` can never overflow.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Limits and timings of the overlay [`Behaviour`](crate::Behaviour). Build with
/// `Config::default()` and the consuming `with_*` setters.
///
/// | setting | default | why |
/// |---|---|---|
/// | `max_message_size` | 32 MiB + 64 KiB | FISCO 3.x's largest message, plus room for the envelope |
/// | `hop_limit` | 16 | links an envelope may cross; ends transient loops while routes converge |
/// | `request_timeout` | 10 s | default of a request without its own timeout |
/// | `max_request_timeout` | 10 min | longest timeout a request may ask for |
/// | `max_in_flight` | 4096 | requests this node waits on at once |
/// | `route_wait` | 2 s | how long a message waits for a route to appear (state sync brings it) |
/// | `max_attempts` | 4 | sends of one request: the first and three retries on a new route |
/// | `retry_backoff` | 50 ms | before the first retry, doubling for each next one |
/// | `resend_after` | 1 s | a request sent and not answered is sent again (doubling), within `max_attempts` |
/// | `relay_capacity` | 16 384 | requests a relay remembers, to fail them fast if its next hop goes |
/// | `inbound_capacity` | 16 384 | requests a destination remembers, to deliver each once |
/// | `reply_cache` | 8 MiB | replies kept to answer a retried request again (each at most 64 KiB) |
/// | `seen_capacity`, `seen_ttl` | 65 536, 2 min | multicast and broadcast IDs remembered |
/// | `send_queue_frames`, `send_queue_bytes` | 1024, 16 MiB | per link; the bytes are raised to one largest message if less |
/// | `direct_connections` | off | only the links the operator configured (plus inbound ones) exist |
/// | `direct_threshold` | 100 messages in 10 s | traffic with a non-neighbour that asks for a direct connection |
/// | `compression` | on | payloads over 1 KiB compressed (zstd level 1) on streams whose two ends compress, as FISCO does |
/// | `neighbour_budget` | 100 000 messages/s (burst 200 000), 512 MiB/s (burst 1 GiB) | all a neighbour sends; above a busy honest link (about 45 000 requests/s on the benchmark box) |
/// | `origin_budget` | 10 000 messages/s (burst 20 000), 64 MiB/s (burst 128 MiB) | what an origin makes this node forward or deliver: relayed envelopes, every multicast and broadcast copy |
#[derive(Debug, Clone)]
pub struct Config {
    max_message_size: usize,
    hop_limit: u8,
    request_timeout: Duration,
    max_request_timeout: Duration,
    max_in_flight: usize,
    route_wait: Duration,
    max_attempts: u8,
    retry_backoff: Duration,
    resend_after: Duration,
    relay_capacity: usize,
    inbound_capacity: usize,
    reply_cache: usize,
    seen_capacity: usize,
    seen_ttl: Duration,
    send_queue_frames: usize,
    send_queue_bytes: usize,
    max_pending_multicasts: usize,
    direct_connections: bool,
    direct_threshold: (u32, Duration),
    compression: bool,
    neighbour_budget: Budget,
    origin_budget: Budget,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: fisco_p2p_framing::MAX_MESSAGE_SIZE + crate::ENVELOPE_OVERHEAD,
            hop_limit: 16,
            request_timeout: Duration::from_secs(10),
            max_request_timeout: Duration::from_secs(600),
            max_in_flight: 4096,
            route_wait: Duration::from_secs(2),
            max_attempts: 4,
            retry_backoff: Duration::from_millis(50),
            resend_after: Duration::from_secs(1),
            relay_capacity: 16_384,
            inbound_capacity: 16_384,
            reply_cache: 8 * 1024 * 1024,
            seen_capacity: 65_536,
            seen_ttl: Duration::from_secs(120),
            send_queue_frames: 1024,
            send_queue_bytes: 16 * 1024 * 1024,
            max_pending_multicasts: 1024,
            direct_connections: false,
            direct_threshold: (100, Duration::from_secs(10)),
            compression: true,
            neighbour_budget: Budget {
                messages_per_second: 100_000,
                message_burst: 200_000,
                bytes_per_second: 512 * 1024 * 1024,
                byte_burst: 1024 * 1024 * 1024,
            },
            origin_budget: Budget {
                messages_per_second: 10_000,
                message_burst: 20_000,
                bytes_per_second: 64 * 1024 * 1024,
                byte_burst: 128 * 1024 * 1024,
            },
        }
    }
}

/// Largest cached reply.
pub(crate) const MAX_CACHED_REPLY: usize = 64 * 1024;

impl Config {
    /// Largest frame sent or accepted (routing header and envelope); the largest payload is this
    /// less [`ENVELOPE_OVERHEAD`](crate::ENVELOPE_OVERHEAD). A longer length prefix is refused
    /// before anything is allocated. Use the same value on every node.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.clamp(crate::ENVELOPE_OVERHEAD + 1024, u32::MAX as usize);
        self
    }

    /// Links an envelope may cross (at least 1).
    pub fn with_hop_limit(mut self, hops: u8) -> Self {
        self.hop_limit = hops.max(1);
        self
    }

    /// Timeout of a request sent without one.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout.min(MAX_DURATION);
        self
    }

    /// Longest timeout a request may ask for.
    pub fn with_max_request_timeout(mut self, timeout: Duration) -> Self {
        self.max_request_timeout = timeout.min(MAX_DURATION);
        self
    }

    /// Requests this node waits on at once; more are refused as busy.
    pub fn with_max_in_flight(mut self, requests: usize) -> Self {
        self.max_in_flight = requests.max(1);
        self
    }

    /// How long a request or multicast waits for a route to a node that has none yet.
    pub fn with_route_wait(mut self, wait: Duration) -> Self {
        self.route_wait = wait.min(MAX_DURATION);
        self
    }

    /// Sends of one request (at least 1): the first, and retries after a relay failed.
    pub fn with_max_attempts(mut self, attempts: u8) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Delay before the first retry; each next one waits twice as long.
    pub fn with_retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff.min(MAX_DURATION);
        self
    }

    /// How long a sent request waits for an answer before it is sent again (the wait doubles
    /// for each next copy; copies count as attempts). A destination delivers a request once and
    /// answers copies from its reply cache.
    pub fn with_resend_after(mut self, after: Duration) -> Self {
        self.resend_after = after.min(MAX_DURATION);
        self
    }

    /// Requests a relay remembers so that it can fail them at once when its next hop goes.
    pub fn with_relay_capacity(mut self, entries: usize) -> Self {
        self.relay_capacity = entries.max(1);
        self
    }

    /// Requests a destination remembers, to deliver each once however often it is retried.
    pub fn with_inbound_capacity(mut self, entries: usize) -> Self {
        self.inbound_capacity = entries.max(1);
        self
    }

    /// Bytes of replies kept to answer a retried request again.
    pub fn with_reply_cache(mut self, bytes: usize) -> Self {
        self.reply_cache = bytes;
        self
    }

    /// Multicast and broadcast IDs remembered to deliver each once, and for how long. Size the
    /// capacity above what the whole network sends within the TTL.
    pub fn with_seen(mut self, capacity: usize, ttl: Duration) -> Self {
        self.seen_capacity = capacity.max(1);
        self.seen_ttl = ttl.min(MAX_DURATION);
        self
    }

    /// Frames and bytes queued per link. A frame that finds its link's queue full is not sent:
    /// the origin of a request learns it as busy, a relayed or flooded copy is dropped and
    /// counted.
    pub fn with_send_queue(mut self, frames: usize, bytes: usize) -> Self {
        self.send_queue_frames = frames.max(1);
        self.send_queue_bytes = bytes;
        self
    }

    /// Multicasts waiting for routes at once.
    pub fn with_max_pending_multicasts(mut self, multicasts: usize) -> Self {
        self.max_pending_multicasts = multicasts.max(1);
        self
    }

    /// Whether to ask for a direct connection to a node this node exchanges a lot with
    /// ([`Event::DirectWanted`](crate::Event::DirectWanted)).
    pub fn with_direct_connections(mut self, enabled: bool) -> Self {
        self.direct_connections = enabled;
        self
    }

    /// How much traffic with one non-neighbour asks for a direct connection: `messages` within
    /// `window`.
    pub fn with_direct_threshold(mut self, messages: u32, window: Duration) -> Self {
        self.direct_threshold = (messages.max(1), window.min(MAX_DURATION));
        self
    }

    /// Whether to compress payloads over 1 KiB (zstd, level 1) on the streams whose other end
    /// compresses too; each direction of a link negotiates it (see the crate docs). On by
    /// default, as in FISCO.
    pub fn with_compression(mut self, enabled: bool) -> Self {
        self.compression = enabled;
        self
    }

    /// See [`with_compression`](Self::with_compression).
    pub fn compression(&self) -> bool {
        self.compression
    }

    /// What one neighbour may send this node (messages and bytes per second, with bursts); a
    /// frame over it is dropped and counted.
    pub fn with_neighbour_budget(mut self, budget: Budget) -> Self {
        self.neighbour_budget = budget;
        self
    }

    /// What one origin may make this node forward or deliver on its behalf (relayed envelopes,
    /// multicast and broadcast copies); a frame over it is dropped and counted.
    pub fn with_origin_budget(mut self, budget: Budget) -> Self {
        self.origin_budget = budget;
        self
    }

    /// See [`with_max_message_size`](Self::with_max_message_size).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// See [`with_hop_limit`](Self::with_hop_limit).
    pub fn hop_limit(&self) -> u8 {
        self.hop_limit
    }

    /// See [`with_request_timeout`](Self::with_request_timeout).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// See [`with_max_request_timeout`](Self::with_max_request_timeout).
    pub fn max_request_timeout(&self) -> Duration {
        self.max_request_timeout
    }

    /// See [`with_route_wait`](Self::with_route_wait).
    pub fn route_wait(&self) -> Duration {
        self.route_wait
    }

    /// See [`with_direct_connections`](Self::with_direct_connections).
    pub fn direct_connections(&self) -> bool {
        self.direct_connections
    }

    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    pub(crate) fn max_attempts(&self) -> u8 {
        self.max_attempts
    }

    /// Backoff before retry number `attempt` (1 for the first retry).
    pub(crate) fn backoff(&self, attempt: u8) -> Duration {
        self.retry_backoff
            .saturating_mul(1 << u32::from(attempt.saturating_sub(1).min(10)))
    }

    /// How long send number `attempt` (1 for the first) waits for an answer before the next.
    pub(crate) fn resend_after(&self, attempt: u8) -> Duration {
        self.resend_after
            .saturating_mul(1 << u32::from(attempt.saturating_sub(1).min(10)))
    }

    pub(crate) fn relay_capacity(&self) -> usize {
        self.relay_capacity
    }

    pub(crate) fn inbound_capacity(&self) -> usize {
        self.inbound_capacity
    }

    pub(crate) fn reply_cache(&self) -> usize {
        self.reply_cache
    }

    pub(crate) fn seen_capacity(&self) -> usize {
        self.seen_capacity
    }

    pub(crate) fn seen_ttl(&self) -> Duration {
        self.seen_ttl
    }

    pub(crate) fn send_queue_frames(&self) -> usize {
        self.send_queue_frames
    }

    /// Never less than one largest frame, so any message the node accepts can be queued.
    pub(crate) fn send_queue_bytes(&self) -> usize {
        self.send_queue_bytes.max(self.max_message_size + 1024)
    }

    pub(crate) fn max_pending_multicasts(&self) -> usize {
        self.max_pending_multicasts
    }

    pub(crate) fn direct_threshold(&self) -> (u32, Duration) {
        self.direct_threshold
    }

    /// The budgets, their byte bursts raised to one largest frame so any message can pass.
    pub(crate) fn budgets(&self) -> (Budget, Budget) {
        let fit = |mut budget: Budget| {
            budget.byte_burst = budget.byte_burst.max(self.max_message_size as u64);
            budget
        };
        (fit(self.neighbour_budget), fit(self.origin_budget))
    }
}
