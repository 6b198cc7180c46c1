//! What arrives for the application: requests, multicasts and broadcasts handed to the module
//! inboxes, state-sync news turned into events, and invalid input reported.

use bytes::Bytes;
use fisco_p2p_unicast::ReplyError;
use libp2p::PeerId;

use super::{
    event_loop::EventLoop,
    inbox::{IncomingRequest, Message, Responder, Undeliverable},
    Event,
};
use crate::{identity::NodeId, metrics::MessageKind};

impl EventLoop {
    pub(super) fn on_request(
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
}
