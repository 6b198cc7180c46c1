//! The application's side of a node: a cloneable [`Handle`] (its [`Events`] are in `events.rs`).

use std::time::Duration;

use bytes::Bytes;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    command::{CallCommand, Command, MessageCommand, NodeCommand},
    info::{ConnectedPeer, PeerInfo, RouteInfo, Status},
    CallError, Event, Events, Inbox, MulticastError, Operator, SendError, Stopped, TopicError,
};
use crate::identity::NodeId;

/// Drives a running node. Cheap to clone; every clone talks to the same node. Once the node has
/// stopped, every call returns [`Stopped`].
#[derive(Debug, Clone)]
pub struct Handle {
    node_id: NodeId,
    commands: mpsc::Sender<Command>,
    /// Weak, so that the event streams end when the event loop (the only strong sender) stops.
    events: broadcast::WeakSender<Event>,
    operator: Operator,
}

impl Handle {
    pub(crate) fn new(
        node_id: NodeId,
        commands: mpsc::Sender<Command>,
        events: &broadcast::Sender<Event>,
    ) -> Self {
        Self {
            node_id,
            operator: Operator {
                commands: commands.clone(),
            },
            commands,
            events: events.downgrade(),
        }
    }

    /// This node's ID.
    pub fn node_id(&self) -> NodeId {
        self.node_id.clone()
    }

    /// This node's libp2p peer ID (the same key as its node ID).
    pub fn peer_id(&self) -> PeerId {
        self.node_id.to_peer_id()
    }

    /// A new stream of the node's events, starting now. Once the node has stopped the stream is
    /// empty and ends at once.
    pub fn events(&self) -> Events {
        match self.events.upgrade() {
            Some(sender) => Events::from_receiver(sender.subscribe()),
            None => Events::ended(),
        }
    }

    /// The addresses the node listens on.
    ///
    /// Cancel-safe: it only reads.
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, Stopped> {
        Ok(self.status().await?.listen)
    }

    /// This node's listen addresses, seq, topics and number of connected nodes.
    ///
    /// Cancel-safe: it only reads.
    pub async fn status(&self) -> Result<Status, Stopped> {
        self.call(NodeCommand::Status).await
    }

