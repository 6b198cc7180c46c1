//! The overlay [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour): drives the core from swarm events, hands its frames to the
//! links and its events to the swarm. The only clock read and the only timer live here.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    sync::Arc,
    task::Waker,
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_timer::Delay;
use libp2p::{
    identity::{Keypair, PublicKey},
    swarm::{ConnectionId, ToSwarm},
    PeerId,
};

use crate::{
    core::Core,
    handler::{Budget, Outgoing},
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

/// The routed overlay as a [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour); see the [crate docs](crate).
///
/// Methods are synchronous: they queue work and return an ID; outcomes and arrivals come out of
/// [`poll`](libp2p::swarm::NetworkBehaviour::poll) as [`Event`]s.
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
}

#[path = "behaviour_swarm.rs"]
mod swarm;
