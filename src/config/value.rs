//! The values configuration files hold, parsed and checked the same way whatever the format:
//! addresses, node IDs, durations, topics, the admin address. Each parser's error message says
//! what to write instead; the format's reader adds the file and key.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use libp2p::{multiaddr::Protocol, Multiaddr};
use serde::{Deserialize, Deserializer};

use crate::identity::NodeId;
use crate::node::{parse_address, AddressError};

pub use crate::node::MAX_TOPIC_LEN;

/// A listen or peer address as the operator wrote it (`ip:port`, `[v6]:port`, `host:port` or a
/// TCP multiaddr), with the multiaddr it stands for.
///
/// It displays (and is written back to files) as written, so `127.0.0.1:30300` stays readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    text: String,
    multiaddr: Multiaddr,
}

impl Address {
    /// The address as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The TCP multiaddr it stands for.
    pub fn multiaddr(&self) -> &Multiaddr {
        &self.multiaddr
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// Parses any form [`parse_address`] accepts.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            multiaddr: parse_address(text)?,
            text: text.trim().to_owned(),
        })
    }
}

impl From<SocketAddr> for Address {
    /// The address of a socket, written `ip:port` or `[v6]:port`.
    fn from(socket: SocketAddr) -> Self {
        let ip = match socket.ip() {
            IpAddr::V4(ip) => Protocol::Ip4(ip),
            IpAddr::V6(ip) => Protocol::Ip6(ip),
        };
        Self {
            text: socket.to_string(),
            multiaddr: Multiaddr::empty()
                .with(ip)
                .with(Protocol::Tcp(socket.port())),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::parsed(
            deserializer,
            "an address such as \"127.0.0.1:30300\"",
            |text| text.parse().map_err(|e: AddressError| e.to_string()),
        )
    }
}

/// Parses a node ID, saying where to find a good one.
pub(crate) fn parse_node_id(text: &str) -> Result<NodeId, String> {
    text.trim().parse().map_err(|e| {
        format!(
            "{text:?} is not a node ID ({e}); write the 128 hex characters of a FISCO 2.x node's \
             node.nodeid, or the 512 of a FISCO 3.x node's conf/ssl.nodeid"
        )
    })
}

/// Parses a duration written like `5s`, `500ms`, `2m` or `1m 30s`; zero is refused because every
/// duration configured is a period or a timeout.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "write it like \"5s\", \"500ms\" or \"2m\"";
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); {hint}"))?;
    if duration.is_zero() {
        return Err(format!("{text:?} is zero, but it must be longer; {hint}"));
    }
    Ok(duration)
}

/// The smallest and largest value a duration key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationRange {
    /// Smallest value accepted.
    pub min: Duration,
    /// Largest value accepted.
    pub max: Duration,
}

impl DurationRange {
    /// Parses `text` with [`parse_duration`] and checks it lies in the range; the error names the
    /// value and the range.
    pub(crate) fn parse(&self, text: &str) -> Result<Duration, String> {
        let duration = parse_duration(text)?;
        if duration < self.min || duration > self.max {
            return Err(format!(
                "{text:?} is out of range; write a duration from {} to {}",
                format_duration(self.min),
                format_duration(self.max)
            ));
        }
        Ok(duration)
    }
}

/// Formats a duration the way [`parse_duration`] reads it (`5s`, `500ms`, `1m 30s`).
pub(crate) fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Checks a topic name by the rule of [`crate::node::check_topic`], naming the topic.
pub(crate) fn check_topic(topic: &str) -> Result<(), String> {
    crate::node::check_topic(topic).map_err(|reason| {
        let shown: String = topic.chars().take(40).collect();
        let more = if shown.len() < topic.len() { "..." } else { "" };
        format!("topic {shown:?}{more}: {reason}")
    })
}

/// Parses the admin API address: an IP socket address, which the API binds as is.
pub(crate) fn parse_admin(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!("{text:?} is not an IP address and port; write it like \"127.0.0.1:31300\" or \"[::1]:31300\"")
    })
}

/// Serde adapters: the parsers above, for `#[serde(deserialize_with)]`.
///
/// Values are checked inside a visitor rather than after deserializing a `String`: the error
/// then arises within the format's deserializer, which attaches the value's own line (TOML,
/// JSON) and not that of the enclosing list. Lists deserialize their items one by one so that
/// an error names the index (`blacklist[2]`).
pub(crate) mod de {
    use serde::de::{Error, Visitor};

