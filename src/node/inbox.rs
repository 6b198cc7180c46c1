//! Per-module inboxes: how messages for the application leave the event loop.
//!
//! FISCO lets several application modules share one node, each registering a handler for its
//! module ID. Here each registered module gets an [`Inbox`], a bounded queue of [`Message`]s: the
//! requests addressed to it (with a [`Responder`]), and the multicasts and broadcasts it receives.
//! A request for a module nobody registered is answered with an error at once; a request that
//! finds its module's inbox full is answered with a "busy" error, never left to time out.

use std::collections::HashMap;

use bytes::Bytes;
use fisco_p2p_overlay::ReplyTo;
use tokio::sync::mpsc;

use super::command::Command;
use crate::identity::NodeId;

/// Something that arrived for a module.
#[derive(Debug)]
pub enum Message {
    /// A request from one node; answer it through [`IncomingRequest::responder`].
    Request(IncomingRequest),
    /// A message multicast to a topic this node follows.
    Multicast {
        /// The node that published it (its signature checked).
        from: NodeId,
        /// The topic.
        topic: String,
        /// The application's bytes.
        payload: Bytes,
        /// Links it crossed (1: straight from the sender).
        hops: u8,
    },
    /// A message broadcast to every node.
    Broadcast {
        /// The node that broadcast it (its signature checked).
        from: NodeId,
        /// The application's bytes.
        payload: Bytes,
        /// Links it crossed (1: straight from the sender).
        hops: u8,
    },
}

/// A request from another node, waiting for its reply.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The requesting node.
    pub from: NodeId,
    /// The module it is for.
    pub module: u16,
    /// The application's bytes.
    pub payload: Bytes,
    /// Links it crossed (1: straight from the requester).
    pub hops: u8,
    /// Sends the reply.
    pub responder: Responder,
}

/// Answers one request. Dropping it unanswered makes the requester's call fail at once (with
/// an application error saying so) rather than time out.
#[derive(Debug)]
pub struct Responder {
    /// `None` once answered.
    reply_to: Option<ReplyTo>,
    commands: mpsc::Sender<Command>,
}

impl Responder {
    pub(crate) fn new(reply_to: ReplyTo, commands: mpsc::Sender<Command>) -> Self {
        Self {
            reply_to: Some(reply_to),
            commands,
        }
    }

    /// Forgets the request without answering it (the event loop answers it itself).
    pub(crate) fn disarm(mut self) {
        self.reply_to = None;
    }

    /// Sends `reply` to the requester.
    pub async fn reply(self, reply: Bytes) -> Result<(), super::NodeError> {
        self.send(Ok(reply)).await
    }

    /// Refuses the request; the requester's call fails with this message.
    pub async fn refuse(self, message: impl Into<String>) -> Result<(), super::NodeError> {
        self.send(Err(message.into())).await
    }

    async fn send(mut self, result: Result<Bytes, String>) -> Result<(), super::NodeError> {
        let Some(reply_to) = self.reply_to.take() else {
            return Ok(());
        };
        self.commands
            .send(Command::Respond(reply_to, result))
            .await
            .map_err(|_| super::NodeError::Stopped)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(reply_to) = self.reply_to.take() {
            // Best effort: with the command queue full the requester times out instead.
            let refusal = "the application dropped the request without answering".to_string();
            let _ = self
                .commands
                .try_send(Command::Respond(reply_to, Err(refusal)));
        }
    }
}

/// The messages of one registered module, in arrival order. Dropping it unregisters the module.
#[derive(Debug)]
pub struct Inbox {
    module: u16,
    receiver: mpsc::Receiver<Message>,
}

impl Inbox {
    /// The module this inbox serves.
    pub fn module(&self) -> u16 {
        self.module
    }

    /// The next message, or `None` once the node has stopped.
    pub async fn next(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }
}

/// Why a message could not be handed to its module.
pub(crate) enum Undeliverable {
    /// No inbox is registered for the module (or it was dropped).
    UnknownModule(Box<Message>),
    /// The module's inbox is full.
    Busy(Box<Message>),
}

/// The event loop's side: one bounded sender per registered module.
pub(crate) struct Modules {
    inboxes: HashMap<u16, mpsc::Sender<Message>>,
    capacity: usize,
}

impl Modules {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inboxes: HashMap::new(),
            capacity,
        }
    }

    /// Registers `module`, replacing an earlier inbox of the same module (which then ends).
    pub(crate) fn register(&mut self, module: u16) -> Inbox {
        let (sender, receiver) = mpsc::channel(self.capacity);
        self.inboxes.insert(module, sender);
        Inbox { module, receiver }
    }

    /// Hands `message` to `module`'s inbox without waiting; gives it back if it cannot.
    pub(crate) fn deliver(&mut self, module: u16, message: Message) -> Result<(), Undeliverable> {
        let Some(sender) = self.inboxes.get(&module) else {
            return Err(Undeliverable::UnknownModule(Box::new(message)));
        };
        match sender.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(message)) => {
                Err(Undeliverable::Busy(Box::new(message)))
            }
            Err(mpsc::error::TrySendError::Closed(message)) => {
                self.inboxes.remove(&module);
                Err(Undeliverable::UnknownModule(Box::new(message)))
            }
        }
    }
}
