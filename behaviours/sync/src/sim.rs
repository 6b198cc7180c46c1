//! A deterministic network of [`State`]s for tests: simulated time, links, message latency.
//!
//! Time advances in fixed steps; a message sent during a step arrives `LATENCY` later, over a
//! link that must still be up (else the sender sees a failure, as libp2p would report). Every
//! event a node emits is checked on the spot against invariants that must hold in any run:
//! a record update never lowers a seq, and every record a node accepts is one its owner really
//! signed (the simulator logs each owner's record at every seq). Violations are collected in
//! [`Sim::violations`] rather than panicking, so a property test can report them all.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};

use crate::{
    message::{Request, Response},
    record::Record,
    state::{FetchId, Output, State},
    Config, Event,
};

mod mallory;

/// Simulated time per step.
pub(crate) const STEP: Duration = Duration::from_millis(10);
/// One-way delay of every message.
const LATENCY: Duration = Duration::from_millis(10);

/// The config every simulated node runs with: fast, and tolerant of paths up to ~12 hops.
pub(crate) fn config() -> Config {
    Config::default()
        .with_announce_interval(Duration::from_millis(200))
        .with_announce_delay(Duration::from_millis(20))
        .with_offline_after(Duration::from_secs(3))
        .with_forget_after(Duration::from_secs(6))
        .with_fetch_timeout(Duration::from_secs(1))
}

/// A change a test applies to a node's record.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Follow(String),
    Unfollow(String),
    SetState(String, Bytes),
    RemoveState(String),
}

struct Node {
    keypair: Keypair,
    id: PeerId,
    state: Option<State>,
    /// Forges every record it serves and inflates every seq it announces.
    malicious: bool,
    events: Vec<(Instant, Event)>,
    /// Per owner: the last seq this node accepted (reset when the owner is forgotten).
    seen: BTreeMap<PeerId, u64>,
}

enum Message {
    Request(Request, Option<FetchId>),
    Response(Response, Option<FetchId>),
}

struct Transit {
    at: Instant,
    from: usize,
    to: usize,
    message: Message,
}

/// The simulated network. See the module docs.
pub(crate) struct Sim {
    pub(crate) now: Instant,
    config: Config,
    nodes: Vec<Node>,
    index: HashMap<PeerId, usize>,
    links: BTreeSet<(usize, usize)>,
    transit: VecDeque<Transit>,
    /// What each owner signed at each seq: the ground truth for "was this record forged?".
    /// (A restarted owner whose clock is behind may sign a different record at a seq its
    /// previous run used, until it overtakes that run: both are genuine.)
    signed: BTreeMap<(PeerId, u64), Vec<Record>>,
    pub(crate) violations: Vec<String>,
    forged_served: u64,
}

impl Sim {
    /// `n` honest nodes with fresh secp256k1 keys (FISCO's, and 10x faster than ed25519 to
    /// verify in debug builds), all starting at seq 1, no links yet.
    pub(crate) fn new(n: usize, config: Config) -> Self {
        let mut sim = Self {
            now: Instant::now(),
            config,
            nodes: Vec::new(),
            index: HashMap::new(),
            links: BTreeSet::new(),
            transit: VecDeque::new(),
            signed: BTreeMap::new(),
            violations: Vec::new(),
            forged_served: 0,
        };
        for _ in 0..n {
            sim.add_node(Keypair::generate_secp256k1(), false);
        }
        sim
    }

    /// Adds a node; a `malicious` one forges what it serves. Returns its index.
    pub(crate) fn add_node(&mut self, keypair: Keypair, malicious: bool) -> usize {
        let id = keypair.public().to_peer_id();
        let index = self.nodes.len();
        self.nodes.push(Node {
            keypair,
            id,
            state: None,
            malicious,
            events: Vec::new(),
            seen: BTreeMap::new(),
        });
        self.index.insert(id, index);
        self.start(index, 1);
        index
    }

