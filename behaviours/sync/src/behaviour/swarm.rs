//! `NetworkBehaviour` for [`Behaviour`]: every call is forwarded to the wrapped
//! `request_response`; connection events also feed the state, and `poll` drains, in order, the
//! behaviour's own events, the state's outputs, the transport's events and the timer.

use std::{
    task::{Context, Poll},
    time::Instant,
};

use libp2p::{
    core::{transport::PortUse, Endpoint},
    swarm::{
        ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
        THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use super::{Behaviour, Inner};
use crate::Event;

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
        let now = Instant::now();
        match event {
            FromSwarm::ConnectionEstablished(e) if e.other_established == 0 => {
                self.state.on_connected(e.peer_id, now);
            }
            FromSwarm::ConnectionClosed(e) if e.remaining_established == 0 => {
                self.state.on_disconnected(e.peer_id, now);
            }
            _ => return,
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
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

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front().or_else(|| self.drain_outputs()) {
                return Poll::Ready(ToSwarm::GenerateEvent(event));
            }
            match self.inner.poll(cx) {
                Poll::Ready(ToSwarm::GenerateEvent(event)) => {
                    self.on_transport_event(event);
                    continue;
                }
                Poll::Ready(other) => {
                    // Dials, handler notifications and the like pass through untouched; events
                    // were matched in the arm above, so the closure never runs.
                    return Poll::Ready(other.map_out(|_| unreachable!("matched above")));
                }
                Poll::Pending => {}
            }
            if self.poll_timer(cx) {
                self.state.tick(Instant::now());
                continue;
            }
            self.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}
