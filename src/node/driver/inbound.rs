//! What arrives for the application: requests, multicasts and broadcasts handed to the module
//! inboxes, state-sync news turned into events (and into the overlay's link graph), and invalid
//! input reported.

use bytes::Bytes;
use fisco_p2p_overlay::{ReplyError, ReplyTo};
use libp2p::PeerId;

use super::{calls::Input, io::Io};
use crate::node::{
    inbox::{Answer, IncomingRequest, Message, Responder, Undeliverable},
    DisconnectReason, Event, MessageKind,
};

impl Io {
    /// What the overlay delivered or reported; a request's outcome or a multicast's is returned
    /// for the call core.
    pub(super) fn on_overlay_event(&mut self, event: fisco_p2p_overlay::Event) -> Option<Input> {
        use fisco_p2p_overlay::Event as E;
        match event {
            E::Request {
                reply_to,
                origin,
                module,
                payload,
                hops,
            } => self.on_request(reply_to, origin, module, payload, hops),
            E::Response {
                id,
                destination,
                result,
            } => {
                return Some(Input::Response {
                    id,
                    from: destination,
                    result: result.map(|reply| reply.payload),
                })
            }
            E::Multicast {
                origin,
                topic,
                module,
                payload,
                hops,
            } => self.on_multicast(origin, topic, module, payload, hops),
            E::MulticastSent {
                id,
                sent,
                unreachable,
            } => {
                if !unreachable.is_empty() {
                    let unreachable = unreachable.len();
                    tracing::debug!(%id, sent, unreachable, "multicast: some followers had no route");
                }
                return Some(Input::MulticastSent { id, sent });
            }
            E::Broadcast {
                origin,
                module,
                payload,
                hops,
                ..
            } => {
                if let Some(from) = self.node_of(&origin) {
                    self.deliver(
                        module,
                        Message::Broadcast {
                            from,
                            payload,
                            hops,
                        },
                    );
                }
            }
            E::Refused {
                from,
                origin,
                reason,
            } => {
                // A relay passing on a barred origin's message is doing its job; anything else
                // refused is the neighbour's fault (forged, malformed, oversize).
                let fault = !matches!(reason, fisco_p2p_overlay::Refusal::Barred(_));
                self.report_invalid(from, origin, "overlay", reason.to_string());
                if fault {
                    self.note_misbehaviour(from, &reason.to_string());
                }
            }
            E::DirectWanted { peer } => self.dial_direct(peer),
            _ => {}
        }
        None
    }

    /// The application answered a request.
    pub(super) fn on_answer(&mut self, answer: Answer) {
        let result = answer.result.map_err(ReplyError::Application);
        let overlay = &mut self.swarm.behaviour_mut().overlay;
        if let Err(error) = overlay.respond(answer.reply_to, result) {
            tracing::debug!(%error, "reply not sent");
        }
    }

    /// A multicast arrived with this node among its followers: delivered if it follows the
    /// topic (the topic is signed; a relay could only have listed this node wrongly).
    fn on_multicast(
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
        let message = Message::Multicast {
            from,
            topic,
            payload,
            hops,
        };
        self.deliver(module, message);
    }

    fn on_request(
        &mut self,
        reply_to: ReplyTo,
        origin: PeerId,
        module: u16,
        payload: Bytes,
        hops: u8,
    ) {
        let Some(from) = self.node_of(&origin) else {
            return;
        };
        if let Some(m) = &self.config.recorder {
            m.message_received(MessageKind::Unicast, payload.len())
        }
        let request = IncomingRequest {
            from: from.clone(),
            module,
            payload,
            hops,
            responder: Responder::new(reply_to, self.answers.clone()),
        };
        let (message, error) = match self.modules.deliver(module, Message::Request(request)) {
            Ok(()) => return,
            Err(Undeliverable::UnknownModule(message)) => {
                (message, ReplyError::UnknownModule(module))
            }
            Err(Undeliverable::Busy(message)) => {
                if let Some(suppressed) = self.remote_log.allow_module(module) {
                    tracing::warn!(module, from = %from, suppressed, "module inbox full; answering busy");
                }
                let busy = format!("module {module} is busy; retry later");
                (message, ReplyError::Busy(busy))
            }
        };
        if let Message::Request(request) = *message {
            request.responder.disarm();
            let _ = self
                .swarm
                .behaviour_mut()
                .overlay
                .respond(reply_to, Err(error));
        }
    }

