//! Multicast trees and broadcast floods.
//!
//! **Multicast.** The origin groups the followers it was given by next hop and sends one copy
//! per group, listing the followers behind it; each relay splits its list the same way. On a
//! graph every node agrees on, this is a tree of shortest paths: every follower gets one copy,
//! and each link carries at most one copy per message. A node remembers which followers of each
//! message it already handled, so copies that cross while views differ are not delivered or
//! forwarded twice. Followers without a route wait for one (up to the route wait).
//!
//! **Broadcast.** Every node forwards the first copy of a message to all its neighbours but the
//! one it came from and the origin, and delivers it once. It remembers the fewest hops each
//! message took: a later copy that came over a shorter path is forwarded again (not delivered
//! again), so every node within the hop limit is reached whatever order copies arrive in.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::Instant,
};

use bytes::Bytes;
use libp2p::PeerId;

use super::{expiring::Expiring, Core, Key, Received};
use crate::{
    envelope::{Envelope, Kind, Target, MAX_TOPIC_LEN},
    frame::Frame,
    id::{MessageId, MulticastId},
    Config, Event, Refusal, SendError,
};

#[derive(Debug)]
struct PendingMulticast {
    envelope: Envelope,
    /// Followers with no route yet.
    waiting: BTreeSet<PeerId>,
    sent: usize,
    until: Instant,
}

#[derive(Debug)]
pub(super) struct Flood {
    /// Broadcast ID -> fewest hops seen.
    broadcast_seen: Expiring<Key, u8>,
    /// Multicast ID -> followers already handled here.
    multicast_seen: Expiring<Key, BTreeSet<PeerId>>,
    pending: HashMap<MessageId, PendingMulticast>,
    timers: BTreeSet<(Instant, MessageId)>,
}

impl Flood {
    pub(super) fn new(config: &Config) -> Self {
        Flood {
            broadcast_seen: Expiring::new(config.seen_capacity()),
            multicast_seen: Expiring::new(config.seen_capacity()),
            pending: HashMap::new(),
            timers: BTreeSet::new(),
        }
    }

    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Forgets the message IDs older than the seen TTL. Called whenever a message is recorded,
    /// so memory follows the message rate times the TTL, not the capacity (a soak run grew by
    /// 3 MiB a minute while expired IDs waited for the capacity to push them out).
    fn forget_expired(&mut self, now: Instant) {
        self.broadcast_seen.expire(now);
        self.multicast_seen.expire(now);
    }
}

impl Core {
    /// Sends `payload` to each of `followers` (of `topic`) once; the outcome arrives as
    /// [`Event::MulticastSent`].
    pub(crate) fn multicast(
        &mut self,
        topic: &str,
        followers: impl IntoIterator<Item = PeerId>,
        module: u16,
        payload: Bytes,
        now: Instant,
    ) -> Result<MulticastId, SendError> {
        self.check_size(&payload)?;
        if topic.is_empty() || topic.len() > MAX_TOPIC_LEN {
            return Err(SendError::InvalidTopic { len: topic.len() });
        }
        self.flood.forget_expired(now);
        let followers: BTreeSet<PeerId> =
            followers.into_iter().filter(|f| *f != self.local).collect();
        let mut groups: BTreeMap<PeerId, Vec<PeerId>> = BTreeMap::new();
        let mut waiting = BTreeSet::new();
        for follower in &followers {
            match self.routes.route(follower) {
                Some(route) => groups.entry(route.next_hop).or_default().push(*follower),
                None => {
                    waiting.insert(*follower);
                }
            }
        }
        if !waiting.is_empty() && self.flood.pending.len() >= self.config.max_pending_multicasts() {
            return Err(SendError::TooManyInFlight {
                limit: self.config.max_pending_multicasts(),
            });
        }
        let id = self.next_id();
        // Unsigned only if every copy goes straight to its one follower.
        let signed = !waiting.is_empty()
            || groups
                .iter()
                .any(|(hop, dests)| dests.len() != 1 || dests[0] != *hop);
        let envelope = self.envelope(
            Kind::Multicast,
            module,
            id,
            Target::Topic(topic.to_owned()),
            payload,
            signed,
        )?;
        let expires = now + self.config.seen_ttl();
        self.flood
            .multicast_seen
            .insert((self.local, id), followers, expires);
        let sent = self.send_groups(groups, 1, &envelope);
        if waiting.is_empty() {
            self.emit(Event::MulticastSent {
                id: MulticastId(id),
                sent,
                unreachable: Vec::new(),
            });
        } else {
            let until = now + self.config.route_wait();
            self.flood.timers.insert((until, id));
            self.flood.pending.insert(
                id,
                PendingMulticast {
                    envelope,
                    waiting,
                    sent,
                    until,
                },
            );
        }
        Ok(MulticastId(id))
    }

