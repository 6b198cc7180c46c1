//! Errors: refused locally, ended without a reply, refused from the network.

use std::time::Duration;

use libp2p::PeerId;

use crate::{envelope::ErrorCode, seal::SignatureError};

/// Why a message was not sent: refused here, before anything went on a link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The payload exceeds the maximum message size; send less, or raise the maximum on every
    /// node.
    #[error("payload of {size} bytes exceeds the maximum message size of {max}")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The maximum.
        max: usize,
    },
    /// As many requests (or multicasts waiting for routes) as allowed are under way; retry when
    /// some have ended.
    #[error("{limit} already in flight; retry shortly")]
    TooManyInFlight {
        /// The configured limit.
        limit: usize,
    },
    /// The requested timeout is longer than the node allows.
    #[error("timeout of {requested:?} exceeds the maximum of {max:?}")]
    TimeoutTooLong {
        /// The timeout asked for.
        requested: Duration,
        /// The maximum.
        max: Duration,
    },
    /// The send queue of the link to `peer` (a first hop of this message) is full: the
    /// neighbour or the link is slower than what is sent. Nothing was sent; retry shortly.
    #[error("the send queue to {peer} is full; retry shortly")]
    QueueFull {
        /// The neighbour.
        peer: PeerId,
    },
    /// A multicast topic must have 1 to 256 bytes.
    #[error("a topic has 1 to 256 bytes, not {len}")]
    InvalidTopic {
        /// The topic's length.
        len: usize,
    },
    /// A node cannot send a request to itself.
    #[error("a node cannot send a request to itself")]
    ToSelf,
    /// The requester no longer waits for this reply (the request expired here, or was answered).
    #[error("the requester no longer waits for this reply")]
    NotWaiting,
    /// The node key could not sign the envelope.
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// Why a request ended without a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// No reply within the request's timeout. The destination may have processed it.
    #[error("no reply within the request's timeout")]
    Timeout,
    /// No route to the destination appeared within the route wait: it is not connected to the
    /// network this node is part of (or state sync has not brought its links yet).
    #[error("no route to the destination")]
    NoRoute,
    /// A relay (or this node's link to the first hop) lost the way on, on every attempt.
    #[error("relay {relay} lost the route on the way")]
    RelayFailed {
        /// The relay that reported it (this node's first hop when the link itself broke).
        relay: PeerId,
    },
    /// The request crossed the hop limit (a routing loop while routes converge, or a network
    /// wider than the limit).
    #[error("the request crossed the hop limit")]
    HopLimit,
    /// A link's send queue on the way was full.
    #[error("busy on the way: {0}")]
    Busy(String),
    /// The destination serves no such module.
    #[error("the destination serves no module {0}")]
    UnknownModule(u16),
    /// The request or reply exceeded what the destination accepts.
    #[error("message of {size} bytes exceeds the destination's maximum of {max}")]
    TooLarge {
        /// Size at fault.
        size: u64,
        /// The maximum.
        max: u64,
    },
    /// The destination's application refused, with its message.
    #[error("the destination's application refused: {0}")]
    Application(String),
    /// The destination refused this node (its access list bars it).
    #[error("the destination refused this node: {0}")]
    Refused(String),
}

impl RequestError {
    /// Whether another attempt on another route may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            RequestError::NoRoute
                | RequestError::RelayFailed { .. }
                | RequestError::HopLimit
                | RequestError::Busy(_)
        )
    }

    pub(crate) fn from_code(code: ErrorCode, from: PeerId) -> Self {
        match code {
            ErrorCode::NoRoute => RequestError::NoRoute,
            ErrorCode::RelayFailed => RequestError::RelayFailed { relay: from },
            ErrorCode::HopLimit => RequestError::HopLimit,
            ErrorCode::UnknownModule(module) => RequestError::UnknownModule(module),
            ErrorCode::TooLarge { size, max } => RequestError::TooLarge { size, max },
            ErrorCode::Application(message) => RequestError::Application(message),
            ErrorCode::Refused(message) => RequestError::Refused(message),
            ErrorCode::Busy(message) => RequestError::Busy(message),
        }
    }
}

/// What a destination answers instead of a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// No module of that number is served here.
    #[error("no module {0} is served here")]
    UnknownModule(u16),
    /// The module is overloaded; the requester may retry later.
    #[error("busy: {0}")]
    Busy(String),
    /// The application refuses, with its own message.
    #[error("refused: {0}")]
    Application(String),
}

impl ReplyError {
    /// The error code that carries this refusal back to the requester.
    pub(crate) fn code(self) -> ErrorCode {
        match self {
            ReplyError::UnknownModule(module) => ErrorCode::UnknownModule(module),
            ReplyError::Busy(message) => ErrorCode::Busy(message),
            ReplyError::Application(message) => ErrorCode::Application(message),
        }
    }
}

/// Why an envelope a neighbour sent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The signature does not prove the claimed origin.
    #[error("bad origin signature: {0}")]
    Signature(#[from] SignatureError),
    /// The access list bars the origin.
    #[error("origin barred: {0}")]
    Barred(String),
    /// The frame announced more than the maximum message size; the stream was reset.
    #[error("frame of {len} bytes announced, over the maximum of {max}")]
    TooLarge {
        /// Announced length.
        len: u64,
        /// The maximum.
        max: usize,
    },
    /// The frame or envelope does not decode, or breaks a rule (unsigned for another node).
    #[error("malformed: {0}")]
    Malformed(String),
}
