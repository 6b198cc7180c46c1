//! Unicast for fisco-p2p: a request to one node, addressed by peer ID and module, and its reply.
//!
//! As in FISCO BCOS, every message belongs to an application **module** (`u16`), so several
//! modules share one node: the application registers the modules it serves, and a request for
//! any other module is answered at once with [`ReplyError::UnknownModule`] (not left to time
//! out). Payloads are plain [`Bytes`]; nothing forces serde on the application.
//!
//! Every request ends in exactly one [`Event::Response`]: the reply, or a [`RequestError`]
//! saying why not: its own timeout expired (default 10 s, chosen per request), the connection
//! closed (every request pending on it fails at once), the peer could not be dialled, or the
//! peer refused it (unknown module, too large, application error).
//!
//! Underneath is libp2p `request_response`, one substream per request, protocol
//! [`PROTOCOL_NAME`], each message a CBOR body in a length-prefixed frame. The length prefix is
//! checked against the maximum message size (default 32 MiB) before anything is allocated; a
//! forged or oversize length resets that substream and the node keeps serving.
//!
//! # Layout
//! - `behaviour.rs`: [`Behaviour`]'s API: modules, sending with timeouts, the in-flight bound;
//!   `behaviour/network.rs`: what the swarm calls, turning `request_response` events and our
//!   timers into [`Event`]s;
//! - `pending.rs`: outstanding requests and their deadlines, without I/O;
//! - `codec.rs`: framing; `protocol.rs`: the CBOR bodies; `config.rs`: [`Config`].
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use fisco_p2p_unicast as unicast;
//! use libp2p::PeerId;
//!
//! const BLOCK_SYNC: u16 = 9;
//! let mut behaviour = unicast::Behaviour::new(unicast::Config::default());
//! behaviour.register_module(BLOCK_SYNC);
//! // The outcome arrives later as `unicast::Event::Response` with this ID.
//! let peer = PeerId::random();
//! let id = behaviour
//!     .send_request_with_timeout(&peer, BLOCK_SYNC, Bytes::from_static(b"block 42?"), Duration::from_secs(3))
//!     .expect("within limits");
//! assert_eq!(behaviour.in_flight(), 1);
//! # let _ = id;
//! ```

#![warn(missing_docs)]

mod behaviour;
mod codec;
mod config;
mod pending;
mod protocol;

use std::{fmt, time::Duration};

use bytes::Bytes;
use libp2p::{request_response, PeerId, StreamProtocol};

pub use behaviour::Behaviour;
pub use codec::Codec;
pub use config::Config;
pub use protocol::{Request, Response};

/// The protocol name negotiated on unicast substreams.
pub const PROTOCOL_NAME: StreamProtocol = StreamProtocol::new("/fisco/unicast/1.0.0");

/// Identifies an outbound request; its [`Event::Response`] carries the same ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(request_response::OutboundRequestId);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies an inbound request (unique within this node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InboundRequestId(request_response::InboundRequestId);

impl fmt::Display for InboundRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the answer to an inbound request goes: pass it to [`Behaviour::send_response`].
/// Dropping it without answering closes the substream: the requester's request ends with
/// [`RequestError::Stream`].
#[derive(Debug)]
pub struct ResponseChannel(request_response::ResponseChannel<Response>);

impl ResponseChannel {
    /// Whether the requester still waits (false once the connection closed or the request timed
    /// out on this side).
    pub fn is_open(&self) -> bool {
        self.0.is_open()
    }
}

/// What the unicast behaviour reports to the swarm.
#[derive(Debug)]
pub enum Event {
    /// A peer sent a request for a registered module; answer through `channel`.
    Request {
        /// The requesting node.
        peer: PeerId,
        /// This request's ID on this node.
        request_id: InboundRequestId,
        /// The module it is for.
        module: u16,
        /// The application's bytes.
        payload: Bytes,
        /// Pass to [`Behaviour::send_response`].
        channel: ResponseChannel,
    },
    /// The outcome of a request this node sent: exactly one per [`RequestId`].
    Response {
        /// The ID [`Behaviour::send_request`] returned.
        request_id: RequestId,
        /// The node the request went to.
        peer: PeerId,
        /// The reply, or why there is none.
        result: Result<Bytes, RequestError>,
    },
}

/// An error a responder sends back instead of a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The responder serves no such module (sent automatically for unregistered modules).
    #[error("the peer serves no module {0}")]
    UnknownModule(u16),
    /// The reply would exceed the responder's maximum message size.
    #[error("the reply of {size} bytes exceeds the peer's maximum of {max}")]
    TooLarge {
        /// Size of the reply the responder would have sent.
        size: u64,
        /// The responder's maximum.
        max: u64,
    },
    /// The responding application refused, with its own message.
    #[error("the peer's application refused: {0}")]
    Application(String),
}

/// Why a request ended without a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No reply within the request's timeout. The peer may still have processed it.
    #[error("no reply within the request's timeout")]
    Timeout,
    /// The connection to the peer closed before the reply. The peer may have processed it.
    #[error("the connection closed before the reply")]
    Disconnected,
    /// The peer was not connected and could not be dialled (no known address, or every dial
    /// failed). Make sure its addresses are known, e.g. through state sync.
    #[error("the peer is not connected and could not be dialled")]
    Unreachable,
    /// The peer does not speak [`PROTOCOL_NAME`].
    #[error("the peer does not support {PROTOCOL_NAME}")]
    UnsupportedProtocol,
    /// The peer serves no such module.
    #[error("the peer serves no module {0}")]
    UnknownModule(u16),
    /// The request or reply was larger than the peer accepts.
    #[error("message of {size} bytes exceeds the peer's maximum of {max}")]
    TooLarge {
        /// Size at fault.
        size: u64,
        /// The peer's maximum.
        max: u64,
    },
    /// The peer's application refused the request, with its message.
    #[error("the peer's application refused: {0}")]
    Application(String),
    /// The substream failed: reset by the peer (for instance because the request exceeded its
    /// maximum message size), malformed reply, or I/O error.
    #[error("the request's substream failed: {0}")]
    Stream(String),
}

impl From<ReplyError> for RequestError {
    fn from(error: ReplyError) -> Self {
        match error {
            ReplyError::UnknownModule(module) => RequestError::UnknownModule(module),
            ReplyError::TooLarge { size, max } => RequestError::TooLarge { size, max },
            ReplyError::Application(message) => RequestError::Application(message),
        }
    }
}

/// Why a unicast call was refused locally.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The payload exceeds the maximum message size; send less, or raise
    /// [`Config::with_max_message_size`] on every node.
    #[error("payload of {size} bytes exceeds the maximum message size of {max}")]
    TooLarge {
        /// Payload size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// As many requests as allowed already await their outcome; wait for some to end, or raise
    /// [`Config::with_max_in_flight`].
    #[error("{limit} requests already in flight")]
    TooManyInFlight {
        /// The configured limit.
        limit: usize,
    },
    /// The requested timeout is longer than [`Config::with_max_request_timeout`] allows.
    #[error("timeout of {requested:?} exceeds the maximum of {max:?}")]
    TimeoutTooLong {
        /// The timeout asked for.
        requested: Duration,
        /// The configured maximum.
        max: Duration,
    },
    /// The requester is gone (connection closed, or the request timed out here): the response
    /// was not sent.
    #[error("the requester no longer waits for this response")]
    ChannelClosed,
}