    /// (Re)starts node `i` with an empty record at `start_seq`, as a restarted process would.
    pub(crate) fn start(&mut self, i: usize, start_seq: u64) {
        let state = State::new(
            self.nodes[i].keypair.clone(),
            self.config.clone(),
            start_seq,
            self.now,
        );
        // A new process remembers nothing of what the old one saw.
        self.nodes[i].seen.clear();
        match state {
            Ok(state) => self.nodes[i].state = Some(state),
            Err(e) => self
                .violations
                .push(format!("node {i} failed to start: {e}")),
        }
        self.log_local(i);
    }

    /// Kills node `i`: its links drop (neighbours see a disconnect) and it stops running.
    pub(crate) fn kill(&mut self, i: usize) {
        for (a, b) in self.links.clone() {
            if a == i || b == i {
                self.unlink(a, b);
            }
        }
        self.nodes[i].state = None;
    }

    pub(crate) fn link(&mut self, a: usize, b: usize) {
        let key = (a.min(b), a.max(b));
        if a == b || !self.is_alive(a) || !self.is_alive(b) || !self.links.insert(key) {
            return;
        }
        let (ida, idb) = (self.nodes[a].id, self.nodes[b].id);
        let now = self.now;
        self.with_state(a, |s| s.on_connected(idb, now));
        self.with_state(b, |s| s.on_connected(ida, now));
    }

    pub(crate) fn unlink(&mut self, a: usize, b: usize) {
        if !self.links.remove(&(a.min(b), a.max(b))) {
            return;
        }
        let (ida, idb) = (self.nodes[a].id, self.nodes[b].id);
        let now = self.now;
        self.with_state(a, |s| s.on_disconnected(idb, now));
        self.with_state(b, |s| s.on_disconnected(ida, now));
    }

    pub(crate) fn change(&mut self, i: usize, change: Change) {
        let now = self.now;
        let result = self.with_state(i, |s| {
            s.change_local(now, |r| match change {
                Change::Follow(t) => r.topics_mut().insert(t),
                Change::Unfollow(t) => r.topics_mut().remove(&t),
                Change::SetState(k, v) => r.state_mut().insert(k, v.clone()) != Some(v),
                Change::RemoveState(k) => r.state_mut().remove(&k).is_some(),
            })
        });
        if let Some(Err(e)) = result {
            self.violations
                .push(format!("change on node {i} failed: {e}"));
        }
    }

