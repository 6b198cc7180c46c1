//! What the swarm calls: the [`NetworkBehaviour`] impl. Everything passes through to
//! `request_response`; its events, and our per-request timers, become [`Event`]s.

use std::{
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use futures::FutureExt;
use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    request_response::{self, OutboundFailure, OutboundRequestId},
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use super::{Behaviour, Inner, STREAM_FAILURE_GRACE};
use crate::{
    pending::Expired, protocol::Request, Event, InboundRequestId, ReplyError, RequestError,
    RequestId, ResponseChannel,
};

impl Behaviour {
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

    /// Ends overdue requests and re-arms the timer; true if the timer fired, so the caller
    /// polls again (queued events go out, the new timer registers its waker).
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
