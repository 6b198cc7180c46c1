//! Requests this node sends: to one node by node ID (waiting for its address if state sync has
//! not brought it yet), or to one follower of a topic with failover, and their outcomes.

use std::collections::HashSet;

use bytes::Bytes;
use fisco_p2p_unicast::RequestError;
use libp2p::PeerId;
use rand::seq::SliceRandom;

use super::{command::Reply, event_loop::EventLoop, CallError, SendError, TopicError};
use crate::{
    identity::NodeId,
    metrics::{MessageKind, RequestKind},
};

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

/// A request to a node that is neither connected nor known to state sync yet: it waits (until
/// its deadline) for the node's record, and with it an address to dial.
pub(super) struct AwaitingAddress {
    peer: PeerId,
    module: u16,
    payload: Bytes,
    deadline: std::time::Instant,
    node: NodeId,
    reply: Reply<Result<Bytes, CallError>>,
}

/// Most requests waiting for an address at once.
const MAX_AWAITING_ADDRESS: usize = 1024;

/// A send to one follower of a topic, failing over to the others.
pub(super) struct TopicSend {
    topic: String,
    module: u16,
    payload: Bytes,
    /// Followers already tried: never tried again for this send.
    tried: HashSet<PeerId>,
    failures: Vec<(NodeId, RequestError)>,
    started: std::time::Instant,
    reply: Reply<Result<(NodeId, Bytes), TopicError>>,
}

/// The local refusal of a unicast call, as a [`SendError`].
fn refused(error: fisco_p2p_unicast::Error) -> SendError {
    use fisco_p2p_unicast::Error as E;
    match error {
        E::TooLarge { size, max } => SendError::TooLarge { size, max },
        E::TooManyInFlight { limit } => SendError::Busy(format!("{limit} requests in flight")),
        E::TimeoutTooLong { requested, max } => SendError::Invalid(format!(
            "timeout {requested:?} is longer than the maximum {max:?}"
        )),
        other => SendError::Busy(other.to_string()),
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
            tried: HashSet::new(),
            failures: Vec::new(),
            started: std::time::Instant::now(),
            reply,
        }
    }
}

impl EventLoop {
    /// Records how long a request took, for the latency histogram.
    pub(super) fn request_done(
        &self,
        kind: RequestKind,
        started: std::time::Instant,
        replied: bool,
    ) {
        if let Some(metrics) = &self.config.metrics {
            metrics.request_finished(kind, started.elapsed(), replied);
        }
    }

    pub(super) fn request(
        &mut self,
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: Option<std::time::Duration>,
        reply: Reply<Result<Bytes, CallError>>,
    ) {
        let peer = node.to_peer_id();
        if peer == *self.swarm.local_peer_id() {
            let _ = reply.send(Err(SendError::Invalid(
                "a node cannot send a request to itself".into(),
            )
            .into()));
            return;
        }
        if let Err(e) = self.check_size(&payload) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        let timeout = timeout.unwrap_or(self.config.request_timeout);
        let unknown = !self.connected.contains_key(&peer)
            && self.swarm.behaviour().sync.record(&peer).is_none();
        if unknown {
            if self.awaiting_address.len() >= MAX_AWAITING_ADDRESS {
                let busy =
                    SendError::Busy(format!("{MAX_AWAITING_ADDRESS} requests await an address"));
                let _ = reply.send(Err(busy.into()));
                return;
            }
            tracing::debug!(%node, "request waits for the node's address through state sync");
            self.awaiting_address.push(AwaitingAddress {
                peer,
                module,
                payload,
                deadline: std::time::Instant::now() + timeout,
                node,
                reply,
            });
            return;
        }
        self.send_call(node, module, payload, timeout, reply);
    }

