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
    /// As many requests of this node as allowed already wait for their reply; retry shortly.
    #[error("busy: {limit} requests already in flight; retry shortly")]
    TooManyInFlight {
        /// The limit.
        limit: usize,
    },
    /// The send queue towards the neighbour the message goes through is full (that neighbour
    /// or its link is slower than what is sent); nothing was sent, retry shortly.
    #[error("busy: the send queue to {neighbour} is full; retry shortly")]
    QueueFull {
        /// The neighbour (its libp2p peer ID).
        neighbour: libp2p::PeerId,
    },
    /// The request's timeout is longer than the node allows.
    #[error("the timeout {requested:?} is longer than the maximum {max:?}")]
    TimeoutTooLong {
        /// What was asked for.
        requested: std::time::Duration,
        /// The maximum.
        max: std::time::Duration,
    },
    /// A node cannot send a request to itself.
    #[error("a node cannot send a request to itself")]
    ToSelf,
    /// The node already follows as many topics as it may (`Config::with_max_topics`).
    #[error("this node already follows the maximum of {max} topics")]
    TooManyTopics {
        /// The maximum.
        max: usize,
    },
    /// A reply went to a request that no longer waits for it (expired, or answered).
    #[error("the requester no longer waits for this reply")]
    NotWaiting,
    /// State sync refused the change (the record would grow over its maximum size...).
    #[error("state change refused: {0}")]
    State(#[source] fisco_p2p_sync::Error),
    /// The overlay refused the message for a reason this version does not name otherwise.
    #[error(transparent)]
    Overlay(fisco_p2p_overlay::SendError),
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

impl SendError {
    /// Refuses a payload of `size` bytes over `max`, the node's largest message (the protocols
    /// allow room for framing on top): the one size rule of every send.
    pub(crate) fn check_size(size: usize, max: usize) -> Result<(), SendError> {
        match size > max {
            true => Err(SendError::TooLarge { size, max }),
            false => Ok(()),
        }
    }
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
    /// The node did not learn in time whether the multicast went out (its route wait and a
    /// second past it); it may have reached some followers.
    #[error("multicast to topic {topic:?} not confirmed in time; it may have gone out")]
    Unconfirmed {
        /// The topic.
        topic: String,
    },
}

/// The overlay's refusal of a message before it was sent, as a [`SendError`].
pub(crate) fn refused(error: fisco_p2p_overlay::SendError) -> SendError {
    use fisco_p2p_overlay::SendError as E;
    match error {
        E::TooLarge { size, max } => SendError::TooLarge { size, max },
        E::TooManyInFlight { limit } => SendError::TooManyInFlight { limit },
        E::TimeoutTooLong { requested, max } => SendError::TimeoutTooLong { requested, max },
        E::ToSelf => SendError::ToSelf,
        E::QueueFull { peer } => SendError::QueueFull { neighbour: peer },
        E::InvalidTopic { len } => SendError::InvalidTopic {
            topic: format!("({len} bytes)"),
            reason: "a topic has 1 to 256 bytes",
        },
        E::NotWaiting => SendError::NotWaiting,
        E::Signing(reason) => SendError::Signing(reason),
        // A refusal this node does not know yet: said as it is, not relabelled as load.
        other => SendError::Overlay(other),
    }
}

fn describe(failures: &[(NodeId, RequestError)]) -> String {
    failures
        .iter()
        .map(|(node, error)| format!("{node:?}: {error}"))
        .collect::<Vec<_>>()
        .join("; ")
}
