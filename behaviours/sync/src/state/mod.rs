//! The sans-I/O core of the sync protocol.
//!
//! [`State`] holds the local record, the records learned from others and the connected
//! neighbours. It is driven by plain method calls, each given the current `now`: a neighbour
//! connected or disconnected, a request or response arrived, a fetch failed, the application
//! changed the local record, or the clock reached [`State::poll_timeout`]. What it wants done comes
//! out of [`State::pop_output`]: messages to send to a neighbour and events for the application.
//! It reads no clock, owns no timer, does no I/O and draws no random numbers, so the same inputs
//! always give the same outputs: that is what lets `sim.rs` run whole networks deterministically.
//!
//! The work is split by topic: `fetch.rs` decides what to fetch from whom, `liveness.rs` turns
//! digest ages into online/offline/forgotten, `view.rs` answers the application's queries.

mod fetch;
mod liveness;
mod view;

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    time::Instant,
};

use libp2p::{identity::Keypair, PeerId};

pub use view::Entry;

use crate::{
    config::Config,
    error::Error,
    message::{DigestEntry, Request, Response, WirePeer},
    record::{Record, SignedRecord},
    Event,
};

/// Correlates a fetch request with its response or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FetchId(u64);

/// Something the driver of a [`State`] must do.
#[derive(Debug)]
pub(crate) enum Output {
    /// Send this announcement to `peer`, then report [`State::on_announce_done`].
    Announce { peer: PeerId, request: Request },
    /// Send this fetch to `peer`, then report its response or failure under `id`.
    Fetch {
        peer: PeerId,
        id: FetchId,
        request: Request,
    },
    /// Hand this event to the application.
    Event(Event),
}

/// What we know of another node.
#[derive(Debug)]
struct Known {
    signed: SignedRecord,
    /// Our best estimate of the last instant the owner was alive.
    last_heard: Instant,
    online: bool,
}

/// A connected neighbour speaking the sync protocol.
#[derive(Debug, Default)]
struct Neighbour {
    announce_in_flight: bool,
    /// An announcement was due while one was in flight.
    announce_skipped: bool,
    fetch: Option<fetch::InFlight>,
    /// Records this neighbour announced at a higher seq than we hold.
    wanted: BTreeMap<PeerId, fetch::Wanted>,
}

/// The protocol state of one node. See the module docs.
#[derive(Debug)]
pub(crate) struct State {
    keypair: Keypair,
    config: Config,
    local: SignedRecord,
    /// The seq at which a neighbour was seen holding exactly our current record.
    own_confirmed: u64,
    records: BTreeMap<PeerId, Known>,
    neighbours: BTreeMap<PeerId, Neighbour>,
    /// Owners being fetched, and from whom: one fetch per owner at a time.
    fetching: BTreeMap<PeerId, PeerId>,
    next_fetch_id: u64,
    /// Owners whose record changed since the last announcement (sent in a partial digest).
    changed: BTreeSet<PeerId>,
    next_announce: Instant,
    announce_soon: Option<Instant>,
    next_liveness_check: Instant,
    outputs: VecDeque<Output>,
}

impl State {
    /// A node with an empty record at `start_seq`, signed by `keypair`.
    ///
    /// `start_seq` should come from the wall clock (milliseconds since the Unix epoch), so that a
    /// restarted node starts above the seq its previous run reached.
    pub(crate) fn new(
        keypair: Keypair,
        config: Config,
        start_seq: u64,
        now: Instant,
    ) -> Result<Self, Error> {
        let local_id = keypair.public().to_peer_id();
        let local = SignedRecord::sign(
            Record::new(local_id, start_seq),
            &keypair,
            config.max_record_size(),
        )?;
        Ok(Self {
            keypair,
            local,
            own_confirmed: 0,
            records: BTreeMap::new(),
            neighbours: BTreeMap::new(),
            fetching: BTreeMap::new(),
            next_fetch_id: 0,
            changed: BTreeSet::new(),
            next_announce: now + config.announce_interval(),
            announce_soon: None,
            next_liveness_check: now + config.offline_after(),
            outputs: VecDeque::new(),
            config,
        })
    }

