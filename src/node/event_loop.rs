//! The one task that owns the Swarm: it turns swarm events into [`Event`]s and carries out the
//! [`Command`]s of the handles.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{core::transport::ListenerId, swarm::SwarmEvent, Multiaddr, PeerId, Swarm};
use tokio::sync::{broadcast, mpsc};

use super::{
    command::{Command, NodeCommand, Reply},
    inbox::Modules,
    requests::PendingRequest,
    ConnectedPeer, DisconnectReason, Event, MulticastError, StaticPeer, Status,
};
use crate::{
    behaviour::{Behaviour, BehaviourEvent},
    identity::{Directory, NodeId},
    tls::AccessList,
};

/// How long a shutdown waits for connections to close before it gives up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Settings the event loop itself needs (the protocols got theirs when the swarm was built).
pub(crate) struct LoopConfig {
    pub(crate) node_id: NodeId,
    /// PeerId -> NodeId of RSA nodes, shared with the TLS upgrade and the overlay's access check.
    pub(crate) directory: Directory,
    pub(crate) max_message_size: usize,
    pub(crate) max_topics: usize,
    pub(crate) recorder: Option<std::sync::Arc<dyn super::Recorder>>,
    pub(crate) direct_connections: bool,
}

pub(crate) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) commands: mpsc::Receiver<Command>,
    /// For the responders handed to the application; weak so that the node stops once every
    /// handle is gone.
    pub(super) command_sender: mpsc::WeakSender<Command>,
    pub(super) events: broadcast::Sender<Event>,
    pub(super) access: AccessList,
    pub(super) config: LoopConfig,
    pub(super) listen_addrs: Vec<Multiaddr>,
    pub(super) listeners: Vec<ListenerId>,
    /// Each connected peer: the address and direction of its first connection, and how many
    /// connections are open.
    pub(super) links: super::links::Links,
    /// The application's module inboxes.
    pub(super) modules: Modules,
    /// Requests sent, by their overlay request ID.
    pub(super) requests: HashMap<fisco_p2p_overlay::RequestId, PendingRequest>,
    /// Multicasts going out, by their overlay ID: the topic and who waits for the outcome.
    pub(super) multicasts:
        HashMap<fisco_p2p_overlay::MulticastId, (String, Reply<Result<usize, MulticastError>>)>,
    /// The seq of the local record last reported to the metrics.
    local_seq: u64,
    pub(super) remote_log: super::connections::RemoteLog,
    /// Neighbours refused too often, and how long they are kept out.
    pub(super) misbehaviour: super::misbehaviour::Misbehaviour,
}

