//! Unicast envelopes arriving from a link: delivered here once, or forwarded one hop closer to
//! their destination.
//!
//! A **destination** remembers each request it delivered (until the origin's deadline), so a
//! request the origin retried after a relay failure is never delivered twice; a retry that finds
//! the request already answered gets the same answer again from a small reply cache.
//!
//! A **relay** forwards along its own routing table and remembers, until the origin's deadline,
//! where each request went. When that next hop's link goes down it tells the origin at once
//! ("relay failed"), which retries on the new route instead of waiting for its timeout. A relay
//! with no route, or whose next hop would send the request straight back (the two disagree on
//! the graph while a change spreads), answers "no route"; at the hop limit, "hop limit".
//!
//! An **answer** (reply or error) in the same spot has nobody to retry it, so it is parked:
//! sent the moment this node's routes give it a way on, bounced back to where it came from
//! after a short wait (`park.rs`; by then that node has usually learned the change too), or dropped
//! after the route wait. Parking is bounded in count and bytes.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use libp2p::PeerId;

use super::{expiring::Expiring, park::Parked, Core, Key, Received};
use crate::{
    config::MAX_CACHED_REPLY,
    envelope::{ErrorCode, Kind, Target},
    frame::Frame,
    id::{MessageId, ReplyTo},
    Config, Event, Refusal, ReplyError, SendError,
};

/// How long past the origin's deadline a request is remembered (clocks and paths differ).
const GRACE: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Inbound {
    /// Handed to the application, no answer yet.
    Delivered { came_from: PeerId, module: u16 },
    /// Answered; the answer is kept if it was small enough.
    Answered { cached: Option<(Kind, Bytes)> },
}

/// What relays and destinations remember.
#[derive(Debug)]
pub(super) struct Relay {
    /// Requests forwarded: key -> (next hop, module).
    forwarded: Expiring<Key, (PeerId, u16)>,
    by_hop: HashMap<PeerId, HashSet<Key>>,
    inbound: Expiring<Key, Inbound>,
    cached_bytes: usize,
    pub(super) parked: VecDeque<Parked>,
    pub(super) parked_bytes: usize,
}

impl Relay {
    pub(super) fn new(config: &Config) -> Self {
        Relay {
            forwarded: Expiring::new(config.relay_capacity()),
            by_hop: HashMap::new(),
            inbound: Expiring::new(config.inbound_capacity()),
            cached_bytes: 0,
            parked: VecDeque::new(),
            parked_bytes: 0,
        }
    }

    fn unindex(&mut self, key: &Key, hop: &PeerId) {
        if let Some(keys) = self.by_hop.get_mut(hop) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_hop.remove(hop);
            }
        }
    }

    fn uncache(&mut self, inbound: &Inbound) {
        if let Inbound::Answered {
            cached: Some((_, payload)),
            ..
        } = inbound
        {
            self.cached_bytes = self.cached_bytes.saturating_sub(payload.len());
        }
    }

    /// When something remembered expires, or a parked answer is due.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        let parked = self.parked.iter().map(Parked::due).min();
        [
            self.forwarded.next_expiry(),
            self.inbound.next_expiry(),
            parked,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Requests remembered as forwarded.
    #[cfg(test)]
    pub(super) fn forwarded_len(&self) -> usize {
        self.forwarded.len()
    }
}

fn expiry(now: Instant, ttl_ms: u32) -> Instant {
    now + Duration::from_millis(u64::from(ttl_ms)) + GRACE
}