    pub(super) fn send_call(
        &mut self,
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: std::time::Duration,
        reply: Reply<Result<Bytes, CallError>>,
    ) {
        match self.send_unicast(node.to_peer_id(), module, payload, timeout) {
            Ok(id) => {
                let sent = std::time::Instant::now();
                self.requests
                    .insert(id, PendingRequest::Call { node, sent, reply });
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    /// Sends the requests whose target is now connected or known to state sync, and fails
    /// those past their deadline.
    pub(super) fn release_awaiting(&mut self, now: std::time::Instant) {
        if self.awaiting_address.is_empty() {
            return;
        }
        for request in std::mem::take(&mut self.awaiting_address) {
            let known = self.connected.contains_key(&request.peer)
                || self.swarm.behaviour().sync.record(&request.peer).is_some();
            if known {
                let left = request.deadline.saturating_duration_since(now);
                let timeout = left.max(std::time::Duration::from_millis(1));
                let AwaitingAddress {
                    node,
                    module,
                    payload,
                    reply,
                    ..
                } = request;
                self.send_call(node, module, payload, timeout, reply);
            } else if request.deadline <= now {
                let error = CallError::Failed {
                    node: request.node,
                    error: RequestError::Unreachable,
                };
                let _ = request.reply.send(Err(error));
            } else {
                self.awaiting_address.push(request);
            }
        }
    }

    pub(super) fn send_unicast(
        &mut self,
        peer: PeerId,
        module: u16,
        payload: Bytes,
        timeout: std::time::Duration,
    ) -> Result<fisco_p2p_unicast::RequestId, SendError> {
        if let Some(m) = &self.config.metrics {
            m.message_sent(MessageKind::Unicast, payload.len())
        }
        let behaviour = self.swarm.behaviour_mut();
        let addrs = behaviour
            .sync
            .record(&peer)
            .map(|r| r.addrs().to_vec())
            .unwrap_or_default();
        behaviour
            .unicast
            .send_request_with_addresses(&peer, module, payload, timeout, addrs)
            .map_err(refused)
    }

    /// Sends `send` to a random follower not tried yet, or ends it when none is left.
    pub(super) fn try_next_follower(&mut self, mut send: TopicSend) {
        let local = *self.swarm.local_peer_id();
        let mut candidates: Vec<PeerId> = self
            .swarm
            .behaviour()
            .sync
            .followers(&send.topic)
            .into_iter()
            .filter(|p| *p != local && !send.tried.contains(p))
            .collect();
        candidates.shuffle(&mut rand::thread_rng());
        let Some(peer) = candidates.pop() else {
            if !send.failures.is_empty() {
                self.request_done(RequestKind::Topic, send.started, false);
            }
            let error = if send.failures.is_empty() {
                TopicError::NoFollower { topic: send.topic }
            } else {
                TopicError::AllFailed {
                    topic: send.topic,
                    failures: send.failures,
                }
            };
            let _ = send.reply.send(Err(error));
            return;
        };
        send.tried.insert(peer);
        let timeout = self.config.request_timeout;
        match self.send_unicast(peer, send.module, send.payload.clone(), timeout) {
            Ok(id) => {
                self.requests.insert(id, PendingRequest::Topic(send));
            }
            Err(e) => {
                let _ = send.reply.send(Err(e.into()));
            }
        }
    }

    pub(super) fn on_unicast_event(&mut self, event: fisco_p2p_unicast::Event) {
        match event {
            fisco_p2p_unicast::Event::Request {
                peer,
                module,
                payload,
                channel,
                ..
            } => self.on_request(peer, module, payload, channel),
            fisco_p2p_unicast::Event::Response {
                request_id,
                peer,
                result,
            } => match self.requests.remove(&request_id) {
                Some(PendingRequest::Call { node, sent, reply }) => {
                    self.request_done(RequestKind::Node, sent, result.is_ok());
                    let _ = reply.send(result.map_err(|error| CallError::Failed { node, error }));
                }
                Some(PendingRequest::Topic(mut send)) => {
                    let Ok(node) = NodeId::from_peer_id(&peer) else {
                        return;
                    };
                    match result {
                        Ok(bytes) => {
                            self.request_done(RequestKind::Topic, send.started, true);
                            let _ = send.reply.send(Ok((node, bytes)));
                        }
                        Err(error) => {
                            tracing::debug!(%node, %error, topic = %send.topic, "follower failed; trying another");
                            send.failures.push((node, error));
                            self.try_next_follower(send);
                        }
                    }
                }
                None => {}
            },
        }
    }
}