impl EventLoop {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        commands: mpsc::Receiver<Command>,
        command_sender: mpsc::WeakSender<Command>,
        events: broadcast::Sender<Event>,
        access: AccessList,
        config: LoopConfig,
        inbox_capacity: (usize, usize),
        listeners: (Vec<Multiaddr>, Vec<ListenerId>),
    ) -> Self {
        Self {
            swarm,
            commands,
            command_sender,
            events,
            access,
            config,
            listen_addrs: listeners.0,
            listeners: listeners.1,
            links: Default::default(),
            modules: Modules::new(inbox_capacity.0, inbox_capacity.1),
            requests: HashMap::new(),
            multicasts: HashMap::new(),
            local_seq: 0,
            remote_log: Default::default(),
            misbehaviour: Default::default(),
        }
    }

    /// Runs until a handle asks for shutdown or every handle is gone. Every deadline (request
    /// timeouts, route waits, retries) lives in the protocols, which wake the swarm themselves:
    /// the loop has no timer of its own.
    pub(crate) async fn run(mut self) {
        let done = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => break Some(reply),
                    Some(Command::Node(command)) => self.on_node_command(command),
                    Some(Command::Message(command)) => self.on_message_command(command),
                    None => break None,
                },
            }
            self.note_local_record();
        };
        self.shutdown().await;
        if let Some(reply) = done {
            let _ = reply.send(());
        }
    }

    /// Tells the metrics when the local record changed (topics, state, neighbours, addresses).
    fn note_local_record(&mut self) {
        let Some(recorder) = &self.config.recorder else {
            return;
        };
        let record = self.swarm.behaviour().sync.local_record();
        if record.seq() != self.local_seq {
            self.local_seq = record.seq();
            recorder.local_record(record.seq(), record.topics().len());
        }
    }

    /// The node ID of `peer`: read from the PeerId itself (secp256k1), else from the directory
    /// (RSA nodes seen in a handshake or a record), else from the peer's state-sync record.
    pub(super) fn node_of(&self, peer: &PeerId) -> Option<NodeId> {
        let directory = &self.config.directory;
        if let Some(node) = directory.node_id(peer) {
            return Some(node);
        }
        let key = self.swarm.behaviour().sync.record(peer)?.public_key()?;
        let node = NodeId::from_libp2p_public_key(&key).ok()?;
        directory.learn(&node);
        Some(node)
    }

    pub(super) fn emit(&self, event: Event) {
        if let Some(recorder) = &self.config.recorder {
            recorder.event(&event)
        }
        // No subscriber is fine: events are a view, not a queue of work.
        let _ = self.events.send(event);
    }

    fn on_node_command(&mut self, command: NodeCommand) {
        match command {
            NodeCommand::Status(reply) => {
                let record = self.swarm.behaviour().sync.local_record();
                let (seq, topics) = (record.seq(), record.topics().iter().cloned().collect());
                let no_static_peer_connected =
                    self.swarm.behaviour().peers.no_static_peer_connected();
                let overlay = &mut self.swarm.behaviour_mut().overlay;
                let _ = reply.send(Status {
                    node_id: self.config.node_id.clone(),
                    listen: self.listen_addrs.clone(),
                    seq,
                    topics,
                    connected: self.links.len(),
                    routes: overlay.routes().len(),
                    overlay: overlay.stats(),
                    requests_in_flight: overlay.in_flight(),
                    queued_bytes: overlay.queued_bytes(),
                    inbox_dropped: self.modules.dropped(),
                    no_static_peer_connected,
                });
            }
            NodeCommand::ConnectedPeers(reply) => {
                let peers = self
                    .links
                    .peers()
                    .filter_map(|(peer, c)| {
                        Some(ConnectedPeer {
                            node_id: self.node_of(peer)?,
                            address: c.address.clone(),
                            direction: c.direction,
                            connections: c.connections,
                        })
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            NodeCommand::AddPeer(address, reply) => {
                let _ = reply.send(self.swarm.behaviour_mut().peers.add_static_peer(address));
            }
            NodeCommand::RemovePeer(address, reply) => {
                let peers = &mut self.swarm.behaviour_mut().peers;
                let node = peers.static_peers().find_map(|(a, status)| match status {
                    fisco_p2p_peers::StaticPeerStatus::Connected(peer) if *a == address => {
                        Some(peer)
                    }
                    _ => None,
                });
                let removed = peers.remove_static_peer(&address);
                if let Some(peer) = node {
                    if removed && !self.swarm.behaviour().peers.is_static(&peer) {
                        self.links.closing(peer, DisconnectReason::Requested);
                    }
                }
                let _ = reply.send(removed);
            }
            NodeCommand::StaticPeers(reply) => {
                let peers = self
                    .swarm
                    .behaviour()
                    .peers
                    .static_peers()
                    .map(|(address, status)| StaticPeer {
                        address: address.clone(),
                        connected: match status {
                            fisco_p2p_peers::StaticPeerStatus::Connected(peer) => {
                                self.node_of(&peer)
                            }
                            _ => None,
                        },
                        own_address: status == fisco_p2p_peers::StaticPeerStatus::OwnAddress,
                    })
                    .collect();
                let _ = reply.send(peers);
            }
            NodeCommand::SetBlacklist(nodes, reply) => {
                self.access.set_blacklist(nodes);
                let _ = reply.send(self.disconnect_barred());
            }
            NodeCommand::SetWhitelist(nodes, reply) => {
                self.access.set_whitelist(nodes);
                let _ = reply.send(self.disconnect_barred());
            }
            NodeCommand::Disconnect(node, reply) => {
                let peer = node.to_peer_id();
                let connected = self.links.contains(&peer);
                if connected {
                    self.links.closing(peer, DisconnectReason::Requested);
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                let _ = reply.send(connected);
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        #[cfg(feature = "libp2p-metrics")]
        if let Some(libp2p) = self.config.recorder.as_ref().and_then(|r| r.libp2p()) {
            use libp2p::metrics::Recorder as _;
            libp2p.record(&event)
        }
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if !self.listen_addrs.contains(&address) {
                    self.listen_addrs.push(address.clone());
                    self.advertise_addrs();
                }
                self.emit(Event::Listening { address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
                self.advertise_addrs();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => self.on_connection_established(peer_id, &endpoint, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => self.on_connection_closed(peer_id, num_established, cause),
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => self.on_incoming_error(send_back_addr, peer_id, &error),
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                self.on_outgoing_error(peer_id, &error)
            }
            SwarmEvent::Behaviour(BehaviourEvent::Peers(event)) => self.on_peers_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Limits(event)) => match event {},
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Overlay(event)) => self.on_overlay_event(event),
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            _ => {}
        }
    }
    /// Tells state sync where this node can be reached.
    fn advertise_addrs(&mut self) {
        let addrs = self.listen_addrs.clone();
        if let Err(error) = self.swarm.behaviour_mut().sync.set_listen_addrs(addrs) {
            tracing::warn!(%error, "cannot advertise the listen addresses");
        }
    }

    /// Closes every connection and listener, waiting a bounded time for the connections to go.
    async fn shutdown(&mut self) {
        tracing::info!(peers = self.links.len(), "shutting down");
        for id in self.listeners.drain(..) {
            self.swarm.remove_listener(id);
        }
        let peers: Vec<PeerId> = self.links.peers().map(|(peer, _)| *peer).collect();
        for peer in peers {
            self.links.closing(peer, DisconnectReason::Shutdown);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while !self.links.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.swarm.select_next_some()).await {
                Ok(event) => self.on_swarm_event(event),
                Err(_) => {
                    tracing::warn!(left = self.links.len(), "connections did not close in time");
                    break;
                }
            }
        }
    }
}
