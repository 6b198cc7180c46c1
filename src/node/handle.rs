//! The application's side of a node: a cloneable [`Handle`] and an [`Events`] stream.

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{command::Command, Event, NodeError};
use crate::identity::NodeId;

/// A connected node, as [`Handle::connected_peers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedPeer {
    /// Its node ID.
    pub node_id: NodeId,
    /// The remote address of the connection.
    pub address: Multiaddr,
    /// Who dialled.
    pub direction: super::Direction,
    /// Open connections to it: 1 in a steady state; 2 for a moment while a duplicate from a
    /// simultaneous dial is being closed.
    pub connections: u32,
}

/// A static peer address and where it stands, as [`Handle::static_peers`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticPeer {
    /// The configured address.
    pub address: Multiaddr,
    /// The node connected at this address, if any.
    pub connected: Option<NodeId>,
    /// Whether the address turned out to be this node's own (it is then never dialled).
    pub own_address: bool,
}

/// Drives a running node. Cheap to clone; every clone talks to the same node. Once the node has
/// stopped, every call returns [`NodeError::Stopped`].
#[derive(Debug, Clone)]
pub struct Handle {
    node_id: NodeId,
    commands: mpsc::Sender<Command>,
    /// Weak, so that the event streams end when the event loop (the only strong sender) stops.
    events: broadcast::WeakSender<Event>,
}

impl Handle {
    pub(crate) fn new(
        node_id: NodeId,
        commands: mpsc::Sender<Command>,
        events: &broadcast::Sender<Event>,
    ) -> Self {
        Self {
            node_id,
            commands,
            events: events.downgrade(),
        }
    }

    /// This node's ID.
    pub fn node_id(&self) -> NodeId {
        self.node_id
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
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NodeError> {
        self.call(Command::ListenAddrs).await
    }

    /// The nodes connected now.
    pub async fn connected_peers(&self) -> Result<Vec<ConnectedPeer>, NodeError> {
        self.call(Command::ConnectedPeers).await
    }

    /// Adds a static peer, dialled at once and kept connected. Returns `false` if it was there.
    pub async fn add_peer(&self, address: Multiaddr) -> Result<bool, NodeError> {
        self.call(|reply| Command::AddPeer(address, reply)).await
    }

    /// Removes a static peer and disconnects the node found there. Returns `false` if it was
    /// not a static peer.
    pub async fn remove_peer(&self, address: Multiaddr) -> Result<bool, NodeError> {
        self.call(|reply| Command::RemovePeer(address, reply)).await
    }

    /// The static peers and where each stands.
    pub async fn static_peers(&self) -> Result<Vec<StaticPeer>, NodeError> {
        self.call(Command::StaticPeers).await
    }

    /// Replaces the blacklist. Connected nodes now on it are disconnected; returns them.
    pub async fn set_blacklist(
        &self,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Result<Vec<NodeId>, NodeError> {
        let nodes = nodes.into_iter().collect();
        self.call(|reply| Command::SetBlacklist(nodes, reply)).await
    }

    /// Replaces the whitelist (empty: everyone the CA vouches for). Connected nodes it now bars
    /// are disconnected; returns them.
    pub async fn set_whitelist(
        &self,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Result<Vec<NodeId>, NodeError> {
        let nodes = nodes.into_iter().collect();
        self.call(|reply| Command::SetWhitelist(nodes, reply)).await
    }

    /// Closes every connection to `node`. Returns `false` if it was not connected. A static peer
    /// is redialled as usual.
    pub async fn disconnect(&self, node: NodeId) -> Result<bool, NodeError> {
        self.call(|reply| Command::Disconnect(node, reply)).await
    }

    /// Closes all connections and listeners and stops the node; returns once it has stopped.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.call(Command::Shutdown).await
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NodeError> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NodeError::Stopped)?;
        response.await.map_err(|_| NodeError::Stopped)
    }
}

/// The events of a node, in order. Each stream buffers a bounded number of events
/// ([`Config::with_event_capacity`](super::Config::with_event_capacity)); a stream that falls
/// further behind skips the oldest ones, with a warning in the log.
#[derive(Debug)]
pub struct Events {
    inner: broadcast::Receiver<Event>,
}

impl Events {
    pub(crate) fn from_receiver(inner: broadcast::Receiver<Event>) -> Self {
        Self { inner }
    }

    fn ended() -> Self {
        let (_, inner) = broadcast::channel(1);
        Self { inner }
    }

    /// The next event, or `None` once the node has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.inner.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "event stream fell behind; skipped the oldest events"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
