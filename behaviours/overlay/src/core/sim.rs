//! A deterministic network of [`Core`]s for tests: simulated time, links with latency, state
//! sync modelled as each node learning every link change after its own random delay, and every
//! frame encoded, decoded and checked exactly as a link does.

use std::{
    cmp::Reverse,
    collections::{BTreeSet, BinaryHeap, HashMap},
    time::{Duration, Instant},
};

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};
use rand::{rngs::StdRng, Rng, SeedableRng};

use super::{Core, Output};
use crate::{
    frame::{self, Frame},
    seal::{KeySeal, Verifier},
    Config, Event,
};

/// One-way latency of every link.
pub(crate) const LATENCY: Duration = Duration::from_millis(5);

/// A simulated node.
pub(crate) struct Node {
    pub(crate) id: PeerId,
    pub(crate) keypair: Keypair,
    pub(crate) core: Option<Core>,
    verifier: Verifier,
    /// Every event, with when it happened.
    pub(crate) events: Vec<(Instant, Event)>,
    /// Whether to answer requests (with the payload reversed).
    pub(crate) serve: bool,
    /// Origins this node refuses.
    pub(crate) barred: BTreeSet<PeerId>,
}

enum Action {
    Deliver {
        from: usize,
        to: usize,
        bytes: Bytes,
    },
    Learn {
        node: usize,
        owner: usize,
        /// The owner's record seq: a node never goes back to an older record.
        seq: u64,
        neighbours: BTreeSet<PeerId>,
    },
}

/// See the module docs.
pub(crate) struct Sim {
    pub(crate) now: Instant,
    pub(crate) nodes: Vec<Node>,
    links: BTreeSet<(usize, usize)>,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    actions: HashMap<u64, Action>,
    seq: u64,
    rng: StdRng,
    /// Largest delay before a node learns of a link change elsewhere.
    pub(crate) sync_delay: Duration,
    index: HashMap<PeerId, usize>,
    /// Each owner's record seq, and the seq each node last learned of each owner.
    record_seq: HashMap<usize, u64>,
    learned: HashMap<(usize, usize), u64>,
    /// Frames that crossed a link, by kind index (see [`crate::Stats::sent`]).
    pub(crate) transmissions: [u64; 5],
    config: Config,
}

impl Sim {
    /// `n` nodes with secp256k1 keys, no links, every node answering requests.
    pub(crate) fn new(n: usize, config: Config, seed: u64) -> Self {
        let mut sim = Sim {
            now: Instant::now(),
            nodes: Vec::new(),
            links: BTreeSet::new(),
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            seq: 0,
            rng: StdRng::seed_from_u64(seed),
            sync_delay: Duration::from_millis(50),
            index: HashMap::new(),
            record_seq: HashMap::new(),
            learned: HashMap::new(),
            transmissions: [0; 5],
            config,
        };
        for _ in 0..n {
            sim.add_node();
        }
        sim
    }

    fn add_node(&mut self) -> usize {
        let keypair = Keypair::generate_secp256k1();
        let id = keypair.public().to_peer_id();
        let i = self.nodes.len();
        self.index.insert(id, i);
        self.nodes.push(Node {
            id,
            keypair: keypair.clone(),
            core: None,
            verifier: Verifier::default(),
            events: Vec::new(),
            serve: true,
            barred: BTreeSet::new(),
        });
        self.start(i);
        i
    }

    /// (Re)starts node `i` with an empty core.
    pub(crate) fn start(&mut self, i: usize) {
        let node = &self.nodes[i];
        let barred = node.barred.clone();
        let nonce = self.rng.gen();
        self.nodes[i].core = Some(Core::new(
            node.id,
            self.config.clone(),
            Box::new(KeySeal::new(node.keypair.clone())),
            Box::new(move |origin| {
                if barred.contains(origin) {
                    Err("blacklisted".into())
                } else {
                    Ok(())
                }
            }),
            nonce,
        ));
    }

