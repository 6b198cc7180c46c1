//! Why the transport's admission layer turned an inbound connection away: the error it fails a
//! connection with, which `classify` names for events and logs.

use std::{error::Error, fmt, time::Duration};

/// Why a connection was pushed out of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// A newer connection from the same IP needed the IP's last slot.
    SameIp,
    /// The table was full and this connection's IP held the most pending connections.
    TableFull {
        /// How many its IP held.
        holding: usize,
    },
}

/// Why a newcomer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Its IP holds `per_ip` connections that are all mid-handshake.
    PerIp,
    /// `capacity` connections from static peers' IPs are pending.
    ExemptFull,
}

/// Why admission turned an inbound connection away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnedAway {
    /// Refused on arrival.
    Refused(Refused),
    /// Pushed out of a full table by a newer connection.
    Evicted(Eviction),
    /// Sent nothing within the first-bytes deadline.
    Silent(Duration),
    /// The connection has no source IP (not TCP/IP).
    NoSourceIp,
}

impl fmt::Display for TurnedAway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(Refused::PerIp) => f.write_str(
                "too many handshakes in progress from this IP (limits.max_pending_per_ip)",
            ),
            Self::Refused(Refused::ExemptFull) => f.write_str(
                "too many handshakes in progress from static peers' IPs (limits.max_pending_incoming)",
            ),
            Self::Evicted(Eviction::SameIp) => f.write_str(
                "evicted for a newer connection from the same IP (limits.max_pending_per_ip)",
            ),
            Self::Evicted(Eviction::TableFull { holding }) => write!(
                f,
                "evicted from the full table of pending handshakes, its IP holding {holding} \
                 (limits.max_pending_incoming)"
            ),
            Self::Silent(after) => write!(
                f,
                "sent nothing within {after:?} (intervals.first_bytes_timeout)"
            ),
            Self::NoSourceIp => f.write_str("the connection has no source IP"),
        }
    }
}

impl Error for TurnedAway {}
