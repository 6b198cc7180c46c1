//! Requests this node sends: to one node by node ID, or to one follower of a topic with
//! failover, and their outcomes. Routes, retries and timeouts are the overlay's; this file maps
//! its outcomes to the application's calls.

use super::failover::{Failover, Failure, Next};
use bytes::Bytes;
use fisco_p2p_overlay::{RequestError, RequestId};
use libp2p::PeerId;

use super::{
    command::Reply, event_loop::EventLoop, CallError, MessageKind, RequestKind, RequestOutcome,
    SendError, TopicError,
};
use crate::identity::NodeId;

/// A request sent on behalf of the application, waiting for its outcome.
pub(super) enum PendingRequest {
    /// [`Handle::request`](super::Handle::request): one node.
    Call {
        node: NodeId,
        sent: std::time::Instant,
        reply: Reply<Result<Bytes, CallError>>,
    },
    /// [`Handle::send_to_topic`](super::Handle::send_to_topic): one follower at a time.
    Topic(TopicSend),
}

/// A send to one follower of a topic, failing over to the others.
pub(super) struct TopicSend {
    topic: String,
    module: u16,
    payload: Bytes,
    /// Which follower next, and when it is over (the pure rules, in `failover.rs`).
    failover: Failover<PeerId>,
    started: std::time::Instant,
    reply: Reply<Result<(NodeId, Bytes), TopicError>>,
}

/// The overlay's local refusal, as a [`SendError`].
pub(super) fn refused(error: fisco_p2p_overlay::SendError) -> SendError {
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

impl TopicSend {
    pub(super) fn new(
        topic: String,
        module: u16,
        payload: Bytes,
        reply: Reply<Result<(NodeId, Bytes), TopicError>>,
    ) -> Self {
        Self {
            topic,
            module,
            payload,
            failover: Failover::new(),
            started: std::time::Instant::now(),
            reply,
        }
    }
}

impl EventLoop {
    /// Records how a request ended and how long it took: exactly once per call of
    /// `Handle::request` or `Handle::send_to_topic`, whichever way it ends.
    pub(super) fn request_done(
        &self,
        kind: RequestKind,
        started: std::time::Instant,
        outcome: RequestOutcome,
    ) {
        if let Some(recorder) = &self.config.recorder {
            recorder.request_completed(kind, started.elapsed(), outcome);
        }
    }

    /// Sends one request to `node`, which need not be a neighbour: the overlay routes it (and
    /// waits a moment for a route when state sync has not brought one yet).
    pub(super) fn request(
        &mut self,
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: Option<std::time::Duration>,
        reply: Reply<Result<Bytes, CallError>>,
    ) {
        let sent = std::time::Instant::now();
        let peer = node.to_peer_id();
        let outcome = self
            .check_size(&payload)
            .and_then(|()| self.send_request(peer, module, payload, timeout));
        match outcome {
            Ok(id) => {
                self.requests
                    .insert(id, PendingRequest::Call { node, sent, reply });
            }
            Err(e) => {
                self.request_done(RequestKind::Node, sent, RequestOutcome::Error);
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    fn send_request(
        &mut self,
        peer: PeerId,
        module: u16,
        payload: Bytes,
        timeout: Option<std::time::Duration>,
    ) -> Result<RequestId, SendError> {
        let len = payload.len();
        let id = self
            .swarm
            .behaviour_mut()
            .overlay
            .request(peer, module, payload, timeout)
            .map_err(refused)?;
        if let Some(m) = &self.config.recorder {
            m.message_sent(MessageKind::Unicast, len)
        }
        Ok(id)
    }

    /// Sends `send` to a random follower not tried yet (among those with a route, if any has
    /// one), or ends it when none is left.
    pub(super) fn try_next_follower(&mut self, mut send: TopicSend) {
        let local = *self.swarm.local_peer_id();
        let behaviour = self.swarm.behaviour_mut();
        let followers: Vec<(PeerId, bool)> = behaviour
            .sync
            .followers(&send.topic)
            .into_iter()
            .filter(|p| *p != local)
            .map(|p| (p, behaviour.overlay.route(&p).is_some()))
            .collect();
        let peer = match send.failover.next(&followers, &mut rand::thread_rng()) {
            Next::Try(peer) => peer,
            Next::Failed(failure) => {
                self.request_done(RequestKind::Topic, send.started, failure.outcome());
                let error = match failure {
                    Failure::NoFollower => TopicError::NoFollower { topic: send.topic },
                    Failure::AllFailed(failures) => TopicError::AllFailed {
                        topic: send.topic,
                        failures: failures
                            .into_iter()
                            .filter_map(|(peer, error)| Some((self.node_of(&peer)?, error)))
                            .collect(),
                    },
                };
                let _ = send.reply.send(Err(error));
                return;
            }
        };
        match self.send_request(peer, send.module, send.payload.clone(), None) {
            Ok(id) => {
                self.requests.insert(id, PendingRequest::Topic(send));
            }
            Err(e) => {
                self.request_done(RequestKind::Topic, send.started, RequestOutcome::Error);
                let _ = send.reply.send(Err(e.into()));
            }
        }
    }

    /// The overlay's outcome of a request.
    pub(super) fn on_response(
        &mut self,
        id: RequestId,
        destination: PeerId,
        result: Result<Bytes, RequestError>,
    ) {
        match self.requests.remove(&id) {
            Some(PendingRequest::Call { node, sent, reply }) => {
                let outcome = match &result {
                    Ok(_) => RequestOutcome::Reply,
                    Err(error) => RequestOutcome::of_error(error),
                };
                self.request_done(RequestKind::Node, sent, outcome);
                let _ = reply.send(result.map_err(|error| CallError::Failed { node, error }));
            }
            Some(PendingRequest::Topic(mut send)) => match (result, self.node_of(&destination)) {
                (Ok(bytes), Some(node)) => {
                    self.request_done(RequestKind::Topic, send.started, RequestOutcome::Reply);
                    let _ = send.reply.send(Ok((node, bytes)));
                }
                (result, node) => {
                    // A reply from a node this one cannot name cannot be handed over (every
                    // follower's record carries its key, so this does not happen): try another.
                    let error = result.err().unwrap_or_else(|| {
                        RequestError::Application("the replying node cannot be named".into())
                    });
                    tracing::debug!(?node, %error, topic = %send.topic, "follower failed; trying another");
                    send.failover.failed(destination, error);
                    self.try_next_follower(send);
                }
            },
            None => {}
        }
    }
}
