//! One node of an in-process network at swarm level: our TLS transport (or stock noise) around
//! the overlay, sync and gossipsub behaviours the benchmark needs, driven by its own task.
//! Swarm level, so that ours and stock libp2p differ only in what is compared (transport,
//! protocol), not in the node's event loop around them.
//!
//! With sync and the overlay both on, the task feeds every record's neighbour list to the overlay
//! as the node's driver does (`src/node/driver/inbound.rs`), so the overlay has routes to every node
//! and multicasts reach the followers sync knows of.

use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use fisco_p2p::identity::NodeIdentity;
use fisco_p2p_overlay as overlay;
use fisco_p2p_sync as sync;
use futures::StreamExt;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    identity::Keypair,
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, Swarm,
};
use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, oneshot};

use crate::swarms;

/// The gossipsub topic every node follows.
pub const TOPIC: &str = "bench";
/// The application module of broadcasts and multicasts.
const MODULE: u16 = 7;

/// Which transport a node uses.
#[allow(clippy::large_enum_variant)] // a handful per run, moved once
pub enum Transport {
    /// Ours: TCP + `/fisco-tls` + yamux, with this node identity.
    Ours(NodeIdentity),
    /// Stock libp2p: TCP + noise + yamux, fresh ed25519 key.
    Stock,
}

/// Which behaviours a node runs.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// The routed overlay (broadcast, multicast).
    pub overlay: bool,
    /// State sync (records, topics, the link graph).
    pub sync: bool,
    /// Gossipsub (the baseline's topic propagation).
    pub gossipsub: bool,
}

/// The node's behaviours; a disabled one costs nothing.
#[derive(NetworkBehaviour)]
pub(crate) struct Mesh {
    /// Our routed overlay (broadcast flood, multicast trees).
    overlay: Toggle<overlay::Behaviour>,
    /// Our seq state sync.
    sync: Toggle<sync::Behaviour>,
    /// libp2p gossipsub (our multicast, or the stock baseline).
    gossipsub: Toggle<gossipsub::Behaviour>,
}

fn mesh(key: &Keypair, features: Features, registry: &mut Registry) -> anyhow::Result<Mesh> {
    let gossipsub = if features.gossipsub {
        let config = gossipsub::ConfigBuilder::default()
            .heartbeat_initial_delay(std::time::Duration::from_millis(100))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .build()?;
        let mut behaviour =
            gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)
                .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?
                .with_metrics(registry, gossipsub::MetricsConfig::default());
        behaviour.subscribe(&IdentTopic::new(TOPIC))?;
        Some(behaviour)
    } else {
        None
    };
    let sync = match features.sync {
        true => Some(sync::Behaviour::new(key.clone(), sync::Config::default())?),
        false => None,
    };
    Ok(Mesh {
        overlay: Toggle::from(
            features
                .overlay
                .then(|| overlay::Behaviour::new(key.clone(), overlay::Config::default())),
        ),
        sync: Toggle::from(sync),
        gossipsub: Toggle::from(gossipsub),
    })
}

/// What the benchmark asks a node to do.
pub enum Command {
    /// Dial this address.
    Dial(Multiaddr),
    /// Overlay broadcast.
    Broadcast(Bytes),
    /// Gossipsub publish on [`TOPIC`].
    Publish(Bytes),
    /// Overlay multicast to the followers of a topic this node's sync view lists.
    Multicast(String, Bytes),
    /// Follow this topic (overlay: in the sync record; gossipsub: subscribe).
    Follow(String),
    /// Answers with the number of gossipsub mesh peers on [`TOPIC`].
    MeshPeers(oneshot::Sender<usize>),
    /// Answers with the followers of a topic in this node's sync view.
    Followers(String, oneshot::Sender<Vec<PeerId>>),
    /// Answers with what this node sent so far.
    Sent(oneshot::Sender<Sent>),
}

