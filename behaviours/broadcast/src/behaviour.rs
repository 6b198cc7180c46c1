//! The broadcast [`NetworkBehaviour`]: signs local messages, checks and floods received ones.

use std::{
    collections::{HashMap, VecDeque},
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use libp2p::{
    core::{transport::PortUse, Endpoint},
    identity::Keypair,
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour,
        NotifyHandler, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId,
};

use crate::{
    handler::{Handler, HandlerEvent, Outgoing, ToBehaviour},
    protocol::{self, MessageId, SignedMessage},
    state::{Flood, SeenCache},
    Config, Error, Event, InvalidReason,
};

/// Floods signed messages to every node of the network; see the [crate docs](crate).
pub struct Behaviour {
    keypair: Keypair,
    local_peer_id: PeerId,
    config: Config,
    /// Random per start, so message IDs stay unique across restarts.
    boot_nonce: u64,
    next_counter: u64,
    flood: Flood<MessageId>,
    /// Open connections per peer; frames for a peer go on its first connection.
    connections: HashMap<PeerId, Vec<ConnectionId>>,
    /// Bounded by `config.max_pending` for frames (events are drained by every swarm poll).
    pending: VecDeque<ToSwarm<Event, Outgoing>>,
    dropped: u64,
}

impl Behaviour {
    /// A behaviour that signs with `keypair` (the node key; its peer ID is the origin of every
    /// message this node broadcasts).
    pub fn new(keypair: Keypair, config: Config) -> Self {
        let seen = SeenCache::new(config.seen_capacity(), config.seen_ttl());
        Behaviour {
            local_peer_id: keypair.public().to_peer_id(),
            keypair,
            flood: Flood::new(config.hop_limit(), seen),
            config,
            boot_nonce: rand::random(),
            next_counter: 0,
            connections: HashMap::new(),
            pending: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Queues `payload` for every node of the network, tagged with the application `module`.
    ///
    /// Returns at once with the message's ID; nodes receive it as [`Event::Received`]. The
    /// local node does not receive its own message. With no peer connected the message goes
    /// nowhere (it is not stored for later).
    pub fn broadcast(&mut self, module: u16, payload: Bytes) -> Result<MessageId, Error> {
        let max = self.config.max_message_size();
        if payload.len() >= max {
            return Err(Error::TooLarge {
                size: payload.len(),
                max,
            });
        }
        if self.pending.len() >= self.config.max_pending() {
            return Err(Error::QueueFull {
                limit: self.config.max_pending(),
            });
        }
        let id = MessageId::new(self.boot_nonce, self.next_counter);
        let body =
            protocol::encode_signed(&self.keypair, id, module, &payload).map_err(Error::Signing)?;
        let frame_len = body.len() + 1;
        if frame_len > max {
            return Err(Error::TooLarge {
                size: frame_len,
                max,
            });
        }
        self.next_counter += 1;
        self.flood.on_local(id, Instant::now());
        let sent = self.send_to_neighbours(id, 1, &body, None, None);
        tracing::debug!(%id, module, peers = sent, "broadcast queued");
        Ok(id)
    }

    /// Frames dropped so far because a peer's send queue was full or the peer could not take
    /// them (also counts relayed copies dropped when `max_pending` was reached).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Queues `body` with `hops` for every connected peer except `from` and `origin`.
    fn send_to_neighbours(
        &mut self,
        id: MessageId,
        hops: u8,
        body: &Bytes,
        from: Option<PeerId>,
        origin: Option<PeerId>,
    ) -> usize {
        let mut sent = 0;
        for (peer, connections) in &self.connections {
            if Some(*peer) == from || Some(*peer) == origin {
                continue;
            }
            let Some(connection) = connections.first() else {
                continue;
            };
            if self.pending.len() >= self.config.max_pending() {
                self.dropped += 1;
                continue;
            }
            self.pending.push_back(ToSwarm::NotifyHandler {
                peer_id: *peer,
                handler: NotifyHandler::One(*connection),
                event: Outgoing {
                    id,
                    hops,
                    body: body.clone(),
                },
            });
            sent += 1;
        }
        sent
    }

    fn on_message(&mut self, from: PeerId, hops: u8, message: SignedMessage) {
        let now = Instant::now();
        if message.origin == self.local_peer_id {
            return; // Our own message came back around a loop.
        }
        if !self.flood.is_useful(&message.id, hops, now) {
            tracing::trace!(id = %message.id, %from, "duplicate broadcast ignored");
            return;
        }
        if !message.verify() {
            self.refuse(
                from,
                InvalidReason::BadSignature {
                    origin: message.origin,
                },
            );
            return;
        }
        let verdict = self.flood.on_copy(message.id, hops, now);
        if verdict.forward {
            let next = hops.saturating_add(1);
            self.send_to_neighbours(
                message.id,
                next,
                &message.body,
                Some(from),
                Some(message.origin),
            );
        }
        if verdict.deliver {
            self.pending
                .push_back(ToSwarm::GenerateEvent(Event::Received {
                    origin: message.origin,
                    message_id: message.id,
                    module: message.module,
                    payload: message.payload,
                    hops,
                    from,
                }));
        }
    }

    fn refuse(&mut self, from: PeerId, reason: InvalidReason) {
        tracing::warn!(peer = %from, %reason, "broadcast frame refused");
        self.pending
            .push_back(ToSwarm::GenerateEvent(Event::Invalid { from, reason }));
    }

    fn new_handler(&self) -> Handler {
        Handler::new(self.config.max_message_size(), self.config.send_queue_len())
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Event;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.new_handler())
    }

    fn on_swarm_event(&mut self, event: FromSwarm<'_>) {
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                self.connections
                    .entry(established.peer_id)
                    .or_default()
                    .push(established.connection_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if let Some(connections) = self.connections.get_mut(&peer_id) {
                    connections.retain(|c| *c != connection_id);
                    if connections.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        let HandlerEvent(event) = event;
        match event {
            ToBehaviour::Message { hops, message } => self.on_message(peer, hops, *message),
            ToBehaviour::Invalid(reason) => self.refuse(peer, reason),
            ToBehaviour::Dropped { count } => {
                self.dropped += count;
                tracing::warn!(%peer, count, total = self.dropped, "broadcast frames dropped for a slow or unable peer");
            }
        }
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        match self.pending.pop_front() {
            Some(event) => Poll::Ready(event),
            None => Poll::Pending,
        }
    }
}