    /// The first hops a multicast to `followers` would take now.
    pub(crate) fn first_hops(&mut self, followers: &[PeerId]) -> BTreeSet<PeerId> {
        followers
            .iter()
            .filter_map(|f| self.routes.route(f).map(|r| r.next_hop))
            .collect()
    }

    /// Sends one copy per next hop; returns how many followers they carry.
    fn send_groups(
        &mut self,
        groups: BTreeMap<PeerId, Vec<PeerId>>,
        hops: u8,
        envelope: &Envelope,
    ) -> usize {
        let mut sent = 0;
        for (next_hop, dests) in groups {
            sent += dests.len();
            for dests in dests.chunks(crate::frame::MAX_DESTS) {
                self.send(
                    next_hop,
                    Frame {
                        hops,
                        ttl_ms: 0,
                        dests: dests.to_vec(),
                        envelope: envelope.clone(),
                    },
                );
            }
        }
        sent
    }

    /// Routes appeared: send waiting multicasts to the followers now reachable.
    pub(super) fn retry_waiting_multicasts(&mut self, now: Instant) {
        let ids: Vec<MessageId> = self.flood.pending.keys().copied().collect();
        for id in ids {
            let Some(mut pending) = self.flood.pending.remove(&id) else {
                continue;
            };
            let mut groups: BTreeMap<PeerId, Vec<PeerId>> = BTreeMap::new();
            pending
                .waiting
                .retain(|follower| match self.routes.route(follower) {
                    Some(route) => {
                        groups.entry(route.next_hop).or_default().push(*follower);
                        false
                    }
                    None => true,
                });
            pending.sent += self.send_groups(groups, 1, &pending.envelope);
            if pending.waiting.is_empty() {
                self.flood.timers.remove(&(pending.until, id));
                self.finish_multicast(id, pending);
            } else {
                self.flood.pending.insert(id, pending);
            }
        }
        let _ = now;
    }

    fn finish_multicast(&mut self, id: MessageId, pending: PendingMulticast) {
        self.stats.no_route += pending.waiting.len() as u64;
        self.emit(Event::MulticastSent {
            id: MulticastId(id),
            sent: pending.sent,
            unreachable: pending.waiting.into_iter().collect(),
        });
    }

    /// Ends the multicasts whose route wait is over.
    pub(super) fn tick_multicasts(&mut self, now: Instant) {
        while let Some((at, id)) = self.flood.timers.first().copied() {
            if at > now {
                break;
            }
            self.flood.timers.pop_first();
            if let Some(pending) = self.flood.pending.remove(&id) {
                self.finish_multicast(id, pending);
            }
        }
    }

