//! The `[limits]` and `[intervals]` sections of a configuration, with the range of every value.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::value::{de, DurationRange};
use crate::node;

/// Default largest message, in bytes: 32 MiB, FISCO 3.x's default ([`node::MAX_MESSAGE_SIZE`]).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = node::MAX_MESSAGE_SIZE;
/// Smallest `limits.max_message_size` accepted: 1 KiB.
pub const MIN_MESSAGE_SIZE: usize = 1024;
/// Largest `limits.max_message_size` accepted: 1 GiB (FISCO 2.x used 100 MiB).
pub const MAX_MESSAGE_SIZE: usize = 1024 * 1024 * 1024;
/// Default period of state-sync announcements: 2 s, FISCO 3.x's beacon period.
pub const DEFAULT_ANNOUNCE: Duration = Duration::from_secs(2);

/// Most `limits.max_connections`: 65536 (each connection holds a socket and buffers).
pub const MAX_CONNECTIONS: u32 = 65_536;
/// Most `limits.max_pending_incoming`: 4096 handshakes at once.
pub const MAX_PENDING_INCOMING: u32 = 4096;
/// Most `limits.max_pending_per_ip`: 1024 handshakes at once from one source.
pub const MAX_PENDING_PER_IP: u32 = 1024;
/// Most `limits.max_concurrent_dials`: 4096 dials in flight.
pub const MAX_CONCURRENT_DIALS: u32 = 4096;

const fn range(min_ms: u64, max_s: u64) -> DurationRange {
    DurationRange {
        min: Duration::from_millis(min_ms),
        max: Duration::from_secs(max_s),
    }
}

/// The range each `[intervals]` key accepts, by key. Shorter periods burn CPU for nothing (a
/// heartbeat of 1 ns kept a core 77% busy), shorter timeouts can never be met (a TLS handshake
/// takes a few round trips), and longer ones hide failures for hours.
pub const INTERVAL_RANGES: [(&str, DurationRange); 7] = [
    ("heartbeat", range(100, 600)),
    ("heartbeat_timeout", range(200, 3600)),
    ("redial_initial", range(10, 60)),
    ("redial_max", range(100, 3600)),
    ("announce", range(100, 600)),
    ("handshake_timeout", range(1000, 300)),
    ("first_bytes_timeout", range(100, 300)),
];

/// The accepted range of an `[intervals]` key.
fn interval_range(key: &str) -> DurationRange {
    INTERVAL_RANGES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, range)| *range)
        // Every key calling this is in the table (a unit test checks each one).
        .unwrap_or(range(1, 3600))
}

/// The `[limits]` section: sizes and counts that bound the node's memory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    #[serde(deserialize_with = "message_size")]
    max_message_size: usize,
    #[serde(deserialize_with = "max_connections")]
    max_connections: u32,
    #[serde(deserialize_with = "max_pending_incoming")]
    max_pending_incoming: u32,
    #[serde(deserialize_with = "max_pending_per_ip")]
    max_pending_per_ip: u32,
    #[serde(deserialize_with = "max_concurrent_dials")]
    max_concurrent_dials: u32,
}

impl Default for Limits {
    /// - `max_message_size`: 32 MiB ([`DEFAULT_MAX_MESSAGE_SIZE`]);
    /// - `max_connections`: 256, `max_pending_incoming`: 64, `max_pending_per_ip`: 4,
    ///   `max_concurrent_dials`: 32 (those of [`node::Config`]).
    fn default() -> Self {
        let node = node::Config::default();
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: node.max_connections,
            max_pending_incoming: node.max_pending_incoming,
            max_pending_per_ip: node.max_pending_per_ip,
            max_concurrent_dials: node.max_concurrent_dials,
        }
    }
}

impl Limits {
    /// Largest message sent or accepted, in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Most established connections.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// Most inbound connections from strangers in their handshake at once.
    pub fn max_pending_incoming(&self) -> u32 {
        self.max_pending_incoming
    }

