//! Test networks of broadcast nodes over libp2p's in-memory transport, one tokio task per node,
//! plus a "raw" peer that writes arbitrary bytes on a broadcast substream.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::{future::Future, time::Duration};

use bytes::Bytes;
use fisco_p2p_broadcast as broadcast;
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{
    core::{multiaddr::Protocol, transport::MemoryTransport, upgrade::Version, Transport},
    identity::Keypair,
    request_response::{self, ProtocolSupport},
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, PeerId, Swarm,
};
use libp2p_swarm_test::SwarmExt;
use tokio::sync::{mpsc, oneshot};

/// Upper bound for any single step of a test.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub(crate) async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A swarm over the in-memory transport, identified by a secp256k1 key like a FISCO node.
pub(crate) fn memory_swarm<B: NetworkBehaviour>(keypair: Keypair, behaviour: B) -> Swarm<B> {
    let transport = MemoryTransport::default()
        .upgrade(Version::V1)
        .authenticate(libp2p::plaintext::Config::new(&keypair))
        .multiplex(libp2p::yamux::Config::default())
        .timeout(Duration::from_secs(20))
        .boxed();
    let config = libp2p::swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(Duration::from_secs(60));
    Swarm::new(transport, behaviour, keypair.public().to_peer_id(), config)
}

/// Starts listening on a fresh memory address and announces it as external, so
/// [`SwarmExt::connect`] can dial it.
pub(crate) async fn listen<B>(swarm: &mut Swarm<B>) -> Multiaddr
where
    B: NetworkBehaviour + Send,
    B::ToSwarm: std::fmt::Debug,
{
    swarm
        .listen_on(Protocol::Memory(0).into())
        .expect("memory transport listens");
    let address = within("listening", async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        }
    })
    .await;
    swarm.add_external_address(address.clone());
    address
}

enum Command {
    Broadcast {
        module: u16,
        payload: Bytes,
        reply: oneshot::Sender<Result<broadcast::MessageId, broadcast::Error>>,
    },
    DroppedFrames(oneshot::Sender<u64>),
}

/// A running broadcast node: commands in, behaviour events out.
pub(crate) struct Node {
    pub(crate) peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<broadcast::Event>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Node {
    pub(crate) async fn broadcast(
        &self,
        module: u16,
        payload: impl Into<Bytes>,
    ) -> Result<broadcast::MessageId, broadcast::Error> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Broadcast {
            module,
            payload: payload.into(),
            reply,
        };
        within("broadcast command", async {
            self.commands.send(command).await.expect("node runs");
            answer.await.expect("node answers")
        })
        .await
    }

    pub(crate) async fn dropped_frames(&self) -> u64 {
        let (reply, answer) = oneshot::channel();
        within("dropped_frames command", async {
            self.commands
                .send(Command::DroppedFrames(reply))
                .await
                .expect("node runs");
            answer.await.expect("node answers")
        })
        .await
    }

    /// Every event the node reports during `window`.
    pub(crate) async fn events_during(&mut self, window: Duration) -> Vec<broadcast::Event> {
        let deadline = tokio::time::Instant::now() + window;
        let mut events = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            events.push(event);
        }
        events
    }

    /// The next event, or `None` if none comes within `wait`.
    pub(crate) async fn next_event(&mut self, wait: Duration) -> Option<broadcast::Event> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Builds swarms for `configs`, connects them along `edges`, and starts one task per node.
pub(crate) async fn network(
    configs: Vec<broadcast::Config>,
    edges: &[(usize, usize)],
) -> Vec<Node> {
    let mut swarms = Vec::new();
    for config in configs {
        let keypair = Keypair::generate_secp256k1();
        let mut swarm = memory_swarm(keypair.clone(), broadcast::Behaviour::new(keypair, config));
        listen(&mut swarm).await;
        swarms.push(swarm);
    }
    for &(a, b) in edges {
        let (low, high) = swarms.split_at_mut(a.max(b));
        within("connecting", low[a.min(b)].connect(&mut high[0])).await;
    }
    swarms.into_iter().map(spawn).collect()
}

/// `n` nodes with the same configuration.
pub(crate) async fn uniform(
    n: usize,
    config: broadcast::Config,
    edges: &[(usize, usize)],
) -> Vec<Node> {
    network(vec![config; n], edges).await
}

fn spawn(mut swarm: Swarm<broadcast::Behaviour>) -> Node {
    let (command_tx, mut commands) = mpsc::channel(16);
    let (events_tx, events) = mpsc::channel(4096);
    let peer_id = *swarm.local_peer_id();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => break,
                    Some(Command::Broadcast { module, payload, reply }) => {
                        let _ = reply.send(swarm.behaviour_mut().broadcast(module, payload));
                    }
                    Some(Command::DroppedFrames(reply)) => {
                        let _ = reply.send(swarm.behaviour().dropped_frames());
                    }
                },
                event = swarm.select_next_some() => {
                    if let SwarmEvent::Behaviour(event) = event {
                        if events_tx.send(event).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    });
    Node {
        peer_id,
        commands: command_tx,
        events,
        task,
    }
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

/// A codec that writes its request bytes verbatim on a broadcast substream: a peer that can
/// put anything on the wire, to test what a broadcast node does with it.
#[derive(Clone, Default)]
pub(crate) struct RawWriter;

impl request_response::Codec for RawWriter {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = ();

    async fn read_request<T>(&mut self, _: &Self::Protocol, _: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, io: &mut T) -> std::io::Result<()>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let mut sink = [0u8; 64];
        while io.read(&mut sink).await? > 0 {}
        Ok(())
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        io.write_all(&bytes).await?;
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
        _: (),
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
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
    within("raw peer connects", swarm.connect(target)).await;
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

/// Connects two not yet spawned swarms.
pub(crate) async fn connect<A, B>(a: &mut Swarm<A>, b: &mut Swarm<B>)
where
    A: NetworkBehaviour + Send,
    A::ToSwarm: std::fmt::Debug,
    B: NetworkBehaviour + Send,
    B::ToSwarm: std::fmt::Debug,
{
    within("connecting", a.connect(b)).await;
}

/// Starts a swarm built with [`idle_node`].
pub(crate) fn start(swarm: Swarm<broadcast::Behaviour>) -> Node {
    spawn(swarm)
}
