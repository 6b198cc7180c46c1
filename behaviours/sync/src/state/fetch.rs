//! Which records to fetch, from whom, and what to do with what comes back.
//!
//! Every digest from a neighbour replaces (full digest) or updates (partial digest) that
//! neighbour's *wanted* list: the owners it holds at a higher seq than we do, or, for owners we do
//! not know, that it heard of recently enough to count as online (so the records of dead nodes
//! are not resurrected once forgotten). Fetches are then started with these bounds:
//! one fetch in flight per neighbour, at most [`MAX_FETCH_BATCH`] owners per fetch, and one fetch
//! per owner network-wide (if three neighbours announce the same new seq, only one is asked).
//! A fetch that completes, fails or times out frees its owners, so another neighbour that
//! announced them is asked next.

use std::{collections::BTreeMap, time::Instant};

use libp2p::PeerId;

use super::{FetchId, Known, Output, State};
use crate::{
    config::MESSAGE_OVERHEAD,
    error::RecordError,
    message::{DigestEntry, Request, WirePeer},
    record::{Envelope, SignedRecord},
    Event,
};

/// The most owners asked for (and served) in one fetch.
pub(crate) const MAX_FETCH_BATCH: usize = 64;

/// CBOR header bytes per envelope in a fetch response (array, map and byte-string headers).
const ENVELOPE_OVERHEAD: usize = 32;

/// A neighbour announced `owner` at `seq`, having heard of it at `evidence`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wanted {
    seq: u64,
    evidence: Option<Instant>,
}

/// One owner asked for in a fetch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    owner: PeerId,
    wanted: Wanted,
}

/// A fetch waiting for its response.
#[derive(Debug)]
pub(super) struct InFlight {
    id: FetchId,
    pub(super) asked: Vec<Asked>,
    pub(super) deadline: Instant,
}

impl State {
    /// A digest arrived from `peer`: learn ages, note what is newer there, fetch it.
    pub(super) fn on_digest(
        &mut self,
        peer: PeerId,
        full: bool,
        entries: Vec<DigestEntry>,
        now: Instant,
    ) {
        let max = self.config.max_records();
        let mut wanted = match self.neighbours.get_mut(&peer) {
            Some(_) if full => BTreeMap::new(),
            Some(neighbour) => std::mem::take(&mut neighbour.wanted),
            None => return,
        };
        for DigestEntry {
            owner: WirePeer(owner),
            seq,
            age_ms,
        } in entries.into_iter().take(max)
        {
            let evidence = if self.neighbours.contains_key(&owner) {
                Some(now)
            } else {
                self.evidence(age_ms, now)
            };
            if let Some(evidence) = evidence {
                self.heard(owner, evidence, now);
            }
            let w = Wanted { seq, evidence };
            if self.is_wanted(&owner, &w, now)
                && (wanted.len() < max || wanted.contains_key(&owner))
            {
                wanted.insert(owner, w);
            }
        }
        if let Some(neighbour) = self.neighbours.get_mut(&peer) {
            neighbour.wanted = wanted;
        }
        self.start_fetches(now);
    }

    /// Starts a fetch from every idle neighbour that announced something we still want.
    pub(super) fn start_fetches(&mut self, now: Instant) {
        let unknown_in_flight = self
            .fetching
            .keys()
            .filter(|owner| self.is_new(owner))
            .count();
        let mut room = self
            .config
            .max_records()
            .saturating_sub(1 + self.records.len() + unknown_in_flight);
        let idle: Vec<PeerId> = self
            .neighbours
            .iter()
            .filter(|(_, n)| n.fetch.is_none() && !n.wanted.is_empty())
            .map(|(peer, _)| *peer)
            .collect();
        for peer in idle {
            let Some(mut wanted) = self
                .neighbours
                .get_mut(&peer)
                .map(|n| std::mem::take(&mut n.wanted))
            else {
                continue;
            };
            wanted.retain(|owner, w| self.is_wanted(owner, w, now));
            let mut asked = Vec::new();
            for (owner, w) in &wanted {
                if asked.len() == MAX_FETCH_BATCH {
                    break;
                }
                if self.fetching.contains_key(owner) {
                    continue;
                }
                if self.is_new(owner) {
                    if room == 0 {
                        continue;
                    }
                    room -= 1;
                }
                asked.push(Asked {
                    owner: *owner,
                    wanted: *w,
                });
            }
            self.send_fetch(peer, wanted, asked, now);
        }
    }

