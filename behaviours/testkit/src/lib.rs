//! Test helpers shared by the fisco-p2p behaviour crates (dev-dependency only, never published).
//!
//! Nodes are secp256k1 swarms, like FISCO nodes, over libp2p's in-memory transport with
//! plaintext and yamux: no sockets, no certificates, and every step bounded by [`STEP`].
//!
//! # Layout
//! - this file: [`within`], [`memory_swarm`], [`memory_tcp_swarm`], [`listen`], [`connect`];
//! - `running.rs`: [`Running`], a swarm driven by its own task, commands in and events out;
//! - `raw.rs`: [`RawWriter`], a codec that puts arbitrary bytes on a protocol's substream.

#![deny(missing_docs)]

mod raw;
mod running;

use std::{fmt::Debug, future::Future, time::Duration};

use futures::StreamExt;
use libp2p::{
    core::{multiaddr::Protocol, transport::MemoryTransport, upgrade::Version, Transport},
    identity::Keypair,
    swarm::{NetworkBehaviour, SwarmEvent},
    Multiaddr, Swarm,
};
use libp2p_swarm_test::SwarmExt;

pub use raw::RawWriter;
pub use running::Running;

/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test (naming `what`) if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A swarm identified by `keypair` (use a secp256k1 key, like a FISCO node) over the in-memory
/// transport; connections stay open for a minute without traffic.
pub fn memory_swarm<B: NetworkBehaviour>(keypair: Keypair, behaviour: B) -> Swarm<B> {
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

/// A swarm like [`memory_swarm`]'s that can also dial and listen on TCP (for addresses that
/// refuse or never answer), with the swarm's default idle timeout: a connection closes as soon
/// as no behaviour keeps it alive.
pub fn memory_tcp_swarm<B: NetworkBehaviour>(keypair: Keypair, behaviour: B) -> Swarm<B> {
    let transport = MemoryTransport::default()
        .or_transport(libp2p::tcp::tokio::Transport::new(
            libp2p::tcp::Config::default(),
        ))
        .upgrade(Version::V1)
        .authenticate(libp2p::plaintext::Config::new(&keypair))
        .multiplex(libp2p::yamux::Config::default())
        .boxed();
    let config = libp2p::swarm::Config::with_tokio_executor();
    Swarm::new(transport, behaviour, keypair.public().to_peer_id(), config)
}

/// Starts listening on a fresh memory address and announces it as external, so [`connect`]
/// can dial it.
pub async fn listen<B>(swarm: &mut Swarm<B>) -> Multiaddr
where
    B: NetworkBehaviour + Send,
    B::ToSwarm: Debug,
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

/// Connects two swarms that are not running in a task yet; `b` must be [`listen`]ing.
pub async fn connect<A, B>(a: &mut Swarm<A>, b: &mut Swarm<B>)
where
    A: NetworkBehaviour + Send,
    A::ToSwarm: Debug,
    B: NetworkBehaviour + Send,
    B::ToSwarm: Debug,
{
    within("connecting", a.connect(b)).await;
}
