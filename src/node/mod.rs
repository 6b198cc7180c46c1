//! A running node: one task owns the libp2p Swarm; the application holds [`Handle`]s and reads
//! [`Events`].
//!
//! [`Node::spawn`] builds the Swarm (TCP, the CA-verified TLS upgrade of [`crate::tls`], yamux,
//! DNS), starts listening, dials the static peers and moves the Swarm into a tokio task, the
//! *event loop*. Everything else goes through the bounded command queue of the [`Handle`]: a
//! call waits while the queue is full and fails with [`NodeError::Stopped`] once the node is
//! gone, never panics.

mod address;
mod command;
mod config;
mod event;
mod event_loop;
mod handle;

use std::{convert::Infallible, time::Duration};

use libp2p::{
    connection_limits, core::transport::ListenerId, swarm::SwarmEvent, tcp, yamux, Multiaddr,
};
use tokio::sync::{broadcast, mpsc};

pub use address::{parse_address, AddressError};
pub use config::Config;
pub use event::{Direction, DisconnectReason, Event, Refusal};
pub use handle::{ConnectedPeer, Events, Handle, StaticPeer};

use crate::{
    behaviour::Behaviour,
    identity::NodeIdentity,
    tls::{self, AccessList},
};

/// How long [`Node::spawn`] waits for each listener to report its address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a node could not start or a call to it failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node has stopped (shut down, or all handles were dropped); start a new one.
    #[error("the node has stopped")]
    Stopped,
    /// The TLS configuration could not be built from the node's key and certificates.
    #[error("cannot set up TLS: {0}")]
    Tls(Box<tls::TlsError>),
    /// The node could not listen on an address (in use, not local, or not TCP).
    #[error("cannot listen on {address}: {reason}; pick another address or free the port")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// What the transport said.
        reason: String,
    },
    /// The libp2p transport could not be built.
    #[error("cannot build the transport: {0}")]
    Transport(String),
}

/// Starts nodes. See the [module docs](self).
#[derive(Debug)]
pub struct Node;

impl Node {
    /// Starts a node with `identity` and `config` on the current tokio runtime. Returns once the
    /// node listens on every configured address (so port 0 is resolved in
    /// [`Handle::listen_addrs`]), with a handle and an event stream that sees every event from
    /// the start.
    pub async fn spawn(
        identity: NodeIdentity,
        config: Config,
    ) -> Result<(Handle, Events), NodeError> {
        let access = AccessList::new();
        access.set_blacklist(config.blacklist.iter().copied());
        access.set_whitelist(config.whitelist.iter().copied());
        let mut swarm = build_swarm(&identity, &config, access.clone())?;

        let (event_tx, _) = broadcast::channel(config.event_capacity);
        let events = Events::from_receiver(event_tx.subscribe());
        let mut listen_addrs = Vec::new();
        let mut listeners = Vec::new();
        for address in &config.listen {
            let id = swarm
                .listen_on(address.clone())
                .map_err(|e| NodeError::Listen {
                    address: address.clone(),
                    reason: e.to_string(),
                })?;
            listen_addrs.push(wait_listening(&mut swarm, id, address).await?);
            listeners.push(id);
        }
        for address in &listen_addrs {
            let _ = event_tx.send(Event::Listening {
                address: address.clone(),
            });
        }
        for peer in &config.peers {
            swarm.behaviour_mut().peers.add_static_peer(peer.clone());
        }

        let (command_tx, command_rx) = mpsc::channel(config.command_capacity);
        let handle = Handle::new(identity.node_id(), command_tx, &event_tx);
        let event_loop = event_loop::EventLoop::new(
            swarm,
            command_rx,
            event_tx,
            access,
            listen_addrs,
            listeners,
        );
        tokio::spawn(event_loop.run());
        tracing::info!(node = %identity.node_id(), "node started");
        Ok((handle, events))
    }
}

fn build_swarm(
    identity: &NodeIdentity,
    config: &Config,
    access: AccessList,
) -> Result<libp2p::Swarm<Behaviour>, NodeError> {
    let tls = tls::Config::new(identity, access)
        .map_err(|e| NodeError::Tls(Box::new(e)))?
        .with_handshake_timeout(config.handshake_timeout);
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_pending_incoming(Some(config.max_pending_incoming))
        // Two, not one: when two nodes dial each other at once both connections must exist for a
        // moment so that the peers behaviour can keep the same one on both sides.
        .with_max_established_per_peer(Some(2));
    let peers = fisco_p2p_peers::Config::default()
        .with_initial_backoff(config.redial_initial)
        .with_max_backoff(config.redial_max)
        .with_heartbeat_interval(config.heartbeat_interval)
        .with_heartbeat_timeout(config.heartbeat_timeout);
    let swarm = libp2p::SwarmBuilder::with_existing_identity(identity.keypair().clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            move |_: &libp2p::identity::Keypair| Ok::<_, Infallible>(tls),
            yamux::Config::default,
        )
        .map_err(|e| NodeError::Transport(e.to_string()))?
        .with_dns()
        .map_err(|e| NodeError::Transport(e.to_string()))?
        .with_behaviour(|key| Behaviour {
            limits: connection_limits::Behaviour::new(limits),
            peers: fisco_p2p_peers::Behaviour::new(key.public().to_peer_id(), peers),
        })
        .map_err(|e| NodeError::Transport(e.to_string()))?
        // The peers behaviour keeps connections alive; this only bounds connections that no
        // behaviour needs any more.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        // Bounds a whole connection attempt; longer than the TLS timeout so that a stalled TLS
        // handshake is reported as such, with the peer's node ID when known.
        .with_connection_timeout(config.handshake_timeout + Duration::from_secs(5))
        .build();
    Ok(swarm)
}

/// Waits until listener `id` reports its address (port 0 resolved) or fails.
async fn wait_listening(
    swarm: &mut libp2p::Swarm<Behaviour>,
    id: ListenerId,
    requested: &Multiaddr,
) -> Result<Multiaddr, NodeError> {
    use futures::StreamExt;
    let failed = |reason: String| NodeError::Listen {
        address: requested.clone(),
        reason,
    };
    let wait = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } if listener_id == id => return Ok(address),
                SwarmEvent::ListenerClosed {
                    listener_id,
                    reason,
                    ..
                } if listener_id == id => {
                    return Err(failed(match reason {
                        Ok(()) => "listener closed".into(),
                        Err(e) => e.to_string(),
                    }))
                }
                SwarmEvent::ListenerError { listener_id, error } if listener_id == id => {
                    return Err(failed(error.to_string()))
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(LISTEN_TIMEOUT, wait)
        .await
        .map_err(|_| failed("no address reported within 5 s".into()))?
}
