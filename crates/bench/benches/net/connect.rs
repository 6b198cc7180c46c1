//! Scenario 3: connection establishment, from the dialer's first step until it knows the
//! listener accepted it; every connection is new (no TLS session resumption anywhere).
//!
//! - raw TCP: `connect`, then one byte from the listener;
//! - rustls: `connect`, TLS 1.3 mutual handshake, then one byte from the listener (the byte our
//!   upgrade also waits for, see `crates/tls/src/upgrade.rs`);
//! - libp2p noise and ours: `Swarm::dial` until `ConnectionEstablished` (multistream-select,
//!   security handshake, yamux);
//! - ours (node API): `Operator::add_peer` until `Event::PeerConnected`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use libp2p::{identity::Keypair, Multiaddr, Swarm};
use rustls::pki_types::ServerName;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::{
    ids::{Chain, RustlsPair, SERVER_NAME},
    nodes::{self, BenchNode},
    pairs::Server,
    report::{Better, Report, Row, Stack},
    rpc,
    stats::Samples,
    swarms, Settings,
};

/// How one stack dials; the listener side runs in [`Server`] tasks kept beside.
#[allow(clippy::large_enum_variant)] // five long-lived values
enum Dialer {
    Tcp(std::net::SocketAddr),
    Rustls(std::net::SocketAddr, TlsConnector),
    Libp2p(Swarm<rpc::Stock>, Multiaddr),
    Ours(Swarm<fisco_p2p_overlay::Behaviour>, Multiaddr),
    Node(BenchNode, BenchNode),
}

impl Dialer {
    fn stack(&self) -> Stack {
        match self {
            Dialer::Tcp(..) => Stack::RawTcp,
            Dialer::Rustls(..) => Stack::Rustls,
            Dialer::Libp2p(..) => Stack::Libp2p,
            Dialer::Ours(..) => Stack::Ours,
            Dialer::Node(..) => Stack::OursNode,
        }
    }

    /// One connection: time to established, then closed again.
    async fn once(&mut self) -> anyhow::Result<Duration> {
        match self {
            Dialer::Tcp(address) => {
                let started = Instant::now();
                let mut stream = TcpStream::connect(*address).await?;
                stream.read_u8().await?;
                Ok(started.elapsed())
            }
            Dialer::Rustls(address, connector) => {
                let started = Instant::now();
                let stream = TcpStream::connect(*address).await?;
                let mut stream = connector
                    .connect(ServerName::try_from(SERVER_NAME)?, stream)
                    .await?;
                stream.read_u8().await?;
                let took = started.elapsed();
                let _ = stream.shutdown().await;
                Ok(took)
            }
            Dialer::Libp2p(swarm, address) => dial(swarm, address).await,
            Dialer::Ours(swarm, address) => dial(swarm, address).await,
            Dialer::Node(a, b) => {
                let peer = b.handle.node_id();
                let started = Instant::now();
                a.handle.operator().add_peer(b.addr.clone()).await?;
                a.wait_connected(peer.clone()).await?;
                let took = started.elapsed();
                a.handle.operator().remove_peer(b.addr.clone()).await?;
                a.wait_disconnected(peer).await?;
                Ok(took)
            }
        }
    }
}

async fn dial<B: libp2p::swarm::NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    address: &Multiaddr,
) -> anyhow::Result<Duration> {
    let (peer, took) = swarms::connect(swarm, address.clone()).await?;
    swarms::disconnect(swarm, peer).await?;
    Ok(took)
}

/// A listener that sends one byte on every connection (after `upgrade`), then holds it until
/// the dialer closes.
async fn listener<F, Fut, S>(upgrade: F) -> anyhow::Result<(std::net::SocketAddr, Server)>
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<S>> + Send + 'static,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let upgrade = Arc::new(upgrade);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let upgrade = Arc::clone(&upgrade);
            tokio::spawn(async move {
                let Ok(mut stream) = upgrade(stream).await else {
                    return;
                };
                if stream.write_all(&[1]).await.is_ok() && stream.flush().await.is_ok() {
                    let mut sink = [0u8; 64];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    Ok((address, Server(task)))
}

async fn dialers(
    chain: &mut Chain,
    tls: &RustlsPair,
) -> anyhow::Result<(Vec<Dialer>, Vec<Server>)> {
    let (tcp_addr, tcp_server) = listener(|s| async move { anyhow::Ok(s) }).await?;
    let acceptor = TlsAcceptor::from(Arc::clone(&tls.server));
    let (tls_addr, tls_server) = listener(move |s| {
        let acceptor = acceptor.clone();
        async move { Ok(acceptor.accept(s).await?) }
    })
    .await?;

    let mut stock_server = swarms::stock(Keypair::generate_ed25519(), |_| rpc::stock())?;
    let stock_addr = swarms::listen(&mut stock_server).await?;
    let stock_task = Server(tokio::spawn(rpc::serve(stock_server, bytes::Bytes::new())));
    let stock_client = swarms::stock(Keypair::generate_ed25519(), |_| rpc::stock())?;

    let mut ours_server = swarms::ours_with(&chain.node()?, rpc::ours)?;
    let ours_addr = swarms::listen(&mut ours_server).await?;
    let ours_task = Server(tokio::spawn(rpc::serve(ours_server, bytes::Bytes::new())));
    let ours_client = swarms::ours_with(&chain.node()?, rpc::ours)?;

    let a = nodes::spawn_local(chain.node()?).await?;
    let b = nodes::spawn_local(chain.node()?).await?;
    let dialers = vec![
        Dialer::Tcp(tcp_addr),
        Dialer::Rustls(tls_addr, TlsConnector::from(Arc::clone(&tls.client))),
        Dialer::Libp2p(stock_client, stock_addr),
        Dialer::Ours(ours_client, ours_addr),
        Dialer::Node(a, b),
    ];
    Ok((dialers, vec![tcp_server, tls_server, stock_task, ours_task]))
}

pub(crate) async fn run(
    settings: &Settings,
    chain: &mut Chain,
    tls: &RustlsPair,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (mut dialers, _servers) = dialers(chain, tls).await?;
    let count = settings.pick(5, 300);
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); dialers.len()];
    for dialer in dialers.iter_mut() {
        dialer.once().await.context("warm-up connection")?;
    }
    for _ in 0..count {
        for (dialer, times) in dialers.iter_mut().zip(&mut times) {
            times.push(
                dialer
                    .once()
                    .await
                    .with_context(|| dialer.stack().label())?,
            );
        }
    }
    for (dialer, times) in dialers.iter().zip(&times) {
        report.push(Row::from_samples(
            "3",
            "dial to established",
            dialer.stack(),
            "connect time",
            "ms",
            Better::Lower,
            &Samples::millis(times),
        ));
    }
    for dialer in dialers {
        if let Dialer::Node(a, b) = dialer {
            let _ = a.handle.shutdown().await;
            let _ = b.handle.shutdown().await;
        }
    }
    Ok(())
}