    /// A multicast copy arrived from the link to `from`.
    pub(super) fn on_multicast(&mut self, from: PeerId, received: Received, now: Instant) {
        let Received {
            hops,
            dests,
            envelope,
            ..
        } = received;
        self.flood.forget_expired(now);
        let header = &envelope.header;
        let key = (header.origin, header.id);
        if header.origin == self.local {
            self.stats.duplicates += 1;
            return;
        }
        let mut handled = self
            .flood
            .multicast_seen
            .get(&key, now)
            .cloned()
            .unwrap_or_default();
        let mut new: BTreeSet<PeerId> =
            dests.into_iter().filter(|d| !handled.contains(d)).collect();
        if new.is_empty() {
            self.stats.duplicates += 1;
            return;
        }
        handled.extend(new.iter().copied());
        let expires = now + self.config.seen_ttl();
        self.flood.multicast_seen.insert(key, handled, expires);
        if new.remove(&self.local) {
            if let (Target::Topic(topic), Ok(())) =
                (&header.target, self.admitted(from, header.origin))
            {
                self.emit(Event::Multicast {
                    origin: header.origin,
                    topic: topic.clone(),
                    module: header.module,
                    payload: envelope.payload.clone(),
                    hops,
                });
            }
        }
        if new.is_empty() {
            return;
        }
        if !envelope.signed {
            self.stats.dropped_malformed += 1;
            self.emit(Event::Refused {
                from,
                origin: Some(header.origin),
                reason: Refusal::Malformed("unsigned multicast listing other followers".into()),
            });
            return;
        }
        if hops >= self.config.hop_limit() {
            self.stats.dropped_hop_limit += 1;
            return;
        }
        let mut groups: BTreeMap<PeerId, Vec<PeerId>> = BTreeMap::new();
        for dest in new {
            match self.routes.route(&dest) {
                Some(route) if route.next_hop != from => {
                    groups.entry(route.next_hop).or_default().push(dest)
                }
                // Back where it came from (that node handled this follower already), or nowhere:
                // the views disagree while a change spreads; wait for this node's to move.
                _ => {
                    let copy = Frame {
                        hops: hops.saturating_add(1),
                        ttl_ms: 0,
                        dests: vec![dest],
                        envelope: envelope.clone(),
                    };
                    self.park_copy(from, dest, copy, now);
                }
            }
        }
        self.send_groups(groups, hops.saturating_add(1), &envelope);
    }

    /// Floods `payload` to every node; returns its ID and the links it went out on.
    pub(crate) fn broadcast(
        &mut self,
        module: u16,
        payload: Bytes,
        now: Instant,
    ) -> Result<(MessageId, usize), SendError> {
        self.check_size(&payload)?;
        self.flood.forget_expired(now);
        let id = self.next_id();
        let envelope = self.envelope(Kind::Broadcast, module, id, Target::All, payload, true)?;
        let expires = now + self.config.seen_ttl();
        self.flood
            .broadcast_seen
            .insert((self.local, id), 0, expires);
        let links: Vec<PeerId> = self.routes.links().copied().collect();
        for link in &links {
            self.send(
                *link,
                Frame {
                    hops: 1,
                    ttl_ms: 0,
                    dests: Vec::new(),
                    envelope: envelope.clone(),
                },
            );
        }
        Ok((id, links.len()))
    }

    /// A broadcast copy arrived from the link to `from` (its signature checked).
    pub(super) fn on_broadcast(&mut self, from: PeerId, received: Received, now: Instant) {
        let Received { hops, envelope, .. } = received;
        self.flood.forget_expired(now);
        let header = &envelope.header;
        let key = (header.origin, header.id);
        let best = self.flood.broadcast_seen.get(&key, now).copied();
        let limit = self.config.hop_limit();
        let useful = match best {
            None => true,
            Some(best) => hops < best && hops < limit,
        };
        if header.origin == self.local || !useful {
            self.stats.duplicates += 1;
            return;
        }
        if !envelope.signed {
            self.stats.dropped_malformed += 1;
            self.emit(Event::Refused {
                from,
                origin: Some(header.origin),
                reason: Refusal::Malformed("unsigned broadcast".into()),
            });
            return;
        }
        let expires = now + self.config.seen_ttl();
        self.flood
            .broadcast_seen
            .insert(key, best.map_or(hops, |b| b.min(hops)), expires);
        if hops < limit {
            let links: Vec<PeerId> = self
                .routes
                .links()
                .filter(|l| **l != from && **l != header.origin)
                .copied()
                .collect();
            for link in links {
                self.send(
                    link,
                    Frame {
                        hops: hops + 1,
                        ttl_ms: 0,
                        dests: Vec::new(),
                        envelope: envelope.clone(),
                    },
                );
            }
        } else {
            self.stats.dropped_hop_limit += 1;
        }
        if best.is_none() && self.admitted(from, header.origin).is_ok() {
            self.emit(Event::Broadcast {
                origin: header.origin,
                id: header.id,
                module: header.module,
                payload: envelope.payload.clone(),
                hops,
            });
        }
    }
}
