//! What goes into the call core and what comes out of it.

use std::{fmt::Debug, hash::Hash, time::Duration, time::Instant};

use bytes::Bytes;
use fisco_p2p_overlay::{RequestError, SendError as OverlayRefusal};

use crate::node::{core::failover::Failure, SendError};

/// The types the core is generic over: the node's own, or small ones in the tests.
pub(crate) trait Types {
    /// A node on the network.
    type Peer: Copy + Eq + Hash + Debug;
    /// The overlay's name for a request in flight.
    type RequestId: Copy + Eq + Hash + Debug;
    /// The overlay's name for a multicast going out.
    type MulticastId: Copy + Eq + Hash + Debug;
    /// Where the answer to a request to one node goes.
    type CallReply;
    /// Where the answer to a send to a topic goes.
    type TopicReply;
    /// Where the answer to a multicast goes.
    type MulticastReply;
}

/// What the core reads of the node's state. `&mut` only because the node's routing table is
/// computed when first asked for; the core changes nothing through it.
pub(crate) trait View<P> {
    /// The followers of `topic` other than this node, each with whether it has a route now.
    fn followers(&mut self, topic: &str) -> Vec<(P, bool)>;
    /// Whether the node can name `peer` to the application (its node ID is known).
    fn nameable(&self, peer: &P) -> bool;
}

/// The limits the core applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// The largest payload the application may send.
    pub(crate) max_message_size: usize,
    /// The overlay's timeout of a request that does not set its own.
    pub(crate) request_timeout: Duration,
    /// How long the overlay lets a message wait for a route.
    pub(crate) route_wait: Duration,
}

/// A call in progress, as the core names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CallId(pub(super) u64);

/// A request the core asked the overlay to send: for a call to one node, or for one attempt of
/// a send to a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Attempt {
    /// The request of a call to one node.
    Node(CallId),
    /// The current attempt of a send to a topic.
    Topic(CallId),
}

/// A call from the application, or what the overlay said.
pub(crate) enum Input<T: Types> {
    /// Send a request to `peer` and wait for its reply.
    Request {
        peer: T::Peer,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
        reply: T::CallReply,
    },
    /// Send a request to one follower of `topic`, failing over to the others.
    SendToTopic {
        topic: String,
        module: u16,
        payload: Bytes,
        reply: T::TopicReply,
    },
    /// Send to every follower of `topic`.
    Multicast {
        topic: String,
        module: u16,
        payload: Bytes,
        reply: T::MulticastReply,
    },
    /// The overlay took (or refused) the request of an [`Output::Send`].
    Sent {
        attempt: Attempt,
        result: Result<T::RequestId, OverlayRefusal>,
    },
    /// The overlay took (or refused) the multicast of an [`Output::Multicast`].
    MulticastStarted {
        call: CallId,
        result: Result<T::MulticastId, OverlayRefusal>,
    },
    /// How a request ended, and the node it was sent to.
    Response {
        id: T::RequestId,
        from: T::Peer,
        result: Result<Bytes, RequestError>,
    },
    /// A multicast went out to `sent` followers.
    MulticastSent { id: T::MulticastId, sent: usize },
}

/// What the driver is to do.
#[derive(Debug)]
pub(crate) enum Output<T: Types> {
    /// Hand this request to the overlay and say how it went with [`Input::Sent`].
    Send {
        attempt: Attempt,
        peer: T::Peer,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
    },
    /// Hand this multicast to the overlay and say how it went with [`Input::MulticastStarted`].
    Multicast {
        call: CallId,
        topic: String,
        followers: Vec<T::Peer>,
        module: u16,
        payload: Bytes,
    },
    /// A request to one node ended.
    CallDone {
        reply: T::CallReply,
        started: Instant,
        result: Result<Bytes, CallFailure>,
    },
    /// A send to a topic ended.
    TopicDone {
        reply: T::TopicReply,
        topic: String,
        started: Instant,
        result: Result<(T::Peer, Bytes), TopicFailure<T::Peer>>,
    },
    /// A multicast ended.
    MulticastDone {
        reply: T::MulticastReply,
        topic: String,
        result: Result<usize, MulticastFailure>,
    },
}

/// How a request to one node ended without a reply.
#[derive(Debug)]
pub(crate) enum CallFailure {
    /// Refused before it was sent.
    NotSent(SendError),
    /// Sent, and it ended without a reply.
    Failed(RequestError),
}

/// How a send to a topic ended without a reply.
#[derive(Debug)]
pub(crate) enum TopicFailure<P> {
    /// Refused before it was sent.
    NotSent(SendError),
    /// No follower was left to try: none at all, or each failed.
    Failed(Failure<P>),
}

/// How a multicast ended without going out.
#[derive(Debug)]
pub(crate) enum MulticastFailure {
    /// Refused before it was sent.
    NotSent(SendError),
    /// No follower, or none reachable.
    NoFollower,
    /// The overlay did not say by the deadline whether it went out.
    Unconfirmed,
}
