//! Configuration of the broadcast behaviour.

use std::time::Duration;

/// Limits and timings of [`Behaviour`](crate::Behaviour). Build with `Config::default()` and the
/// consuming `with_*` setters.
#[derive(Debug, Clone)]
pub struct Config {
    max_message_size: usize,
    hop_limit: u8,
    seen_capacity: usize,
    seen_ttl: Duration,
    send_queue_len: usize,
    max_pending: usize,
}

impl Default for Config {
    /// - `max_message_size`: 32 MiB (FISCO BCOS 3.x's default), counted on the whole frame;
    /// - `hop_limit`: 16 links from the origin;
    /// - `seen_capacity`: 65 536 message IDs (about 4 MiB);
    /// - `seen_ttl`: 2 minutes;
    /// - `send_queue_len`: 256 frames per connection;
    /// - `max_pending`: 4 096 frames handed to connections but not yet taken by them.
    fn default() -> Self {
        Config {
            max_message_size: 32 * 1024 * 1024,
            hop_limit: 16,
            seen_capacity: 65_536,
            seen_ttl: Duration::from_secs(120),
            send_queue_len: 256,
            max_pending: 4_096,
        }
    }
}

impl Config {
    /// Largest frame sent or accepted, in bytes (length prefix value: hop byte + signed body).
    /// A peer announcing a larger frame has its substream reset before anything is allocated.
    /// Capped at `u32::MAX`, the largest value the length prefix can carry.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes.min(u32::MAX as usize);
        self
    }

    /// How many links a message may cross from its origin (at least 1).
    pub fn with_hop_limit(mut self, hops: u8) -> Self {
        self.hop_limit = hops.max(1);
        self
    }

    /// How many message IDs the duplicate filter remembers. Size it above the number of
    /// broadcasts the whole network makes within one [`with_seen_ttl`](Self::with_seen_ttl).
    pub fn with_seen_capacity(mut self, ids: usize) -> Self {
        self.seen_capacity = ids.max(1);
        self
    }

    /// How long a message ID is remembered; a copy arriving later is delivered again. Keep it
    /// well above the time a message takes to cross the network.
    pub fn with_seen_ttl(mut self, ttl: Duration) -> Self {
        self.seen_ttl = ttl;
        self
    }

    /// Frames queued per connection; when full, the newest frame for that peer is dropped
    /// and counted in [`Behaviour::dropped_frames`](crate::Behaviour::dropped_frames).
    pub fn with_send_queue_len(mut self, frames: usize) -> Self {
        self.send_queue_len = frames.max(1);
        self
    }

    /// Frames the behaviour may hold for the swarm to pass to connections. When reached,
    /// [`Behaviour::broadcast`](crate::Behaviour::broadcast) fails with
    /// [`Error::QueueFull`](crate::Error::QueueFull) and relayed copies are dropped.
    pub fn with_max_pending(mut self, frames: usize) -> Self {
        self.max_pending = frames.max(1);
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

    /// See [`with_seen_capacity`](Self::with_seen_capacity).
    pub fn seen_capacity(&self) -> usize {
        self.seen_capacity
    }

    /// See [`with_seen_ttl`](Self::with_seen_ttl).
    pub fn seen_ttl(&self) -> Duration {
        self.seen_ttl
    }

    /// See [`with_send_queue_len`](Self::with_send_queue_len).
    pub fn send_queue_len(&self) -> usize {
        self.send_queue_len
    }

    /// See [`with_max_pending`](Self::with_max_pending).
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }
}
