//! Multicast to a topic's followers over the overlay.
//!
//! The node looks the followers up in the state-sync view and hands them to the overlay, which
//! sends one copy per first hop along a tree of shortest paths: every follower gets it once,
//! over the links that exist, whether or not this node follows the topic. Followers without a
//! route yet (state sync still spreading their links) get it when one appears, within the
//! route wait; the call returns how many followers it went to.

use bytes::Bytes;
use fisco_p2p_overlay::MulticastId;
use libp2p::PeerId;

use super::MessageKind;
use super::{
    command::Reply, event_loop::EventLoop, inbox::Message, messaging::check_topic,
    requests::refused, MulticastError,
};

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
        let behaviour = self.swarm.behaviour_mut();
        let followers: Vec<PeerId> = behaviour
            .sync
            .followers(&topic)
            .into_iter()
            .filter(|p| *p != local)
            .collect();
        if followers.is_empty() {
            let _ = reply.send(Err(MulticastError::NoFollower { topic }));
            return;
        }
        let len = payload.len();
        match behaviour
            .overlay
            .multicast(&topic, followers, module, payload)
        {
            Ok(id) => {
                if let Some(m) = &self.config.recorder {
                    m.message_sent(MessageKind::Multicast, len)
                }
                self.multicasts.insert(id, (topic, reply));
            }
            Err(error) => {
                let _ = reply.send(Err(refused(error).into()));
            }
        }
    }

    /// The overlay sent a multicast to every follower it had a route to.
    pub(super) fn on_multicast_sent(&mut self, id: MulticastId, sent: usize, unreachable: usize) {
        let Some((topic, reply)) = self.multicasts.remove(&id) else {
            return;
        };
        if unreachable > 0 {
            tracing::debug!(%topic, sent, unreachable, "multicast: some followers had no route");
        }
        let result = if sent == 0 {
            Err(MulticastError::NoFollower { topic })
        } else {
            Ok(sent)
        };
        let _ = reply.send(result);
    }

    /// A multicast arrived with this node among its followers: delivered if it follows the
    /// topic (the topic is signed; a relay could only have listed this node wrongly).
    pub(super) fn on_multicast(
        &mut self,
        origin: PeerId,
        topic: String,
        module: u16,
        payload: Bytes,
        hops: u8,
    ) {
        let Some(from) = self.node_of(&origin) else {
            return;
        };
        if !self.swarm.behaviour().sync.local_record().follows(&topic) {
            tracing::debug!(%from, %topic, "multicast for a topic this node does not follow dropped");
            return;
        }
        self.deliver(
            module,
            Message::Multicast {
                from,
                topic,
                payload,
                hops,
            },
        );
    }
}
