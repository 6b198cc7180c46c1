//! Connections: established and closed, refused in either direction (with the reason named),
//! static-peer news, and disconnecting peers the access lists now bar.
//!
//! Every log line a remote party can cause goes through [`RemoteLog`], rate-limited per peer or
//! address. Failed inbound handshakes are logged by the transport's admission layer, which knows
//! the source IP; a failed static peer dial by the peers behaviour, which says when it recovers.

use std::time::Instant;

use libp2p::{
    connection_limits,
    core::ConnectedPoint,
    swarm::{ConnectionError, DialError, ListenError},
    Multiaddr, PeerId,
};

use super::{
    io::Io,
    remote_log::{ip_of, Source},
};
use crate::{
    identity::NodeId,
    node::{
        core::links::Cause, swarm::classify::classify, Direction, DisconnectReason, Event, Refusal,
    },
    tls::{self, RefusalReason},
};

/// Why a peer the access lists bar is disconnected.
fn barred_because(reason: RefusalReason) -> DisconnectReason {
    match reason {
        RefusalReason::NotWhitelisted => DisconnectReason::NotWhitelisted,
        _ => DisconnectReason::Blacklisted,
    }
}

/// Disconnects every connected node the access lists now bar, and returns them.
pub(super) fn disconnect_barred(io: &mut Io) -> Vec<NodeId> {
    let mut barred = Vec::new();
    let peers: Vec<PeerId> = io.links.peers().map(|(peer, _)| *peer).collect();
    for peer in peers {
        let Some(node) = io.node_of(&peer) else {
            continue;
        };
        let Err(reason) = io.access.check(&node) else {
            continue;
        };
        let reason = barred_because(reason);
        tracing::info!(%node, %reason, "disconnecting a peer the access lists now bar");
        io.links.closing(peer, reason);
        let _ = io.swarm.disconnect_peer_id(peer);
        barred.push(node);
    }
    barred
}

pub(super) fn on_connection_established(
    io: &mut Io,
    peer: PeerId,
    endpoint: &ConnectedPoint,
    count: u32,
) {
    if peer == *io.swarm.local_peer_id() {
        return;
    }
    let Some(node_id) = io.node_of(&peer) else {
        // The TLS upgrade files every peer it admits, so this cannot happen; be safe.
        tracing::error!(%peer, "connected peer has no node ID; disconnecting");
        let _ = io.swarm.disconnect_peer_id(peer);
        return;
    };
    if let Err(reason) = io.access.check(&node_id) {
        // Its handshake passed the access lists just before they changed.
        let reason = barred_because(reason);
        tracing::info!(node = %node_id, %reason, "disconnecting a peer the access lists barred during its handshake");
        let _ = io.swarm.disconnect_peer_id(peer);
        // Still counted if it was connected, so that its disconnection is reported with this
        // reason; never reported connected otherwise, and then it goes without a word.
        if io.links.set_count(&peer, count) {
            io.links.closing(peer, reason);
        }
        return;
    }
    if io.misbehaviour.is_banned(&peer, Instant::now()) {
        // It misbehaved a moment ago: out until its ban is over, without a word each time.
        tracing::debug!(node = %node_id, "closing a connection of a banned neighbour");
        let _ = io.swarm.disconnect_peer_id(peer);
        io.links.closing(
            peer,
            DisconnectReason::Misbehaving("banned for misbehaving".into()),
        );
        return;
    }
    if io.links.set_count(&peer, count) {
        return;
    }
    let (address, direction) = match endpoint {
        ConnectedPoint::Dialer { address, .. } => (address.clone(), Direction::Outbound),
        ConnectedPoint::Listener { send_back_addr, .. } => {
            (send_back_addr.clone(), Direction::Inbound)
        }
    };
    if let Some(suppressed) = io.remote_log.allow_peer(peer) {
        tracing::info!(node = %node_id, %address, ?direction, suppressed, "peer connected");
    }
    io.links.opened(peer, address.clone(), direction, count);
    io.emit(Event::PeerConnected {
        node_id,
        address,
        direction,
    });
}

pub(super) fn on_connection_closed(
    io: &mut Io,
    peer: PeerId,
    remaining: u32,
    cause: Option<ConnectionError>,
) {
    let cause = match cause {
        Some(ConnectionError::IO(error)) => Cause::Lost(error.to_string()),
        Some(ConnectionError::KeepAliveTimeout) => Cause::Idle,
        None => Cause::Closed,
    };
    let Some(reason) = io.links.closed(&peer, remaining, cause) else {
        return;
    };
    let Some(node_id) = io.node_of(&peer) else {
        return;
    };
    if let Some(suppressed) = io.remote_log.allow_peer(peer) {
        tracing::info!(node = %node_id, %reason, suppressed, "peer disconnected");
    }
    io.emit(Event::PeerDisconnected { node_id, reason });
}

