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

/// What the overlay delivered or reported; a request's outcome or a multicast's is returned
/// for the call core.
pub(super) fn on_overlay_event(io: &mut Io, event: fisco_p2p_overlay::Event) -> Option<Input> {
    use fisco_p2p_overlay::Event as E;
    match event {
        E::Request {
            reply_to,
            origin,
            module,
            payload,
            hops,
        } => on_request(io, reply_to, origin, module, payload, hops),
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
        } => on_multicast(io, origin, topic, module, payload, hops),
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
            if let Some(from) = io.node_of(&origin) {
                deliver(
                    io,
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
            report_invalid(io, from, origin, "overlay", reason.to_string());
            if fault {
                note_misbehaviour(io, from, &reason.to_string());
            }
        }
        E::DirectWanted { peer } => dial_direct(io, peer),
        _ => {}
    }
    None
}

/// The application answered a request.
pub(super) fn on_answer(io: &mut Io, answer: Answer) {
    let result = answer.result.map_err(ReplyError::Application);
    let overlay = &mut io.swarm.behaviour_mut().overlay;
    if let Err(error) = overlay.respond(answer.reply_to, result) {
        tracing::debug!(%error, "reply not sent");
    }
}

/// A multicast arrived with this node among its followers: delivered if it follows the
/// topic (the topic is signed; a relay could only have listed this node wrongly).
fn on_multicast(io: &mut Io, origin: PeerId, topic: String, module: u16, payload: Bytes, hops: u8) {
    let Some(from) = io.node_of(&origin) else {
        return;
    };
    if !io.swarm.behaviour().sync.local_record().follows(&topic) {
        tracing::debug!(%from, %topic, "multicast for a topic this node does not follow dropped");
        return;
    }
    let message = Message::Multicast {
        from,
        topic,
        payload,
        hops,
    };
    deliver(io, module, message);
}

fn on_request(
    io: &mut Io,
    reply_to: ReplyTo,
    origin: PeerId,
    module: u16,
    payload: Bytes,
    hops: u8,
) {
    let Some(from) = io.node_of(&origin) else {
        return;
    };
    if let Some(m) = &io.config.recorder {
        m.message_received(MessageKind::Unicast, payload.len())
    }
    let request = IncomingRequest {
        from: from.clone(),
        module,
        payload,
        hops,
        responder: Responder::new(reply_to, io.answers.clone()),
    };
    let (message, error) = match io.modules.deliver(module, Message::Request(request)) {
        Ok(()) => return,
        Err(Undeliverable::UnknownModule(message)) => (message, ReplyError::UnknownModule(module)),
        Err(Undeliverable::Busy(message)) => {
            if let Some(suppressed) = io.remote_log.allow_module(module) {
                tracing::warn!(module, from = %from, suppressed, "module inbox full; answering busy");
            }
            let busy = format!("module {module} is busy; retry later");
            (message, ReplyError::Busy(busy))
        }
    };
    if let Message::Request(request) = *message {
        request.responder.disarm();
        let _ = io
            .swarm
            .behaviour_mut()
            .overlay
            .respond(reply_to, Err(error));
    }
}

/// Hands a multicast or broadcast to its module, dropping it (with a warning) if it cannot.
fn deliver(io: &mut Io, module: u16, message: Message) {
    if let Some(m) = &io.config.recorder {
        m.message_received(MessageKind::of(&message), message.payload_len())
    }
    match io.modules.deliver(module, message) {
        Ok(()) => {}
        Err(Undeliverable::UnknownModule(_)) => {
            tracing::debug!(module, "message for an unregistered module dropped");
        }
        Err(Undeliverable::Busy(_)) => {
            if let Some(suppressed) = io.remote_log.allow_module(module) {
                tracing::warn!(module, suppressed, "module inbox full; message dropped");
            }
        }
    }
}

/// A neighbour passed on something that was refused; `origin` is the node it claimed to
/// come from, when known.
pub(super) fn report_invalid(
    io: &mut Io,
    from: PeerId,
    origin: Option<PeerId>,
    protocol: &'static str,
    reason: String,
) {
    let origin = origin.and_then(|o| io.node_of(&o));
    if let Some(suppressed) = io.remote_log.allow_peer(from) {
        tracing::warn!(peer = %from, origin = ?origin, protocol, %reason, suppressed, "invalid message refused");
    }
    if let Some(node_id) = io.node_of(&from) {
        io.emit(Event::InvalidMessage {
            node_id,
            origin,
            protocol,
            reason,
        });
    }
}

/// Counts a refusal of what `peer` sent; disconnects and bans it when that makes too many.
fn note_misbehaviour(io: &mut Io, peer: PeerId, last: &str) {
    if !io.misbehaviour.refused(peer, std::time::Instant::now()) {
        return;
    }
    let reason = format!(
        "{} refused messages within {:?}, the last: {last}",
        crate::node::core::misbehaviour::LIMIT,
        crate::node::core::misbehaviour::WINDOW
    );
    tracing::warn!(%peer, %reason, ban = ?crate::node::core::misbehaviour::BAN, "disconnecting a misbehaving neighbour");
    io.links
        .closing(peer, DisconnectReason::Misbehaving(reason));
    let _ = io.swarm.disconnect_peer_id(peer);
}

/// With direct connections on, connects to a node this node exchanges a lot with, at the
/// addresses state sync advertised for it.
fn dial_direct(io: &mut Io, peer: PeerId) {
    if !io.config.direct_connections || io.links.contains(&peer) {
        return;
    }
    let addrs = io
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
    if let Err(error) = io.swarm.behaviour_mut().peers.dial(peer, addrs) {
        tracing::debug!(%peer, %error, "direct connection not dialled");
    }
}

pub(super) fn on_sync_event(io: &mut Io, event: fisco_p2p_sync::Event) {
    use fisco_p2p_sync::Event as E;
    let event = match event {
        E::RecordUpdated { peer, record } => {
            // An RSA node's record carries its key: the way back from its PeerId.
            if let Some(key) = record.public_key() {
                io.config.directory.learn_key(&key);
            }
            io.swarm
                .behaviour_mut()
                .overlay
                .set_neighbours(peer, record.neighbours().clone());
            io.node_of(&peer).map(|node_id| Event::PeerStateChanged {
                node_id,
                seq: record.seq(),
                topics: record.topics().iter().cloned().collect(),
            })
        }
        E::PeerOnline { peer } => io
            .node_of(&peer)
            .map(|node_id| Event::PeerOnline { node_id }),
        E::PeerOffline { peer } => io
            .node_of(&peer)
            .map(|node_id| Event::PeerOffline { node_id }),
        E::PeerForgotten { peer } => {
            io.swarm.behaviour_mut().overlay.remove_node(&peer);
            io.node_of(&peer)
                .map(|node_id| Event::PeerForgotten { node_id })
        }
        E::InvalidRecord { from, reason } => {
            report_invalid(io, from, None, "sync", reason.to_string());
            note_misbehaviour(io, from, &reason.to_string());
            None
        }
        E::InvalidMessage { from, error } => {
            report_invalid(io, from, None, "sync", error.to_string());
            note_misbehaviour(io, from, &error.to_string());
            None
        }
    };
    if let Some(event) = event {
        io.emit(event);
    }
}
