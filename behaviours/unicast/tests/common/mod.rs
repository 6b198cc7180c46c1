//! Unicast nodes over libp2p's in-memory transport, one tokio task per node, driven by commands.
#![allow(dead_code)] // Each test binary uses a different part of this module.

use std::{
    ops::{Deref, DerefMut},
    time::Duration,
};

use bytes::Bytes;
use fisco_p2p_testkit::{connect, listen, memory_swarm, Running};
use fisco_p2p_unicast::{self as unicast, ReplyError, RequestId, ResponseChannel};
use libp2p::{identity::Keypair, Multiaddr, PeerId, Swarm};
use tokio::sync::oneshot;

pub(crate) enum Command {
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
    running: Running<Command, unicast::Event>,
    /// The address it listens on.
    pub(crate) address: Multiaddr,
}

impl Deref for Node {
    type Target = Running<Command, unicast::Event>;

    fn deref(&self) -> &Self::Target {
        &self.running
    }
}

impl DerefMut for Node {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.running
    }
}

impl Node {
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
        self.ask(|reply| Command::Send {
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
        self.ask(|reply| Command::Respond {
            channel,
            response,
            reply,
        })
        .await
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
    let mut swarm = memory_swarm(Keypair::generate_secp256k1(), behaviour);
    listen(&mut swarm).await;
    swarm
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
pub(crate) fn start(swarm: Swarm<unicast::Behaviour>) -> Node {
    let address = swarm
        .external_addresses()
        .next()
        .cloned()
        .expect("node listens");
    Node {
        running: Running::spawn(swarm, 1024, execute),
        address,
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
