//! Errors of the node and of its messaging calls.

use libp2p::Multiaddr;

use crate::{identity::NodeId, tls};

pub use fisco_p2p_overlay::RequestError;

/// The node has stopped (shut down, or all handles were dropped); start a new one. The one
/// error of the calls that can fail no other way, and what [`SendError::Stopped`] and the others
/// convert from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node has stopped")]
pub struct Stopped;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The TLS configuration could not be built from the node's key and certificates.
    #[error("cannot set up TLS: {0}")]
    Tls(Box<tls::TlsError>),
    /// The node could not listen on an address (in use, not local, or not TCP).
    #[error("cannot listen on {address}: {reason}; pick another address or free the port")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// What the transport said.
        reason: String,
    },
    /// The libp2p transport or a protocol could not be set up.
    #[error("cannot build the node: {0}")]
    Setup(String),
}

/// Why a message was not sent: refused here, before anything went on the wire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The node has stopped.
    #[error("the node has stopped")]
    Stopped,
    /// The payload exceeds the maximum message size; send less, or raise the maximum on every
    /// node (`Config::with_max_message_size`).
    #[error("payload of {size} bytes exceeds the maximum message size of {max}")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Too much is already under way (requests in flight, frames queued); retry shortly.
    #[error("busy: {0}; retry shortly")]
    Busy(String),
    /// The request's timeout is longer than the node allows.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The topic name is empty or too long.
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The topic.
        topic: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The node's key could not sign the message (the key or the signing library failed); not
    /// a matter of load, so retrying will not help.
    #[error("cannot sign the message: {0}")]
    Signing(String),
}

impl From<Stopped> for SendError {
    fn from(_: Stopped) -> Self {
        SendError::Stopped
    }
}

/// Why a request to one node got no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// Not sent (see the reason).
    #[error(transparent)]
    NotSent(#[from] SendError),
    /// Sent, but it ended without a reply: timeout, no route, a relay failure on every attempt,
    /// or refused by the destination (unknown module, too large, its application or its access
    /// list).
    #[error("request to {node} failed: {error}")]
    Failed {
        /// The node it was sent to.
        node: NodeId,
        /// How it ended.
        error: RequestError,
    },
}

/// Why a send to one follower of a topic got no reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not sent (see the reason).
    #[error(transparent)]
    NotSent(#[from] SendError),
    /// No online node follows the topic (FISCO: "topic not found").
    #[error("no node follows topic {topic:?}")]
    NoFollower {
        /// The topic.
        topic: String,
    },
    /// Every follower was tried once, and each failed.
    #[error("all {} followers of topic {topic:?} failed: {}", .failures.len(), describe(.failures))]
    AllFailed {
        /// The topic.
        topic: String,
        /// Each follower tried, in order, with how its request ended.
        failures: Vec<(NodeId, RequestError)>,
    },
}

/// Why a multicast did not go out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MulticastError {
    /// Not sent (see the reason).
    #[error(transparent)]
    NotSent(#[from] SendError),
    /// No online node follows the topic, or none of its followers could be reached.
    #[error("no reachable node follows topic {topic:?}")]
    NoFollower {
        /// The topic.
        topic: String,
    },
}

fn describe(failures: &[(NodeId, RequestError)]) -> String {
    failures
        .iter()
        .map(|(node, error)| format!("{node:?}: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}
