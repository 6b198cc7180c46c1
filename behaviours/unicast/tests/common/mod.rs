//! Unicast nodes over libp2p's in-memory transport, one tokio task per node, driven by commands.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::{future::Future, time::Duration};

use bytes::Bytes;
use fisco_p2p_unicast::{self as unicast, ReplyError, RequestId, ResponseChannel};
use futures::StreamExt;
use libp2p::{
    core::{multiaddr::Protocol, transport::MemoryTransport, upgrade::Version, Transport},
    identity::Keypair,
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
pub(crate) fn memory_swarm<B: NetworkBehaviour>(behaviour: B) -> Swarm<B> {
    let keypair = Keypair::generate_secp256k1();
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

/// Starts listening on a fresh memory address and announces it as external.
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
    Send {
        peer: PeerId,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
        addresses: Vec<Multiaddr>,
        reply: oneshot::Sender<Result<RequestId, unicast::Error>>,
    },
    Respond {
        channel: ResponseChannel,
        response: Result<Bytes, ReplyError>,
        reply: oneshot::Sender<Result<(), unicast::Error>>,
    },
}

/// A running unicast node: commands in, behaviour events out.
pub(crate) struct Node {
    pub(crate) peer_id: PeerId,
    pub(crate) address: Multiaddr,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<unicast::Event>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Node {
    async fn command<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> T {
        let (reply, answer) = oneshot::channel();
        within("node command", async {
            self.commands.send(make(reply)).await.expect("node runs");
            answer.await.expect("node answers")
        })
        .await
    }

    /// Sends a request with the node's configured default timeout.
    pub(crate) async fn request(
        &self,
        peer: PeerId,
        module: u16,
        payload: impl Into<Bytes>,
    ) -> Result<RequestId, unicast::Error> {
        self.request_with(peer, module, payload, None, Vec::new())
            .await
    }

    /// Sends a request; `addresses` are used only with an explicit `timeout`.
    pub(crate) async fn request_with(
        &self,
        peer: PeerId,
        module: u16,
        payload: impl Into<Bytes>,
        timeout: Option<Duration>,
        addresses: Vec<Multiaddr>,
    ) -> Result<RequestId, unicast::Error> {
        let payload = payload.into();
        self.command(|reply| Command::Send {
            peer,
            module,
            payload,
            timeout,
            addresses,
            reply,
        })
        .await
    }

    pub(crate) async fn respond(
        &self,
        channel: ResponseChannel,
        response: Result<Bytes, ReplyError>,
    ) -> Result<(), unicast::Error> {
        self.command(|reply| Command::Respond {
            channel,
            response,
            reply,
        })
        .await
    }

    /// The next event, failing the test if none comes within [`STEP`].
    pub(crate) async fn next_event(&mut self) -> unicast::Event {
        within("next event", self.events.recv())
            .await
            .expect("node runs")
    }

    /// The next event if one comes within `wait`.
    pub(crate) async fn event_within(&mut self, wait: Duration) -> Option<unicast::Event> {
        tokio::time::timeout(wait, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next request, failing the test on anything else.
    pub(crate) async fn next_request(&mut self) -> (PeerId, u16, Bytes, ResponseChannel) {
        match self.next_event().await {
            unicast::Event::Request {
                peer,
                module,
                payload,
                channel,
                ..
            } => (peer, module, payload, channel),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// The next outcome, failing the test on anything else.
    pub(crate) async fn next_response(
        &mut self,
    ) -> (RequestId, PeerId, Result<Bytes, unicast::RequestError>) {
        match self.next_event().await {
            unicast::Event::Response {
                request_id,
                peer,
                result,
            } => (request_id, peer, result),
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

/// A listening node serving `modules`, not yet started (so other swarms can connect to it).
pub(crate) async fn idle_node(
    config: unicast::Config,
    modules: &[u16],
) -> Swarm<unicast::Behaviour> {
    let mut behaviour = unicast::Behaviour::new(config);
    for module in modules {
        behaviour.register_module(*module);
    }
    let mut swarm = memory_swarm(behaviour);
    listen(&mut swarm).await;
    swarm
}

/// Connects two not yet started swarms.
pub(crate) async fn connect<A, B>(a: &mut Swarm<A>, b: &mut Swarm<B>)
where
    A: NetworkBehaviour + Send,
    A::ToSwarm: std::fmt::Debug,
    B: NetworkBehaviour + Send,
    B::ToSwarm: std::fmt::Debug,
{
    within("connecting", a.connect(b)).await;
}

/// Two connected nodes: a client serving nothing and a server serving `modules`.
pub(crate) async fn pair(
    client: unicast::Config,
    server: unicast::Config,
    modules: &[u16],
) -> (Node, Node) {
    let mut a = idle_node(client, &[]).await;
    let mut b = idle_node(server, modules).await;
    connect(&mut a, &mut b).await;
    (start(a), start(b))
}

/// Runs a swarm in its own task.
pub(crate) fn start(mut swarm: Swarm<unicast::Behaviour>) -> Node {
    let (command_tx, mut commands) = mpsc::channel(16);
    let (events_tx, events) = mpsc::channel(1024);
    let peer_id = *swarm.local_peer_id();
    let address = swarm
        .external_addresses()
        .next()
        .cloned()
        .expect("node listens");
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => break,
                    Some(command) => execute(&mut swarm, command),
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
        address,
        commands: command_tx,
        events,
        task,
    }
}

fn execute(swarm: &mut Swarm<unicast::Behaviour>, command: Command) {
    let behaviour = swarm.behaviour_mut();
    match command {
        Command::Send {
            peer,
            module,
            payload,
            timeout,
            addresses,
            reply,
        } => {
            let result = match timeout {
                None => behaviour.send_request(&peer, module, payload),
                Some(timeout) => behaviour
                    .send_request_with_addresses(&peer, module, payload, timeout, addresses),
            };
            let _ = reply.send(result);
        }
        Command::Respond {
            channel,
            response,
            reply,
        } => {
            let _ = reply.send(behaviour.send_response(channel, response));
        }
    }
}
