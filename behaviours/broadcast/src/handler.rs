//! One connection's side of broadcast: a long-lived outbound substream we write frames to, and
//! the peer's long-lived inbound substream we read frames from.
//!
//! Outgoing frames wait in a bounded queue. When it is full the **newest** frame is dropped and
//! counted (tail drop): a peer that cannot keep up loses the latest messages rather than making
//! the node buffer without limit. Frames are decoded (and their payload hashed) here, on the
//! connection's task, so the behaviour only checks signatures.

use std::{
    collections::VecDeque,
    task::{Context, Poll},
};

use bytes::Bytes;
use fisco_p2p_framing::FrameError;
use futures::{future::BoxFuture, FutureExt};
use libp2p::{
    core::upgrade::ReadyUpgrade,
    swarm::{
        handler::{
            ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
        },
        ConnectionHandler, ConnectionHandlerEvent, Stream, StreamUpgradeError, SubstreamProtocol,
    },
};

use crate::{
    codec::{self, ReadError},
    protocol::{self, MessageId, SignedMessage},
    InvalidReason, PROTOCOL_NAME,
};

/// Consecutive failures to open the outbound substream before giving up on the peer.
const MAX_OPEN_FAILURES: u8 = 3;

/// A frame the behaviour hands to a connection: a signed body and the hop count it arrives with.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub(crate) id: MessageId,
    pub(crate) hops: u8,
    pub(crate) body: Bytes,
}

/// What a connection's handler reports to the behaviour (opaque outside this crate).
#[derive(Debug)]
pub struct HandlerEvent(pub(crate) ToBehaviour);

#[derive(Debug)]
pub(crate) enum ToBehaviour {
    /// A well-formed frame arrived; its signature is not checked yet.
    Message {
        hops: u8,
        message: Box<SignedMessage>,
    },
    /// The peer sent something we refused; its inbound substream was reset.
    Invalid(InvalidReason),
    /// Frames for this peer were dropped (queue full, or the peer cannot take them).
    Dropped { count: u64 },
}

type ReadFuture = BoxFuture<'static, (Stream, Result<Option<(u8, Bytes)>, ReadError>)>;
type WriteFuture = BoxFuture<'static, std::io::Result<Stream>>;

enum Outbound {
    /// No substream; one is requested when a frame is queued.
    None,
    /// A substream is being negotiated.
    Opening,
    /// A substream is open and idle.
    Idle(Stream),
    /// A frame is being written and flushed.
    Writing(WriteFuture, Queued),
    /// The peer does not speak broadcast, or no substream could be opened: frames are dropped.
    Disabled,
}

/// A frame waiting in the send queue.
struct Queued {
    frame: Outgoing,
    /// Whether a write of this frame already failed once. A substream the peer reset (for
    /// instance after refusing an earlier frame) is only noticed on the next write, so that
    /// frame gets one more try on a fresh substream.
    retried: bool,
}

/// The broadcast [`ConnectionHandler`] of one connection.
pub struct Handler {
    max_frame: usize,
    queue_len: usize,
    queue: VecDeque<Queued>,
    outbound: Outbound,
    open_failures: u8,
    inbound: Option<ReadFuture>,
    /// Frames dropped since the last report to the behaviour.
    dropped: u64,
}

impl Handler {
    pub(crate) fn new(max_frame: usize, queue_len: usize) -> Self {
        Handler {
            max_frame,
            queue_len: queue_len.max(1),
            queue: VecDeque::new(),
            outbound: Outbound::None,
            open_failures: 0,
            inbound: None,
            dropped: 0,
        }
    }

    fn on_open_failure(&mut self, error: &dyn std::fmt::Display) {
        self.open_failures += 1;
        if self.open_failures >= MAX_OPEN_FAILURES {
            tracing::warn!(%error, "broadcast substream could not be opened {MAX_OPEN_FAILURES} times; no more frames to this peer");
            self.disable();
        } else {
            tracing::debug!(%error, "broadcast substream could not be opened; retrying");
            self.outbound = Outbound::None;
        }
    }

    fn on_write_failure(&mut self, error: std::io::Error, mut failed: Queued) {
        tracing::debug!(%error, id = %failed.frame.id, "broadcast substream failed; reopening");
        if failed.retried {
            self.dropped += 1;
        } else {
            failed.retried = true;
            self.queue.push_front(failed);
        }
        self.outbound = Outbound::None;
    }

    fn disable(&mut self) {
        self.dropped += self.queue.len() as u64;
        self.queue.clear();
        self.outbound = Outbound::Disabled;
    }

    fn start_reading(&mut self, mut stream: Stream) {
        let max = self.max_frame;
        self.inbound = Some(
            async move {
                let result = codec::read_frame(&mut stream, max).await;
                (stream, result)
            }
            .boxed(),
        );
    }

