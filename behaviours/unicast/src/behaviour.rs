//! The unicast [`NetworkBehaviour`]: `request_response` underneath, plus modules, per-request
//! timeouts and the in-flight bound on top.

use std::{
    collections::{HashSet, VecDeque},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::FutureExt;
use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport},
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use crate::{
    codec::Codec,
    pending::{Expired, Pending},
    protocol::{Request, ENVELOPE_MAX},
    Config, Error, Event, InboundRequestId, ReplyError, RequestError, RequestId, ResponseChannel,
    PROTOCOL_NAME,
};

type Inner = request_response::Behaviour<Codec>;

/// How long a substream failure waits for the connection's closure, which libp2p reports just
/// after it when the peer went away; see `pending.rs`.
const STREAM_FAILURE_GRACE: Duration = Duration::from_millis(250);

/// Requests to one node, addressed by peer ID and module; see the [crate docs](crate).
pub struct Behaviour {
    inner: Inner,
    config: Config,
    modules: HashSet<u16>,
    pending: Pending<OutboundRequestId>,
    /// Fires at `pending.next_deadline()`.
    timer: Option<(Instant, Delay)>,
    /// Bounded: at most one event per inner event, plus timeouts (bounded by `max_in_flight`);
    /// drained before anything else in `poll`.
    events: VecDeque<Event>,
}

impl Behaviour {
    /// A behaviour serving no module yet; see [`register_module`](Self::register_module).
    pub fn new(config: Config) -> Self {
        // The inner timeout is only a backstop: ours fire first, per request.
        let inner_config = request_response::Config::default()
            .with_request_timeout(config.max_request_timeout() + Duration::from_secs(1))
            .with_max_concurrent_streams(config.max_streams_per_connection());
        let inner = Inner::with_codec(
            Codec::new(config.max_message_size()),
            [(PROTOCOL_NAME, ProtocolSupport::Full)],
            inner_config,
        );
        Behaviour {
            inner,
            config,
            modules: HashSet::new(),
            pending: Pending::new(),
            timer: None,
            events: VecDeque::new(),
        }
    }

    /// Accepts requests for `module` from now on: they arrive as [`Event::Request`]. Requests
    /// for modules not registered are answered with [`ReplyError::UnknownModule`] at once.
    pub fn register_module(&mut self, module: u16) {
        self.modules.insert(module);
    }

    /// Stops accepting requests for `module`.
    pub fn unregister_module(&mut self, module: u16) {
        self.modules.remove(&module);
    }

    /// Sends a request with the configured default timeout; see
    /// [`send_request_with_timeout`](Self::send_request_with_timeout).
    pub fn send_request(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
    ) -> Result<RequestId, Error> {
        self.send_request_with_timeout(peer, module, payload, self.config.request_timeout())
    }

    /// Sends a request to `peer` for `module`. The outcome arrives as exactly one
    /// [`Event::Response`] with the returned ID: the reply, or a [`RequestError`] (timeout after
    /// `timeout`, disconnection, unreachable, refused). If `peer` is not connected, it is dialled
    /// with the addresses the swarm knows for it.
    pub fn send_request_with_timeout(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<RequestId, Error> {
        self.send_request_with_addresses(peer, module, payload, timeout, Vec::new())
    }

    /// Like [`send_request_with_timeout`](Self::send_request_with_timeout), dialling `addresses`
    /// (for instance those a node advertises through state sync) if `peer` is not connected.
    pub fn send_request_with_addresses(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
        timeout: Duration,
        addresses: Vec<Multiaddr>,
    ) -> Result<RequestId, Error> {
        let max = self.config.max_message_size();
        if payload.len() + ENVELOPE_MAX > max {
            return Err(Error::TooLarge {
                size: payload.len(),
                max,
            });
        }
        if timeout > self.config.max_request_timeout() {
            return Err(Error::TimeoutTooLong {
                requested: timeout,
                max: self.config.max_request_timeout(),
            });
        }
        if self.pending.len() >= self.config.max_in_flight() {
            return Err(Error::TooManyInFlight {
                limit: self.config.max_in_flight(),
            });
        }
        let request = Request { module, payload };
        let id = self
            .inner
            .send_request_with_addresses(peer, request, addresses);
        let now = Instant::now();
        self.pending.insert(id, *peer, now + timeout);
        self.arm_timer(now, now + timeout);
        Ok(RequestId(id))
    }

    /// Makes the timer fire at `deadline` unless it already fires earlier.
    fn arm_timer(&mut self, now: Instant, deadline: Instant) {
        if self.timer.as_ref().is_none_or(|(at, _)| deadline < *at) {
            let delay = Delay::new(deadline.saturating_duration_since(now));
            self.timer = Some((deadline, delay));
        }
    }

    /// Answers an inbound request with a reply (`Ok`) or an error the requester receives.
    ///
    /// A reply over the maximum message size is not sent: the requester receives
    /// [`ReplyError::TooLarge`] instead, and this returns [`Error::TooLarge`].
    pub fn send_response(
        &mut self,
        channel: ResponseChannel,
        response: Result<Bytes, ReplyError>,
    ) -> Result<(), Error> {
        let max = self.config.max_message_size();
        let (response, refused) = match response {
            Ok(payload) if payload.len() + ENVELOPE_MAX > max => {
                let size = payload.len();
                let error = ReplyError::TooLarge {
                    size: size as u64,
                    max: max as u64,
                };
                (Err(error), Some(Error::TooLarge { size, max }))
            }
            response => (response, None),
        };
        self.inner
            .send_response(channel.0, response)
            .map_err(|_| Error::ChannelClosed)?;
        refused.map_or(Ok(()), Err)
    }

    /// Outbound requests awaiting their outcome.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn on_inner_event(
        &mut self,
        event: request_response::Event<Request, crate::protocol::Response>,
    ) {
        use request_response::{Event as Inner, Message};
        match event {
            Inner::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => self.on_request(peer, InboundRequestId(request_id), request, channel),
            Inner::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.finish(request_id, peer, response.map_err(RequestError::from)),
            Inner::OutboundFailure {
                request_id,
                error: OutboundFailure::Io(error),
                ..
            } if error.kind() != std::io::ErrorKind::InvalidData => {
                let now = Instant::now();
                let until = now + STREAM_FAILURE_GRACE;
                if self
                    .pending
                    .hold_stream_failure(request_id, error.to_string(), until)
                {
                    self.arm_timer(now, until);
                }
            }
            Inner::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => self.finish(request_id, peer, Err(outbound_failure(error))),
            Inner::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => tracing::debug!(%peer, %request_id, %error, "inbound unicast request failed"),
            Inner::ResponseSent { .. } => {}
        }
    }

