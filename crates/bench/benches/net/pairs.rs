//! One client/server connection per stack, kept open across rounds, all answering requests the
//! same way: raw TCP and rustls with length-prefixed frames, stock libp2p with
//! `request_response`, ours with the overlay (swarm level) and through the node API.

use std::{collections::BTreeSet, sync::Arc};

use anyhow::Context as _;
use bytes::Bytes;
use fisco_p2p::identity::NodeId;
use fisco_p2p_overlay as overlay;
use libp2p::{identity::Keypair, PeerId, Swarm};
use rustls::pki_types::ServerName;
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_rustls::{client::TlsStream, TlsAcceptor, TlsConnector};

use crate::{
    frames,
    ids::{Chain, RustlsPair, SERVER_NAME},
    noderpc,
    nodes::BenchNode,
    report::Stack,
    rpc::{self, Round},
    swarms,
};

/// A server task, stopped when dropped.
pub(crate) struct Server(pub(crate) JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One stack's connection: the client end, and the server task kept running.
pub(crate) struct Pair {
    client: Client,
    _server: Server,
}

#[allow(clippy::large_enum_variant)] // four long-lived values
enum Client {
    Tcp(frames::Client<TcpStream>),
    Rustls(frames::Client<TlsStream<TcpStream>>),
    Libp2p(Swarm<rpc::Stock>, PeerId),
    Ours(Swarm<overlay::Behaviour>, PeerId),
    Node(BenchNode, NodeId),
}

impl Pair {
    fn new(client: Client, server: Server) -> Pair {
        Pair {
            client,
            _server: server,
        }
    }

    pub(crate) fn stack(&self) -> Stack {
        match self.client {
            Client::Tcp(..) => Stack::RawTcp,
            Client::Rustls(..) => Stack::Rustls,
            Client::Libp2p(..) => Stack::Libp2p,
            Client::Ours(..) => Stack::Ours,
            Client::Node(..) => Stack::OursNode,
        }
    }

    pub(crate) async fn round(
        &mut self,
        payload: &Bytes,
        count: usize,
        in_flight: usize,
    ) -> anyhow::Result<Round> {
        match &mut self.client {
            Client::Tcp(client) => client.round(payload, count, in_flight).await,
            Client::Rustls(client) => client.round(payload, count, in_flight).await,
            Client::Libp2p(swarm, peer) => {
                rpc::round(swarm, *peer, payload, count, in_flight).await
            }
            Client::Ours(swarm, peer) => rpc::round(swarm, *peer, payload, count, in_flight).await,
            Client::Node(node, server) => {
                noderpc::round(&node.handle, server.clone(), payload, count, in_flight).await
            }
        }
    }
}

/// Every stack (or those named in `wanted`: `tcp`, `rustls`, `libp2p`, `ours`, `node`), each
/// connected once, servers answering with `reply`.
pub(crate) async fn all(
    chain: &mut Chain,
    tls: &RustlsPair,
    reply: &Bytes,
    wanted: &BTreeSet<String>,
) -> anyhow::Result<Vec<Pair>> {
    let want = |name: &str| wanted.is_empty() || wanted.contains(name);
    let mut pairs = Vec::new();
    if want("tcp") {
        pairs.push(tcp(reply).await?);
    }
    if want("rustls") {
        pairs.push(rustls(tls, reply).await?);
    }
    if want("libp2p") {
        pairs.push(libp2p(reply).await?);
    }
    if want("ours") {
        pairs.push(ours(chain, reply).await?);
    }
    if want("node") {
        let (client, server, task) = noderpc::connect(chain, reply).await?;
        pairs.push(Pair::new(Client::Node(client, server), task));
    }
    Ok(pairs)
}

/// A raw TCP listener on 127.0.0.1 port 0 that serves one connection with `serve`.
async fn accept_one<F, Fut>(serve: F) -> anyhow::Result<(std::net::SocketAddr, Server)>
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            serve(stream).await;
        }
    });
    Ok((address, Server(task)))
}

async fn tcp(reply: &Bytes) -> anyhow::Result<Pair> {
    let reply = reply.clone();
    let (address, server) = accept_one(move |s| frames::serve(s, reply)).await?;
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(Pair::new(Client::Tcp(frames::Client::new(stream)), server))
}

async fn rustls(tls: &RustlsPair, reply: &Bytes) -> anyhow::Result<Pair> {
    let reply = reply.clone();
    let acceptor = TlsAcceptor::from(Arc::clone(&tls.server));
    let (address, server) = accept_one(move |s| async move {
        if let Ok(stream) = acceptor.accept(s).await {
            frames::serve(stream, reply).await;
        }
    })
    .await?;
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let name = ServerName::try_from(SERVER_NAME)?;
    let stream = TlsConnector::from(Arc::clone(&tls.client))
        .connect(name, stream)
        .await
        .context("rustls handshake")?;
    Ok(Pair::new(
        Client::Rustls(frames::Client::new(stream)),
        server,
    ))
}

async fn libp2p(reply: &Bytes) -> anyhow::Result<Pair> {
    let mut server = swarms::stock(Keypair::generate_ed25519(), |_| rpc::stock())?;
    let address = swarms::listen(&mut server).await?;
    let task = Server(tokio::spawn(rpc::serve(server, reply.clone())));
    let mut client = swarms::stock(Keypair::generate_ed25519(), |_| rpc::stock())?;
    let (peer, _) = swarms::connect(&mut client, address).await?;
    Ok(Pair::new(Client::Libp2p(client, peer), task))
}

async fn ours(chain: &mut Chain, reply: &Bytes) -> anyhow::Result<Pair> {
    let mut server = swarms::ours_with(&chain.node()?, rpc::ours)?;
    let address = swarms::listen(&mut server).await?;
    let task = Server(tokio::spawn(rpc::serve(server, reply.clone())));
    let mut client = swarms::ours_with(&chain.node()?, rpc::ours)?;
    let (peer, _) = swarms::connect(&mut client, address).await?;
    Ok(Pair::new(Client::Ours(client, peer), task))
}