    /// The local node's id.
    pub(crate) fn local_id(&self) -> PeerId {
        self.local.record.owner()
    }

    /// The next output to act on, if any.
    pub(crate) fn pop_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The instant at which [`State::tick`] has work to do.
    pub(crate) fn poll_timeout(&self) -> Instant {
        let fetch_deadlines = self
            .neighbours
            .values()
            .filter_map(|n| n.fetch.as_ref().map(|f| f.deadline));
        fetch_deadlines
            .chain(self.announce_soon)
            .chain([self.next_announce, self.next_liveness_check])
            .min()
            .unwrap_or(self.next_announce)
    }

    /// Advances timers: expired fetches, liveness, due announcements.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.expire_fetches(now);
        if now >= self.next_liveness_check {
            self.check_liveness(now);
        }
        if now >= self.next_announce {
            self.announce_to_all(true, now);
        } else if self.announce_soon.is_some_and(|soon| now >= soon) {
            self.announce_to_all(false, now);
        }
    }

    /// A connection to `peer` opened (the first one, if there are several).
    pub(crate) fn on_connected(&mut self, peer: PeerId, now: Instant) {
        if peer == self.local_id() || self.neighbours.contains_key(&peer) {
            return;
        }
        self.neighbours.insert(peer, Neighbour::default());
        self.list_neighbour(peer, true, now);
        self.heard_directly(peer, now);
        // A newcomer gets our full digest at once instead of waiting up to an interval.
        let request = Request::Announce {
            full: true,
            entries: self.digest(true, now),
        };
        self.send_announce(peer, request);
    }

    /// The last connection to `peer` closed.
    pub(crate) fn on_disconnected(&mut self, peer: PeerId, now: Instant) {
        let Some(neighbour) = self.neighbours.remove(&peer) else {
            return;
        };
        self.list_neighbour(peer, false, now);
        self.heard_directly(peer, now);
        if let Some(fetch) = neighbour.fetch {
            self.release(peer, &fetch.asked);
        }
        self.start_fetches(now);
    }

    /// `peer` does not speak the sync protocol: stop announcing to it until it reconnects.
    pub(crate) fn on_unsupported(&mut self, peer: PeerId, now: Instant) {
        self.on_disconnected(peer, now);
    }

    /// A request arrived from `peer`; returns the response to send back.
    pub(crate) fn on_request(&mut self, peer: PeerId, request: Request, now: Instant) -> Response {
        match request {
            Request::Announce { full, entries } => {
                self.on_digest(peer, full, entries, now);
                Response::Ack
            }
            Request::Fetch(owners) => Response::Records(self.serve_fetch(&owners)),
        }
    }

    /// The announcement to `peer` was acknowledged or failed: the next one may go, and goes at
    /// once (in full) if one was skipped meanwhile.
    pub(crate) fn on_announce_done(&mut self, peer: PeerId, now: Instant) {
        let Some(neighbour) = self.neighbours.get_mut(&peer) else {
            return;
        };
        neighbour.announce_in_flight = false;
        if std::mem::take(&mut neighbour.announce_skipped) {
            let request = Request::Announce {
                full: true,
                entries: self.digest(true, now),
            };
            self.send_announce(peer, request);
        }
    }

    /// Adds `peer` to (or removes it from) the neighbours the local record lists, so that every
    /// node can route over the link. At most `max_neighbours` are listed.
    fn list_neighbour(&mut self, peer: PeerId, connected: bool, now: Instant) {
        let max = self.config.max_neighbours();
        let result = self.change_local(now, |record| {
            let listed = record.neighbours_mut();
            if connected {
                listed.len() < max && listed.insert(peer)
            } else {
                listed.remove(&peer)
            }
        });
        if let Err(error) = result {
            tracing::warn!(%peer, %error, "cannot update the neighbours in the local record");
        }
    }

    /// Emits `event` for the application.
    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Announces soon (after the configured delay) because something changed.
    fn schedule_announce(&mut self, owner: PeerId, now: Instant) {
        if self.changed.len() < self.config.max_records() {
            self.changed.insert(owner);
        }
        let soon = now + self.config.announce_delay();
        self.announce_soon = Some(self.announce_soon.map_or(soon, |s| s.min(soon)));
    }

    /// Sends a digest to every neighbour that has no announcement in flight (and notes the
    /// others, which get a full digest as soon as theirs is done).
    ///
    /// A periodic (`full`) digest lists every record; an early one only what changed since.
    fn announce_to_all(&mut self, full: bool, now: Instant) {
        let entries = self.digest(full, now);
        self.changed.clear();
        self.announce_soon = None;
        if full {
            self.next_announce = now + self.config.announce_interval();
        }
        let mut idle = Vec::new();
        for (peer, neighbour) in &mut self.neighbours {
            if neighbour.announce_in_flight {
                // One announcement per neighbour at a time; this one follows when it is done,
                // so news is delayed by a round trip, not by a whole interval.
                neighbour.announce_skipped = true;
            } else {
                idle.push(*peer);
            }
        }
        for peer in idle {
            let request = Request::Announce {
                full,
                entries: entries.clone(),
            };
            self.send_announce(peer, request);
        }
    }

    fn send_announce(&mut self, peer: PeerId, request: Request) {
        if let Some(neighbour) = self.neighbours.get_mut(&peer) {
            neighbour.announce_in_flight = true;
            self.outputs.push_back(Output::Announce { peer, request });
        }
    }

    /// `(owner, seq, age)` for the local record and every record held (or only the changed ones).
    fn digest(&mut self, full: bool, now: Instant) -> Vec<DigestEntry> {
        let local = self.local_id();
        let mut entries = Vec::new();
        if full || self.changed.contains(&local) {
            entries.push(DigestEntry {
                owner: WirePeer(local),
                seq: self.local.record.seq(),
                age_ms: 0,
            });
        }
        for (owner, known) in &self.records {
            if full || self.changed.contains(owner) {
                let last_heard = if self.neighbours.contains_key(owner) {
                    now
                } else {
                    known.last_heard
                };
                entries.push(DigestEntry {
                    owner: WirePeer(*owner),
                    seq: known.signed.record.seq(),
                    age_ms: liveness::age_ms(last_heard, now),
                });
            }
        }
        entries
    }

    /// Applies a change to the local record; bumps seq, re-signs and announces if it changed.
    pub(crate) fn change_local(
        &mut self,
        now: Instant,
        change: impl FnOnce(&mut Record) -> bool,
    ) -> Result<bool, Error> {
        let mut record = self.local.record.clone();
        if !change(&mut record) {
            return Ok(false);
        }
        record.set_seq(self.local.record.seq().saturating_add(1));
        self.local = SignedRecord::sign(record, &self.keypair, self.config.max_record_size())?;
        self.schedule_announce(self.local_id(), now);
        Ok(true)
    }

    /// A neighbour served our own record, signed by us, at `seen` >= our seq (a previous run of
    /// this node got further than our clock-based start): jump above it so peers accept our
    /// current state.
    pub(super) fn overtake_own_record(&mut self, seen: u64, now: Instant) {
        let mut record = self.local.record.clone();
        record.set_seq(seen.saturating_add(1));
        match SignedRecord::sign(record, &self.keypair, self.config.max_record_size()) {
            Ok(signed) => {
                tracing::debug!(
                    seen,
                    "our record from a previous run is ahead; jumping over it"
                );
                self.local = signed;
                self.schedule_announce(self.local_id(), now);
            }
            Err(error) => tracing::error!(%error, "could not re-sign the local record"),
        }
    }
}

#[cfg(test)]
mod tests;
