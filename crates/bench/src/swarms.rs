//! Building libp2p swarms the two ways we compare: ours (TCP + the `/fisco-tls` upgrade + yamux,
//! as `Node::spawn` builds it) and stock (TCP + noise + yamux), each around any behaviour.

use std::time::Duration;

use anyhow::Context as _;
use fisco_p2p::{identity::NodeIdentity, tls};
use futures::StreamExt;
use libp2p::{
    identity::Keypair,
    noise,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, PeerId, Swarm, SwarmBuilder,
};

/// Idle connections stay open this long: benchmarks keep connections between rounds.
const IDLE: Duration = Duration::from_secs(600);

/// Longest wait for a listener or a connection in setup.
pub const SETUP: Duration = Duration::from_secs(30);

/// A swarm of our stack for node `identity`.
pub fn ours<B: NetworkBehaviour>(
    identity: &NodeIdentity,
    behaviour: B,
) -> anyhow::Result<Swarm<B>> {
    let tls = tls::Config::new(identity, tls::AccessList::new())?;
    Ok(
        SwarmBuilder::with_existing_identity(identity.keypair().clone())
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                tls.into_security_upgrade(),
                yamux::Config::default,
            )?
            .with_behaviour(|_| behaviour)?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE))
            .build(),
    )
}

/// [`ours`] around the behaviour `make` builds from the node key.
pub fn ours_with<B: NetworkBehaviour>(
    identity: &NodeIdentity,
    make: impl FnOnce(Keypair) -> B,
) -> anyhow::Result<Swarm<B>> {
    ours(identity, make(identity.keypair().clone()))
}

/// A stock rust-libp2p swarm (noise, ed25519 key) around `behaviour`, which `make` builds from
/// the swarm's key.
pub fn stock<B: NetworkBehaviour>(
    keypair: Keypair,
    make: impl FnOnce(&Keypair) -> B,
) -> anyhow::Result<Swarm<B>> {
    Ok(SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| make(key))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE))
        .build())
}

/// Listens on 127.0.0.1 port 0 and returns the address once the swarm reports it.
pub async fn listen<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> anyhow::Result<Multiaddr> {
    swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse()?)?;
    tokio::time::timeout(SETUP, async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                return address;
            }
        }
    })
    .await
    .context("no listen address")
}

/// Dials `address` and drives `swarm` until the connection is established; returns the peer and
/// the time from dial to established.
pub async fn connect<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    address: Multiaddr,
) -> anyhow::Result<(PeerId, Duration)> {
    let started = std::time::Instant::now();
    swarm.dial(address)?;
    tokio::time::timeout(SETUP, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    return Ok((peer_id, started.elapsed()))
                }
                SwarmEvent::OutgoingConnectionError { error, .. } => {
                    anyhow::bail!("dial failed: {error}")
                }
                _ => {}
            }
        }
    })
    .await
    .context("connection not established in time")?
}

/// Closes every connection to `peer` and drives `swarm` until the last one has closed.
pub async fn disconnect<B: NetworkBehaviour>(
    swarm: &mut Swarm<B>,
    peer: PeerId,
) -> anyhow::Result<()> {
    if swarm.disconnect_peer_id(peer).is_err() {
        return Ok(());
    }
    tokio::time::timeout(SETUP, async {
        loop {
            if let SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } = swarm.select_next_some().await
            {
                if peer_id == peer {
                    return;
                }
            }
        }
    })
    .await
    .context("connection did not close in time")
}