    fn on_request(
        &mut self,
        peer: PeerId,
        request_id: InboundRequestId,
        request: Request,
        channel: request_response::ResponseChannel<crate::protocol::Response>,
    ) {
        if !self.modules.contains(&request.module) {
            tracing::debug!(%peer, module = request.module, "request for an unregistered module refused");
            let refusal = Err(ReplyError::UnknownModule(request.module));
            if self.inner.send_response(channel, refusal).is_err() {
                tracing::debug!(%peer, "requester left before the unknown-module reply");
            }
            return;
        }
        self.events.push_back(Event::Request {
            peer,
            request_id,
            module: request.module,
            payload: request.payload,
            channel: ResponseChannel(channel),
        });
    }

    /// Reports a request's outcome unless it already ended (timed out).
    fn finish(&mut self, id: OutboundRequestId, peer: PeerId, result: Result<Bytes, RequestError>) {
        if self.pending.remove(&id).is_none() {
            tracing::debug!(%peer, request = %id, "outcome of a request that already timed out dropped");
            return;
        }
        self.events.push_back(Event::Response {
            request_id: RequestId(id),
            peer,
            result,
        });
    }

    /// Ends overdue requests and re-arms the timer; true if an event was produced.
    fn poll_timeouts(&mut self, cx: &mut Context<'_>) -> bool {
        let Some((_, delay)) = self.timer.as_mut() else {
            return false;
        };
        if delay.poll_unpin(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        for (id, peer, how) in self.pending.expire(now) {
            let error = match how {
                Expired::Timeout => RequestError::Timeout,
                Expired::StreamFailed(error) => RequestError::Stream(error),
            };
            self.events.push_back(Event::Response {
                request_id: RequestId(id),
                peer,
                result: Err(error),
            });
        }
        self.timer = self
            .pending
            .next_deadline()
            .map(|at| (at, Delay::new(at.saturating_duration_since(now))));
        // Re-polled by the caller so the new timer registers its waker.
        true
    }
}

fn outbound_failure(error: OutboundFailure) -> RequestError {
    match error {
        OutboundFailure::DialFailure => RequestError::Unreachable,
        OutboundFailure::Timeout => RequestError::Timeout,
        OutboundFailure::ConnectionClosed => RequestError::Disconnected,
        OutboundFailure::UnsupportedProtocols => RequestError::UnsupportedProtocol,
        OutboundFailure::Io(error) => RequestError::Stream(error.to_string()),
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = THandler<Inner>;
    type ToSwarm = Event;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner
            .handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_inbound_connection(
            connection_id,
            peer,
            local_addr,
            remote_addr,
        )
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        self.inner.handle_pending_outbound_connection(
            connection_id,
            maybe_peer,
            addresses,
            effective_role,
        )
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.inner.handle_established_outbound_connection(
            connection_id,
            peer,
            addr,
            role_override,
            port_use,
        )
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        self.inner.on_swarm_event(event);
        if let FromSwarm::ConnectionClosed(closed) = event {
            if closed.remaining_established == 0 {
                for id in self.pending.take_held_for(&closed.peer_id) {
                    self.events.push_back(Event::Response {
                        request_id: RequestId(id),
                        peer: closed.peer_id,
                        result: Err(RequestError::Disconnected),
                    });
                }
            }
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        self.inner
            .on_connection_handler_event(peer, connection_id, event);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Event, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => {
                    self.on_inner_event(event);
                    continue;
                }
                // Dials and handler notifications pass through; their out-event type is the
                // inner one only nominally, as `GenerateEvent` was matched above.
                Poll::Ready(other) => {
                    return Poll::Ready(other.map_out(|_| unreachable!("matched above")))
                }
                Poll::Pending => {}
            }
            if !self.poll_timeouts(cx) {
                return Poll::Pending;
            }
        }
    }
}