impl Core {
    /// A request, reply or error arrived from the link to `from`.
    pub(super) fn on_unicast(&mut self, from: PeerId, received: Received, now: Instant) {
        let Received {
            hops,
            ttl_ms,
            envelope,
            ..
        } = received;
        let Some(dest) = envelope.destination() else {
            return;
        };
        if dest == self.local {
            match envelope.header.kind {
                Kind::Request => self.deliver_request(from, hops, ttl_ms, envelope, now),
                _ => self.on_answer(hops, envelope, now),
            }
            return;
        }
        let header = envelope.header.clone();
        if !envelope.signed {
            self.stats.dropped_malformed += 1;
            self.emit(Event::Refused {
                from,
                origin: Some(header.origin),
                reason: Refusal::Malformed("unsigned envelope for another node".into()),
            });
            return;
        }
        let is_request = header.kind == Kind::Request;
        if hops >= self.config.hop_limit() {
            self.stats.dropped_hop_limit += 1;
            if is_request {
                self.send_error(
                    header.origin,
                    header.id,
                    header.module,
                    ErrorCode::HopLimit,
                    Some(from),
                    now,
                );
            }
            return;
        }
        let next_hop = match self.routes.route(&dest) {
            Some(route) if route.next_hop != from => route.next_hop,
            _ if is_request => {
                self.stats.no_route += 1;
                self.send_error(
                    header.origin,
                    header.id,
                    header.module,
                    ErrorCode::NoRoute,
                    Some(from),
                    now,
                );
                return;
            }
            _ => {
                // An answer: the dead-end is likely a view still catching up; park it.
                self.forget_forwarded(&(dest, header.id));
                let frame = Frame {
                    hops: hops.saturating_add(1),
                    ttl_ms,
                    dests: Vec::new(),
                    envelope,
                };
                self.park(Some(from), dest, frame, now);
                return;
            }
        };
        if is_request {
            let key = (header.origin, header.id);
            self.forget_forwarded(&key);
            if let Some((old, (hop, _))) =
                self.relay
                    .forwarded
                    .insert(key, (next_hop, header.module), expiry(now, ttl_ms))
            {
                self.relay.unindex(&old, &hop);
            }
            self.relay.by_hop.entry(next_hop).or_default().insert(key);
        } else {
            // The answer to a request this node relayed: nothing to fail fast any more.
            self.forget_forwarded(&(dest, header.id));
        }
        self.send(
            next_hop,
            Frame {
                hops: hops.saturating_add(1),
                ttl_ms,
                dests: Vec::new(),
                envelope,
            },
        );
    }

    fn deliver_request(
        &mut self,
        from: PeerId,
        hops: u8,
        ttl_ms: u32,
        envelope: crate::envelope::Envelope,
        now: Instant,
    ) {
        let header = &envelope.header;
        let (origin, id, module) = (header.origin, header.id, header.module);
        if let Err(reason) = self.admitted(from, origin) {
            self.send_error(
                origin,
                id,
                module,
                ErrorCode::Refused(reason),
                Some(from),
                now,
            );
            return;
        }
        let key = (origin, id);
        match self.relay.inbound.get(&key, now) {
            None => {}
            Some(Inbound::Delivered { .. }) => {
                self.stats.duplicates += 1;
                return;
            }
            Some(Inbound::Answered { cached, .. }) => {
                self.stats.duplicates += 1;
                if let Some((kind, payload)) = cached.clone() {
                    self.send_answer(origin, id, module, kind, payload, Some(from), now);
                }
                return;
            }
        }
        let delivered = Inbound::Delivered {
            came_from: from,
            module,
        };
        if let Some((_, evicted)) = self
            .relay
            .inbound
            .insert(key, delivered, expiry(now, ttl_ms))
        {
            self.relay.uncache(&evicted);
        }
        if !self.routes.is_link(&origin) {
            self.note_traffic(origin, now);
        }
        self.emit(Event::Request {
            reply_to: ReplyTo { origin, id },
            origin,
            module,
            payload: envelope.payload,
            hops,
        });
    }

