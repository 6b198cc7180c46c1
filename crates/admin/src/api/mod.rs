//! The JSON of the admin API as Rust types: every request body, every answer and every event,
//! shared by the server and [`client::Client`](crate::client::Client). The server builds and
//! parses these and nothing else, so a field renamed here is renamed on both sides, and the
//! tests round-trip each answer from the server's value to the client's.
//!
//! - **Request bodies** ([`RequestBody`], [`TopicBody`], [`BroadcastBody`], [`SubscribeBody`],
//!   [`AddrBody`]) refuse unknown fields: a misspelt field is a 400 naming it, never a default
//!   silently used. The server checks their values (node IDs, topics, payloads) and says what
//!   is wrong; the types take any text so those checks stay on the server.
//! - **Answers** ([`Status`], [`Peer`], [`StaticPeer`], [`Route`], [`Reply`], [`Multicast`],
//!   [`Broadcast`], [`Subscription`], [`PeerAdded`], [`PeerRemoved`], [`ErrorAnswer`]) and
//!   **events** ([`Event`]) accept fields they do not know, so a client reads the answers of a
//!   newer server that added some.
//! - **Payloads** are UTF-8 `data` or base64 `data_base64` ([`Data`] in answers and events).
//!
//! `docs/admin-api.md` shows the JSON of each route.
//!
//! ```
//! use fisco_p2p_admin::api;
//! let body = api::SubscribeBody { topic: "blocks".into() };
//! assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"topic":"blocks"}"#);
//! let answer: api::Subscription =
//!     serde_json::from_str(r#"{"topic":"blocks","changed":true}"#).unwrap();
//! assert!(answer.changed);
//! ```

mod answers;
mod bodies;
mod events;
#[cfg(test)]
mod tests;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::{Deserialize, Serialize};

pub use answers::{
    Broadcast, Dropped, ErrorAnswer, Multicast, Peer, PeerAdded, PeerRemoved, Reply, Route,
    StaticPeer, Status, Subscription,
};
pub use bodies::{AddrBody, BroadcastBody, RequestBody, SubscribeBody, TopicBody};
pub use events::{Event, LagSource, MessageKind, EVENT_TYPES};

/// A payload in an answer or an event: `{"data": "..."}` when its bytes are UTF-8 text,
/// `{"data_base64": "..."}` otherwise; an event leaves out a payload over the feed's limit and
/// gives only `{"size": N, "data_omitted": true}`. Its fields sit beside the other fields of the
/// object that holds it (`#[serde(flatten)]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Data {
    /// Bytes that are valid UTF-8.
    Text {
        /// The bytes as text.
        data: String,
    },
    /// Bytes that are not valid UTF-8.
    Base64 {
        /// The bytes in standard base64 with padding.
        data_base64: String,
    },
    /// A payload the event feed left out for its size.
    Omitted {
        /// The payload's size in bytes.
        size: usize,
        /// Always true: marks the payload as left out.
        data_omitted: bool,
    },
}

impl Data {
    /// `bytes` as text when they are UTF-8, in base64 otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text {
                data: text.to_owned(),
            },
            Err(_) => Self::Base64 {
                data_base64: BASE64.encode(bytes),
            },
        }
    }

    /// `bytes` if they are at most `max` bytes long; otherwise only their size, marked omitted.
    pub(crate) fn at_most(bytes: &[u8], max: usize) -> Self {
        if bytes.len() <= max {
            return Self::from_bytes(bytes);
        }
        Self::Omitted {
            size: bytes.len(),
            data_omitted: true,
        }
    }
}