    use super::*;

    /// Visits a string and parses it with `parse`.
    struct Parsed<F> {
        expecting: &'static str,
        parse: F,
    }

    impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for Parsed<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<T, E> {
            (self.parse)(text).map_err(E::custom)
        }
    }

    /// Deserializes a string and parses it, the error arising inside the deserializer.
    pub(crate) fn parsed<'de, D: Deserializer<'de>, T>(
        deserializer: D,
        expecting: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, D::Error> {
        deserializer.deserialize_str(Parsed { expecting, parse })
    }

    /// Visits an integer and checks it with `check`.
    struct Counted<F> {
        check: F,
    }

    impl<T, F: FnOnce(u64) -> Result<T, String>> Visitor<'_> for Counted<F> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_u64<E: Error>(self, value: u64) -> Result<T, E> {
            (self.check)(value).map_err(E::custom)
        }

        fn visit_i64<E: Error>(self, value: i64) -> Result<T, E> {
            match u64::try_from(value) {
                Ok(value) => self.visit_u64(value),
                Err(_) => Err(E::custom(format!(
                    "{value} is negative; write a positive number"
                ))),
            }
        }
    }

    /// Deserializes a non-negative integer and checks it.
    pub(crate) fn counted<'de, D: Deserializer<'de>, T>(
        deserializer: D,
        check: impl FnOnce(u64) -> Result<T, String>,
    ) -> Result<T, D::Error> {
        deserializer.deserialize_u64(Counted { check })
    }

    struct Listed<T>(T);

    impl<'de> Deserialize<'de> for Listed<NodeId> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            parsed(
                deserializer,
                "a node ID (128 hex characters)",
                parse_node_id,
            )
            .map(Listed)
        }
    }

    impl<'de> Deserialize<'de> for Listed<String> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let topic = |text: &str| check_topic(text).map(|()| text.to_owned());
            parsed(deserializer, "a topic name", topic).map(Listed)
        }
    }

    /// Host names for the admin API's `Host` check: DNS names, without port.
    pub(crate) fn host_names<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let listed = Vec::<Listed<HostName>>::deserialize(deserializer)?;
        Ok(listed.into_iter().map(|l| l.0 .0).collect())
    }

    struct HostName(String);

    impl<'de> Deserialize<'de> for Listed<HostName> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            parsed(
                deserializer,
                "a host name such as \"node1.example\"",
                |text| {
                    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
                    let valid = !name.is_empty()
                        && name.len() <= 253
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                    if valid {
                        Ok(Listed(HostName(name)))
                    } else {
                        Err(format!(
                        "{text:?} is not a host name; write a DNS name such as \"node1.example\", without a port"
                    ))
                    }
                },
            )
        }
    }

    pub(crate) fn node_ids<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<NodeId>, D::Error> {
        let listed = Vec::<Listed<NodeId>>::deserialize(deserializer)?;
        Ok(listed.into_iter().map(|l| l.0).collect())
    }

    pub(crate) fn topics<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let listed = Vec::<Listed<String>>::deserialize(deserializer)?;
        Ok(listed.into_iter().map(|l| l.0).collect())
    }

    /// A duration within `range`.
    pub(crate) fn duration_in<'de, D: Deserializer<'de>>(
        deserializer: D,
        range: DurationRange,
    ) -> Result<Duration, D::Error> {
        parsed(deserializer, "a duration such as \"5s\"", |text| {
            range.parse(text)
        })
    }

    pub(crate) fn admin<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        parsed(
            deserializer,
            "an address such as \"127.0.0.1:31300\"",
            parse_admin,
        )
        .map(Some)
    }

    /// A count from `min` to `max` (a limit of zero would stop the node from working).
    pub(crate) fn count_in<'de, D: Deserializer<'de>>(
        deserializer: D,
        min: u32,
        max: u32,
    ) -> Result<u32, D::Error> {
        counted(deserializer, |value| match u32::try_from(value) {
            Ok(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(format!(
                "{value} is out of range; write a number from {min} to {max}"
            )),
        })
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
