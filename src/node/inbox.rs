//! Per-module inboxes: how messages for the application leave the event loop.
//!
//! FISCO lets several application modules share one node, each registering a handler for its
//! module ID. Here each registered module gets an [`Inbox`], a bounded queue of [`Message`]s: the
//! requests addressed to it (with a [`Responder`]), and the multicasts and broadcasts it receives.
//! A request for a module nobody registered is answered with an error at once; a request that
//! finds its module's inbox full is answered with a "busy" error, never left to time out.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use bytes::Bytes;
use fisco_p2p_overlay::ReplyTo;
use tokio::sync::mpsc;

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
    answers: mpsc::Sender<Answer>,
}

/// The application's answer to a request, on its way to the event loop (through a queue of
/// its own, so that answers never wait behind the application's commands).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) reply_to: ReplyTo,
    /// The reply, or the application's refusal.
    pub(crate) result: Result<Bytes, String>,
}

impl Responder {
    pub(crate) fn new(reply_to: ReplyTo, answers: mpsc::Sender<Answer>) -> Self {
        Self {
            reply_to: Some(reply_to),
            answers,
        }
    }

    /// Forgets the request without answering it (the event loop answers it itself).
    pub(crate) fn disarm(mut self) {
        self.reply_to = None;
    }

    /// Sends `reply` to the requester.
    pub async fn reply(self, reply: Bytes) -> Result<(), super::Stopped> {
        self.send(Ok(reply)).await
    }

    /// Refuses the request; the requester's call fails with this message.
    pub async fn refuse(self, message: impl Into<String>) -> Result<(), super::Stopped> {
        self.send(Err(message.into())).await
    }

    async fn send(mut self, result: Result<Bytes, String>) -> Result<(), super::Stopped> {
        let Some(reply_to) = self.reply_to.take() else {
            return Ok(());
        };
        self.answers
            .send(Answer { reply_to, result })
            .await
            .map_err(|_| super::Stopped)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(reply_to) = self.reply_to.take() {
            // Best effort: with the answer queue full the requester times out instead.
            let result = Err("the application dropped the request without answering".to_string());
            let _ = self.answers.try_send(Answer { reply_to, result });
        }
    }
}

/// The messages of one registered module, in arrival order. Dropping it unregisters the module.
#[derive(Debug)]
pub struct Inbox {
    module: u16,
    receiver: mpsc::Receiver<Message>,
    /// Payload bytes waiting in this inbox, shared with the event loop's side.
    queued: Arc<AtomicUsize>,
}

impl Inbox {
    /// The module this inbox serves.
    pub fn module(&self) -> u16 {
        self.module
    }

    /// The next message, or `None` once the node has stopped. Cancel-safe: a message is taken
    /// out of the inbox only when this returns it.
    pub async fn next(&mut self) -> Option<Message> {
        futures::StreamExt::next(self).await
    }
}

/// The same messages as [`Inbox::next`], as a [`futures::Stream`] that ends when the node stops.
impl futures::Stream for Inbox {
    type Item = Message;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Message>> {
        let message = std::task::ready!(self.receiver.poll_recv(cx));
        if let Some(message) = &message {
            self.queued
                .fetch_sub(message.payload_len(), Ordering::AcqRel);
        }
        std::task::Poll::Ready(message)
    }
}

impl Message {
    /// The application's bytes in this message.
    pub(crate) fn payload_len(&self) -> usize {
        match self {
            Message::Request(request) => request.payload.len(),
            Message::Multicast { payload, .. } | Message::Broadcast { payload, .. } => {
                payload.len()
            }
        }
    }
}

/// Why a message could not be handed to its module.
pub(crate) enum Undeliverable {
    /// No inbox is registered for the module (or it was dropped).
    UnknownModule(Box<Message>),
    /// The module's inbox is full.
    Busy(Box<Message>),
}

/// The event loop's side: one sender per registered module, bounded in messages and in bytes.
pub(crate) struct Modules {
    inboxes: HashMap<u16, (mpsc::Sender<Message>, Arc<AtomicUsize>)>,
    capacity: usize,
    max_bytes: usize,
    /// Messages dropped because their module's inbox was full.
    dropped: u64,
}

impl Modules {
    /// Inboxes of at most `capacity` messages and `max_bytes` payload bytes (one message over
    /// `max_bytes` is still taken into an empty inbox).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            inboxes: HashMap::new(),
            capacity,
            max_bytes,
            dropped: 0,
        }
    }

    /// Messages dropped so far because their module's inbox was full (requests among them were
    /// answered "busy").
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Registers `module`, replacing an earlier inbox of the same module (which then ends).
    pub(crate) fn register(&mut self, module: u16) -> Inbox {
        let (sender, receiver) = mpsc::channel(self.capacity);
        let queued = Arc::new(AtomicUsize::new(0));
        self.inboxes.insert(module, (sender, queued.clone()));
        Inbox {
            module,
            receiver,
            queued,
        }
    }

    /// Hands `message` to `module`'s inbox without waiting; gives it back if it cannot.
    pub(crate) fn deliver(&mut self, module: u16, message: Message) -> Result<(), Undeliverable> {
        let Some((sender, queued)) = self.inboxes.get(&module) else {
            return Err(Undeliverable::UnknownModule(Box::new(message)));
        };
        let len = message.payload_len();
        let held = queued.load(Ordering::Acquire);
        if held > 0 && held + len > self.max_bytes {
            self.dropped += 1;
            return Err(Undeliverable::Busy(Box::new(message)));
        }
        queued.fetch_add(len, Ordering::AcqRel);
        match sender.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(message)) => {
                queued.fetch_sub(len, Ordering::AcqRel);
                self.dropped += 1;
                Err(Undeliverable::Busy(Box::new(message)))
            }
            Err(mpsc::error::TrySendError::Closed(message)) => {
                queued.fetch_sub(len, Ordering::AcqRel);
                self.inboxes.remove(&module);
                Err(Undeliverable::UnknownModule(Box::new(message)))
            }
        }
    }
}
