//! [`Module`]: one application module of a node, with its messages in and out in one place.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;

use super::{CallError, Handle, Inbox, Message, MulticastError, SendError, Stopped, TopicError};
use crate::identity::NodeId;

/// One application module of a node: its messages in, as a [`futures::Stream`], and a
/// [`ModuleSender`] for its messages out (requests, send-to-topic, multicast, broadcast, all for
/// this module). Made by [`Handle::module`]; dropping it unregisters the module, as dropping its
/// [`Inbox`] does.
///
/// ```no_run
/// # async fn serve(handle: fisco_p2p::node::Handle) -> Result<(), Box<dyn std::error::Error>> {
/// use bytes::Bytes;
/// use fisco_p2p::node::Message;
/// use futures::StreamExt;
///
/// let mut chat = handle.module(7).await?;
/// let sender = chat.sender();
/// sender.broadcast(Bytes::from_static(b"hello")).await?;
/// while let Some(message) = chat.next().await {
///     if let Message::Request(request) = message {
///         let _ = request.responder.reply(Bytes::from_static(b"ok")).await;
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Module {
    sender: ModuleSender,
    inbox: Inbox,
}

/// Sends for one module of a node; cheap to clone, one per task if you like. Each call
/// behaves as the [`Handle`] method of the same name with this module.
#[derive(Debug, Clone)]
pub struct ModuleSender {
    handle: Handle,
    id: u16,
}

impl Handle {
    /// Registers application module `id` and returns it: its inbox and its sends together. As
    /// with [`register`](Self::register), registering a module again replaces its inbox, and a
    /// dropped call leaves the module unregistered.
    pub async fn module(&self, id: u16) -> Result<Module, Stopped> {
        let inbox = self.register(id).await?;
        Ok(Module {
            sender: ModuleSender {
                handle: self.clone(),
                id,
            },
            inbox,
        })
    }
}

impl Module {
    /// This module's number.
    pub fn id(&self) -> u16 {
        self.sender.id
    }

    /// Its sends, for this task or another.
    pub fn sender(&self) -> ModuleSender {
        self.sender.clone()
    }

    /// The next message for this module, or `None` once the node has stopped. Cancel-safe.
    pub async fn next(&mut self) -> Option<Message> {
        self.inbox.next().await
    }

    /// Splits this module into its sends and its inbox.
    pub fn split(self) -> (ModuleSender, Inbox) {
        (self.sender, self.inbox)
    }
}

/// The module's messages, as its [`Inbox`] gives them.
impl futures::Stream for Module {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        Pin::new(&mut self.inbox).poll_next(cx)
    }
}

impl ModuleSender {
    /// This module's number.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The node's handle, for everything that is not this module's.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Sends a request to this module on `node` and waits for its reply, as
    /// [`Handle::request`] does. Cancel-safe: dropping the future abandons the reply.
    pub async fn request(&self, node: NodeId, payload: Bytes) -> Result<Bytes, CallError> {
        self.handle.request(node, self.id, payload).await
    }

    /// Like [`request`](Self::request) with its own timeout.
    pub async fn request_with_timeout(
        &self,
        node: NodeId,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, CallError> {
        self.handle
            .request_with_timeout(node, self.id, payload, timeout)
            .await
    }

    /// Sends a request to one follower of `topic`, failing over to the others, as
    /// [`Handle::send_to_topic`] does. Cancel-safe: dropping the future stops the failover.
    pub async fn send_to_topic(
        &self,
        topic: impl Into<String>,
        payload: Bytes,
    ) -> Result<(NodeId, Bytes), TopicError> {
        self.handle.send_to_topic(topic, self.id, payload).await
    }

    /// Sends `payload` to this module on every follower of `topic`, as [`Handle::multicast`]
    /// does. Once the node has taken it, dropping the future does not take it back.
    pub async fn multicast(
        &self,
        topic: impl Into<String>,
        payload: Bytes,
    ) -> Result<usize, MulticastError> {
        self.handle.multicast(topic, self.id, payload).await
    }

    /// Sends `payload` to this module on every other node, as [`Handle::broadcast`] does. Once
    /// the node has taken it, dropping the future does not take it back.
    pub async fn broadcast(&self, payload: Bytes) -> Result<(), SendError> {
        self.handle.broadcast(self.id, payload).await
    }
}
