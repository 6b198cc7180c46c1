//! A small in-memory network of sync nodes for the swarm tests, driven from the test task.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod attacker;
pub mod wire;

use std::time::{Duration, Instant};

use fisco_p2p_sync as sync;
use futures::StreamExt;
use libp2p::{identity::Keypair, swarm::SwarmEvent, Multiaddr, PeerId, Swarm};

/// Announcement period of the test nodes.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Fast settings: announce every 200 ms, offline after 1.5 s, forgotten after 3 s; a neighbour
/// may send 20 requests a second (burst 40), four times what an honest one sends at this pace.
pub fn config() -> sync::Config {
    sync::Config::default()
        .with_request_budget(20, 40)
        .with_announce_interval(INTERVAL)
        .with_announce_delay(Duration::from_millis(10))
        .with_offline_after(Duration::from_millis(1500))
        .with_forget_after(Duration::from_secs(3))
        .with_fetch_timeout(Duration::from_secs(2))
        .with_max_message_size(64 * 1024)
}

/// A swarm over the memory transport (plaintext, yamux): the testkit's.
pub fn swarm<B: libp2p::swarm::NetworkBehaviour>(keypair: &Keypair, behaviour: B) -> Swarm<B> {
    fisco_p2p_testkit::memory_swarm(keypair.clone(), behaviour)
}

/// Starts listening on a fresh memory address and returns it once the listener is up.
pub use fisco_p2p_testkit::listen;

/// Sync nodes in one test; `None` for a killed node.
pub struct Net {
    pub keys: Vec<Keypair>,
    pub swarms: Vec<Option<Swarm<sync::Behaviour>>>,
    pub addrs: Vec<Multiaddr>,
    pub events: Vec<Vec<(Instant, sync::Event)>>,
}

impl Net {
    /// `n` listening nodes with secp256k1 keys (FISCO node keys), not yet connected.
    pub async fn new(n: usize) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let mut net = Net {
            keys: Vec::new(),
            swarms: Vec::new(),
            addrs: Vec::new(),
            events: Vec::new(),
        };
        for _ in 0..n {
            net.keys.push(Keypair::generate_secp256k1());
            net.swarms.push(None);
            net.addrs.push(Multiaddr::empty());
            net.events.push(Vec::new());
            net.start(net.keys.len() - 1).await;
        }
        net
    }

    /// (Re)starts node `i` as a new process with the same key: a fresh behaviour and address.
    pub async fn start(&mut self, i: usize) {
        let behaviour = sync::Behaviour::new(self.keys[i].clone(), config()).unwrap();
        let mut swarm = swarm(&self.keys[i], behaviour);
        self.addrs[i] = listen(&mut swarm).await;
        self.swarms[i] = Some(swarm);
    }

    /// Kills node `i`: its swarm is dropped and its connections close.
    pub fn kill(&mut self, i: usize) {
        self.swarms[i] = None;
    }

    pub fn id(&self, i: usize) -> PeerId {
        self.keys[i].public().to_peer_id()
    }

    pub fn sync(&self, i: usize) -> &sync::Behaviour {
        self.swarms[i].as_ref().unwrap().behaviour()
    }

    pub fn sync_mut(&mut self, i: usize) -> &mut sync::Behaviour {
        self.swarms[i].as_mut().unwrap().behaviour_mut()
    }

    /// Connects `a` to `b` and waits until both sides see the connection.
    pub async fn link(&mut self, a: usize, b: usize) {
        let addr = self.addrs[b].clone();
        self.swarms[a].as_mut().unwrap().dial(addr).unwrap();
        let (ida, idb) = (self.id(a), self.id(b));
        self.until(Duration::from_secs(5), "a connection", |net| {
            let swarm = |i: usize| net.swarms[i].as_ref().unwrap();
            swarm(a).is_connected(&idb) && swarm(b).is_connected(&ida)
        })
        .await;
    }

    /// Connects the nodes into a line 0 - 1 - ... - n-1.
    pub async fn line(&mut self) {
        for i in 1..self.swarms.len() {
            self.link(i - 1, i).await;
        }
    }

    /// Whether every live node holds every other live node's current record.
    pub fn converged(&self) -> bool {
        let live: Vec<usize> = (0..self.swarms.len())
            .filter(|&i| self.swarms[i].is_some())
            .collect();
        live.iter().all(|&i| {
            live.iter().all(|&k| {
                let owner = self.sync(k).local_record();
                self.sync(i).record(&owner.owner()) == Some(owner)
            })
        })
    }

    /// The events node `i` emitted so far.
    pub fn events(&self, i: usize) -> impl Iterator<Item = &sync::Event> {
        self.events[i].iter().map(|(_, e)| e)
    }

    /// Drives every live swarm until `done` holds; panics naming `what` after `within`.
    /// Returns how long it took.
    pub async fn until(
        &mut self,
        within: Duration,
        what: &str,
        mut done: impl FnMut(&Net) -> bool,
    ) -> Duration {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < within,
                "timed out after {within:?} waiting for {what}"
            );
            let next = {
                let (live, streams): (Vec<usize>, Vec<_>) = self
                    .swarms
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, s)| s.as_mut().map(|s| (i, s.select_next_some())))
                    .unzip();
                // Wake up now and then even without events: conditions may depend on time or
                // on state that changes silently (announcements emit no events).
                let next = futures::future::select_all(streams);
                match tokio::time::timeout(Duration::from_millis(20), next).await {
                    Ok((event, position, _)) => Some((live[position], event)),
                    Err(_) => None,
                }
            };
            if let Some((i, SwarmEvent::Behaviour(event))) = next {
                self.events[i].push((Instant::now(), event));
            }
        }
        start.elapsed()
    }

    /// Drives every live swarm for `duration`.
    pub async fn run_for(&mut self, duration: Duration) {
        let end = Instant::now() + duration;
        let within = duration + Duration::from_secs(1);
        self.until(within, "time to pass", |_| Instant::now() >= end)
            .await;
    }
}
