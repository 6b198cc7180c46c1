//! The overlay [`NetworkBehaviour`]: drives the core from swarm events, hands its frames to the
//! links and its events to the swarm. The only clock read and the only timer live here.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    sync::Arc,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::FutureExt;
use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    identity::{Keypair, PublicKey},
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
        NotifyHandler, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use crate::{
    core::{Core, Output},
    envelope::Kind,
    frame::Frame,
    handler::{Budget, FromHandler, Handler, HandlerEvent, Outgoing},
    id::{MessageId, MulticastId, ReplyTo, RequestId},
    seal::KeySeal,
    Config, Event, ReplyError, Route, SendError, Stats, StatsHandle,
};

/// Room an envelope takes beyond its payload (header, routing list, signature), for the send
/// queue check before a message is accepted.
const ENVELOPE_ROOM: usize = 1024;

/// One connection to a neighbour.
#[derive(Debug)]
struct Link {
    id: ConnectionId,
    /// Whether the node with the smaller PeerId dialled it.
    dialled_by_smaller: bool,
    budget: Arc<Budget>,
}

/// The routed overlay as a [`NetworkBehaviour`]; see the [crate docs](crate).
///
/// Methods are synchronous: they queue work and return an ID; outcomes and arrivals come out of
/// [`poll`](NetworkBehaviour::poll) as [`Event`]s.
pub struct Behaviour {
    core: Core,
    local: PeerId,
    config: Config,
    /// Open connections per neighbour, oldest first.
    links: HashMap<PeerId, Vec<Link>>,
    /// Budgets of connections whose handler exists but whose establishment the swarm has not
    /// reported yet.
    budgets: HashMap<ConnectionId, Arc<Budget>>,
    events: VecDeque<ToSwarm<Event, Outgoing>>,
    timer: Option<(Instant, Delay)>,
    waker: Option<Waker>,
    published: StatsHandle,
    /// Where the keys carried by envelopes go (see [`Behaviour::set_key_sink`]).
    key_sink: Option<KeySink>,
}

type KeySink = Box<dyn Fn(&PublicKey) + Send>;

impl Behaviour {
    /// An overlay node signing with `keypair` (the node key), admitting every origin.
    pub fn new(keypair: Keypair, config: Config) -> Self {
        let local = keypair.public().to_peer_id();
        let core = Core::new(
            local,
            config.clone(),
            Box::new(KeySeal::new(keypair)),
            Box::new(|_| Ok(())),
            rand::random(),
        );
        Behaviour {
            core,
            local,
            config,
            links: HashMap::new(),
            budgets: HashMap::new(),
            events: VecDeque::new(),
            timer: None,
            waker: None,
            published: StatsHandle::default(),
            key_sink: None,
        }
    }

    /// A handle on this overlay's counters and route count that other threads (a metrics
    /// exporter) can read at any time; updated after every round of the behaviour's work.
    pub fn stats_handle(&self) -> StatsHandle {
        self.published.clone()
    }

    /// Sets who may reach this node: `access(origin)` returns why not, if not. Requests from a
    /// refused origin are answered with an error; its multicasts and broadcasts are not delivered
    /// (broadcasts are still forwarded, for the nodes that do admit it).
    pub fn set_access(&mut self, access: impl Fn(&PeerId) -> Result<(), String> + Send + 'static) {
        self.core.set_access(Box::new(access));
    }

    /// Hands `sink` the public key of every origin whose envelopes carry it (an RSA origin's
    /// PeerId is a hash of its key), once per link the first time it arrives verified, and
    /// before the access check of that envelope: the node learns the origin's node ID from it.
    pub fn set_key_sink(&mut self, sink: impl Fn(&PublicKey) + Send + 'static) {
        self.key_sink = Some(Box::new(sink));
    }

    /// `node`'s state-sync record lists `neighbours`.
    pub fn set_neighbours(&mut self, node: PeerId, neighbours: BTreeSet<PeerId>) {
        self.core.set_neighbours(node, neighbours, Instant::now());
        self.wake();
    }

    /// State sync forgot `node`.
    pub fn remove_node(&mut self, node: &PeerId) {
        self.core.remove_node(node, Instant::now());
        self.wake();
    }

