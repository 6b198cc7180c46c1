//! The overlay behaviour's side facing the swarm: its [`NetworkBehaviour`] implementation, and
//! how the core's output reaches the links (frames dispatched to the preferred connection, the
//! swarm woken, the core's one timer).

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use futures::FutureExt;
use futures_timer::Delay;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
        NotifyHandler, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use super::{Behaviour, Link};
use crate::{
    core::Output,
    envelope::Kind,
    frame::Frame,
    handler::{Budget, FromHandler, Handler, HandlerEvent, Outgoing},
    Event,
};

impl Behaviour {
    /// Hands the core's frames to the links at once (reserving their room in the send queues,
    /// so the next call sees it) and wakes the swarm for the rest.
    pub(super) fn drain(&mut self, now: Instant) {
        let mut events = Vec::new();
        while let Some(output) = self.core.pop_output() {
            match output {
                Output::Send { to, frame } => self.dispatch(to, frame, now),
                Output::Event(event) => events.push(event),
            }
        }
        self.events
            .extend(events.into_iter().map(ToSwarm::GenerateEvent));
        self.wake();
    }

    fn dispatch(&mut self, to: PeerId, frame: Frame, now: Instant) {
        // Copies of other nodes' floods may fill only half of a link's queue, so that requests
        // and answers always find room: a broadcast storm cannot starve unicast traffic.
        let header = &frame.envelope.header;
        let relayed_flood =
            header.origin != self.local && matches!(header.kind, Kind::Broadcast | Kind::Multicast);
        let accepted = match self.preferred(&to) {
            Some(link) if link.budget.try_reserve(frame.len(), relayed_flood) => Some(link.id),
            _ => None,
        };
        match accepted {
            Some(connection) => self.events.push_back(ToSwarm::NotifyHandler {
                peer_id: to,
                handler: NotifyHandler::One(connection),
                event: Outgoing(frame),
            }),
            None => self.core.on_send_failed(to, &frame, now),
        }
    }

    fn new_handler(&mut self, connection: ConnectionId, peer: PeerId) -> Handler {
        let budget = Arc::new(Budget::new(
            self.config.send_queue_frames(),
            self.config.send_queue_bytes(),
            self.config.max_message_size() + 1024,
        ));
        self.budgets.insert(connection, budget.clone());
        Handler::new(self.local, peer, self.config.max_message_size(), budget)
            .with_compression(self.config.compression())
    }

    pub(super) fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Polls the timer armed for the core's next deadline; true if it fired.
    ///
    /// The timer is armed again only when the deadline moves earlier. The deadline moves later
    /// every time the oldest request in flight is answered, and arming a timer registers it with
    /// the timer thread (and wakes that thread): once per request under load. A timer left armed
    /// for a deadline that went away fires early once; the core then finds nothing due, and the
    /// timer is armed for the real deadline.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.core.poll_timeout() else {
            self.timer = None;
            return false;
        };
        if !matches!(&self.timer, Some((armed, _)) if *armed <= deadline) {
            let delay = Delay::new(deadline.saturating_duration_since(Instant::now()));
            self.timer = Some((deadline, delay));
        }
        let fired = self
            .timer
            .as_mut()
            .is_some_and(|(_, delay)| delay.poll_unpin(cx).is_ready());
        if fired {
            self.timer = None;
        }
        fired
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler(connection, peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler(connection, peer))
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        let now = Instant::now();
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                let Some(budget) = self.budgets.remove(&established.connection_id) else {
                    return;
                };
                let we_dialled = established.endpoint.is_dialer();
                let smaller_is_us = self.local < established.peer_id;
                let links = self.links.entry(established.peer_id).or_default();
                links.push(Link {
                    id: established.connection_id,
                    dialled_by_smaller: we_dialled == smaller_is_us,
                    budget,
                });
                if links.len() == 1 {
                    self.core.link_up(established.peer_id, now);
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                self.budgets.remove(&connection_id);
                let Some(links) = self.links.get_mut(&peer_id) else {
                    return;
                };
                links.retain(|l| l.id != connection_id);
                if links.is_empty() {
                    self.links.remove(&peer_id);
                    self.core.link_down(peer_id, now);
                } else {
                    self.core.frames_lost(peer_id, now);
                }
            }
            _ => return,
        }
        self.wake();
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        HandlerEvent(event): THandlerOutEvent<Self>,
    ) {
        let now = Instant::now();
        match event {
            FromHandler::Received(received, key) => {
                // Before the core checks the access list: the sink may be how it names the origin.
                if let (Some(key), Some(sink)) = (key, &self.key_sink) {
                    sink(&key);
                }
                self.core.on_received(peer, *received, now)
            }
            FromHandler::Refused { origin, reason } => self.core.refused(peer, origin, reason),
            FromHandler::Lost { frames } => {
                tracing::debug!(%peer, frames, "frames lost on a failed overlay substream");
                self.core.frames_lost(peer, now);
            }
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(event);
            }
            let now = Instant::now();
            let mut progressed = false;
            while let Some(output) = self.core.pop_output() {
                progressed = true;
                match output {
                    Output::Send { to, frame } => self.dispatch(to, frame, now),
                    Output::Event(event) => self.events.push_back(ToSwarm::GenerateEvent(event)),
                }
            }
            if progressed {
                continue;
            }
            if self.poll_timer(cx) {
                self.core.tick(Instant::now());
                continue;
            }
            let routes = self.core.route_count();
            self.published.publish(&self.core.stats(), routes);
            self.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
    }
}