    /// Hands a multicast or broadcast to its module, dropping it (with a warning) if it cannot.
    fn deliver(&mut self, module: u16, message: Message) {
        if let Some(m) = &self.config.recorder {
            m.message_received(MessageKind::of(&message), message.payload_len())
        }
        match self.modules.deliver(module, message) {
            Ok(()) => {}
            Err(Undeliverable::UnknownModule(_)) => {
                tracing::debug!(module, "message for an unregistered module dropped");
            }
            Err(Undeliverable::Busy(_)) => {
                if let Some(suppressed) = self.remote_log.allow_module(module) {
                    tracing::warn!(module, suppressed, "module inbox full; message dropped");
                }
            }
        }
    }

    /// A neighbour passed on something that was refused; `origin` is the node it claimed to
    /// come from, when known.
    pub(super) fn report_invalid(
        &mut self,
        from: PeerId,
        origin: Option<PeerId>,
        protocol: &'static str,
        reason: String,
    ) {
        let origin = origin.and_then(|o| self.node_of(&o));
        if let Some(suppressed) = self.remote_log.allow_peer(from) {
            tracing::warn!(peer = %from, origin = ?origin, protocol, %reason, suppressed, "invalid message refused");
        }
        if let Some(node_id) = self.node_of(&from) {
            self.emit(Event::InvalidMessage {
                node_id,
                origin,
                protocol,
                reason,
            });
        }
    }

    /// Counts a refusal of what `peer` sent; disconnects and bans it when that makes too many.
    fn note_misbehaviour(&mut self, peer: PeerId, last: &str) {
        if !self.misbehaviour.refused(peer, std::time::Instant::now()) {
            return;
        }
        let reason = format!(
            "{} refused messages within {:?}, the last: {last}",
            crate::node::core::misbehaviour::LIMIT,
            crate::node::core::misbehaviour::WINDOW
        );
        tracing::warn!(%peer, %reason, ban = ?crate::node::core::misbehaviour::BAN, "disconnecting a misbehaving neighbour");
        self.links
            .closing(peer, DisconnectReason::Misbehaving(reason));
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// With direct connections on, connects to a node this node exchanges a lot with, at the
    /// addresses state sync advertised for it.
    fn dial_direct(&mut self, peer: PeerId) {
        if !self.config.direct_connections || self.links.contains(&peer) {
            return;
        }
        let addrs = self
            .swarm
            .behaviour()
            .sync
            .record(&peer)
            .map(|r| r.addrs().to_vec())
            .unwrap_or_default();
        if addrs.is_empty() {
            return;
        }
        tracing::debug!(%peer, "opening a direct connection to a busy correspondent");
        // Through the peers behaviour's dialer: one dial per node, within the dial cap.
        if let Err(error) = self.swarm.behaviour_mut().peers.dial(peer, addrs) {
            tracing::debug!(%peer, %error, "direct connection not dialled");
        }
    }

    pub(super) fn on_sync_event(&mut self, event: fisco_p2p_sync::Event) {
        use fisco_p2p_sync::Event as E;
        let event = match event {
            E::RecordUpdated { peer, record } => {
                // An RSA node's record carries its key: the way back from its PeerId.
                if let Some(key) = record.public_key() {
                    self.config.directory.learn_key(&key);
                }
                self.swarm
                    .behaviour_mut()
                    .overlay
                    .set_neighbours(peer, record.neighbours().clone());
                self.node_of(&peer).map(|node_id| Event::PeerStateChanged {
                    node_id,
                    seq: record.seq(),
                    topics: record.topics().iter().cloned().collect(),
                })
            }
            E::PeerOnline { peer } => self
                .node_of(&peer)
                .map(|node_id| Event::PeerOnline { node_id }),
            E::PeerOffline { peer } => self
                .node_of(&peer)
                .map(|node_id| Event::PeerOffline { node_id }),
            E::PeerForgotten { peer } => {
                self.swarm.behaviour_mut().overlay.remove_node(&peer);
                self.node_of(&peer)
                    .map(|node_id| Event::PeerForgotten { node_id })
            }
            E::InvalidRecord { from, reason } => {
                self.report_invalid(from, None, "sync", reason.to_string());
                self.note_misbehaviour(from, &reason.to_string());
                None
            }
            E::InvalidMessage { from, error } => {
                self.report_invalid(from, None, "sync", error.to_string());
                self.note_misbehaviour(from, &error.to_string());
                None
            }
        };
        if let Some(event) = event {
            self.emit(event);
        }
    }
}
