//! A running node: one task owns the libp2p Swarm; the application holds [`Handle`]s and reads
//! [`Events`].
//!
//! [`Node::spawn`] builds the Swarm (TCP, the CA-verified TLS upgrade of [`crate::tls`], yamux,
//! DNS), starts listening, dials the static peers and moves the Swarm into a tokio task, the
//! *event loop*. Everything else goes through the bounded command queue of the [`Handle`]: a
//! call waits while the queue is full and fails with [`Stopped`] once the node is
//! gone, never panics.
//!
//! # Layout
//! - `core/`: the node's decisions without I/O (how calls end, failover, link bookkeeping,
//!   misbehaviour), each with property tests;
//! - `driver/`: the event loop that owns the Swarm and carries the decisions out, one file per
//!   source of input;
//! - `handle.rs`, `module.rs`, `operator.rs`, `command.rs`, `inbox.rs`, `event.rs`, `events.rs`,
//!   `info.rs`: the application's side;
//! - `swarm.rs`: building the Swarm; `config.rs`, `address.rs`, `error.rs`; `topic.rs`, the
//!   rule for topic names. Node IDs of PeerIds come from the shared
//!   [`identity::Directory`](crate::identity::Directory), which remembers them (one point decompression
//!   per node, not per message) and maps RSA nodes' hashed PeerIds back.

mod address;
pub mod codes;
mod command;
mod config;
mod core;
mod driver;
mod error;
mod event;
mod events;
mod handle;
mod inbox;
mod info;
mod module;
mod operator;
mod recorder;
mod swarm;
mod topic;

use std::time::Duration;

use libp2p::{core::transport::ListenerId, swarm::SwarmEvent, Multiaddr};
use tokio::sync::{broadcast, mpsc};

pub use address::{parse_address, AddressError};
pub use config::Config;
pub use error::{
    CallError, MulticastError, NodeError, RequestError, SendError, Stopped, TopicError,
};
pub use event::{Direction, DisconnectReason, Event, Refusal};
pub use events::{Events, Lagged};
pub use fisco_p2p_framing::MAX_MESSAGE_SIZE;
pub use fisco_p2p_overlay::Stats as OverlayStats;
pub use handle::Handle;
pub use inbox::{Inbox, IncomingRequest, Message, Responder};
pub use info::{ConnectedPeer, PeerInfo, RouteInfo, StaticPeer, Status};
pub use module::{Module, ModuleSender};
pub use operator::Operator;
pub use recorder::{MessageKind, Recorder, RequestKind, RequestOutcome};
pub use topic::{check_topic, MAX_TOPIC_LEN};

use crate::{
    behaviour::Behaviour,
    identity::{Directory, NodeIdentity},
    tls::AccessList,
};

/// How long [`Node::spawn`] waits for each listener to report its address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

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
        access.set_blacklist(config.blacklist.iter().cloned());
        access.set_whitelist(config.whitelist.iter().cloned());
        let directory = Directory::new();
        let mut swarm = swarm::build(&identity, &config, access.clone(), directory.clone())?;
        if let Some(recorder) = &config.recorder {
            recorder.overlay_stats(swarm.behaviour().overlay.stats_handle());
        }
        for topic in &config.topics {
            topic::check(topic).map_err(|e| NodeError::Setup(e.to_string()))?;
            swarm
                .behaviour_mut()
                .sync
                .follow(topic.clone())
                .map_err(|e| NodeError::Setup(format!("cannot follow topic {topic:?}: {e}")))?;
        }

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
        let (answer_tx, answer_rx) = mpsc::channel(config.command_capacity);
        if let Err(error) = swarm
            .behaviour_mut()
            .sync
            .set_listen_addrs(listen_addrs.clone())
        {
            tracing::warn!(%error, "cannot advertise the listen addresses");
        }
        let loop_config = driver::LoopConfig {
            node_id: identity.node_id(),
            directory,
            max_message_size: config.max_message_size,
            max_topics: config.max_topics,
            recorder: config.recorder.clone(),
            direct_connections: config.overlay.direct_connections(),
            inbox_capacity: (config.inbox_capacity, config.inbox_bytes),
        };
        let limits = core::calls::Limits {
            max_message_size: config.max_message_size,
            request_timeout: config.overlay.request_timeout(),
            route_wait: config.overlay.route_wait(),
        };
        let io = driver::Io::new(
            swarm,
            answer_tx,
            event_tx.clone(),
            access,
            loop_config,
            (listen_addrs, listeners),
        );
        let event_loop = driver::EventLoop::new(io, limits, command_rx, answer_rx);
        let handle = Handle::new(identity.node_id(), command_tx, &event_tx);
        drop(event_tx);
        tokio::spawn(event_loop.run());
        tracing::info!(node = %identity.node_id(), "node started");
        Ok((handle, events))
    }
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