    /// Most inbound connections in their handshake at once from one IP (IPv6: one /64).
    pub fn max_pending_per_ip(&self) -> u32 {
        self.max_pending_per_ip
    }

    /// Most dials in flight at once.
    pub fn max_concurrent_dials(&self) -> u32 {
        self.max_concurrent_dials
    }
}

fn max_pending_per_ip<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    de::count_in(deserializer, 1, MAX_PENDING_PER_IP)
}

fn max_concurrent_dials<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    de::count_in(deserializer, 1, MAX_CONCURRENT_DIALS)
}

fn max_connections<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    de::count_in(deserializer, 1, MAX_CONNECTIONS)
}

fn max_pending_incoming<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    de::count_in(deserializer, 1, MAX_PENDING_INCOMING)
}

fn message_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    de::counted(deserializer, |value| {
        match usize::try_from(value) {
        Ok(size) if (MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&size) => Ok(size),
        _ => Err(format!(
            "{value} bytes is out of range; write a number of bytes from {MIN_MESSAGE_SIZE} (1 KiB) \
             to {MAX_MESSAGE_SIZE} (1 GiB), such as 33554432 for 32 MiB"
        )),
    }
    })
}

/// The `[intervals]` section: periods and timeouts, written like `"5s"`, `"500ms"`, `"2m"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Intervals {
    #[serde(deserialize_with = "intervals::heartbeat")]
    heartbeat: Duration,
    #[serde(deserialize_with = "intervals::heartbeat_timeout")]
    heartbeat_timeout: Duration,
    #[serde(deserialize_with = "intervals::redial_initial")]
    redial_initial: Duration,
    #[serde(deserialize_with = "intervals::redial_max")]
    redial_max: Duration,
    #[serde(deserialize_with = "intervals::announce")]
    announce: Duration,
    #[serde(deserialize_with = "intervals::handshake_timeout")]
    handshake_timeout: Duration,
    #[serde(deserialize_with = "intervals::first_bytes_timeout")]
    first_bytes_timeout: Duration,
}

/// One deserializer per `[intervals]` key, each with its range.
mod intervals {
    use std::time::Duration;

    use serde::Deserializer;

    use super::{de, interval_range};

    macro_rules! bounded {
        ($($key:ident),*) => {$(
            pub(super) fn $key<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
                de::duration_in(d, interval_range(stringify!($key)))
            }
        )*};
    }

    bounded!(
        heartbeat,
        heartbeat_timeout,
        redial_initial,
        redial_max,
        announce,
        handshake_timeout,
        first_bytes_timeout
    );
}

impl Default for Intervals {
    /// Those of [`node::Config`]: heartbeat 1 s, heartbeat timeout 2 s, redial from 100 ms up to
    /// 10 s (FISCO's fixed redial period), handshake timeout 10 s, first bytes of an inbound
    /// connection within 3 s; and state-sync announcements every 2 s ([`DEFAULT_ANNOUNCE`]).
    fn default() -> Self {
        let node = node::Config::default();
        Self {
            heartbeat: node.peers_config().heartbeat_interval(),
            heartbeat_timeout: node.peers_config().heartbeat_timeout(),
            redial_initial: node.peers_config().initial_backoff(),
            redial_max: node.peers_config().max_backoff(),
            announce: DEFAULT_ANNOUNCE,
            handshake_timeout: node.handshake_timeout,
            first_bytes_timeout: node.first_bytes_timeout,
        }
    }
}

impl Intervals {
    /// How often each connection is probed.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// How long a probe may go unanswered before the connection is dropped.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_timeout
    }

    /// First delay before redialling an unreachable static peer.
    pub fn redial_initial(&self) -> Duration {
        self.redial_initial
    }

    /// Largest delay between redials.
    pub fn redial_max(&self) -> Duration {
        self.redial_max
    }

    /// Period of state-sync announcements.
    pub fn announce(&self) -> Duration {
        self.announce
    }

    /// Longest TLS handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Longest an inbound connection may stay silent before its first bytes.
    pub fn first_bytes_timeout(&self) -> Duration {
        self.first_bytes_timeout
    }
}
