//! The event loop's messaging: requests (to a node, or to one follower of a topic), broadcasts,
//! topics and state, and delivering what arrives to the module inboxes.

use std::collections::HashSet;

use bytes::Bytes;
use fisco_p2p_unicast::{ReplyError, RequestError};
use libp2p::PeerId;
use rand::seq::SliceRandom;

use super::{
    command::{Command, Reply},
    event_loop::EventLoop,
    inbox::{IncomingRequest, Message, Responder, Undeliverable},
    CallError, Event, PeerInfo, SendError, TopicError,
};
use crate::{
    identity::NodeId,
    metrics::{MessageKind, RequestKind},
};

/// Longest topic name accepted.
const MAX_TOPIC_LEN: usize = 256;

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

/// Checks a topic name.
pub(super) fn check_topic(topic: &str) -> Result<(), SendError> {
    let reason = if topic.is_empty() {
        "empty"
    } else if topic.len() > MAX_TOPIC_LEN {
        "longer than 256 bytes"
    } else {
        return Ok(());
    };
    Err(SendError::InvalidTopic {
        topic: topic.chars().take(64).collect(),
        reason,
    })
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

impl EventLoop {
    /// Records how long a request took, for the latency histogram.
    fn request_done(&self, kind: RequestKind, started: std::time::Instant, replied: bool) {
        if let Some(metrics) = &self.config.metrics {
            metrics.request_finished(kind, started.elapsed(), replied);
        }
    }

    /// Refuses payloads over the configured maximum (the protocols allow room for framing).
    pub(super) fn check_size(&self, payload: &Bytes) -> Result<(), SendError> {
        let max = self.config.max_message_size;
        if payload.len() > max {
            return Err(SendError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        Ok(())
    }

    pub(super) fn on_message_command(&mut self, command: Command) {
        match command {
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Command::Register(module, reply) => {
                self.swarm.behaviour_mut().unicast.register_module(module);
                let _ = reply.send(self.modules.register(module));
            }
            Command::Request {
                node,
                module,
                payload,
                timeout,
                reply,
            } => self.request(node, module, payload, timeout, reply),
            Command::SendToTopic {
                topic,
                module,
                payload,
                reply,
            } => {
                if let Err(e) = check_topic(&topic).and_then(|()| self.check_size(&payload)) {
                    let _ = reply.send(Err(e.into()));
                    return;
                }
                let send = TopicSend {
                    topic,
                    module,
                    payload,
                    tried: HashSet::new(),
                    failures: Vec::new(),
                    started: std::time::Instant::now(),
                    reply,
                };
                self.try_next_follower(send);
            }
            Command::Multicast {
                topic,
                module,
                payload,
                reply,
            } => self.multicast(topic, module, payload, reply),
            Command::Broadcast {
                module,
                payload,
                reply,
            } => {
                if let Err(e) = self.check_size(&payload) {
                    let _ = reply.send(Err(e));
                    return;
                }
                if let Some(m) = &self.config.metrics {
                    m.message_sent(MessageKind::Broadcast, payload.len())
                }
                let result = self
                    .swarm
                    .behaviour_mut()
                    .broadcast
                    .broadcast(module, payload)
                    .map(|_| ())
                    .map_err(|e| match e {
                        fisco_p2p_broadcast::Error::TooLarge { size, max } => {
                            SendError::TooLarge { size, max }
                        }
                        other => SendError::Busy(other.to_string()),
                    });
                let _ = reply.send(result);
            }
            Command::Subscribe(topic, reply) => {
                let _ = reply.send(self.subscribe(topic));
            }
            Command::Unsubscribe(topic, reply) => {
                let _ = reply.send(self.unsubscribe(&topic));
            }
            Command::SetState(key, value, reply) => {
                let sync = &mut self.swarm.behaviour_mut().sync;
                let result = match value {
                    Some(value) => sync.set_state(key, value),
                    None => sync.remove_state(&key),
                };
                let _ = reply.send(result.map_err(|e| SendError::Invalid(e.to_string())));
            }
            Command::Respond(channel, result) => {
                let result = result.map_err(ReplyError::Application);
                if let Err(error) = self
                    .swarm
                    .behaviour_mut()
                    .unicast
                    .send_response(channel, result)
                {
                    tracing::warn!(%error, "reply not sent");
                }
            }
            other => tracing::error!(?other, "command reached the wrong handler"),
        }
    }

    /// Sends one request to `node`, dialling it at its advertised addresses if need be.
    fn request(
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

    fn send_call(
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

    fn send_unicast(
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
    fn try_next_follower(&mut self, mut send: TopicSend) {
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

    fn on_request(
        &mut self,
        peer: PeerId,
        module: u16,
        payload: Bytes,
        channel: fisco_p2p_unicast::ResponseChannel,
    ) {
        let (Ok(from), Some(commands)) =
            (NodeId::from_peer_id(&peer), self.command_sender.upgrade())
        else {
            return;
        };
        if let Some(m) = &self.config.metrics {
            m.message_received(MessageKind::Unicast, payload.len())
        }
        let request = IncomingRequest {
            from,
            module,
            payload,
            responder: Responder::new(channel, commands),
        };
        let refusal = match self.modules.deliver(module, Message::Request(request)) {
            Ok(()) => return,
            Err(Undeliverable::UnknownModule(message)) => {
                self.swarm.behaviour_mut().unicast.unregister_module(module);
                (message, ReplyError::UnknownModule(module))
            }
            Err(Undeliverable::Busy(message)) => {
                tracing::warn!(module, from = %from, "module inbox full; answering busy");
                (
                    message,
                    ReplyError::Application(format!("module {module} is busy; retry later")),
                )
            }
        };
        if let (Message::Request(request), error) = (*refusal.0, refusal.1) {
            let channel = request.responder.into_channel();
            let _ = self
                .swarm
                .behaviour_mut()
                .unicast
                .send_response(channel, Err(error));
        }
    }

    pub(super) fn on_broadcast_event(&mut self, event: fisco_p2p_broadcast::Event) {
        match event {
            fisco_p2p_broadcast::Event::Received {
                origin,
                module,
                payload,
                ..
            } => {
                let Ok(from) = NodeId::from_peer_id(&origin) else {
                    return;
                };
                self.deliver(module, Message::Broadcast { from, payload });
            }
            fisco_p2p_broadcast::Event::Invalid { from, reason } => {
                self.report_invalid(from, "broadcast", reason.to_string());
            }
        }
    }

    /// Hands a multicast or broadcast to its module, dropping it (with a warning) if it cannot.
    pub(super) fn deliver(&mut self, module: u16, message: Message) {
        if let Some(m) = &self.config.metrics {
            m.message_delivered(&message)
        }
        match self.modules.deliver(module, message) {
            Ok(()) => {}
            Err(Undeliverable::UnknownModule(_)) => {
                tracing::debug!(module, "message for an unregistered module dropped");
            }
            Err(Undeliverable::Busy(_)) => {
                tracing::warn!(module, "module inbox full; message dropped");
            }
        }
    }

    pub(super) fn report_invalid(&self, from: PeerId, protocol: &'static str, reason: String) {
        tracing::warn!(peer = %from, protocol, %reason, "invalid message refused");
        if let Ok(node_id) = NodeId::from_peer_id(&from) {
            self.emit(Event::InvalidMessage {
                node_id,
                protocol,
                reason,
            });
        }
    }

    pub(super) fn on_sync_event(&mut self, event: fisco_p2p_sync::Event) {
        use fisco_p2p_sync::Event as E;
        let node = |peer: &PeerId| NodeId::from_peer_id(peer).ok();
        let event = match event {
            E::RecordUpdated { peer, record } => {
                self.release_awaiting(std::time::Instant::now());
                node(&peer).map(|node_id| Event::PeerStateChanged {
                    node_id,
                    seq: record.seq(),
                    topics: record.topics().iter().cloned().collect(),
                })
            }
            E::PeerOnline { peer } => node(&peer).map(|node_id| Event::PeerOnline { node_id }),
            E::PeerOffline { peer } => node(&peer).map(|node_id| Event::PeerOffline { node_id }),
            E::PeerForgotten { peer } => {
                node(&peer).map(|node_id| Event::PeerForgotten { node_id })
            }
            E::InvalidRecord { from, reason } => {
                self.report_invalid(from, "sync", reason.to_string());
                None
            }
            E::InvalidMessage { from, error } => {
                self.report_invalid(from, "sync", error.to_string());
                None
            }
        };
        if let Some(event) = event {
            self.emit(event);
        }
    }

    fn subscribe(&mut self, topic: String) -> Result<bool, SendError> {
        check_topic(&topic)?;
        let behaviour = self.swarm.behaviour_mut();
        if !behaviour.sync.local_record().follows(&topic)
            && behaviour.sync.local_record().topics().len() >= self.config.max_topics
        {
            return Err(SendError::Invalid(format!(
                "this node already follows the maximum of {} topics",
                self.config.max_topics
            )));
        }
        behaviour
            .multicast
            .subscribe(&libp2p::gossipsub::IdentTopic::new(&topic))
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        behaviour
            .sync
            .follow(topic)
            .map_err(|e| SendError::Invalid(e.to_string()))
    }

    fn unsubscribe(&mut self, topic: &str) -> Result<bool, SendError> {
        let behaviour = self.swarm.behaviour_mut();
        behaviour
            .multicast
            .unsubscribe(&libp2p::gossipsub::IdentTopic::new(topic));
        behaviour
            .sync
            .unfollow(topic)
            .map_err(|e| SendError::Invalid(e.to_string()))
    }

    /// Every node known: the sync view, plus connected nodes whose record has not arrived yet.
    fn peer_infos(&self) -> Vec<PeerInfo> {
        let local = *self.swarm.local_peer_id();
        let mut infos: Vec<PeerInfo> = self
            .swarm
            .behaviour()
            .sync
            .records()
            .filter(|entry| entry.record().owner() != local)
            .filter_map(|entry| {
                let record = entry.record();
                Some(PeerInfo {
                    node_id: NodeId::from_peer_id(&record.owner()).ok()?,
                    connected: self.connected.contains_key(&record.owner()),
                    online: entry.is_online(),
                    addrs: record.addrs().to_vec(),
                    topics: record.topics().iter().cloned().collect(),
                    seq: record.seq(),
                    state: record.state().clone(),
                })
            })
            .collect();
        for peer in self.connected.keys() {
            if infos.iter().any(|i| i.node_id.to_peer_id() == *peer) {
                continue;
            }
            if let Ok(node_id) = NodeId::from_peer_id(peer) {
                infos.push(PeerInfo {
                    node_id,
                    connected: true,
                    online: true,
                    addrs: Vec::new(),
                    topics: Vec::new(),
                    seq: 0,
                    state: Default::default(),
                });
            }
        }
        infos.sort_by_key(|i| i.node_id);
        infos
    }
}
