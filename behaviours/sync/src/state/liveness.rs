//! Online, offline, forgotten: "heard of" across many hops.
//!
//! Each digest line carries an *age*: how long ago the announcer last had fresh evidence that the
//! owner is alive. Evidence originates only where it is first-hand: a node is alive to itself and
//! to the nodes connected to it, so they announce age 0. A receiver turns an age into an instant
//! (`now - age - hop_penalty`) and keeps the freshest instant it has seen per owner, its
//! `last_heard`. While the owner lives, fresh evidence flows outward one hop per announcement;
//! once it dies (its connections close), no new evidence is born and every `last_heard` freezes,
//! so ages grow everywhere at the rate of the clock until they pass `offline_after`
//! (-> [`Event::PeerOffline`]) and then `forget_after` (-> [`Event::PeerForgotten`]).
//!
//! The per-hop penalty (a tenth of the announce interval) stops evidence from getting fresher by
//! the network latency each time it goes round a cycle, which could otherwise keep a dead node
//! "alive" in a large slow ring. It also means a node `h` hops away looks at most about
//! `(h - 1) * 1.1 * announce_interval` old while alive, which bounds the diameter a given
//! `offline_after` tolerates.
//!
//! Trust: ages are not signed. A dishonest (but CA-authenticated) neighbour can delay the
//! detection of a dead node by announcing it as fresh; it cannot alter any record.

use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::State;
use crate::Event;

/// Milliseconds from `last_heard` to `now`, as carried in a digest line.
pub(super) fn age_ms(last_heard: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(last_heard).as_millis()).unwrap_or(u64::MAX)
}

impl State {
    /// The instant a digest line of age `age_ms` proves the owner alive at, if representable.
    pub(super) fn evidence(&self, age_ms: u64, now: Instant) -> Option<Instant> {
        Duration::from_millis(age_ms)
            .checked_add(self.config.hop_penalty())
            .and_then(|age| now.checked_sub(age))
    }

    /// Whether evidence from `evidence` still counts the owner as online.
    pub(super) fn is_fresh(&self, evidence: Instant, now: Instant) -> bool {
        now.saturating_duration_since(evidence) < self.config.offline_after()
    }

    /// `owner` is (or was, until just now) connected to us: first-hand evidence.
    pub(super) fn heard_directly(&mut self, owner: PeerId, now: Instant) {
        self.heard(owner, now, now);
    }

    /// Raises `owner`'s `last_heard` to `evidence` if that is fresher, bringing it back online.
    pub(super) fn heard(&mut self, owner: PeerId, evidence: Instant, now: Instant) {
        let offline_after = self.config.offline_after();
        let Some(known) = self.records.get_mut(&owner) else {
            return;
        };
        if evidence <= known.last_heard {
            return;
        }
        known.last_heard = evidence;
        if !known.online && now.saturating_duration_since(evidence) < offline_after {
            known.online = true;
            self.next_liveness_check = self.next_liveness_check.min(evidence + offline_after);
            self.emit(Event::PeerOnline { peer: owner });
        }
    }

    /// Marks offline and forgets the records whose owners have not been heard of for too long,
    /// and sets the instant of the next check to the earliest deadline left.
    pub(super) fn check_liveness(&mut self, now: Instant) {
        let offline_after = self.config.offline_after();
        let forget_after = self.config.forget_after();
        let mut next = now + offline_after;
        let mut offline = Vec::new();
        let mut forgotten = Vec::new();
        for (owner, known) in &mut self.records {
            if self.neighbours.contains_key(owner) {
                known.last_heard = now;
            }
            let age = now.saturating_duration_since(known.last_heard);
            if known.online && age >= offline_after {
                known.online = false;
                offline.push(*owner);
            }
            if age >= forget_after {
                forgotten.push(*owner);
                continue;
            }
            let limit = if known.online {
                offline_after
            } else {
                forget_after
            };
            next = next.min(known.last_heard + limit);
        }
        self.next_liveness_check = next;
        for peer in offline {
            tracing::debug!(%peer, "peer went offline");
            self.emit(Event::PeerOffline { peer });
        }
        for peer in forgotten {
            tracing::debug!(%peer, "peer forgotten");
            self.records.remove(&peer);
            self.changed.remove(&peer);
            self.emit(Event::PeerForgotten { peer });
        }
    }
}
