//! Parking: an answer (reply or error) with no way on yet is kept until this node's routes give
//! it one, bounced back to where it came from after [`BOUNCE_AFTER`] (by then that node has
//! usually learned the change too), or dropped after the route wait; a multicast copy whose
//! route leads back where it came from waits the same way, never bounced. Bounded in count and
//! bytes.

use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::Core;
use crate::frame::Frame;

/// How long a parked answer waits for a way on before it goes back where it came from: a few
/// state-sync announcement delays, so that the node behind has learned what this one knows.
const BOUNCE_AFTER: Duration = Duration::from_millis(200);
/// Most answers parked at once, and their bytes.
const PARK_LIMIT: usize = 1024;
const PARK_BYTES: usize = 8 * 1024 * 1024;

/// An answer with no way on yet.
#[derive(Debug)]
pub(super) struct Parked {
    /// The link it came in on (none for an answer from this node).
    from: Option<PeerId>,
    dest: PeerId,
    frame: Frame,
    /// Bounced back to `from` (if a route exists by then) at `bounce_at`, unless `None` (a
    /// multicast copy: `from` handled its followers already); dropped at `until`.
    bounce_at: Option<Instant>,
    until: Instant,
}

impl Parked {
    /// When it next needs a look: its bounce, else the end of its wait.
    pub(super) fn due(&self) -> Instant {
        self.bounce_at.unwrap_or(self.until).min(self.until)
    }
}

impl Core {
    /// Keeps an answer with no way on until routes give it one (see the module docs).
    pub(super) fn park(&mut self, from: Option<PeerId>, dest: PeerId, frame: Frame, now: Instant) {
        self.park_frame(from, dest, frame, Some(now + BOUNCE_AFTER), now);
    }

    /// Keeps a multicast copy for one follower whose route leads back where the copy came from
    /// (or nowhere): sent when this node's routes change, never bounced.
    pub(super) fn park_copy(&mut self, from: PeerId, dest: PeerId, frame: Frame, now: Instant) {
        self.park_frame(Some(from), dest, frame, None, now);
    }

    fn park_frame(
        &mut self,
        from: Option<PeerId>,
        dest: PeerId,
        frame: Frame,
        bounce_at: Option<Instant>,
        now: Instant,
    ) {
        let len = frame.len();
        if self.relay.parked.len() >= PARK_LIMIT || self.relay.parked_bytes + len > PARK_BYTES {
            self.stats.no_route += 1;
            tracing::debug!(%dest, "no way on and no room to park; dropped");
            return;
        }
        self.relay.parked_bytes += len;
        self.relay.parked.push_back(Parked {
            from,
            dest,
            frame,
            bounce_at,
            until: now + self.config.route_wait(),
        });
    }

    /// Sends the parked answers that have a way on now, bounces those due, drops the expired.
    pub(super) fn retry_parked(&mut self, now: Instant) {
        for _ in 0..self.relay.parked.len() {
            let Some(mut parked) = self.relay.parked.pop_front() else {
                break;
            };
            let bounce = parked.bounce_at.is_some_and(|at| now >= at);
            let go = match self.routes.route(&parked.dest) {
                Some(route) if Some(route.next_hop) != parked.from => Some(route.next_hop),
                Some(route) if bounce => Some(route.next_hop),
                _ if now >= parked.until => {
                    self.relay.parked_bytes -= parked.frame.len();
                    self.stats.no_route += 1;
                    continue;
                }
                _ => None,
            };
            let Some(next_hop) = go else {
                if bounce {
                    // Nowhere to bounce to either: wait for a route until the end.
                    parked.bounce_at = None;
                }
                self.relay.parked.push_back(parked);
                continue;
            };
            self.relay.parked_bytes -= parked.frame.len();
            self.send(next_hop, parked.frame);
        }
    }
}
