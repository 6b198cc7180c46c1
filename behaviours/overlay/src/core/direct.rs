//! When to ask for a direct connection: with direct connections enabled, a node that exchanges
//! more than a threshold of messages within a window with a node it reaches only through relays
//! asks once (then not again for a cooldown) for a connection to it.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::PeerId;

use super::Core;
use crate::{Config, Event};

/// Most nodes whose traffic is counted at once.
const TRACKED: usize = 1024;
/// How long after asking for a connection to a node it is not asked for again.
const COOLDOWN: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) struct Direct {
    enabled: bool,
    threshold: u32,
    window: Duration,
    /// Node -> (window start, messages in it, asked at).
    counts: HashMap<PeerId, (Instant, u32, Option<Instant>)>,
}

impl Direct {
    pub(super) fn new(config: &Config) -> Self {
        let (threshold, window) = config.direct_threshold();
        Direct {
            enabled: config.direct_connections(),
            threshold,
            window,
            counts: HashMap::new(),
        }
    }

    /// Counts one message with `peer`; true if a connection should be asked for now.
    fn note(&mut self, peer: PeerId, now: Instant) -> bool {
        if !self.enabled {
            return false;
        }
        if self.counts.len() >= TRACKED && !self.counts.contains_key(&peer) {
            let window = self.window;
            self.counts.retain(|_, (start, _, asked)| {
                now.saturating_duration_since(*start) < window
                    || asked.is_some_and(|a| now.saturating_duration_since(a) < COOLDOWN)
            });
            if self.counts.len() >= TRACKED {
                return false;
            }
        }
        let entry = self.counts.entry(peer).or_insert((now, 0, None));
        if now.saturating_duration_since(entry.0) >= self.window {
            entry.0 = now;
            entry.1 = 0;
        }
        entry.1 += 1;
        let cooling = entry
            .2
            .is_some_and(|asked| now.saturating_duration_since(asked) < COOLDOWN);
        if entry.1 >= self.threshold && !cooling {
            entry.2 = Some(now);
            return true;
        }
        false
    }
}

impl Core {
    /// A message went to or came from `peer`, which is not a neighbour.
    pub(super) fn note_traffic(&mut self, peer: PeerId, now: Instant) {
        if self.direct.note(peer, now) {
            self.emit(Event::DirectWanted { peer });
        }
    }
}