    /// Every node known, connected or not: through state sync, every node of the network.
    ///
    /// Cancel-safe: it only reads.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, Stopped> {
        self.call(MessageCommand::Peers).await
    }

    /// Registers application module `module` and returns its inbox: the requests, multicasts and
    /// broadcasts sent to this module. Registering a module again replaces its inbox; dropping
    /// the inbox unregisters it, and requests for it are then answered "unknown module".
    ///
    /// Dropping the future after the node registered the module drops the new inbox with it:
    /// the module ends up unregistered (a replaced inbox does not come back).
    pub async fn register(&self, module: u16) -> Result<Inbox, Stopped> {
        self.call(|reply| MessageCommand::Register(module, reply))
            .await
    }

    /// Sends a request to `node` for `module` and waits for its reply, for at most the
    /// configured request timeout. The node need not be a neighbour: the request is relayed
    /// over the links that exist, and if a relay fails on the way it is retried on another route.
    /// Cancel-safe: dropping the future abandons the reply (the request may still arrive).
    pub async fn request(
        &self,
        node: NodeId,
        module: u16,
        payload: Bytes,
    ) -> Result<Bytes, CallError> {
        self.request_inner(node, module, payload, None).await
    }

    /// Like [`request`](Self::request) with its own timeout.
    ///
    /// Cancel-safe, as `request`.
    pub async fn request_with_timeout(
        &self,
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, CallError> {
        self.request_inner(node, module, payload, Some(timeout))
            .await
    }

    async fn request_inner(
        &self,
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Bytes, CallError> {
        self.call_fallible(|reply| CallCommand::Request {
            node,
            module,
            payload,
            timeout,
            reply,
        })
        .await
    }

    /// Sends a request to one follower of `topic`, chosen at random (FISCO AMOP unicast). If it
    /// fails or times out, another follower that has not failed yet is tried, until one replies
    /// or none is left. Returns the follower that replied and its reply.
    ///
    /// Cancel-safe: dropping the future abandons the reply; a request already sent may still
    /// arrive, and the failover runs to its end.
    pub async fn send_to_topic(
        &self,
        topic: impl Into<String>,
        module: u16,
        payload: Bytes,
    ) -> Result<(NodeId, Bytes), TopicError> {
        let topic = topic.into();
        self.call_fallible(|reply| CallCommand::SendToTopic {
            topic,
            module,
            payload,
            reply,
        })
        .await
    }

    /// Sends `payload` to every node following `topic`, each receiving it once, whether or not
    /// this node follows it. Returns how many followers it was sent to.
    ///
    /// Once the node has taken the message, dropping the future does not recall it.
    pub async fn multicast(
        &self,
        topic: impl Into<String>,
        module: u16,
        payload: Bytes,
    ) -> Result<usize, MulticastError> {
        let topic = topic.into();
        self.call_fallible(|reply| CallCommand::Multicast {
            topic,
            module,
            payload,
            reply,
        })
        .await
    }

    /// Sends `payload` to every other node of the network; each delivers it once.
    ///
    /// Once the node has taken the message, dropping the future does not recall it.
    pub async fn broadcast(&self, module: u16, payload: Bytes) -> Result<(), SendError> {
        self.call_fallible(|reply| MessageCommand::Broadcast {
            module,
            payload,
            reply,
        })
        .await
    }

    /// Follows `topic`: its multicasts reach this node, and every node learns through state sync
    /// that this node follows it. Returns `false` if it already did.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn subscribe(&self, topic: impl Into<String>) -> Result<bool, SendError> {
        let topic = topic.into();
        self.call_fallible(|reply| MessageCommand::Subscribe(topic, reply))
            .await
    }

    /// Stops following `topic`. Returns `false` if it did not.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn unsubscribe(&self, topic: impl Into<String>) -> Result<bool, SendError> {
        let topic = topic.into();
        self.call_fallible(|reply| MessageCommand::Unsubscribe(topic, reply))
            .await
    }

    /// Sets (or with `None` removes) a key of this node's application state; every node learns
    /// the change through state sync. Returns `false` if nothing changed.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn set_state(
        &self,
        key: impl Into<String>,
        value: Option<Bytes>,
    ) -> Result<bool, SendError> {
        let key = key.into();
        self.call_fallible(|reply| MessageCommand::SetState(key, value, reply))
            .await
    }

    /// Every node this node has a route to, with the next hop and the distance in links.
    ///
    /// Cancel-safe: it only reads.
    pub async fn routes(&self) -> Result<Vec<RouteInfo>, Stopped> {
        self.call(MessageCommand::Routes).await
    }

    /// The path a message to `node` takes as this node sees the network: this node, each relay,
    /// then `node`; `None` without a route.
    ///
    /// Cancel-safe: it only reads.
    pub async fn path(&self, node: NodeId) -> Result<Option<Vec<NodeId>>, Stopped> {
        self.call(|reply| MessageCommand::Path(node, reply)).await
    }

    /// The nodes connected now.
    ///
    /// Cancel-safe: it only reads.
    pub async fn connected_peers(&self) -> Result<Vec<ConnectedPeer>, Stopped> {
        self.call(NodeCommand::ConnectedPeers).await
    }

    /// The operator's side of this node: static peers, access lists, disconnections.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }

    /// Closes all connections and listeners and stops the node; returns once it has stopped.
    ///
    /// Once the node has the command it stops, whether or not the future is awaited to the end.
    pub async fn shutdown(&self) -> Result<(), Stopped> {
        self.call(Command::Shutdown).await
    }

    /// [`call`](Self::call) for commands whose reply is itself a result, whose error type can
    /// say that the node has stopped.
    async fn call_fallible<T, E: From<SendError>, C: Into<Command>>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, E>>) -> C,
    ) -> Result<T, E> {
        self.call(command)
            .await
            .map_err(|_| E::from(SendError::Stopped))?
    }

    async fn call<T, C: Into<Command>>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> C,
    ) -> Result<T, Stopped> {
        super::command::call(&self.commands, command).await
    }
}