/// Message transmissions a node made over its links (sends to one neighbour each), so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    /// The overlay's, by kind: request, reply, error, multicast, broadcast (`Stats::sent`).
    pub overlay: [u64; 5],
    /// Gossipsub's message sends (publish, forward, or answer to IWANT; control messages not
    /// counted): its `topic_msg_sent_counts` metric.
    pub gossipsub: u64,
}

/// What a node saw, tagged with the node's index.
#[derive(Debug)]
pub enum Observed {
    /// A first connection to a peer.
    Connected {
        /// The node's index.
        node: usize,
    },
    /// An overlay broadcast (`multicast: false`), or an overlay multicast or gossipsub message
    /// (`multicast: true`), was delivered.
    Delivered {
        /// The node's index.
        node: usize,
        /// Multicast (or gossipsub), not broadcast.
        multicast: bool,
        /// The tag the payload carries ([`payload`]).
        tag: u64,
        /// When.
        at: Instant,
    },
    /// A record of `owner` arrived through sync.
    Learned {
        /// The node's index.
        node: usize,
        /// Whose record.
        owner: PeerId,
        /// The topics it lists.
        topics: Vec<String>,
        /// How many neighbours the record lists.
        neighbours: usize,
        /// When.
        at: Instant,
    },
}

/// The handle of a running node.
pub struct Member {
    /// Its PeerId.
    pub peer: PeerId,
    /// The address it listens on.
    pub addr: Multiaddr,
    /// Where its commands go.
    pub commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds, starts listening and spawns node `index`.
pub async fn start(
    index: usize,
    transport: Transport,
    features: Features,
    observed: mpsc::Sender<Observed>,
) -> anyhow::Result<Member> {
    let mut registry = Registry::default();
    let mut swarm = match transport {
        Transport::Ours(identity) => swarms::ours(
            &identity,
            mesh(identity.keypair(), features, &mut registry)?,
        )?,
        Transport::Stock => {
            let key = Keypair::generate_ed25519();
            let behaviour = mesh(&key, features, &mut registry)?;
            swarms::stock(key, |_| behaviour)?
        }
    };
    let addr = swarms::listen(&mut swarm).await?;
    if let Some(sync) = swarm.behaviour_mut().sync.as_mut() {
        sync.set_listen_addrs(vec![addr.clone()])?;
    }
    let peer = *swarm.local_peer_id();
    let (commands, receiver) = mpsc::channel(64);
    let task = tokio::spawn(drive(swarm, registry, index, receiver, observed));
    Ok(Member {
        peer,
        addr,
        commands,
        task,
    })
}

async fn drive(
    mut swarm: Swarm<Mesh>,
    registry: Registry,
    index: usize,
    mut commands: mpsc::Receiver<Command>,
    observed: mpsc::Sender<Observed>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    if let Err(error) = apply(&mut swarm, &registry, command) {
                        tracing::warn!(node = index, %error, "bench command failed");
                    }
                }
                None => return,
            },
            event = swarm.select_next_some() => {
                route(&mut swarm, &event);
                if let Some(seen) = observe(index, event) {
                    if observed.send(seen).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// What the node's event loop does with sync news: the overlay learns the link graph from it.
fn route(swarm: &mut Swarm<Mesh>, event: &SwarmEvent<MeshEvent>) {
    let Some(overlay) = swarm.behaviour_mut().overlay.as_mut() else {
        return;
    };
    match event {
        SwarmEvent::Behaviour(MeshEvent::Sync(sync::Event::RecordUpdated { peer, record })) => {
            overlay.set_neighbours(*peer, record.neighbours().clone());
        }
        SwarmEvent::Behaviour(MeshEvent::Sync(sync::Event::PeerForgotten { peer })) => {
            overlay.remove_node(peer);
        }
        _ => {}
    }
}

fn apply(swarm: &mut Swarm<Mesh>, registry: &Registry, command: Command) -> anyhow::Result<()> {
    let mesh = swarm.behaviour_mut();
    match command {
        Command::Dial(addr) => swarm.dial(addr)?,
        Command::Broadcast(payload) => {
            let overlay = mesh.overlay.as_mut().context("overlay is off")?;
            overlay.broadcast(MODULE, payload)?;
        }
        Command::Multicast(topic, payload) => {
            let followers = mesh.sync.as_ref().context("sync is off")?.followers(&topic);
            let overlay = mesh.overlay.as_mut().context("overlay is off")?;
            overlay.multicast(&topic, followers, MODULE, payload)?;
        }
        Command::Followers(topic, reply) => {
            let followers = mesh.sync.as_ref().context("sync is off")?.followers(&topic);
            let _ = reply.send(followers);
        }
        Command::Sent(reply) => {
            let _ = reply.send(Sent {
                overlay: mesh.overlay.as_ref().map_or([0; 5], |o| o.stats().sent),
                gossipsub: gossipsub_sent(registry),
            });
        }
        Command::Publish(payload) => {
            let gossipsub = mesh.gossipsub.as_mut().context("gossipsub is off")?;
            gossipsub.publish(IdentTopic::new(TOPIC), payload.to_vec())?;
        }
        Command::Follow(topic) => {
            mesh.sync.as_mut().context("sync is off")?.follow(topic)?;
        }
        Command::MeshPeers(reply) => {
            let count = mesh
                .gossipsub
                .as_ref()
                .map_or(0, |g| g.mesh_peers(&IdentTopic::new(TOPIC).hash()).count());
            let _ = reply.send(count);
        }
    }
    Ok(())
}

fn observe(node: usize, event: SwarmEvent<MeshEvent>) -> Option<Observed> {
    let at = Instant::now();
    match event {
        SwarmEvent::ConnectionEstablished {
            num_established, ..
        } if num_established.get() == 1 => Some(Observed::Connected { node }),
        SwarmEvent::Behaviour(MeshEvent::Overlay(overlay::Event::Broadcast {
            payload, ..
        })) => Some(Observed::Delivered {
            node,
            multicast: false,
            tag: tag_of(&payload)?,
            at,
        }),
        SwarmEvent::Behaviour(MeshEvent::Overlay(overlay::Event::Multicast {
            payload, ..
        })) => Some(Observed::Delivered {
            node,
            multicast: true,
            tag: tag_of(&payload)?,
            at,
        }),
        SwarmEvent::Behaviour(MeshEvent::Gossipsub(gossipsub::Event::Message {
            message, ..
        })) => Some(Observed::Delivered {
            node,
            multicast: true,
            tag: tag_of(&message.data)?,
            at,
        }),
        SwarmEvent::Behaviour(MeshEvent::Sync(sync::Event::RecordUpdated { peer, record })) => {
            let topics = record.topics().iter().cloned().collect();
            Some(Observed::Learned {
                node,
                owner: peer,
                topics,
                neighbours: record.neighbours().len(),
                at,
            })
        }
        SwarmEvent::Behaviour(MeshEvent::Overlay(overlay::Event::Refused {
            from, reason, ..
        })) => {
            tracing::warn!(node, %from, %reason, "overlay refused a frame");
            None
        }
        _ => None,
    }
}

/// Gossipsub's message sends so far, from its metrics (every topic).
fn gossipsub_sent(registry: &Registry) -> u64 {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        return 0;
    }
    text.lines()
        .filter(|line| line.starts_with("topic_msg_sent_counts"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A payload of `len` bytes (at least 8) carrying `tag`.
pub fn payload(tag: u64, len: usize) -> Bytes {
    let mut bytes = vec![0u8; len.max(8)];
    bytes[..8].copy_from_slice(&tag.to_be_bytes());
    Bytes::from(bytes)
}

fn tag_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(payload.get(..8)?.try_into().ok()?))
}