    /// Whether a record announced as `wanted` is worth fetching: newer than ours, or of an
    /// unknown owner that is alive.
    ///
    /// Our own record is wanted at a higher seq (a previous run of this node got further) and,
    /// once per seq, at an equal one (a previous run may have signed other content at this very
    /// seq, and the digest cannot tell). We fetch it rather than trust the digest, so that only a
    /// record we really signed can move our seq (a digest line alone could push it to
    /// `u64::MAX`).
    fn is_wanted(&self, owner: &PeerId, wanted: &Wanted, now: Instant) -> bool {
        if *owner == self.local_id() {
            let ours = self.local.record.seq();
            return wanted.seq > ours || (wanted.seq == ours && self.own_confirmed != ours);
        }
        match self.records.get(owner) {
            Some(known) => wanted.seq > known.signed.record.seq(),
            None => wanted.evidence.is_some_and(|e| self.is_fresh(e, now)),
        }
    }

    /// Whether accepting `owner`'s record would take one more place in the view.
    fn is_new(&self, owner: &PeerId) -> bool {
        *owner != self.local_id() && !self.records.contains_key(owner)
    }

    fn send_fetch(
        &mut self,
        peer: PeerId,
        wanted: BTreeMap<PeerId, Wanted>,
        asked: Vec<Asked>,
        now: Instant,
    ) {
        let Some(neighbour) = self.neighbours.get_mut(&peer) else {
            return;
        };
        neighbour.wanted = wanted;
        if asked.is_empty() {
            return;
        }
        let id = FetchId(self.next_fetch_id);
        self.next_fetch_id += 1;
        let owners = asked.iter().map(|a| WirePeer(a.owner)).collect();
        for a in &asked {
            self.fetching.insert(a.owner, peer);
        }
        neighbour.fetch = Some(InFlight {
            id,
            asked,
            deadline: now + self.config.fetch_timeout(),
        });
        let request = Request::Fetch(owners);
        self.outputs.push_back(Output::Fetch { peer, id, request });
    }

    /// The response to fetch `id` arrived from `peer`: verify and keep what is newer.
    pub(crate) fn on_fetch_response(
        &mut self,
        peer: PeerId,
        id: FetchId,
        envelopes: Vec<Envelope>,
        now: Instant,
    ) {
        let Some(fetch) = self.finish_fetch(peer, id) else {
            return;
        };
        for envelope in envelopes.into_iter().take(fetch.asked.len()) {
            match SignedRecord::verify(envelope, self.config.max_record_size()) {
                Err(reason) => self.report(peer, reason),
                Ok(signed) => {
                    let owner = signed.record.owner();
                    match fetch.asked.iter().find(|a| a.owner == owner) {
                        Some(asked) => self.accept(signed, asked.wanted.evidence, now),
                        None => self.report(peer, RecordError::Unrequested { got: owner }),
                    }
                }
            }
        }
        self.start_fetches(now);
    }

    /// Fetch `id` to `peer` failed (timeout, stream error, connection closed).
    pub(crate) fn on_fetch_failed(&mut self, peer: PeerId, id: FetchId, now: Instant) {
        if self.finish_fetch(peer, id).is_some() {
            self.start_fetches(now);
        }
    }

    /// Gives up the fetches that passed their deadline.
    pub(super) fn expire_fetches(&mut self, now: Instant) {
        let expired: Vec<(PeerId, FetchId)> = self
            .neighbours
            .iter()
            .filter_map(|(peer, n)| n.fetch.as_ref().map(|f| (*peer, f)))
            .filter(|(_, f)| f.deadline <= now)
            .map(|(peer, f)| (peer, f.id))
            .collect();
        for (peer, id) in expired {
            tracing::debug!(%peer, "fetch timed out");
            self.on_fetch_failed(peer, id, now);
        }
    }

