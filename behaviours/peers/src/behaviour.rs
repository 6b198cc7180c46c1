//! The [`Behaviour`]: the glue between the swarm and the static addresses, the dial table and
//! the one-connection-per-pair rule.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    future::Future,
    pin::Pin,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use fisco_p2p_ratelimit::{PerSource, Verdict};
use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, ConnectedPoint, Endpoint},
    swarm::{
        behaviour::{ConnectionClosed, ConnectionEstablished, DialFailure},
        CloseConnection, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
        THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use crate::{
    dialer::{Dial, DialQueueFull, Dialer, Requested, Target},
    duplicates::{self, Connection},
    handler::HeartbeatConfig,
    static_ips::StaticIps,
    static_peers::{StaticPeerStatus, StaticPeers},
    Config, Event, Handler, HandlerEvent,
};

/// Keeps static peers connected and one connection per node pair, and bounds dialling. See the
/// crate docs.
pub struct Behaviour {
    local_peer_id: PeerId,
    heartbeat: HeartbeatConfig,
    /// Last heartbeat round-trip time per peer.
    rtt: HashMap<PeerId, Duration>,
    static_peers: StaticPeers,
    dialer: Dialer,
    /// Nodes whose dial a caller of [`Behaviour::dial`] waits for.
    dial_waiters: HashSet<PeerId>,
    /// Established connections per peer, oldest first.
    connections: HashMap<PeerId, Vec<Connection>>,
    /// Rate-limits the heartbeat warnings, per peer.
    heartbeat_log: PerSource<PeerId>,
    actions: VecDeque<ToSwarm<Event, THandlerInEvent<Self>>>,
    timer: Option<(Instant, Delay)>,
    waker: Option<Waker>,
}

impl Behaviour {
    /// Creates the behaviour for the node `local_peer_id`, with no static peers yet.
    pub fn new(local_peer_id: PeerId, config: Config) -> Self {
        Self {
            local_peer_id,
            heartbeat: config.heartbeat(),
            rtt: HashMap::new(),
            static_peers: StaticPeers::new(
                config.backoff(),
                config.static_ips.clone(),
                config.describe_dial_error,
            ),
            dialer: Dialer::new(config.max_concurrent_dials, config.max_queued_dials),
            dial_waiters: HashSet::new(),
            connections: HashMap::new(),
            heartbeat_log: PerSource::new(fisco_p2p_ratelimit::Config::default()),
            actions: VecDeque::new(),
            timer: None,
            waker: None,
        }
    }

    /// Adds a static address and dials it at once. Returns `false` if it was already there.
    pub fn add_static_peer(&mut self, address: Multiaddr) -> bool {
        let added = self.static_peers.add(address, Instant::now());
        self.wake();
        added
    }

    /// Removes a static address. The node found there is disconnected unless another static
    /// address still leads to it, as FISCO's `erasePeers` does. Returns `false` if it was not there.
    pub fn remove_static_peer(&mut self, address: &Multiaddr) -> bool {
        let Some((peer, target)) = self.static_peers.remove(address) else {
            return false;
        };
        self.dialer.cancel_queued(&target);
        if let Some(peer) = peer {
            if !self.static_peers.is_static(&peer) && self.connections.contains_key(&peer) {
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
        self.static_peers.statuses()
    }

    /// Whether static addresses (other than this node's own) are configured and none of them is
    /// connected.
    pub fn no_static_peer_connected(&self) -> bool {
        self.static_peers.none_connected()
    }

    /// The shared, current view of the static addresses' IPs.
    pub fn static_ips(&self) -> StaticIps {
        self.static_peers.ips().clone()
    }

    /// The last heartbeat round-trip time to `peer`, if one completed.
    pub fn rtt(&self, peer: &PeerId) -> Option<Duration> {
        self.rtt.get(peer).copied()
    }

    /// Whether `peer` is one of the nodes found at a static address.
    pub fn is_static(&self, peer: &PeerId) -> bool {
        self.static_peers.is_static(peer)
    }

    /// Dials `peer` at `addresses`, sharing a dial in flight and respecting the dial cap.
    ///
    /// Unless it answers [`Dial::Connected`], an [`Event::DialFinished`] for `peer` follows once
    /// the dial ends. Call it once per request that needs the node: the requests share one dial.
    pub fn dial(&mut self, peer: PeerId, addresses: Vec<Multiaddr>) -> Result<Dial, DialQueueFull> {
        if self.connections.contains_key(&peer) {
            return Ok(Dial::Connected);
        }
        let dial = match self.dialer.request(Target::Peer(peer), addresses) {
            Requested::InFlight(_) => Dial::Joined,
            Requested::Start(opts) => {
                self.actions.push_back(ToSwarm::Dial { opts });
                self.wake();
                Dial::Started
            }
            Requested::Queued => Dial::Queued,
            Requested::QueueFull => return Err(DialQueueFull),
        };
        self.dial_waiters.insert(peer);
        Ok(dial)
    }

    /// Dials in flight, and dials waiting for a slot.
    pub fn dials(&self) -> (usize, usize) {
        (self.dialer.in_flight(), self.dialer.queued())
    }

    /// Forgets the pending timer and wakes the swarm task so that `poll` looks at the slots again.
    fn wake(&mut self) {
        self.timer = None;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// The dial `id` ended: tells its waiters and starts a queued dial in its slot.
    fn dial_ended(&mut self, id: ConnectionId, error: Option<String>) {
        if let Some(Target::Peer(peer)) = self.dialer.finished(id) {
            if self.dial_waiters.remove(&peer) {
                self.actions
                    .push_back(ToSwarm::GenerateEvent(Event::DialFinished { peer, error }));
            }
        }
        while let Some((target, opts)) = self.dialer.start_queued() {
            self.static_peers
                .on_dial_started(&target, opts.connection_id());
            self.actions.push_back(ToSwarm::Dial { opts });
        }
        self.timer = None;
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
        self.dial_ended(connection_id, None);
        self.static_peers.on_established(connection_id, peer_id);
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
        for connection in duplicates::doomed(&self.local_peer_id, &peer, connections) {
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
        if remaining_established == 0 && self.static_peers.on_disconnected(peer_id, Instant::now())
        {
            self.timer = None;
        }
    }

    fn on_dial_failure(&mut self, event: DialFailure<'_>) {
        let DialFailure {
            error,
            connection_id,
            ..
        } = event;
        let now = Instant::now();
        let connections = &self.connections;
        let events = self.static_peers.on_dial_failure(
            connection_id,
            error,
            |peer| connections.contains_key(peer),
            now,
        );
        let connected = matches!(error, libp2p::swarm::DialError::DialPeerConditionFalse(_));
        let description = (!connected).then(|| self.static_peers.describe(error));
        self.dial_ended(connection_id, description);
        self.actions
            .extend(events.into_iter().map(ToSwarm::GenerateEvent));
        self.static_peers
            .check_isolated(self.connections.len(), now);
    }

    /// Hands the due static dials to the dialer; returns when the next one is due.
    fn dial_due(&mut self, now: Instant) -> Option<Instant> {
        let connections = &self.connections;
        let (due, next) = self
            .static_peers
            .take_due(now, |peer| connections.contains_key(peer));
        for due in due {
            match self.dialer.request(due.target, vec![due.address.clone()]) {
                Requested::InFlight(id) => self.static_peers.set_dialing(&due.address, Some(id)),
                Requested::Start(opts) => {
                    self.static_peers
                        .set_dialing(&due.address, Some(opts.connection_id()));
                    self.actions.push_back(ToSwarm::Dial { opts });
                }
                Requested::Queued => self.static_peers.set_dialing(&due.address, None),
                Requested::QueueFull => self.static_peers.set_refused(&due.address, now),
            }
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
                if let Verdict::Allow { suppressed } =
                    self.heartbeat_log.check(peer, Instant::now())
                {
                    tracing::warn!(%peer, ?connection, %reason, suppressed, "heartbeat failed; closing the connection");
                }
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
