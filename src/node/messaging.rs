//! The event loop's messaging commands: requests, send-to-topic, multicast, broadcast, topics,
//! state and the peers view. Requests are followed in `requests.rs`, what arrives in
//! `inbound.rs`, multicasts in `multicast.rs`.

use bytes::Bytes;
use fisco_p2p_overlay::ReplyError;

use super::MessageKind;
use super::{
    command::MessageCommand,
    event_loop::EventLoop,
    requests::{refused, TopicSend},
    PeerInfo, RouteInfo, SendError,
};
use crate::identity::NodeId;

/// Checks a topic name (the one rule of [`super::topic`]).
pub(super) fn check_topic(topic: &str) -> Result<(), SendError> {
    super::topic::check(topic)
}

impl EventLoop {
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

    pub(super) fn on_message_command(&mut self, command: MessageCommand) {
        match command {
            MessageCommand::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            MessageCommand::Register(module, reply) => {
                let _ = reply.send(self.modules.register(module));
            }
            MessageCommand::Request {
                node,
                module,
                payload,
                timeout,
                reply,
            } => self.request(node, module, payload, timeout, reply),
            MessageCommand::SendToTopic {
                topic,
                module,
                payload,
                reply,
            } => {
                if let Err(e) = check_topic(&topic).and_then(|()| self.check_size(&payload)) {
                    let now = std::time::Instant::now();
                    self.request_done(super::RequestKind::Topic, now, super::RequestOutcome::Error);
                    let _ = reply.send(Err(e.into()));
                    return;
                }
                self.try_next_follower(TopicSend::new(topic, module, payload, reply));
            }
            MessageCommand::Multicast {
                topic,
                module,
                payload,
                reply,
            } => self.multicast(topic, module, payload, reply),
            MessageCommand::Broadcast {
                module,
                payload,
                reply,
            } => {
                if let Err(e) = self.check_size(&payload) {
                    let _ = reply.send(Err(e));
                    return;
                }
                if let Some(m) = &self.config.recorder {
                    m.message_sent(MessageKind::Broadcast, payload.len())
                }
                let result = self
                    .swarm
                    .behaviour_mut()
                    .overlay
                    .broadcast(module, payload)
                    .map(|_| ())
                    .map_err(refused);
                let _ = reply.send(result);
            }
            MessageCommand::Subscribe(topic, reply) => {
                let _ = reply.send(self.subscribe(topic));
            }
            MessageCommand::Unsubscribe(topic, reply) => {
                let _ = reply.send(self.unsubscribe(&topic));
            }
            MessageCommand::SetState(key, value, reply) => {
                let sync = &mut self.swarm.behaviour_mut().sync;
                let result = match value {
                    Some(value) => sync.set_state(key, value),
                    None => sync.remove_state(&key),
                };
                let _ = reply.send(result.map_err(SendError::State));
            }
            MessageCommand::Respond(reply_to, result) => {
                let result = result.map_err(ReplyError::Application);
                if let Err(error) = self.swarm.behaviour_mut().overlay.respond(reply_to, result) {
                    tracing::debug!(%error, "reply not sent");
                }
            }
            MessageCommand::Routes(reply) => {
                let routes = self.swarm.behaviour_mut().overlay.routes();
                let routes = routes
                    .into_iter()
                    .filter_map(|(dest, route)| {
                        Some(RouteInfo {
                            destination: self.node_of(&dest)?,
                            next_hop: self.node_of(&route.next_hop)?,
                            hops: route.hops,
                        })
                    })
                    .collect();
                let _ = reply.send(routes);
            }
            MessageCommand::Path(node, reply) => {
                let path = self.swarm.behaviour_mut().overlay.path(&node.to_peer_id());
                let path = path.map(|path| path.iter().filter_map(|p| self.node_of(p)).collect());
                let _ = reply.send(path);
            }
        }
    }

    fn subscribe(&mut self, topic: String) -> Result<bool, SendError> {
        check_topic(&topic)?;
        let behaviour = self.swarm.behaviour_mut();
        if !behaviour.sync.local_record().follows(&topic)
            && behaviour.sync.local_record().topics().len() >= self.config.max_topics
        {
            return Err(SendError::TooManyTopics {
                max: self.config.max_topics,
            });
        }
        behaviour.sync.follow(topic).map_err(SendError::State)
    }

    fn unsubscribe(&mut self, topic: &str) -> Result<bool, SendError> {
        self.swarm
            .behaviour_mut()
            .sync
            .unfollow(topic)
            .map_err(SendError::State)
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
                    node_id: self.node_of(&record.owner())?,
                    connected: self.links.contains(&record.owner()),
                    online: entry.is_online(),
                    addrs: record.addrs().to_vec(),
                    topics: record.topics().iter().cloned().collect(),
                    seq: record.seq(),
                    state: record.state().clone(),
                    neighbours: record
                        .neighbours()
                        .iter()
                        .filter_map(|p| self.node_of(p))
                        .collect(),
                })
            })
            .collect();
        let known: std::collections::HashSet<NodeId> =
            infos.iter().map(|i| i.node_id.clone()).collect();
        for (peer, _) in self.links.peers() {
            if let Some(node_id) = self.node_of(peer).filter(|node| !known.contains(node)) {
                infos.push(PeerInfo {
                    node_id,
                    connected: true,
                    online: true,
                    addrs: Vec::new(),
                    topics: Vec::new(),
                    seq: 0,
                    state: Default::default(),
                    neighbours: Vec::new(),
                });
            }
        }
        infos.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        infos
    }
}