pub(super) fn on_incoming_error(
    io: &mut Io,
    address: Multiaddr,
    peer: Option<PeerId>,
    error: &ListenError,
) {
    let reason = match error {
        ListenError::Denied { cause } => {
            let Some(exceeded) = cause.downcast_ref::<connection_limits::Exceeded>() else {
                return; // a behaviour's own decision, reported by it
            };
            let reason = Refusal::ConnectionLimit(exceeded.to_string());
            // An authenticated peer, after its handshake: keyed by node, else by IP.
            let source = match (peer, ip_of(&address)) {
                (Some(peer), _) => Source::Peer(peer),
                (None, Some(ip)) => Source::Ip(ip),
                (None, None) => Source::Address(address.clone()),
            };
            if let Some(suppressed) = io.remote_log.allow(source) {
                tracing::warn!(%address, %reason, suppressed, "inbound connection refused");
            }
            reason
        }
        // Logged, rate-limited per source IP, by the transport's admission layer.
        ListenError::Transport(error) => classify(error),
        ListenError::LocalPeerId { .. }
        | ListenError::Aborted
        | ListenError::WrongPeerId { .. } => return,
    };
    // The handshake names the peer when it got as far as its certificate.
    let node_id = peer
        .and_then(|p| io.node_of(&p))
        .or_else(|| tls::find_upgrade_error(error).and_then(|e| e.peer().cloned()));
    io.emit(Event::ConnectionRefused {
        node_id,
        address: Some(address),
        direction: Direction::Inbound,
        reason,
    });
}

pub(super) fn on_outgoing_error(io: &mut Io, peer: Option<PeerId>, error: &DialError) {
    let known = peer.and_then(|p| io.node_of(&p));
    // A dial by address alone learns who answered from the handshake, when it got that far.
    let named = |error: &libp2p::TransportError<std::io::Error>| {
        known
            .clone()
            .or_else(|| tls::find_upgrade_error(error).and_then(|e| e.peer().cloned()))
    };
    let failures: Vec<(Option<Multiaddr>, Refusal, Option<NodeId>)> = match error {
        DialError::Transport(errors) => errors
            .iter()
            .map(|(address, error)| (Some(address.clone()), classify(error), named(error)))
            .collect(),
        DialError::Denied { cause } => match cause.downcast_ref::<connection_limits::Exceeded>() {
            Some(exceeded) => {
                vec![(None, Refusal::ConnectionLimit(exceeded.to_string()), known)]
            }
            None => return,
        },
        DialError::WrongPeerId { obtained, address } => vec![(
            Some(address.clone()),
            Refusal::Unreachable(format!("a different node ({obtained}) answered")),
            known,
        )],
        // Self dials, dials to connected peers and aborted dials are no refusals.
        DialError::LocalPeerId { .. }
        | DialError::NoAddresses
        | DialError::DialPeerConditionFalse(_)
        | DialError::Aborted => return,
    };
    // A static peer's failures are logged by the peers behaviour (first, then once a
    // minute); other refusals here, rate-limited per address.
    let is_static = peer.is_some_and(|p| io.swarm.behaviour().peers.is_static(&p));
    for (address, reason, node_id) in failures {
        let source = match (&address, peer) {
            (_, Some(peer)) => Source::Peer(peer),
            (Some(address), None) => {
                ip_of(address).map_or_else(|| Source::Address(address.clone()), Source::Ip)
            }
            (None, None) => Source::Address(Multiaddr::empty()),
        };
        let static_address = address.as_ref().is_some_and(|a| {
            io.swarm
                .behaviour()
                .peers
                .static_peers()
                .any(|(s, _)| s == a)
        });
        let refused = matches!(reason, Refusal::Tls(_) | Refusal::ConnectionLimit(_));
        if refused && !is_static && !static_address {
            if let Some(suppressed) = io.remote_log.allow(source) {
                tracing::warn!(?address, node = ?node_id, %reason, suppressed, "outbound connection refused");
            }
        } else {
            tracing::debug!(?address, node = ?node_id, %reason, "outbound connection failed");
        }
        io.emit(Event::ConnectionRefused {
            node_id,
            address,
            direction: Direction::Outbound,
            reason,
        });
    }
}

pub(super) fn on_peers_event(io: &mut Io, event: fisco_p2p_peers::Event) {
    match event {
        fisco_p2p_peers::Event::DialFailed {
            address,
            failures,
            retry_in,
            ..
        } => io.emit(Event::StaticPeerUnreachable {
            address,
            failures,
            retry_in,
        }),
        fisco_p2p_peers::Event::SelfDial { address } => io.emit(Event::SelfDial { address }),
        fisco_p2p_peers::Event::HeartbeatFailed { peer, .. } => {
            // The peers behaviour closes the connection; say why when it is gone.
            if io.links.get(&peer).is_some_and(|c| c.connections == 1) {
                io.links.closing(peer, DisconnectReason::HeartbeatTimeout);
            }
        }
        fisco_p2p_peers::Event::DuplicateClosed { .. }
        | fisco_p2p_peers::Event::DialFinished { .. } => {}
    }
}
