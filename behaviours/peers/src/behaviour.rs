//! The [`Behaviour`]: static address bookkeeping and the one-connection-per-pair rule.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, ConnectedPoint, Endpoint},
    swarm::{
        behaviour::{ConnectionClosed, ConnectionEstablished, DialFailure},
        dial_opts::{DialOpts, PeerCondition},
        CloseConnection, ConnectionDenied, ConnectionId, DialError, FromSwarm, NetworkBehaviour,
        THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};
use rand::{rngs::StdRng, SeedableRng};

use crate::{
    backoff::{Backoff, BackoffConfig},
    handler::HeartbeatConfig,
    Config, Event, Handler, HandlerEvent,
};

/// Where a static address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticPeerStatus {
    /// Connected to the node at this address.
    Connected(PeerId),
    /// A dial is under way.
    Dialing,
    /// Waiting before the next dial.
    Waiting,
    /// The address is this node's own; it is never dialled.
    OwnAddress,
}

#[derive(Debug)]
enum Slot {
    Due(Instant),
    Dialing(ConnectionId),
    Connected(PeerId),
    OwnAddress,
}

#[derive(Debug)]
struct StaticPeer {
    slot: Slot,
    backoff: Backoff,
    /// The node last found at this address, so that a later dial can be skipped while that node
    /// is connected through another connection.
    known_peer: Option<PeerId>,
}

#[derive(Debug, Clone, Copy)]
struct Connection {
    id: ConnectionId,
    /// Whether this node dialled it.
    outbound: bool,
}

/// Keeps static peers connected and one connection per node pair. See the crate docs.
pub struct Behaviour {
    local_peer_id: PeerId,
    backoff: BackoffConfig,
    heartbeat: HeartbeatConfig,
    /// Last heartbeat round-trip time per peer.
    rtt: HashMap<PeerId, Duration>,
    static_peers: BTreeMap<Multiaddr, StaticPeer>,
    /// Established connections per peer, oldest first.
    connections: HashMap<PeerId, Vec<Connection>>,
    actions: VecDeque<ToSwarm<Event, THandlerInEvent<Self>>>,
    timer: Option<(Instant, Delay)>,
    rng: StdRng,
    waker: Option<Waker>,
}

impl Behaviour {
    /// Creates the behaviour for the node `local_peer_id`, with no static peers yet.
    pub fn new(local_peer_id: PeerId, config: Config) -> Self {
        Self {
            local_peer_id,
            backoff: config.backoff(),
            heartbeat: config.heartbeat(),
            rtt: HashMap::new(),
            static_peers: BTreeMap::new(),
            connections: HashMap::new(),
            actions: VecDeque::new(),
            timer: None,
            rng: StdRng::from_entropy(),
            waker: None,
        }
    }

    /// Adds a static address and dials it at once. Returns `false` if it was already there.
    pub fn add_static_peer(&mut self, address: Multiaddr) -> bool {
        if self.static_peers.contains_key(&address) {
            return false;
        }
        self.static_peers.insert(
            address,
            StaticPeer {
                slot: Slot::Due(Instant::now()),
                backoff: Backoff::default(),
                known_peer: None,
            },
        );
        self.wake();
        true
    }

    /// Removes a static address. The node found there is disconnected unless another static
    /// address still leads to it, as FISCO's `erasePeers` does. Returns `false` if it was not there.
    pub fn remove_static_peer(&mut self, address: &Multiaddr) -> bool {
        let Some(removed) = self.static_peers.remove(address) else {
            return false;
        };
        let peer = match removed.slot {
            Slot::Connected(peer) => Some(peer),
            _ => removed.known_peer,
        };
        if let Some(peer) = peer {
            let still_static = self
                .static_peers
                .values()
                .any(|p| p.known_peer == Some(peer));
            if !still_static && self.connections.contains_key(&peer) {
                self.actions.push_back(ToSwarm::CloseConnection {
                    peer_id: peer,
                    connection: CloseConnection::All,
                });
                self.wake();
            }
        }
        true
    }

    /// The static addresses and where each stands.
    pub fn static_peers(&self) -> impl Iterator<Item = (&Multiaddr, StaticPeerStatus)> {
        self.static_peers.iter().map(|(address, peer)| {
            let status = match peer.slot {
                Slot::Due(_) => StaticPeerStatus::Waiting,
                Slot::Dialing(_) => StaticPeerStatus::Dialing,
                Slot::Connected(peer) => StaticPeerStatus::Connected(peer),
                Slot::OwnAddress => StaticPeerStatus::OwnAddress,
            };
            (address, status)
        })
    }