    /// Sends a request to `dest` (any node with a route); the outcome arrives as
    /// [`Event::Response`] with the returned ID. `timeout`: the configured default if `None`.
    pub fn request(
        &mut self,
        dest: PeerId,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> Result<RequestId, SendError> {
        if let Some(route) = self.core.route(&dest) {
            self.check_room(&route.next_hop, payload.len())?;
        }
        let now = Instant::now();
        let id = self.core.request(dest, module, payload, timeout, now)?;
        self.drain(now);
        Ok(id)
    }

    /// Answers a request ([`Event::Request`]).
    pub fn respond(
        &mut self,
        reply_to: ReplyTo,
        result: Result<Bytes, ReplyError>,
    ) -> Result<(), SendError> {
        let now = Instant::now();
        let outcome = self.core.respond(reply_to, result, now);
        self.drain(now);
        outcome
    }

    /// Sends `payload` to `followers` of `topic`, each once; how it went arrives as
    /// [`Event::MulticastSent`].
    pub fn multicast(
        &mut self,
        topic: &str,
        followers: impl IntoIterator<Item = PeerId>,
        module: u16,
        payload: Bytes,
    ) -> Result<MulticastId, SendError> {
        let followers: Vec<PeerId> = followers.into_iter().collect();
        for hop in self.core.first_hops(&followers) {
            self.check_room(&hop, payload.len())?;
        }
        let now = Instant::now();
        let id = self
            .core
            .multicast(topic, followers, module, payload, now)?;
        self.drain(now);
        Ok(id)
    }

    /// Floods `payload` to every node; returns its ID and the links it went out on.
    pub fn broadcast(
        &mut self,
        module: u16,
        payload: Bytes,
    ) -> Result<(MessageId, usize), SendError> {
        let links: Vec<PeerId> = self.links.keys().copied().collect();
        for link in &links {
            self.check_room(link, payload.len())?;
        }
        let now = Instant::now();
        let sent = self.core.broadcast(module, payload, now)?;
        self.drain(now);
        Ok(sent)
    }

    /// Every route, by destination.
    pub fn routes(&mut self) -> BTreeMap<PeerId, Route> {
        self.core.routes()
    }

    /// The route to `dest`, if any.
    pub fn route(&mut self, dest: &PeerId) -> Option<Route> {
        self.core.route(dest)
    }

    /// The path to `dest`: this node, the relays, `dest` (as this node sees the graph).
    pub fn path(&mut self, dest: &PeerId) -> Option<Vec<PeerId>> {
        self.core.path(dest)
    }

    /// What the overlay did so far.
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Requests sent and not ended yet.
    pub fn in_flight(&self) -> usize {
        self.core.in_flight()
    }

    /// Bytes queued on all links now.
    pub fn queued_bytes(&self) -> usize {
        self.links
            .values()
            .flatten()
            .map(|link| link.budget.queued_bytes())
            .sum()
    }

    /// The connection both ends keep when there are two (the rule of the peers behaviour: the
    /// oldest dialled by the smaller PeerId, else the oldest).
    fn preferred(&self, peer: &PeerId) -> Option<&Link> {
        let links = self.links.get(peer)?;
        links
            .iter()
            .find(|l| l.dialled_by_smaller)
            .or_else(|| links.first())
    }

    /// Refuses a message of `payload` bytes when the send queue of the link to `peer` has no
    /// room for it: the caller learns at once, rather than the frame being dropped later.
    fn check_room(&self, peer: &PeerId, payload: usize) -> Result<(), SendError> {
        match self.preferred(peer) {
            Some(link) if !link.budget.has_room(payload + ENVELOPE_ROOM) => {
                Err(SendError::QueueFull { peer: *peer })
            }
            _ => Ok(()),
        }
    }

    /// Hands the core's frames to the links at once (reserving their room in the send queues,
    /// so the next call sees it) and wakes the swarm for the rest.
    fn drain(&mut self, now: Instant) {
        let mut events = Vec::new();
        while let Some(output) = self.core.pop_output() {
            match output {
                Output::Send { to, frame } => self.dispatch(to, frame, now),
                Output::Event(event) => events.push(event),
            }
        }
        self.events
            .extend(events.into_iter().map(ToSwarm::GenerateEvent));
        self.wake();
    }

    fn dispatch(&mut self, to: PeerId, frame: Frame, now: Instant) {
        // Copies of other nodes' floods may fill only half of a link's queue, so that requests
        // and answers always find room: a broadcast storm cannot starve unicast traffic.
        let header = &frame.envelope.header;
        let relayed_flood =
            header.origin != self.local && matches!(header.kind, Kind::Broadcast | Kind::Multicast);
        let accepted = match self.preferred(&to) {
            Some(link) if link.budget.try_reserve(frame.len(), relayed_flood) => Some(link.id),
            _ => None,
        };
        match accepted {
            Some(connection) => self.events.push_back(ToSwarm::NotifyHandler {
                peer_id: to,
                handler: NotifyHandler::One(connection),
                event: Outgoing(frame),
            }),
            None => self.core.on_send_failed(to, &frame, now),
        }
    }

    fn new_handler(&mut self, connection: ConnectionId, peer: PeerId) -> Handler {
        let budget = Arc::new(Budget::new(
            self.config.send_queue_frames(),
            self.config.send_queue_bytes(),
            self.config.max_message_size() + 1024,
        ));
        self.budgets.insert(connection, budget.clone());
        Handler::new(self.local, peer, self.config.max_message_size(), budget)
            .with_compression(self.config.compression())
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Polls the timer armed for the core's next deadline; true if it fired.
    ///
    /// The timer is armed again only when the deadline moves earlier. The deadline moves later
    /// every time the oldest request in flight is answered, and arming a timer registers it with
    /// the timer thread (and wakes that thread): once per request under load. A timer left armed
    /// for a deadline that went away fires early once; the core then finds nothing due, and the
    /// timer is armed for the real deadline.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.core.poll_timeout() else {
            self.timer = None;
            return false;
        };
        if !matches!(&self.timer, Some((armed, _)) if *armed <= deadline) {
            let delay = Delay::new(deadline.saturating_duration_since(Instant::now()));
            self.timer = Some((deadline, delay));
        }
        let fired = self
            .timer
            .as_mut()
            .is_some_and(|(_, delay)| delay.poll_unpin(cx).is_ready());
        if fired {
            self.timer = None;
        }
        fired
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler(connection, peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler(connection, peer))
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        let now = Instant::now();
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                let Some(budget) = self.budgets.remove(&established.connection_id) else {
                    return;
                };
                let we_dialled = established.endpoint.is_dialer();
                let smaller_is_us = self.local < established.peer_id;
                let links = self.links.entry(established.peer_id).or_default();
                links.push(Link {
                    id: established.connection_id,
                    dialled_by_smaller: we_dialled == smaller_is_us,
                    budget,
                });
                if links.len() == 1 {
                    self.core.link_up(established.peer_id, now);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                self.budgets.remove(&connection_id);
                let Some(links) = self.links.get_mut(&peer_id) else {
                    return;
                };
                links.retain(|l| l.id != connection_id);
                if links.is_empty() {
                    self.links.remove(&peer_id);
                    self.core.link_down(peer_id, now);
                } else {
                    self.core.frames_lost(peer_id, now);
                }
            }
            _ => return,
        }
        self.wake();
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        HandlerEvent(event): THandlerOutEvent<Self>,
    ) {
        let now = Instant::now();
        match event {
            FromHandler::Received(received, key) => {
                // Before the core checks the access list: the sink may be how it names the origin.
                if let (Some(key), Some(sink)) = (key, &self.key_sink) {
                    sink(&key);
                }
                self.core.on_received(peer, *received, now)
            }
            FromHandler::Refused { origin, reason } => self.core.refused(peer, origin, reason),
            FromHandler::Lost { frames } => {
                tracing::debug!(%peer, frames, "frames lost on a failed overlay substream");
                self.core.frames_lost(peer, now);
            }
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(event);
            }
            let now = Instant::now();
            let mut progressed = false;
            while let Some(output) = self.core.pop_output() {
                progressed = true;
                match output {
                    Output::Send { to, frame } => self.dispatch(to, frame, now),
                    Output::Event(event) => self.events.push_back(ToSwarm::GenerateEvent(event)),
                }
            }
            if progressed {
                continue;
            }
            if self.poll_timer(cx) {
                self.core.tick(Instant::now());
                continue;
            }
            let routes = self.core.route_count();
            self.published.publish(&self.core.stats(), routes);
            self.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}
