//! The request bodies. Each refuses unknown fields; an absent optional field is left out when
//! the client sends it, and read as absent when it is missing or `null`.

use serde::{Deserialize, Serialize};

/// `POST /v1/request`: a request to one node, answered with a [`Reply`](super::Reply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The node: 128 hex characters, or for a FISCO 3.x node its P2P ID or the modulus of its
    /// `conf/ssl.nodeid`. The server reads it and answers 400 naming what is wrong.
    pub to: String,
    /// The application module; [`DEFAULT_MODULE`](crate::DEFAULT_MODULE) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<u16>,
    /// The payload as UTF-8 text; give this or `data_base64`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload in standard base64, for binary payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// How long to wait for the reply, in milliseconds (1 to 600000); the node's request
    /// timeout when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// `POST /v1/send-topic` (a request to one follower of the topic, answered with a
/// [`Reply`](super::Reply)) and `POST /v1/multicast` (a message to every follower, answered
/// with a [`Multicast`](super::Multicast)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicBody {
    /// The topic: 1 to 255 bytes, no control characters.
    pub topic: String,
    /// The application module; [`DEFAULT_MODULE`](crate::DEFAULT_MODULE) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<u16>,
    /// The payload as UTF-8 text; give this or `data_base64`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload in standard base64, for binary payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

/// `POST /v1/broadcast`: a message to every node, answered with a
/// [`Broadcast`](super::Broadcast).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BroadcastBody {
    /// The application module; [`DEFAULT_MODULE`](crate::DEFAULT_MODULE) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<u16>,
    /// The payload as UTF-8 text; give this or `data_base64`, not both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The payload in standard base64, for binary payloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

/// `POST /v1/subscribe` and `POST /v1/unsubscribe`: follow or stop following a topic,
/// answered with a [`Subscription`](super::Subscription).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeBody {
    /// The topic.
    pub topic: String,
}

/// `POST /v1/peers` and `DELETE /v1/peers`: add or remove a static peer, answered with a
/// [`PeerAdded`](super::PeerAdded) or a [`PeerRemoved`](super::PeerRemoved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddrBody {
    /// The address: `ip:port`, `[v6]:port`, `host:port` or a multiaddr.
    pub addr: String,
}
