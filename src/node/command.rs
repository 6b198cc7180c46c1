//! Requests from a [`Handle`](super::Handle) to the event loop, each with its own reply channel.

use libp2p::Multiaddr;
use tokio::sync::oneshot;

use super::{ConnectedPeer, StaticPeer};
use crate::identity::NodeId;

/// One request to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    ConnectedPeers(oneshot::Sender<Vec<ConnectedPeer>>),
    AddPeer(Multiaddr, oneshot::Sender<bool>),
    RemovePeer(Multiaddr, oneshot::Sender<bool>),
    StaticPeers(oneshot::Sender<Vec<StaticPeer>>),
    SetBlacklist(Vec<NodeId>, oneshot::Sender<Vec<NodeId>>),
    SetWhitelist(Vec<NodeId>, oneshot::Sender<Vec<NodeId>>),
    Disconnect(NodeId, oneshot::Sender<bool>),
    Shutdown(oneshot::Sender<()>),
}