    pub(crate) fn id(&self, i: usize) -> PeerId {
        self.nodes[i].id
    }

    /// Runs `f` on node `i`'s core (if alive), then handles what it output.
    pub(crate) fn with<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Core, Instant) -> R,
    ) -> Option<R> {
        let now = self.now;
        let result = f(self.nodes[i].core.as_mut()?, now);
        self.drain(i);
        Some(result)
    }

    /// Links `a` and `b`: both see the link at once, everyone else learns it through "sync".
    pub(crate) fn link(&mut self, a: usize, b: usize) {
        if !self.links.insert((a.min(b), a.max(b))) {
            return;
        }
        let (ida, idb) = (self.id(a), self.id(b));
        self.with(a, |c, now| c.link_up(idb, now));
        self.with(b, |c, now| c.link_up(ida, now));
        self.announce(a);
        self.announce(b);
    }

    /// Cuts the link between `a` and `b`; frames on it are lost.
    pub(crate) fn unlink(&mut self, a: usize, b: usize) {
        if !self.links.remove(&(a.min(b), a.max(b))) {
            return;
        }
        let (ida, idb) = (self.id(a), self.id(b));
        self.with(a, |c, now| c.link_down(idb, now));
        self.with(b, |c, now| c.link_down(ida, now));
        self.announce(a);
        self.announce(b);
    }

    /// Kills node `i`: its links drop, and it stops.
    pub(crate) fn kill(&mut self, i: usize) {
        let neighbours: Vec<usize> = self.neighbours(i);
        for n in neighbours {
            self.unlink(i, n);
        }
        self.nodes[i].core = None;
    }

    fn neighbours(&self, i: usize) -> Vec<usize> {
        self.links
            .iter()
            .filter_map(|&(a, b)| match i {
                _ if a == i => Some(b),
                _ if b == i => Some(a),
                _ => None,
            })
            .collect()
    }

    /// Every other node learns `owner`'s current neighbours after its own random delay.
    fn announce(&mut self, owner: usize) {
        let neighbours: BTreeSet<PeerId> = self
            .neighbours(owner)
            .into_iter()
            .map(|n| self.id(n))
            .collect();
        let seq = {
            let seq = self.record_seq.entry(owner).or_default();
            *seq += 1;
            *seq
        };
        for node in 0..self.nodes.len() {
            if node == owner {
                continue;
            }
            let delay = self.rng.gen_range(Duration::ZERO..=self.sync_delay);
            self.schedule(
                delay,
                Action::Learn {
                    node,
                    owner,
                    seq,
                    neighbours: neighbours.clone(),
                },
            );
        }
    }

    fn schedule(&mut self, delay: Duration, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + delay, self.seq)));
        self.actions.insert(self.seq, action);
    }

    /// Puts raw frame bytes on the link from `from` to `to`, as a misbehaving node would.
    pub(crate) fn inject(&mut self, from: usize, to: usize, frame: &Frame) {
        let bytes = encode(frame);
        self.schedule(LATENCY, Action::Deliver { from, to, bytes });
    }

    fn drain(&mut self, i: usize) {
        loop {
            let Some(output) = self.nodes[i].core.as_mut().and_then(Core::pop_output) else {
                return;
            };
            match output {
                Output::Event(event) => self.on_event(i, event),
                Output::Send { to, frame } => {
                    let Some(&j) = self.index.get(&to) else {
                        continue;
                    };
                    if !self.links.contains(&(i.min(j), i.max(j))) {
                        let now = self.now;
                        if let Some(core) = self.nodes[i].core.as_mut() {
                            core.on_send_failed(to, &frame, now);
                        }
                        continue;
                    }
                    let kind = frame.envelope.header.kind as usize;
                    let _ = kind;
                    self.transmissions[kind_index(&frame)] += 1;
                    let bytes = encode(&frame);
                    self.schedule(
                        LATENCY,
                        Action::Deliver {
                            from: i,
                            to: j,
                            bytes,
                        },
                    );
                }
            }
        }
    }

    fn on_event(&mut self, i: usize, event: Event) {
        let now = self.now;
        if let Event::Request {
            reply_to, payload, ..
        } = &event
        {
            if self.nodes[i].serve {
                let reply: Vec<u8> = payload.iter().rev().copied().collect();
                let (reply_to, reply) = (*reply_to, Bytes::from(reply));
                self.nodes[i].events.push((now, event));
                self.with(i, |c, now| c.respond(reply_to, Ok(reply), now));
                return;
            }
        }
        self.nodes[i].events.push((now, event));
    }

    /// Advances time by `duration`, handling every frame, sync update and timer on the way.
    pub(crate) fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            let next_action = self.queue.peek().map(|Reverse((at, _))| *at);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.core.as_ref().and_then(Core::poll_timeout))
                .min();
            let next = match (next_action, next_timer) {
                (Some(a), Some(t)) => a.min(t),
                (a, t) => match a.or(t) {
                    Some(at) => at,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            if next_action == Some(next) {
                let Some(Reverse((_, seq))) = self.queue.pop() else {
                    break;
                };
                if let Some(action) = self.actions.remove(&seq) {
                    self.act(action);
                }
            } else {
                for i in 0..self.nodes.len() {
                    let due = self.nodes[i]
                        .core
                        .as_ref()
                        .and_then(Core::poll_timeout)
                        .is_some_and(|at| at <= self.now);
                    if due {
                        self.with(i, |c, now| c.tick(now));
                    }
                }
            }
        }
        self.now = end;
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Learn {
                node,
                owner,
                seq,
                neighbours,
            } => {
                let learned = self.learned.entry((node, owner)).or_default();
                if *learned >= seq {
                    return;
                }
                *learned = seq;
                let owner = self.id(owner);
                self.with(node, |c, now| c.set_neighbours(owner, neighbours, now));
            }
            Action::Deliver { from, to, bytes } => {
                if !self.links.contains(&(from.min(to), from.max(to))) {
                    return; // cut while the frame was on it
                }
                let (local, remote) = (self.id(to), self.id(from));
                let Some(node) = self.nodes.get_mut(to) else {
                    return;
                };
                if node.core.is_none() {
                    return;
                }
                let checked = frame::decode(bytes)
                    .map_err(|reason| (None, crate::Refusal::Malformed(reason)))
                    .and_then(|decoded| frame::check(decoded, local, remote, &mut node.verifier));
                match checked {
                    Ok((received, _)) => {
                        self.with(to, |c, now| c.on_received(remote, received, now));
                    }
                    Err((origin, reason)) => {
                        self.with(to, |c, _| c.refused(remote, origin, reason));
                    }
                }
            }
        }
    }

    /// Events of node `i`.
    pub(crate) fn events(&self, i: usize) -> impl Iterator<Item = &Event> {
        self.nodes[i].events.iter().map(|(_, e)| e)
    }

    /// Index of a node by ID.
    pub(crate) fn index_of(&self, peer: &PeerId) -> usize {
        self.index[peer]
    }
}

fn kind_index(frame: &Frame) -> usize {
    use crate::envelope::Kind;
    match frame.envelope.header.kind {
        Kind::Request => 0,
        Kind::Reply => 1,
        Kind::Error => 2,
        Kind::Multicast => 3,
        Kind::Broadcast => 4,
    }
}

/// A frame as it crosses a link, without the length prefix.
pub(crate) fn encode(frame: &Frame) -> Bytes {
    let mut wire = futures::io::Cursor::new(Vec::new());
    let codec = frame::Codec::Plain;
    futures::executor::block_on(frame::write_frames(
        &mut wire,
        std::slice::from_ref(frame),
        codec,
    ))
    .expect("writes to memory");
    Bytes::from(wire.into_inner()).slice(4..)
}