    /// The last heartbeat round-trip time to `peer`, if one completed.
    pub fn rtt(&self, peer: &PeerId) -> Option<Duration> {
        self.rtt.get(peer).copied()
    }

    /// Whether `peer` is one of the nodes found at a static address.
    pub fn is_static(&self, peer: &PeerId) -> bool {
        self.static_peers
            .values()
            .any(|p| p.known_peer.as_ref() == Some(peer))
    }

    /// Forgets the pending timer and wakes the swarm task so that `poll` looks at the slots again.
    fn wake(&mut self) {
        self.timer = None;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn on_connection_established(&mut self, event: ConnectionEstablished<'_>) {
        let ConnectionEstablished {
            peer_id,
            connection_id,
            endpoint,
            ..
        } = event;
        if peer_id == self.local_peer_id {
            return;
        }
        for peer in self.static_peers.values_mut() {
            match peer.slot {
                Slot::Dialing(id) if id == connection_id => {
                    peer.known_peer = Some(peer_id);
                    peer.backoff.reset();
                    peer.slot = Slot::Connected(peer_id);
                }
                Slot::Due(_) if peer.known_peer == Some(peer_id) => {
                    peer.backoff.reset();
                    peer.slot = Slot::Connected(peer_id);
                }
                _ => {}
            }
        }
        let connections = self.connections.entry(peer_id).or_default();
        connections.push(Connection {
            id: connection_id,
            outbound: endpoint.is_dialer(),
        });
        self.close_duplicates(peer_id);
    }

    /// Applies the one-connection-per-pair rule to `peer`'s connections (see the crate docs).
    fn close_duplicates(&mut self, peer: PeerId) {
        let Some(connections) = self.connections.get(&peer) else {
            return;
        };
        if connections.len() < 2 {
            return;
        }
        // Connections dialled by the smaller node are outbound for it and inbound for the other.
        let smaller_dials_outbound = self.local_peer_id < peer;
        let preferred_exists = connections
            .iter()
            .any(|c| c.outbound == smaller_dials_outbound);
        let oldest_outbound = connections.iter().find(|c| c.outbound).map(|c| c.id);
        let doomed: Vec<ConnectionId> = connections
            .iter()
            .filter(|c| {
                let from_larger = c.outbound != smaller_dials_outbound;
                (preferred_exists && from_larger) || (c.outbound && Some(c.id) != oldest_outbound)
            })
            .map(|c| c.id)
            .collect();
        for connection in doomed {
            tracing::debug!(%peer, ?connection, "closing duplicate connection");
            self.actions.push_back(ToSwarm::CloseConnection {
                peer_id: peer,
                connection: CloseConnection::One(connection),
            });
            self.actions
                .push_back(ToSwarm::GenerateEvent(Event::DuplicateClosed {
                    peer,
                    connection,
                }));
        }
    }

    fn on_connection_closed(&mut self, event: ConnectionClosed<'_>) {
        let ConnectionClosed {
            peer_id,
            connection_id,
            remaining_established,
            ..
        } = event;
        if let Some(connections) = self.connections.get_mut(&peer_id) {
            connections.retain(|c| c.id != connection_id);
            if connections.is_empty() {
                self.connections.remove(&peer_id);
                self.rtt.remove(&peer_id);
            }
        }
        if remaining_established > 0 {
            return;
        }
        let now = Instant::now();
        for peer in self.static_peers.values_mut() {
            if matches!(peer.slot, Slot::Connected(p) if p == peer_id) {
                // Redial at once: a restarted peer is usually back within moments.
                peer.slot = Slot::Due(now);
                self.timer = None;
            }
        }
    }

    fn on_dial_failure(&mut self, event: DialFailure<'_>) {
        let DialFailure {
            error,
            connection_id,
            ..
        } = event;
        let Some((address, peer)) = self
            .static_peers
            .iter_mut()
            .find(|(_, p)| matches!(p.slot, Slot::Dialing(id) if id == connection_id))
        else {
            return;
        };
        match error {
            // The swarm drops dial addresses that are its own listen addresses, which leaves a
            // static dial with none; an address it does not know as its own leads to us and shows
            // up as `LocalPeerId` after the handshake. Both mean: this address is our own.
            DialError::LocalPeerId { .. } | DialError::NoAddresses => {
                tracing::warn!(%address, "static peer address is this node itself; not dialling it again");
                peer.slot = Slot::OwnAddress;
                self.actions
                    .push_back(ToSwarm::GenerateEvent(Event::SelfDial {
                        address: address.clone(),
                    }));
            }
            DialError::DialPeerConditionFalse(_) => {
                // Already connected (or dialling) through another connection.
                peer.slot = match peer.known_peer {
                    Some(known) if self.connections.contains_key(&known) => Slot::Connected(known),
                    _ => Slot::Due(Instant::now() + self.backoff.initial),
                };
                self.timer = None;
            }
            error => {
                if matches!(error, DialError::WrongPeerId { .. }) {
                    // Another node now answers at this address: learn it afresh.
                    peer.known_peer = None;
                }
                let retry_in = peer.backoff.next_delay(&self.backoff, &mut self.rng);
                peer.slot = Slot::Due(Instant::now() + retry_in);
                self.timer = None;
                tracing::debug!(%address, failures = peer.backoff.failures(), ?retry_in, %error, "static peer dial failed");
                self.actions
                    .push_back(ToSwarm::GenerateEvent(Event::DialFailed {
                        address: address.clone(),
                        failures: peer.backoff.failures(),
                        retry_in,
                        error: error.to_string(),
                    }));
            }
        }
    }

    /// Starts the dials that are due and returns when the next one is.
    fn dial_due(&mut self, now: Instant) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for (address, peer) in self.static_peers.iter_mut() {
            let Slot::Due(due) = peer.slot else { continue };
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            if let Some(known) = peer.known_peer {
                if self.connections.contains_key(&known) {
                    peer.slot = Slot::Connected(known);
                    continue;
                }
            }
            let opts = match peer.known_peer {
                Some(known) => DialOpts::peer_id(known)
                    .addresses(vec![address.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                None => DialOpts::unknown_peer_id().address(address.clone()).build(),
            };
            peer.slot = Slot::Dialing(opts.connection_id());
            self.actions.push_back(ToSwarm::Dial { opts });
        }
        next
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        // A connection from this node to itself is accepted here on purpose: the dialling half
        // then reliably sees `DialError::LocalPeerId` and drops it, which marks the address as our
        // own. Denying it here would race with that and look like an ordinary failed dial.
        Ok(Handler::new(self.heartbeat))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(self.heartbeat))
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionEstablished(e) => self.on_connection_established(e),
            FromSwarm::ConnectionClosed(e) => self.on_connection_closed(e),
            FromSwarm::DialFailure(e) => self.on_dial_failure(e),
            FromSwarm::AddressChange(e) => {
                if let Some(c) = self
                    .connections
                    .get_mut(&e.peer_id)
                    .and_then(|cs| cs.iter_mut().find(|c| c.id == e.connection_id))
                {
                    c.outbound = matches!(e.new, ConnectedPoint::Dialer { .. });
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {
            HandlerEvent::Rtt(rtt) => {
                self.rtt.insert(peer, rtt);
            }
            HandlerEvent::Failed(reason) => {
                tracing::warn!(%peer, ?connection, %reason, "heartbeat failed; closing the connection");
                self.actions.push_back(ToSwarm::CloseConnection {
                    peer_id: peer,
                    connection: CloseConnection::One(connection),
                });
                self.actions
                    .push_back(ToSwarm::GenerateEvent(Event::HeartbeatFailed {
                        peer,
                        connection,
                        reason,
                    }));
            }
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        self.waker = Some(cx.waker().clone());
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Poll::Ready(action);
            }
            let now = Instant::now();
            if let Some((due, delay)) = self.timer.as_mut() {
                if *due > now && Pin::new(delay).poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            self.timer = None;
            let next = self.dial_due(now);
            if self.actions.is_empty() {
                if let Some(due) = next {
                    let wait = due
                        .saturating_duration_since(now)
                        .max(Duration::from_millis(1));
                    self.timer = Some((due, Delay::new(wait)));
                    continue;
                }
                return Poll::Pending;
            }
        }
    }
}