    /// Ends fetch `id` to `peer`: frees its owners and forgets what it asked, so the owners are
    /// fetched again only after someone announces them again (no tight retry loop).
    fn finish_fetch(&mut self, peer: PeerId, id: FetchId) -> Option<InFlight> {
        let neighbour = self.neighbours.get_mut(&peer)?;
        if neighbour.fetch.as_ref()?.id != id {
            return None;
        }
        let fetch = neighbour.fetch.take()?;
        for asked in &fetch.asked {
            if neighbour
                .wanted
                .get(&asked.owner)
                .is_some_and(|w| w.seq <= asked.wanted.seq)
            {
                neighbour.wanted.remove(&asked.owner);
            }
        }
        self.release(peer, &fetch.asked);
        Some(fetch)
    }

    /// Frees the owners `peer` was asked for, so other neighbours may be asked.
    pub(super) fn release(&mut self, peer: PeerId, asked: &[Asked]) {
        for a in asked {
            if self.fetching.get(&a.owner) == Some(&peer) {
                self.fetching.remove(&a.owner);
            }
        }
    }

    /// Keeps a verified record if it is newer than what we hold (or new and still alive).
    fn accept(&mut self, signed: SignedRecord, evidence: Option<Instant>, now: Instant) {
        let owner = signed.record.owner();
        if owner == self.local_id() {
            let (seen, ours) = (signed.record.seq(), self.local.record.seq());
            if seen == ours && signed.envelope.body == self.local.envelope.body {
                self.own_confirmed = ours;
            } else if seen >= ours {
                self.overtake_own_record(seen, now);
            }
            return;
        }
        let evidence = if self.neighbours.contains_key(&owner) {
            Some(now)
        } else {
            evidence
        };
        let record = signed.record.clone();
        if let Some(known) = self.records.get_mut(&owner) {
            if record.seq() <= known.signed.record.seq() {
                return;
            }
            known.signed = signed;
        } else {
            let Some(last_heard) = evidence.filter(|e| self.is_fresh(*e, now)) else {
                return;
            };
            if self.records.len() + 1 >= self.config.max_records() {
                tracing::warn!(%owner, max = self.config.max_records(), "view full; record ignored");
                return;
            }
            let known = Known {
                signed,
                last_heard,
                online: true,
            };
            self.records.insert(owner, known);
            let deadline = last_heard + self.config.offline_after();
            self.next_liveness_check = self.next_liveness_check.min(deadline);
        }
        if let Some(evidence) = evidence {
            self.heard(owner, evidence, now);
        }
        tracing::trace!(%owner, seq = record.seq(), "record updated");
        self.emit(Event::RecordUpdated {
            peer: owner,
            record,
        });
        self.schedule_announce(owner, now);
    }

    /// Answers a fetch: the envelopes we hold of the asked owners, as many as fit one message.
    pub(super) fn serve_fetch(&self, owners: &[WirePeer]) -> Vec<Envelope> {
        let budget = self
            .config
            .max_message_size()
            .saturating_sub(MESSAGE_OVERHEAD);
        let mut used = 0;
        let mut envelopes = Vec::new();
        for WirePeer(owner) in owners.iter().take(MAX_FETCH_BATCH) {
            let envelope = if *owner == self.local_id() {
                &self.local.envelope
            } else if let Some(known) = self.records.get(owner) {
                &known.signed.envelope
            } else {
                continue;
            };
            let cost = envelope.size() + ENVELOPE_OVERHEAD;
            if used + cost > budget {
                break;
            }
            used += cost;
            envelopes.push(envelope.clone());
        }
        envelopes
    }

    /// A neighbour sent a record that fails the checks: log it and tell the application.
    fn report(&mut self, from: PeerId, reason: RecordError) {
        tracing::warn!(peer = %from, %reason, "dropped an invalid record");
        self.emit(Event::InvalidRecord { from, reason });
    }
}
