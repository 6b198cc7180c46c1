//! Test networks of broadcast nodes over libp2p's in-memory transport, one tokio task per node,
//! plus a "raw" peer that writes arbitrary bytes on a broadcast substream.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use fisco_p2p_broadcast as broadcast;
use fisco_p2p_testkit::{connect, listen, memory_swarm, within, RawWriter, Running};
use futures::StreamExt;
use libp2p::{
    identity::Keypair,
    request_response::{self, ProtocolSupport},
    swarm::NetworkBehaviour,
    PeerId, Swarm,
};
use tokio::sync::{mpsc, oneshot};

pub(crate) enum Command {
    Broadcast {
        module: u16,
        payload: Bytes,
        reply: oneshot::Sender<Result<broadcast::MessageId, broadcast::Error>>,
    },
    DroppedFrames(oneshot::Sender<u64>),
}

/// A running broadcast node: commands in, behaviour events out.
pub(crate) struct Node(Running<Command, broadcast::Event>);

impl Deref for Node {
    type Target = Running<Command, broadcast::Event>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Node {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Node {
    pub(crate) async fn broadcast(
        &self,
        module: u16,
        payload: impl Into<Bytes>,
    ) -> Result<broadcast::MessageId, broadcast::Error> {
        let payload = payload.into();
        self.ask(|reply| Command::Broadcast {
            module,
            payload,
            reply,
        })
        .await
    }

    pub(crate) async fn dropped_frames(&self) -> u64 {
        self.ask(Command::DroppedFrames).await
    }
}

/// Builds swarms for `configs`, connects them along `edges`, and starts one task per node.
pub(crate) async fn network(
    configs: Vec<broadcast::Config>,
    edges: &[(usize, usize)],
) -> Vec<Node> {
    let mut swarms = Vec::new();
    for config in configs {
        swarms.push(idle_node(config).await);
    }
    for &(a, b) in edges {
        let (low, high) = swarms.split_at_mut(a.max(b));
        connect(&mut low[a.min(b)], &mut high[0]).await;
    }
    swarms.into_iter().map(start).collect()
}

/// `n` nodes with the same configuration.
pub(crate) async fn uniform(
    n: usize,
    config: broadcast::Config,
    edges: &[(usize, usize)],
) -> Vec<Node> {
    network(vec![config; n], edges).await
}

/// Starts a swarm built with [`idle_node`].
pub(crate) fn start(swarm: Swarm<broadcast::Behaviour>) -> Node {
    Node(Running::spawn(
        swarm,
        4096,
        |swarm, command| match command {
            Command::Broadcast {
                module,
                payload,
                reply,
            } => {
                let _ = reply.send(swarm.behaviour_mut().broadcast(module, payload));
            }
            Command::DroppedFrames(reply) => {
                let _ = reply.send(swarm.behaviour().dropped_frames());
            }
        },
    ))
}

pub(crate) fn line(n: usize) -> Vec<(usize, usize)> {
    (1..n).map(|i| (i - 1, i)).collect()
}

pub(crate) fn ring(n: usize) -> Vec<(usize, usize)> {
    let mut edges = line(n);
    edges.push((n - 1, 0));
    edges
}

pub(crate) fn star(n: usize) -> Vec<(usize, usize)> {
    (1..n).map(|leaf| (0, leaf)).collect()
}

pub(crate) fn full_mesh(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// A raw peer: writes each byte string it is given on a new broadcast substream to `target`.
pub(crate) struct RawPeer {
    pub(crate) peer_id: PeerId,
    pub(crate) keypair: Keypair,
    writes: mpsc::Sender<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawPeer {
    pub(crate) async fn write(&self, bytes: Vec<u8>) {
        within("raw write", self.writes.send(bytes))
            .await
            .expect("raw peer runs");
    }
}

/// A raw peer connected to a (not yet spawned) broadcast swarm.
pub(crate) async fn raw_peer_connected_to<B>(target: &mut Swarm<B>) -> RawPeer
where
    B: NetworkBehaviour + Send,
    B::ToSwarm: std::fmt::Debug,
{
    let keypair = Keypair::generate_secp256k1();
    let behaviour = request_response::Behaviour::<RawWriter>::new(
        [(broadcast::PROTOCOL_NAME, ProtocolSupport::Outbound)],
        request_response::Config::default(),
    );
    let mut swarm = memory_swarm(keypair.clone(), behaviour);
    connect(&mut swarm, target).await;
    let target = *target.local_peer_id();
    let (writes, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let peer_id = *swarm.local_peer_id();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                bytes = rx.recv() => match bytes {
                    Some(bytes) => { swarm.behaviour_mut().send_request(&target, bytes); }
                    None => break,
                },
                _ = swarm.select_next_some() => {}
            }
        }
    });
    RawPeer {
        peer_id,
        keypair,
        writes,
        task,
    }
}

/// Builds a broadcast swarm without starting it (to connect raw peers to it first).
pub(crate) async fn idle_node(config: broadcast::Config) -> Swarm<broadcast::Behaviour> {
    let keypair = Keypair::generate_secp256k1();
    let mut swarm = memory_swarm(keypair.clone(), broadcast::Behaviour::new(keypair, config));
    listen(&mut swarm).await;
    swarm
}
