//! Requests from a [`Handle`](super::Handle) to the event loop, each with its own reply channel.

use std::time::Duration;

use bytes::Bytes;
use libp2p::Multiaddr;
use tokio::sync::{mpsc, oneshot};

use super::{
    info::{ConnectedPeer, PeerInfo, RouteInfo, StaticPeer, Status},
    CallError, Inbox, MulticastError, SendError, Stopped, TopicError,
};
use crate::identity::NodeId;

pub(crate) type Reply<T> = oneshot::Sender<T>;

/// One request to the event loop: what the node itself answers, what its messaging does, a
/// call whose outcome the call core decides, or the end. Each part has its own handler that
/// matches it exhaustively.
#[derive(Debug)]
pub(crate) enum Command {
    /// Status, connections and the operator's changes (`driver/commands.rs`).
    Node(NodeCommand),
    /// Modules, broadcasts, topics, state and routes (`driver/commands.rs`).
    Message(MessageCommand),
    /// Requests and multicasts, which end later (the call core, `core/calls`).
    Call(CallCommand),
    /// Stop the node (the run loop itself).
    Shutdown(Reply<()>),
}

/// What the node answers about itself, and what the operator changes.
#[derive(Debug)]
pub(crate) enum NodeCommand {
    Status(Reply<Status>),
    ConnectedPeers(Reply<Vec<ConnectedPeer>>),
    AddPeer(Multiaddr, Reply<bool>),
    RemovePeer(Multiaddr, Reply<bool>),
    StaticPeers(Reply<Vec<StaticPeer>>),
    SetBlacklist(Vec<NodeId>, Reply<Vec<NodeId>>),
    SetWhitelist(Vec<NodeId>, Reply<Vec<NodeId>>),
    Disconnect(NodeId, Reply<bool>),
}

/// What the node's messaging does for the application at once.
#[derive(Debug)]
pub(crate) enum MessageCommand {
    Peers(Reply<Vec<PeerInfo>>),
    Register(u16, Reply<Inbox>),
    Broadcast {
        module: u16,
        payload: Bytes,
        reply: Reply<Result<(), SendError>>,
    },
    Subscribe(String, Reply<Result<bool, SendError>>),
    Unsubscribe(String, Reply<Result<bool, SendError>>),
    SetState(String, Option<Bytes>, Reply<Result<bool, SendError>>),
    Routes(Reply<Vec<RouteInfo>>),
    Path(NodeId, Reply<Option<Vec<NodeId>>>),
}

/// A call of the application that ends later: its outcome is the call core's.
#[derive(Debug)]
pub(crate) enum CallCommand {
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
}

impl From<NodeCommand> for Command {
    fn from(command: NodeCommand) -> Self {
        Command::Node(command)
    }
}

impl From<MessageCommand> for Command {
    fn from(command: MessageCommand) -> Self {
        Command::Message(command)
    }
}

impl From<CallCommand> for Command {
    fn from(command: CallCommand) -> Self {
        Command::Call(command)
    }
}

/// Hands `command` to the event loop and waits for its answer.
pub(super) async fn call<T, C: Into<Command>>(
    commands: &mpsc::Sender<Command>,
    command: impl FnOnce(oneshot::Sender<T>) -> C,
) -> Result<T, Stopped> {
    let (reply, response) = oneshot::channel();
    commands
        .send(command(reply).into())
        .await
        .map_err(|_| Stopped)?;
    response.await.map_err(|_| Stopped)
}
