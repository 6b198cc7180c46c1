//! Neighbours that keep sending what the node must refuse (forged signatures, malformed or
//! oversize frames) are disconnected with the reason named, and kept out for a while.
//!
//! One refusal can be an accident (a bug fixed by an upgrade, a frame cut by a crash); many in a
//! short time are a broken or hostile peer that costs the node a signature check or a decode
//! each. The rule: [`LIMIT`] refusals within [`WINDOW`] disconnect the neighbour and ban it for
//! [`BAN`]; a banned node that connects again is disconnected at once (a static peer keeps being
//! redialled with its backoff, and comes back when the ban is over). Sans-I/O: `now` is an input.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::PeerId;

/// Refusals within [`WINDOW`] that make a neighbour misbehaving.
pub(crate) const LIMIT: u32 = 20;
/// The window refusals are counted in.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);
/// How long a misbehaving neighbour is kept out.
pub(crate) const BAN: Duration = Duration::from_secs(60);
/// Most neighbours tracked at once (counts and bans).
const TRACKED: usize = 4096;

#[derive(Debug, Default)]
struct Record {
    window_start: Option<Instant>,
    refusals: u32,
    banned_until: Option<Instant>,
}

/// Refusal counts and bans per neighbour.
#[derive(Debug, Default)]
pub(crate) struct Misbehaviour {
    records: HashMap<PeerId, Record>,
}

impl Misbehaviour {
    /// Counts a refusal of something `peer` sent; true when this makes it misbehaving (it is
    /// then banned until `now + BAN`).
    pub(crate) fn refused(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.records.len() >= TRACKED && !self.records.contains_key(&peer) {
            self.records.retain(|_, r| {
                r.banned_until.is_some_and(|until| until > now)
                    || r.window_start
                        .is_some_and(|s| now.saturating_duration_since(s) < WINDOW)
            });
            if self.records.len() >= TRACKED {
                return false;
            }
        }
        let record = self.records.entry(peer).or_default();
        if record.banned_until.is_some_and(|until| until > now) {
            return false; // already banned; its connection is being closed
        }
        match record.window_start {
            Some(start) if now.saturating_duration_since(start) < WINDOW => record.refusals += 1,
            _ => {
                record.window_start = Some(now);
                record.refusals = 1;
            }
        }
        if record.refusals >= LIMIT {
            record.banned_until = Some(now + BAN);
            record.refusals = 0;
            record.window_start = None;
            return true;
        }
        false
    }

    /// Whether `peer` is banned at `now`.
    pub(crate) fn is_banned(&self, peer: &PeerId, now: Instant) -> bool {
        self.records
            .get(peer)
            .and_then(|r| r.banned_until)
            .is_some_and(|until| until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_refusals_bans_for_a_minute_and_a_trickle_never_does() {
        let now = Instant::now();
        let mut rules = Misbehaviour::default();
        let (bad, sloppy) = (PeerId::random(), PeerId::random());
        let verdicts: Vec<bool> = (0..LIMIT).map(|_| rules.refused(bad, now)).collect();
        assert_eq!(verdicts.iter().filter(|b| **b).count(), 1);
        assert!(verdicts[LIMIT as usize - 1]);
        assert!(rules.is_banned(&bad, now + BAN - Duration::from_millis(1)));
        assert!(!rules.is_banned(&bad, now + BAN));
        // One refusal every 11 s never reaches the limit.
        for i in 0..100u64 {
            assert!(!rules.refused(sloppy, now + Duration::from_secs(11 * i)));
        }
        assert!(!rules.is_banned(&sloppy, now + Duration::from_secs(1100)));
    }
}