    /// Polls the inbound substream; returns an event when a frame or an error came in.
    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Option<ToBehaviour> {
        let reading = self.inbound.as_mut()?;
        let (stream, result) = match reading.poll_unpin(cx) {
            Poll::Pending => return None,
            Poll::Ready(done) => done,
        };
        self.inbound = None;
        match result {
            Ok(Some((hops, body))) => {
                self.start_reading(stream);
                Some(match protocol::decode(body) {
                    Ok(message) if hops > 0 => ToBehaviour::Message {
                        hops,
                        message: Box::new(message),
                    },
                    Ok(_) => ToBehaviour::Invalid(InvalidReason::Malformed(
                        "hop count 0 on the wire".into(),
                    )),
                    Err(reason) => ToBehaviour::Invalid(InvalidReason::Malformed(reason)),
                })
            }
            // The peer closed its side: it will open a new substream if it has more to say.
            Ok(None) => None,
            // Dropping `stream` here resets it, telling the peer its frame was refused.
            Err(ReadError::Frame(FrameError::TooLarge { len, max })) => {
                Some(ToBehaviour::Invalid(InvalidReason::TooLarge { len, max }))
            }
            Err(ReadError::Empty) => Some(ToBehaviour::Invalid(InvalidReason::Malformed(
                "empty frame".into(),
            ))),
            Err(ReadError::Frame(error)) => {
                tracing::debug!(%error, "broadcast inbound substream ended");
                None
            }
        }
    }

    /// Drives the outbound substream; returns a substream request when one must be opened.
    fn poll_outbound(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Option<SubstreamProtocol<ReadyUpgrade<libp2p::StreamProtocol>>> {
        loop {
            match std::mem::replace(&mut self.outbound, Outbound::None) {
                Outbound::None if self.queue.is_empty() => return None,
                Outbound::None => {
                    self.outbound = Outbound::Opening;
                    return Some(SubstreamProtocol::new(ReadyUpgrade::new(PROTOCOL_NAME), ()));
                }
                Outbound::Idle(stream) => match self.queue.pop_front() {
                    None => {
                        self.outbound = Outbound::Idle(stream);
                        return None;
                    }
                    Some(queued) => {
                        let writing = write(stream, queued.frame.clone());
                        self.outbound = Outbound::Writing(writing, queued);
                    }
                },
                Outbound::Writing(mut writing, queued) => match writing.poll_unpin(cx) {
                    Poll::Pending => {
                        self.outbound = Outbound::Writing(writing, queued);
                        return None;
                    }
                    Poll::Ready(Ok(stream)) => self.outbound = Outbound::Idle(stream),
                    Poll::Ready(Err(error)) => self.on_write_failure(error, queued),
                },
                state @ (Outbound::Opening | Outbound::Disabled) => {
                    self.outbound = state;
                    return None;
                }
            }
        }
    }
}

fn write(mut stream: Stream, frame: Outgoing) -> WriteFuture {
    async move {
        codec::write_frame(&mut stream, frame.hops, &frame.body).await?;
        Ok(stream)
    }
    .boxed()
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Outgoing;
    type ToBehaviour = HandlerEvent;
    type InboundProtocol = ReadyUpgrade<libp2p::StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<libp2p::StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(ReadyUpgrade::new(PROTOCOL_NAME), ())
    }

    fn on_behaviour_event(&mut self, frame: Outgoing) {
        if matches!(self.outbound, Outbound::Disabled) || self.queue.len() >= self.queue_len {
            tracing::debug!(id = %frame.id, "broadcast send queue full or peer unable; frame dropped");
            self.dropped += 1;
            return;
        }
        self.queue.push_back(Queued {
            frame,
            retried: false,
        });
    }

    fn connection_keep_alive(&self) -> bool {
        // Streams are ignored for keep-alive: the node's idle policy decides, except while
        // frames are waiting to go out.
        !self.queue.is_empty() || matches!(self.outbound, Outbound::Opening | Outbound::Writing(..))
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        // Each branch returns at once; the connection polls again after every `Ready`, and the
        // next inbound frame is read only once the previous event was handed over.
        if let Some(protocol) = self.poll_outbound(cx) {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest { protocol });
        }
        if self.dropped > 0 {
            let count = std::mem::take(&mut self.dropped);
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(HandlerEvent(
                ToBehaviour::Dropped { count },
            )));
        }
        if let Some(event) = self.poll_inbound(cx) {
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(HandlerEvent(event)));
        }
        Poll::Pending
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<'_, Self::InboundProtocol, Self::OutboundProtocol>,
    ) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
                protocol: mut stream,
                ..
            }) => {
                stream.ignore_for_keep_alive();
                // The peer opens a new substream after its last one failed: the newest wins.
                self.start_reading(stream);
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: mut stream,
                ..
            }) => {
                stream.ignore_for_keep_alive();
                if matches!(self.outbound, Outbound::Opening) {
                    self.open_failures = 0;
                    self.outbound = Outbound::Idle(stream);
                }
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => match error {
                StreamUpgradeError::NegotiationFailed => {
                    tracing::debug!("peer does not support {PROTOCOL_NAME}");
                    self.disable();
                }
                StreamUpgradeError::Timeout => self.on_open_failure(&"substream timeout"),
                StreamUpgradeError::Io(error) => self.on_open_failure(&error),
                StreamUpgradeError::Apply(never) => match never {},
            },
            _ => {}
        }
    }
}
