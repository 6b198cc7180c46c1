//! Multicast to a topic's followers over gossipsub.
//!
//! gossipsub only hands a message to peers it is connected to and knows to follow the topic, and
//! relays only among followers. In a partial mesh the publisher, or a follower, may have no
//! follower among its neighbours (a line A - B - C where only C follows: B would never relay).
//! So before publishing, the node looks up the followers in the state-sync view, dials those it
//! is not connected to at their advertised addresses, and waits (at most the configured
//! multicast wait) until gossipsub has learned each one's subscription or its dial failed. Then
//! it publishes with flood publishing: straight to every known follower, each of which delivers
//! it once (gossipsub drops duplicates by message ID).

use std::{collections::HashSet, time::Instant};

use bytes::{BufMut, Bytes, BytesMut};
use libp2p::{
    gossipsub::{self, IdentTopic},
    swarm::dial_opts::{DialOpts, PeerCondition},
    PeerId,
};

use super::{
    command::Reply, event_loop::EventLoop, inbox::Message, messaging::check_topic, MulticastError,
    SendError,
};
use crate::{identity::NodeId, metrics::MessageKind};

/// A multicast waiting for connections to followers.
pub(super) struct PendingMulticast {
    topic: String,
    /// gossipsub's name of the topic, compared against its subscription events.
    hash: gossipsub::TopicHash,
    data: Bytes,
    /// Followers whose subscription gossipsub has not confirmed yet, and that were not found
    /// unreachable.
    waiting: HashSet<PeerId>,
    /// Whether state sync knew any follower when the multicast was asked for: if so, a moment in
    /// which gossipsub has no publishable follower yet is waited out rather than reported.
    followed: bool,
    deadline: Instant,
    reply: Reply<Result<usize, MulticastError>>,
}

/// The wire form of a multicast: the module ID (big-endian) and the payload.
fn encode(module: u16, payload: &[u8]) -> Bytes {
    let mut data = BytesMut::with_capacity(2 + payload.len());
    data.put_u16(module);
    data.put_slice(payload);
    data.freeze()
}

fn decode(data: Vec<u8>) -> Option<(u16, Bytes)> {
    let mut data = Bytes::from(data);
    if data.len() < 2 {
        return None;
    }
    let module = u16::from_be_bytes([data[0], data[1]]);
    Some((module, data.split_off(2)))
}

impl EventLoop {
    pub(super) fn multicast(
        &mut self,
        topic: String,
        module: u16,
        payload: Bytes,
        reply: Reply<Result<usize, MulticastError>>,
    ) {
        if let Err(e) = check_topic(&topic) {
            let _ = reply.send(Err(e.into()));
            return;
        }
        if let Err(error) = self.check_size(&payload) {
            let _ = reply.send(Err(error.into()));
            return;
        }
        let local = *self.swarm.local_peer_id();
        let hash = IdentTopic::new(&topic).hash();
        let known: HashSet<PeerId> = self.known_followers(&hash);
        let mut waiting = HashSet::new();
        let behaviour = self.swarm.behaviour();
        let wanted: Vec<PeerId> = behaviour
            .sync
            .followers(&topic)
            .into_iter()
            .filter(|p| *p != local && !known.contains(p))
            .collect();
        for peer in wanted {
            waiting.insert(peer);
            if self.connected.contains_key(&peer) {
                continue; // connected: gossipsub will learn its subscription shortly
            }
            let addrs = self
                .swarm
                .behaviour()
                .sync
                .record(&peer)
                .map(|r| r.addrs().to_vec())
                .unwrap_or_default();
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(opts) {
                tracing::debug!(%peer, %error, "cannot dial a topic follower");
                waiting.remove(&peer);
            }
        }
        let followed = !waiting.is_empty() || !known.is_empty();
        let pending = PendingMulticast {
            topic,
            hash,
            data: encode(module, &payload),
            waiting,
            followed,
            deadline: Instant::now() + self.config.multicast_wait,
            reply,
        };
        if pending.waiting.is_empty() {
            self.publish(pending);
        } else {
            self.multicasts.push(pending);
        }
    }

    /// Peers gossipsub knows to follow `topic`.
    fn known_followers(&self, topic: &gossipsub::TopicHash) -> HashSet<PeerId> {
        self.swarm
            .behaviour()
            .multicast
            .all_peers()
            .filter(|(_, topics)| topics.contains(&topic))
            .map(|(peer, _)| *peer)
            .collect()
    }

    fn publish(&mut self, pending: PendingMulticast) {
        let followers = self.known_followers(&pending.hash).len();
        let outcome = if followers == 0 {
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic)
        } else {
            self.swarm
                .behaviour_mut()
                .multicast
                .publish(pending.hash.clone(), pending.data.clone())
        };
        let result = match outcome {
            Ok(_) => {
                if let Some(m) = &self.config.metrics {
                    m.message_sent(MessageKind::Multicast, pending.data.len().saturating_sub(2))
                }
                Ok(followers)
            }
            // gossipsub can know a follower a moment before it counts it as a publish target
            // (subscription or protocol not settled yet): state sync says there are followers,
            // so try again on the next tick until the multicast's deadline.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic)
                if pending.followed && Instant::now() < pending.deadline =>
            {
                self.multicasts.push(pending);
                return;
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                Err(MulticastError::NoFollower {
                    topic: pending.topic,
                })
            }
            Err(other) => Err(SendError::Busy(other.to_string()).into()),
        };
        let _ = pending.reply.send(result);
    }

    /// Publishes the multicasts no longer waiting for anyone, and those past their deadline.
    fn publish_ready(&mut self, now: Instant) {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.multicasts)
            .into_iter()
            .partition(|m| m.waiting.is_empty() || m.deadline <= now);
        self.multicasts = waiting;
        for pending in ready {
            if !pending.waiting.is_empty() {
                tracing::debug!(topic = %pending.topic, missing = pending.waiting.len(), "multicast wait over; publishing to the followers reached");
            }
            self.publish(pending);
        }
    }

    pub(super) fn expire_multicasts(&mut self, now: Instant) {
        if !self.multicasts.is_empty() {
            self.publish_ready(now);
        }
    }

    /// A follower's dial failed: stop waiting for it.
    pub(super) fn multicast_peer_unreachable(&mut self, peer: PeerId) {
        if self.connected.contains_key(&peer) {
            return;
        }
        for pending in &mut self.multicasts {
            pending.waiting.remove(&peer);
        }
        self.publish_ready(Instant::now());
    }

    pub(super) fn on_multicast_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message { message, .. } => {
                let topic = message.topic.as_str().to_owned();
                let Some(from) = message.source.and_then(|p| NodeId::from_peer_id(&p).ok()) else {
                    return;
                };
                match decode(message.data) {
                    Some((module, payload)) => self.deliver(
                        module,
                        Message::Multicast {
                            from,
                            topic,
                            payload,
                        },
                    ),
                    None => tracing::warn!(%from, %topic, "multicast without a module ID dropped"),
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                let mut changed = false;
                for pending in &mut self.multicasts {
                    if pending.hash == topic {
                        changed |= pending.waiting.remove(&peer_id);
                    }
                }
                if changed {
                    self.publish_ready(Instant::now());
                }
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(peer = %peer_id, "peer does not speak gossipsub");
                self.multicast_peer_unreachable(peer_id);
            }
            _ => {}
        }
    }
}
