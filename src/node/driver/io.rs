//! What the driver acts on: the Swarm, the application's channels, and the bookkeeping the pure
//! cores keep for it (links, misbehaviour). The handlers that change it live beside it, one file
//! per source of input; none of them calls into another's file but through what this file
//! defines.

use std::sync::Arc;

use libp2p::{core::transport::ListenerId, Multiaddr, PeerId, Swarm};
use tokio::sync::{broadcast, mpsc};

use super::super::{
    core::{links::Links, misbehaviour::Misbehaviour},
    inbox::{Answer, Modules},
    Event, Recorder,
};
use crate::{
    behaviour::Behaviour,
    identity::{Directory, NodeId},
    tls::AccessList,
};

/// Settings the driver itself needs (the protocols got theirs when the swarm was built).
pub(crate) struct LoopConfig {
    pub(crate) node_id: NodeId,
    /// PeerId -> NodeId of RSA nodes, shared with the TLS upgrade and the overlay's access check.
    pub(crate) directory: Directory,
    /// The largest payload the application may send.
    pub(crate) max_message_size: usize,
    pub(crate) max_topics: usize,
    pub(crate) recorder: Option<Arc<dyn Recorder>>,
    pub(crate) direct_connections: bool,
    /// Capacity of each module inbox, in messages and in payload bytes.
    pub(crate) inbox_capacity: (usize, usize),
}

/// The driver's resources. See the [module docs](self).
pub(crate) struct Io {
    pub(super) swarm: Swarm<Behaviour>,
    /// For the responders handed to the application (kept strong: the answer queue never
    /// closes while the node runs).
    pub(super) answers: mpsc::Sender<Answer>,
    pub(super) events: broadcast::Sender<Event>,
    pub(super) access: AccessList,
    pub(super) config: LoopConfig,
    pub(super) listen_addrs: Vec<Multiaddr>,
    pub(super) listeners: Vec<ListenerId>,
    /// Each connected peer: the address and direction of its first connection, and how many
    /// connections are open.
    pub(super) links: Links,
    /// The application's module inboxes.
    pub(super) modules: Modules,
    pub(super) remote_log: super::remote_log::RemoteLog,
    /// Neighbours refused too often, and how long they are kept out.
    pub(super) misbehaviour: Misbehaviour,
    /// The seq of the local record last reported to the metrics.
    local_seq: u64,
}

impl Io {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        answers: mpsc::Sender<Answer>,
        events: broadcast::Sender<Event>,
        access: AccessList,
        config: LoopConfig,
        listeners: (Vec<Multiaddr>, Vec<ListenerId>),
    ) -> Self {
        let (capacity, bytes) = config.inbox_capacity;
        Self {
            swarm,
            answers,
            events,
            access,
            config,
            listen_addrs: listeners.0,
            listeners: listeners.1,
            links: Links::default(),
            modules: Modules::new(capacity, bytes),
            remote_log: Default::default(),
            misbehaviour: Default::default(),
            local_seq: 0,
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

    /// Reports `event` to the metrics and to whoever reads the events.
    pub(super) fn emit(&self, event: Event) {
        if let Some(recorder) = &self.config.recorder {
            recorder.event(&event)
        }
        // No subscriber is fine: events are a view, not a queue of work.
        let _ = self.events.send(event);
    }

    /// Tells the metrics when the local record changed (topics, state, neighbours, addresses).
    pub(super) fn note_local_record(&mut self) {
        let Some(recorder) = &self.config.recorder else {
            return;
        };
        let record = self.swarm.behaviour().sync.local_record();
        if record.seq() != self.local_seq {
            self.local_seq = record.seq();
            recorder.local_record(record.seq(), record.topics().len());
        }
    }

    /// Tells state sync where this node can be reached.
    pub(super) fn advertise_addrs(&mut self) {
        let addrs = self.listen_addrs.clone();
        if let Err(error) = self.swarm.behaviour_mut().sync.set_listen_addrs(addrs) {
            tracing::warn!(%error, "cannot advertise the listen addresses");
        }
    }
}