    /// Answers a request that arrived here.
    pub(crate) fn respond(
        &mut self,
        reply_to: ReplyTo,
        result: Result<Bytes, ReplyError>,
        now: Instant,
    ) -> Result<(), SendError> {
        let key = (reply_to.origin, reply_to.id);
        let Some(Inbound::Delivered { came_from, module }) = self.relay.inbound.get(&key, now)
        else {
            return Err(SendError::NotWaiting);
        };
        let (came_from, module) = (*came_from, *module);
        let (kind, payload, outcome) = match result {
            Ok(payload) => match self.check_size(&payload) {
                Ok(()) => (Kind::Reply, payload, Ok(())),
                Err(error) => {
                    let SendError::TooLarge { size, max } = error.clone() else {
                        return Err(error);
                    };
                    let code = ErrorCode::TooLarge {
                        size: size as u64,
                        max: max as u64,
                    };
                    (Kind::Error, code.encode(), Err(error))
                }
            },
            Err(error) => (Kind::Error, error.code().encode(), Ok(())),
        };
        let cacheable = payload.len() <= MAX_CACHED_REPLY
            && self.relay.cached_bytes + payload.len() <= self.config.reply_cache();
        let cached = cacheable.then(|| (kind, payload.clone()));
        if cacheable {
            self.relay.cached_bytes += payload.len();
        }
        if let Some(entry) = self.relay.inbound.get_mut(&key, now) {
            *entry = Inbound::Answered { cached };
        }
        self.send_answer(
            reply_to.origin,
            reply_to.id,
            module,
            kind,
            payload,
            Some(came_from),
            now,
        );
        outcome
    }

    /// Sends an error about request `id` of `to` back to it.
    pub(super) fn send_error(
        &mut self,
        to: PeerId,
        id: MessageId,
        module: u16,
        code: ErrorCode,
        fallback: Option<PeerId>,
        now: Instant,
    ) {
        self.send_answer(to, id, module, Kind::Error, code.encode(), fallback, now);
    }

    /// Sends a reply or error to `to` on the current route, or over `fallback` (the link the
    /// request came in on, whose node knows a way back) when there is none.
    #[allow(clippy::too_many_arguments)]
    fn send_answer(
        &mut self,
        to: PeerId,
        id: MessageId,
        module: u16,
        kind: Kind,
        payload: Bytes,
        fallback: Option<PeerId>,
        now: Instant,
    ) {
        let next_hop = match (self.routes.route(&to), fallback) {
            (Some(route), _) => Some(route.next_hop),
            (None, Some(link)) if self.routes.is_link(&link) => Some(link),
            _ => None,
        };
        // Unsigned only when it goes straight to `to`; a parked answer may end up relayed.
        let signed = next_hop != Some(to);
        let envelope = match self.envelope(kind, module, id, Target::Node(to), payload, signed) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(%to, %error, "answer not sent");
                return;
            }
        };
        let frame = Frame {
            hops: 1,
            ttl_ms: 0,
            dests: Vec::new(),
            envelope,
        };
        match next_hop {
            Some(next_hop) => self.send(next_hop, frame),
            None => self.park(None, to, frame, now),
        }
    }

    /// Forgets a forwarded request.
    pub(super) fn forget_forwarded(&mut self, key: &Key) {
        if let Some((hop, _)) = self.relay.forwarded.remove(key) {
            self.relay.unindex(key, &hop);
        }
    }

    /// The link to `peer` lost what was sent over it: every request forwarded through it fails
    /// fast, back to its origin.
    pub(super) fn forwarded_lost_via(&mut self, peer: PeerId, now: Instant) {
        let Some(keys) = self.relay.by_hop.remove(&peer) else {
            return;
        };
        for key in keys {
            if let Some((_, module)) = self.relay.forwarded.remove(&key) {
                self.send_error(key.0, key.1, module, ErrorCode::RelayFailed, None, now);
            }
        }
    }

    /// Drops what expired, and moves parked answers on.
    pub(super) fn relay_housekeeping(&mut self, now: Instant) {
        self.retry_parked(now);
        for (key, (hop, _)) in self.relay.forwarded.expire(now) {
            self.relay.unindex(&key, &hop);
        }
        for (_, inbound) in self.relay.inbound.expire(now) {
            self.relay.uncache(&inbound);
        }
    }
}
