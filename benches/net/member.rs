//! One node of an in-process network at swarm level: our TLS transport (or stock noise) around
//! the broadcast, sync and gossipsub behaviours the benchmark needs, driven by its own task.
//! Swarm level, so that ours and stock libp2p differ only in what is compared (transport,
//! protocol), not in the node's event loop around them.

use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use fisco_p2p::identity::NodeIdentity;
use fisco_p2p_broadcast as broadcast;
use fisco_p2p_sync as sync;
use futures::StreamExt;
use libp2p::{
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    identity::Keypair,
    swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, Swarm,
};
use tokio::sync::{mpsc, oneshot};

use crate::swarms;

/// The gossipsub topic every node follows.
pub(crate) const TOPIC: &str = "bench";
/// The application module of broadcasts.
const MODULE: u16 = 7;

/// Which transport a node uses.
#[allow(clippy::large_enum_variant)] // a handful per run, moved once
pub(crate) enum Transport {
    /// Ours: TCP + `/fisco-tls` + yamux, with this node identity.
    Ours(NodeIdentity),
    /// Stock libp2p: TCP + noise + yamux, fresh ed25519 key.
    Stock,
}

/// Which behaviours a node runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Features {
    pub(crate) broadcast: bool,
    pub(crate) sync: bool,
    pub(crate) gossipsub: bool,
}

/// The node's behaviours; a disabled one costs nothing.
#[derive(NetworkBehaviour)]
pub(crate) struct Mesh {
    /// Our signed flood.
    broadcast: Toggle<broadcast::Behaviour>,
    /// Our seq state sync.
    sync: Toggle<sync::Behaviour>,
    /// libp2p gossipsub (our multicast, or the stock baseline).
    gossipsub: Toggle<gossipsub::Behaviour>,
}

fn mesh(key: &Keypair, features: Features) -> anyhow::Result<Mesh> {
    let gossipsub = if features.gossipsub {
        let config = gossipsub::ConfigBuilder::default()
            .heartbeat_initial_delay(std::time::Duration::from_millis(100))
            .validation_mode(gossipsub::ValidationMode::Strict)
            .build()?;
        let mut behaviour =
            gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)
                .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
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
        broadcast: Toggle::from(
            features
                .broadcast
                .then(|| broadcast::Behaviour::new(key.clone(), broadcast::Config::default())),
        ),
        sync: Toggle::from(sync),
        gossipsub: Toggle::from(gossipsub),
    })
}

/// What the benchmark asks a node to do.
pub(crate) enum Command {
    Dial(Multiaddr),
    Broadcast(Bytes),
    Publish(Bytes),
    Follow(String),
    /// Answers with the number of gossipsub mesh peers on [`TOPIC`].
    MeshPeers(oneshot::Sender<usize>),
}

/// What a node saw, tagged with the node's index.
#[derive(Debug)]
pub(crate) enum Observed {
    /// A first connection to a peer.
    Connected { node: usize },
    /// A broadcast (`multicast: false`) or gossipsub message was delivered.
    Delivered {
        node: usize,
        multicast: bool,
        tag: u64,
        at: Instant,
    },
    /// A record of `owner` arrived through sync.
    Learned {
        node: usize,
        owner: PeerId,
        topics: Vec<String>,
        at: Instant,
    },
}

/// The handle of a running node.
pub(crate) struct Member {
    pub(crate) peer: PeerId,
    pub(crate) addr: Multiaddr,
    pub(crate) commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds, starts listening and spawns node `index`.
pub(crate) async fn start(
    index: usize,
    transport: Transport,
    features: Features,
    observed: mpsc::Sender<Observed>,
) -> anyhow::Result<Member> {
    let mut swarm = match transport {
        Transport::Ours(identity) => swarms::ours(&identity, mesh(identity.keypair(), features)?)?,
        Transport::Stock => {
            let key = Keypair::generate_ed25519();
            let behaviour = mesh(&key, features)?;
            swarms::stock(key, |_| behaviour)?
        }
    };
    let addr = swarms::listen(&mut swarm).await?;
    if let Some(sync) = swarm.behaviour_mut().sync.as_mut() {
        sync.set_listen_addrs(vec![addr.clone()])?;
    }
    let peer = *swarm.local_peer_id();
    let (commands, receiver) = mpsc::channel(64);
    let task = tokio::spawn(drive(swarm, index, receiver, observed));
    Ok(Member {
        peer,
        addr,
        commands,
        task,
    })
}

async fn drive(
    mut swarm: Swarm<Mesh>,
    index: usize,
    mut commands: mpsc::Receiver<Command>,
    observed: mpsc::Sender<Observed>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    if let Err(error) = apply(&mut swarm, command) {
                        tracing::warn!(node = index, %error, "bench command failed");
                    }
                }
                None => return,
            },
            event = swarm.select_next_some() => {
                if let Some(seen) = observe(index, event) {
                    if observed.send(seen).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn apply(swarm: &mut Swarm<Mesh>, command: Command) -> anyhow::Result<()> {
    let mesh = swarm.behaviour_mut();
    match command {
        Command::Dial(addr) => swarm.dial(addr)?,
        Command::Broadcast(payload) => {
            let broadcast = mesh.broadcast.as_mut().context("broadcast is off")?;
            broadcast.broadcast(MODULE, payload)?;
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
        SwarmEvent::Behaviour(MeshEvent::Broadcast(broadcast::Event::Received {
            payload, ..
        })) => Some(Observed::Delivered {
            node,
            multicast: false,
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
                at,
            })
        }
        SwarmEvent::Behaviour(MeshEvent::Broadcast(broadcast::Event::Invalid { from, reason })) => {
            tracing::warn!(node, %from, %reason, "invalid broadcast");
            None
        }
        _ => None,
    }
}

/// A payload of `len` bytes (at least 8) carrying `tag`.
pub(crate) fn payload(tag: u64, len: usize) -> Bytes {
    let mut bytes = vec![0u8; len.max(8)];
    bytes[..8].copy_from_slice(&tag.to_be_bytes());
    Bytes::from(bytes)
}

fn tag_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(payload.get(..8)?.try_into().ok()?))
}