    /// Advances time by `duration`, step by step.
    pub(crate) fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.step();
        }
    }

    fn step(&mut self) {
        self.now += STEP;
        while self.transit.front().is_some_and(|t| t.at <= self.now) {
            if let Some(transit) = self.transit.pop_front() {
                self.deliver(transit);
            }
        }
        let now = self.now;
        for i in 0..self.nodes.len() {
            self.with_state(i, |s| {
                if s.poll_timeout() <= now {
                    s.tick(now);
                }
            });
        }
    }

    fn deliver(&mut self, transit: Transit) {
        let Transit {
            from, to, message, ..
        } = transit;
        let up = self.links.contains(&(from.min(to), from.max(to)));
        let (from_id, now) = (self.nodes[from].id, self.now);
        match message {
            Message::Request(_, fetch) if !up => self.fail(from, to, fetch),
            Message::Request(request, fetch) => {
                let response = self.with_state(to, |s| s.on_request(from_id, request, now));
                if let Some(response) = response {
                    let response = self.maybe_forge_response(to, response);
                    self.send(to, from, Message::Response(response, fetch));
                }
            }
            // The requester saw the disconnect, which already ended the request.
            Message::Response(..) if !up => {}
            Message::Response(Response::Records(envelopes), Some(id)) => {
                self.with_state(to, |s| s.on_fetch_response(from_id, id, envelopes, now));
            }
            Message::Response(_, Some(id)) => {
                self.with_state(to, |s| s.on_fetch_failed(from_id, id, now));
            }
            Message::Response(_, None) => {
                self.with_state(to, |s| s.on_announce_done(from_id, now));
            }
        }
    }

    /// The request `from` sent to `to` failed (link down).
    fn fail(&mut self, from: usize, to: usize, fetch: Option<FetchId>) {
        let (to_id, now) = (self.nodes[to].id, self.now);
        self.with_state(from, |s| match fetch {
            Some(id) => s.on_fetch_failed(to_id, id, now),
            None => s.on_announce_done(to_id, now),
        });
    }

    fn send(&mut self, from: usize, to: usize, message: Message) {
        let at = self.now + LATENCY;
        self.transit.push_back(Transit {
            at,
            from,
            to,
            message,
        });
    }

    /// Runs `f` on node `i`'s state if it is alive, then routes its outputs and checks them.
    fn with_state<R>(&mut self, i: usize, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let result = f(self.nodes[i].state.as_mut()?);
        self.drain(i);
        self.log_local(i);
        Some(result)
    }

    fn drain(&mut self, i: usize) {
        loop {
            let Some(output) = self.nodes[i].state.as_mut().and_then(State::pop_output) else {
                return;
            };
            match output {
                Output::Event(event) => self.check_event(i, event),
                Output::Announce { peer, request } => {
                    let request = self.maybe_inflate(i, request);
                    self.send(i, self.index[&peer], Message::Request(request, None));
                }
                Output::Fetch { peer, id, request } => {
                    self.send(i, self.index[&peer], Message::Request(request, Some(id)));
                }
            }
        }
    }

    fn log_local(&mut self, i: usize) {
        if let Some(record) = self.nodes[i].state.as_ref().map(State::local_record) {
            let versions = self
                .signed
                .entry((record.owner(), record.seq()))
                .or_default();
            if !versions.contains(record) {
                versions.push(record.clone());
            }
        }
    }

    fn check_event(&mut self, i: usize, event: Event) {
        let node = &mut self.nodes[i];
        match &event {
            Event::RecordUpdated { peer, record } => {
                if let Some(prev) = node.seen.insert(*peer, record.seq()) {
                    if prev >= record.seq() {
                        let v = format!("node {i}: seq of {peer} went {prev} -> {}", record.seq());
                        self.violations.push(v);
                    }
                }
                let genuine = self
                    .signed
                    .get(&(*peer, record.seq()))
                    .is_some_and(|versions| versions.contains(record));
                if !genuine {
                    let v = format!("node {i} accepted a record {peer} never signed: {record:?}");
                    self.violations.push(v);
                }
            }
            Event::PeerForgotten { peer } => {
                node.seen.remove(peer);
            }
            _ => {}
        }
        node.events.push((self.now, event));
    }

    pub(crate) fn id(&self, i: usize) -> PeerId {
        self.nodes[i].id
    }

    pub(crate) fn is_alive(&self, i: usize) -> bool {
        self.nodes[i].state.is_some()
    }

    pub(crate) fn state(&self, i: usize) -> Option<&State> {
        self.nodes[i].state.as_ref()
    }

    pub(crate) fn events(&self, i: usize) -> &[(Instant, Event)] {
        &self.nodes[i].events
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Indices of the alive honest nodes.
    pub(crate) fn honest(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.is_alive(i) && !self.nodes[i].malicious)
            .collect()
    }

    /// Disagreements between what alive honest nodes hold of each other and the owners' own
    /// records, plus each such peer not seen online; empty once the network converged.
    pub(crate) fn divergence(&self) -> Vec<String> {
        let mut out = Vec::new();
        let honest = self.honest();
        for &i in &honest {
            let Some(view) = self.state(i) else { continue };
            for &k in &honest {
                let Some(owner) = self.state(k).map(State::local_record) else {
                    continue;
                };
                if view.record(&owner.owner()) != Some(owner) {
                    out.push(format!(
                        "node {i} does not hold node {k}'s record {owner:?}"
                    ));
                } else if i != k && !view.entry(&owner.owner()).is_some_and(|e| e.is_online()) {
                    out.push(format!("node {i} sees node {k} offline"));
                }
            }
        }
        out
    }
}
