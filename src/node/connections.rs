//! Connections: established and closed, refused in either direction (with the reason named),
//! static-peer news, and disconnecting peers the access lists now bar.

use libp2p::{
    connection_limits,
    core::{transport::timeout::TransportTimeoutError, ConnectedPoint},
    swarm::{ConnectionError, DialError, ListenError},
    Multiaddr, PeerId,
};

use super::{
    event_loop::{Connected, EventLoop},
    Direction, DisconnectReason, Event, Refusal,
};
use crate::{
    identity::NodeId,
    tls::{self, RefusalReason},
};

impl EventLoop {
    /// Disconnects every connected node the access lists now bar, and returns them.
    pub(super) fn disconnect_barred(&mut self) -> Vec<NodeId> {
        let mut barred = Vec::new();
        let peers: Vec<PeerId> = self.connected.keys().copied().collect();
        for peer in peers {
            let Some(node) = self.node_of(&peer) else {
                continue;
            };
            let Err(reason) = self.access.check(&node) else {
                continue;
            };
            let reason = match reason {
                RefusalReason::NotWhitelisted => DisconnectReason::NotWhitelisted,
                _ => DisconnectReason::Blacklisted,
            };
            tracing::info!(%node, %reason, "disconnecting a peer the access lists now bar");
            self.closing.insert(peer, reason);
            let _ = self.swarm.disconnect_peer_id(peer);
            barred.push(node);
        }
        barred
    }

    pub(super) fn on_connection_established(
        &mut self,
        peer: PeerId,
        endpoint: &ConnectedPoint,
        count: u32,
    ) {
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        if let Some(connected) = self.connected.get_mut(&peer) {
            connected.connections = count;
            return;
        }
        let Some(node_id) = self.node_of(&peer) else {
            // The TLS upgrade files every peer it admits, so this cannot happen; be safe.
            tracing::error!(%peer, "connected peer has no node ID; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        };
        let (address, direction) = match endpoint {
            ConnectedPoint::Dialer { address, .. } => (address.clone(), Direction::Outbound),
            ConnectedPoint::Listener { send_back_addr, .. } => {
                (send_back_addr.clone(), Direction::Inbound)
            }
        };
        tracing::info!(node = %node_id, %address, ?direction, "peer connected");
        self.closing.remove(&peer);
        self.connected.insert(
            peer,
            Connected {
                address: address.clone(),
                direction,
                connections: count,
            },
        );
        self.emit(Event::PeerConnected {
            node_id,
            address,
            direction,
        });
    }

    pub(super) fn on_connection_closed(
        &mut self,
        peer: PeerId,
        remaining: u32,
        cause: Option<ConnectionError>,
    ) {
        if remaining > 0 {
            if let Some(connected) = self.connected.get_mut(&peer) {
                connected.connections = remaining;
            }
            return;
        }
        if self.connected.remove(&peer).is_none() {
            return;
        }
        let reason = self.closing.remove(&peer).unwrap_or_else(|| match cause {
            Some(ConnectionError::IO(error)) => DisconnectReason::ConnectionLost(error.to_string()),
            Some(ConnectionError::KeepAliveTimeout) => {
                DisconnectReason::ConnectionLost("idle timeout".into())
            }
            None => DisconnectReason::Requested,
        });
        let Some(node_id) = self.node_of(&peer) else {
            return;
        };
        tracing::info!(node = %node_id, %reason, "peer disconnected");
        self.emit(Event::PeerDisconnected { node_id, reason });
    }

    pub(super) fn on_incoming_error(
        &mut self,
        address: Multiaddr,
        peer: Option<PeerId>,
        error: &ListenError,
    ) {
        let reason = match error {
            ListenError::Denied { cause } => {
                match cause.downcast_ref::<connection_limits::Exceeded>() {
                    Some(exceeded) => Refusal::ConnectionLimit(exceeded.to_string()),
                    None => return, // a behaviour's own decision, reported by it
                }
            }
            ListenError::Transport(error) => classify(error),
            ListenError::LocalPeerId { .. }
            | ListenError::Aborted
            | ListenError::WrongPeerId { .. } => return,
        };
        // The handshake names the peer when it got as far as its certificate.
        let node_id = peer
            .and_then(|p| self.node_of(&p))
            .or_else(|| tls::find_upgrade_error(error).and_then(|e| e.peer().cloned()));
        tracing::warn!(%address, node = ?node_id, %reason, "inbound connection refused");
        self.emit(Event::ConnectionRefused {
            node_id,
            address: Some(address),
            direction: Direction::Inbound,
            reason,
        });
    }

    pub(super) fn on_outgoing_error(&mut self, peer: Option<PeerId>, error: &DialError) {
        let known = peer.and_then(|p| self.node_of(&p));
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
            DialError::Denied { cause } => {
                match cause.downcast_ref::<connection_limits::Exceeded>() {
                    Some(exceeded) => {
                        vec![(None, Refusal::ConnectionLimit(exceeded.to_string()), known)]
                    }
                    None => return,
                }
            }
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
        for (address, reason, node_id) in failures {
            match reason {
                // A refusal is news for the operator; an unreachable static peer is retried and
                // reported as an event each time, so it stays out of the log's warnings.
                Refusal::Tls(_) | Refusal::ConnectionLimit(_) => {
                    tracing::warn!(?address, node = ?node_id, %reason, "outbound connection refused")
                }
                Refusal::Timeout | Refusal::Unreachable(_) => {
                    tracing::debug!(?address, %reason, "outbound connection failed")
                }
            }
            self.emit(Event::ConnectionRefused {
                node_id,
                address,
                direction: Direction::Outbound,
                reason,
            });
        }
    }

    pub(super) fn on_peers_event(&mut self, event: fisco_p2p_peers::Event) {
        match event {
            fisco_p2p_peers::Event::DialFailed {
                address,
                failures,
                retry_in,
                ..
            } => self.emit(Event::StaticPeerUnreachable {
                address,
                failures,
                retry_in,
            }),
            fisco_p2p_peers::Event::SelfDial { address } => self.emit(Event::SelfDial { address }),
            fisco_p2p_peers::Event::HeartbeatFailed { peer, .. } => {
                // The peers behaviour closes the connection; say why when it is gone.
                if self
                    .connected
                    .get(&peer)
                    .is_some_and(|c| c.connections == 1)
                {
                    self.closing
                        .insert(peer, DisconnectReason::HeartbeatTimeout);
                }
            }
            fisco_p2p_peers::Event::DuplicateClosed { .. } => {}
        }
    }
}

/// Names the reason of a failed connection attempt from the transport's error.
fn classify(error: &libp2p::TransportError<std::io::Error>) -> Refusal {
    if let Some(reason) = tls::refusal_reason(error) {
        return Refusal::Tls(reason);
    }
    let chain = error_chain(error);
    if chain.iter().any(|e| {
        e.downcast_ref::<TransportTimeoutError<std::io::Error>>()
            .is_some_and(|t| matches!(t, TransportTimeoutError::Timeout))
    }) {
        return Refusal::Timeout;
    }
    let message: Vec<String> = chain
        .iter()
        .map(|e| e.to_string())
        .filter(|m| !m.is_empty())
        .collect();
    Refusal::Unreachable(message.join(": "))
}

/// An error and its sources, looking inside `io::Error`s (whose `source` skips the error they wrap).
fn error_chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        if chain.len() >= 16 {
            break;
        }
        chain.push(error);
        next = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => error.source(),
        };
    }
    chain
}
