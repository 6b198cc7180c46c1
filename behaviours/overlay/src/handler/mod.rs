//! One link's side of the overlay: a long-lived outbound substream we write frames to, the
//! peer's long-lived inbound substream we read frames from, and a send queue bounded in frames
//! and bytes.
//!
//! Frames queued while a write is under way go out together in the next write, one flush for
//! the batch: under load many small envelopes share a multiplexer frame and a TLS record.
//!
//! Received frames are decoded, and their origin's signature checked where this node is a
//! destination, here on the connection's own task, so that the work spreads over the runtime's
//! threads and the swarm's task only routes. Relays do not check signatures: the destination
//! does.

use std::{
    collections::VecDeque,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{future::BoxFuture, FutureExt};
use libp2p::{
    swarm::{
        handler::{
            ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound,
        },
        ConnectionHandler, ConnectionHandlerEvent, Stream, StreamUpgradeError, SubstreamProtocol,
    },
    PeerId,
};

use crate::{
    frame::{self, Codec, Frame, Received},
    seal::Verifier,
    upgrade::{Negotiated, Protocols},
    Refusal, PROTOCOL_NAME,
};

mod queue;
mod read;

pub(crate) use queue::Budget;
use read::{read_one, ReadEnd, ReadResult, Reading};

/// Consecutive failures to open the outbound substream before giving up on the link.
const MAX_OPEN_FAILURES: u8 = 3;
/// Most bytes of small frames written in one batch.
const BATCH_BYTES: usize = 256 * 1024;

/// A frame the behaviour hands to a link (opaque outside this crate).
#[derive(Debug)]
pub struct Outgoing(pub(crate) Frame);

/// What a link's handler reports to the behaviour (opaque outside this crate).
#[derive(Debug)]
pub struct HandlerEvent(pub(crate) FromHandler);

#[derive(Debug)]
pub(crate) enum FromHandler {
    /// A frame arrived, decoded and checked; with its origin's key when the envelope carried it
    /// and this link met it for the first time.
    Received(Box<Received>, Option<Box<libp2p::identity::PublicKey>>),
    /// A frame was refused (and, for a broken frame, the inbound substream reset).
    Refused {
        origin: Option<PeerId>,
        reason: Refusal,
    },
    /// Frames queued for this link were lost (the substream failed or cannot be opened).
    Lost { frames: u64 },
}

type ReadFuture = BoxFuture<'static, (Stream, Codec, Verifier, ReadResult)>;
type WriteFuture = BoxFuture<'static, (Stream, Codec, Vec<Frame>, std::io::Result<()>)>;

enum Outbound {
    None,
    Opening,
    Idle(Stream, Codec),
    Writing(WriteFuture),
    Disabled,
}

/// The overlay [`ConnectionHandler`] of one link.
pub struct Handler {
    local: PeerId,
    remote: PeerId,
    max_frame: usize,
    budget: Arc<Budget>,
    queue: VecDeque<Frame>,
    outbound: Outbound,
    open_failures: u8,
    inbound: Option<ReadFuture>,
    /// Kept while no read is under way.
    verifier: Option<Verifier>,
    lost: u64,
    /// Whether this side offers compression.
    compression: bool,
}

impl Handler {
    pub(crate) fn new(
        local: PeerId,
        remote: PeerId,
        max_frame: usize,
        budget: Arc<Budget>,
    ) -> Self {
        Handler {
            local,
            remote,
            max_frame,
            budget,
            queue: VecDeque::new(),
            outbound: Outbound::None,
            open_failures: 0,
            inbound: None,
            verifier: Some(Verifier::default()),
            lost: 0,
            compression: false,
        }
    }

    /// Offers compression on this link's streams (see the crate docs).
    pub(crate) fn with_compression(mut self, enabled: bool) -> Self {
        self.compression = enabled;
        self
    }

    fn drop_frames(&mut self, frames: impl IntoIterator<Item = Frame>) {
        let (mut count, mut bytes) = (0, 0);
        for frame in frames {
            count += 1;
            bytes += frame.len();
        }
        self.budget.release(count, bytes);
        self.lost += count as u64;
    }

    fn disable(&mut self) {
        let queued: Vec<Frame> = self.queue.drain(..).collect();
        self.drop_frames(queued);
        self.outbound = Outbound::Disabled;
    }

    fn on_open_failure(&mut self, error: &dyn std::fmt::Display) {
        self.open_failures += 1;
        if self.open_failures >= MAX_OPEN_FAILURES {
            tracing::debug!(peer = %self.remote, %error, "overlay substream could not be opened; link unusable");
            self.disable();
        } else {
            self.outbound = Outbound::None;
        }
    }

    fn start_reading(&mut self, mut stream: Stream, codec: Codec) {
        // A read still under way on an older substream is dropped: the newest substream wins.
        let mut verifier = self.verifier.take().unwrap_or_default();
        let (local, remote, max) = (self.local, self.remote, self.max_frame);
        self.inbound = Some(
            async move {
                let reading = Reading {
                    max,
                    codec,
                    local,
                    remote,
                };
                let result = read_one(&mut stream, &reading, &mut verifier).await;
                (stream, codec, verifier, result)
            }
            .boxed(),
        );
    }

    fn poll_inbound(&mut self, cx: &mut Context<'_>) -> Option<FromHandler> {
        loop {
            let reading = self.inbound.as_mut()?;
            let Poll::Ready((stream, codec, verifier, result)) = reading.poll_unpin(cx) else {
                return None;
            };
            self.inbound = None;
            self.verifier = Some(verifier);
            match result {
                Ok(event) => {
                    self.start_reading(stream, codec);
                    if event.is_some() {
                        return event;
                    }
                }
                Err(ReadEnd::Closed) => return None,
                // Dropping the stream resets it: the peer learns its frame was refused.
                Err(ReadEnd::Failed(event)) => return event,
            }
        }
    }

    /// Drives the outbound substream; returns a substream request when one must be opened.
    fn poll_outbound(&mut self, cx: &mut Context<'_>) -> Option<SubstreamProtocol<Protocols>> {
        loop {
            match std::mem::replace(&mut self.outbound, Outbound::None) {
                Outbound::None if self.queue.is_empty() => return None,
                Outbound::None => {
                    self.outbound = Outbound::Opening;
                    let protocols = Protocols::new(self.compression);
                    return Some(SubstreamProtocol::new(protocols, ()));
                }
                Outbound::Idle(stream, codec) if self.queue.is_empty() => {
                    self.outbound = Outbound::Idle(stream, codec);
                    return None;
                }
                Outbound::Idle(mut stream, codec) => {
                    let batch = self.take_batch();
                    let writing = async move {
                        let result = frame::write_frames(&mut stream, &batch, codec).await;
                        (stream, codec, batch, result)
                    }
                    .boxed();
                    self.outbound = Outbound::Writing(writing);
                }
                Outbound::Writing(mut writing) => match writing.poll_unpin(cx) {
                    Poll::Pending => {
                        self.outbound = Outbound::Writing(writing);
                        return None;
                    }
                    Poll::Ready((stream, codec, batch, Ok(()))) => {
                        let bytes = batch.iter().map(Frame::len).sum();
                        self.budget.release(batch.len(), bytes);
                        self.outbound = Outbound::Idle(stream, codec);
                    }
                    Poll::Ready((_, _, batch, Err(error))) => {
                        tracing::debug!(peer = %self.remote, %error, "overlay substream failed; reopening");
                        self.drop_frames(batch);
                        self.outbound = Outbound::None;
                    }
                },
                state @ (Outbound::Opening | Outbound::Disabled) => {
                    self.outbound = state;
                    return None;
                }
            }
        }
    }

    /// The frames of the next write: every queued frame up to [`BATCH_BYTES`], at least one.
    fn take_batch(&mut self) -> Vec<Frame> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(frame) = self.queue.front() {
            if !batch.is_empty() && bytes + frame.len() > BATCH_BYTES {
                break;
            }
            bytes += frame.len();
            batch.extend(self.queue.pop_front());
        }
        batch
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Outgoing;
    type ToBehaviour = HandlerEvent;
    type InboundProtocol = Protocols;
    type OutboundProtocol = Protocols;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(Protocols::new(self.compression), ())
    }

    fn on_behaviour_event(&mut self, Outgoing(frame): Outgoing) {
        if matches!(self.outbound, Outbound::Disabled) {
            self.drop_frames([frame]);
            return;
        }
        self.queue.push_back(frame);
    }

    fn connection_keep_alive(&self) -> bool {
        // The node's peers behaviour decides how long links live; only unsent frames matter here.
        !self.queue.is_empty() || matches!(self.outbound, Outbound::Opening | Outbound::Writing(_))
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        if let Some(protocol) = self.poll_outbound(cx) {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest { protocol });
        }
        if self.lost > 0 {
            let frames = std::mem::take(&mut self.lost);
            return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(HandlerEvent(
                FromHandler::Lost { frames },
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
                protocol: Negotiated(mut stream, codec),
                ..
            }) => {
                stream.ignore_for_keep_alive();
                self.start_reading(stream, codec);
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound {
                protocol: Negotiated(mut stream, codec),
                ..
            }) => {
                stream.ignore_for_keep_alive();
                if matches!(self.outbound, Outbound::Opening) {
                    self.open_failures = 0;
                    self.outbound = Outbound::Idle(stream, codec);
                }
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { error, .. }) => match error {
                StreamUpgradeError::NegotiationFailed => {
                    tracing::debug!(peer = %self.remote, "peer does not speak {PROTOCOL_NAME}");
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

impl Drop for Handler {
    fn drop(&mut self) {
        // The connection is gone: whatever it held no longer takes room in the shared budget.
        let queued: Vec<Frame> = self.queue.drain(..).collect();
        self.drop_frames(queued);
        // A batch being written is dropped with its future; its room is given back here.
        // (Its frames are not counted as lost: the connection closing reports that.)
        if let Outbound::Writing(_) = self.outbound {
            self.budget.release_all();
        }
    }
}
