//! Requests from a [`Handle`](super::Handle) to the event loop, each with its own reply channel.

use std::time::Duration;

use bytes::Bytes;
use fisco_p2p_overlay::ReplyTo;
use libp2p::Multiaddr;
use tokio::sync::oneshot;

use super::{
    CallError, ConnectedPeer, Inbox, MulticastError, PeerInfo, RouteInfo, SendError, StaticPeer,
    Status, TopicError,
};
use crate::identity::NodeId;

pub(crate) type Reply<T> = oneshot::Sender<T>;

/// One request to the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Status(Reply<Status>),
    ConnectedPeers(Reply<Vec<ConnectedPeer>>),
    Peers(Reply<Vec<PeerInfo>>),
    AddPeer(Multiaddr, Reply<bool>),
    RemovePeer(Multiaddr, Reply<bool>),
    StaticPeers(Reply<Vec<StaticPeer>>),
    SetBlacklist(Vec<NodeId>, Reply<Vec<NodeId>>),
    SetWhitelist(Vec<NodeId>, Reply<Vec<NodeId>>),
    Disconnect(NodeId, Reply<bool>),
    Register(u16, Reply<Inbox>),
    Request {
        node: NodeId,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
        reply: Reply<Result<Bytes, CallError>>,
    },
    SendToTopic {
        topic: String,
        module: u16,
        payload: Bytes,
        reply: Reply<Result<(NodeId, Bytes), TopicError>>,
    },
    Multicast {
        topic: String,
        module: u16,
        payload: Bytes,
        reply: Reply<Result<usize, MulticastError>>,
    },
    Broadcast {
        module: u16,
        payload: Bytes,
        reply: Reply<Result<(), SendError>>,
    },
    Subscribe(String, Reply<Result<bool, SendError>>),
    Unsubscribe(String, Reply<Result<bool, SendError>>),
    SetState(String, Option<Bytes>, Reply<Result<bool, SendError>>),
    Respond(ReplyTo, Result<Bytes, String>),
    Routes(Reply<Vec<RouteInfo>>),
    Path(NodeId, Reply<Option<Vec<NodeId>>>),
    Shutdown(Reply<()>),
}
