//! [`Operator`]: what an operator changes on a running node (static peers, access lists,
//! disconnections), apart from what applications send.

use libp2p::Multiaddr;

use tokio::sync::{mpsc, oneshot};

use super::{
    command::{call, Command, NodeCommand},
    StaticPeer, Stopped,
};
use crate::identity::NodeId;

/// The operator's side of a node, from [`Handle::operator`](super::Handle::operator): static
/// peers, the black and white lists, disconnections. Cheap to clone. What it changes lasts until
/// the node stops (a node started from a config file gets the file's lists and peers back on a
/// reload).
#[derive(Debug, Clone)]
pub struct Operator {
    pub(super) commands: mpsc::Sender<Command>,
}

impl Operator {
    async fn call<T, C: Into<Command>>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> C,
    ) -> Result<T, Stopped> {
        call(&self.commands, command).await
    }

    /// Adds a static peer, dialled at once and kept connected. Returns `false` if it was there.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn add_peer(&self, address: Multiaddr) -> Result<bool, Stopped> {
        self.call(|reply| NodeCommand::AddPeer(address, reply))
            .await
    }

    /// Removes a static peer and disconnects the node found there. Returns `false` if it was
    /// not a static peer.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn remove_peer(&self, address: Multiaddr) -> Result<bool, Stopped> {
        self.call(|reply| NodeCommand::RemovePeer(address, reply))
            .await
    }

    /// The static peers and where each stands.
    ///
    /// Cancel-safe: it only reads.
    pub async fn static_peers(&self) -> Result<Vec<StaticPeer>, Stopped> {
        self.call(NodeCommand::StaticPeers).await
    }

    /// Replaces the blacklist. Connected nodes now on it are disconnected; returns them.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn set_blacklist(
        &self,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Result<Vec<NodeId>, Stopped> {
        let nodes = nodes.into_iter().collect();
        self.call(|reply| NodeCommand::SetBlacklist(nodes, reply))
            .await
    }

    /// Replaces the whitelist (empty: everyone the CA vouches for). Connected nodes it now bars
    /// are disconnected; returns them.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn set_whitelist(
        &self,
        nodes: impl IntoIterator<Item = NodeId>,
    ) -> Result<Vec<NodeId>, Stopped> {
        let nodes = nodes.into_iter().collect();
        self.call(|reply| NodeCommand::SetWhitelist(nodes, reply))
            .await
    }

    /// Closes every connection to `node`. Returns `false` if it was not connected. A static peer
    /// is redialled as usual.
    ///
    /// Dropping the future does not undo the change once the node has the command; only the answer
    /// is lost.
    pub async fn disconnect(&self, node: NodeId) -> Result<bool, Stopped> {
        self.call(|reply| NodeCommand::Disconnect(node, reply))
            .await
    }
}
