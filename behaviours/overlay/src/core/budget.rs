//! Budgets: how much work a neighbour, or an origin behind relays, may give this node.
//!
//! Every frame costs one message and its bytes from token buckets (`fisco-p2p-ratelimit`'s
//! [`Budgets`]) that refill at a steady rate up to a burst. Two kinds of budget:
//! - **per neighbour**, for everything a neighbour sends: generous, so that a busy honest
//!   neighbour (a benchmark runs tens of thousands of requests a second over one link) is never
//!   throttled, but finite, so that one neighbour cannot monopolise the node;
//! - **per origin**, for what this node must forward or deliver on an origin's behalf: relayed
//!   unicast envelopes, and every multicast and broadcast copy (an origin flooding broadcasts
//!   would otherwise make every node re-send each one on all its links).
//!
//! A frame over budget is dropped and counted; nothing queues up for later. At most
//! [`MAX_TRACKED`] origins are tracked (a forgotten origin starts again with a full burst, which
//! cannot exceed the neighbour budget of the link it arrives on).

use std::time::Instant;

use fisco_p2p_ratelimit::{Budget, Budgets};
use libp2p::PeerId;

/// Most origins (and neighbours) with a budget tracked at once.
pub(crate) const MAX_TRACKED: usize = 4096;

/// Which budget a refused frame exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Neighbour,
    Origin,
}

/// The budgets of every neighbour and tracked origin.
#[derive(Debug)]
pub(crate) struct Work {
    neighbours: Budgets<PeerId>,
    origins: Budgets<PeerId>,
}

impl Work {
    pub(crate) fn new(neighbour: Budget, origin: Budget) -> Self {
        Work {
            neighbours: Budgets::new(neighbour, MAX_TRACKED),
            origins: Budgets::new(origin, MAX_TRACKED),
        }
    }

    /// Charges a frame of `bytes` from neighbour `from`, and to `origin` when it is work done on
    /// the origin's behalf; says which budget it exceeds, if any.
    pub(crate) fn charge(
        &mut self,
        from: PeerId,
        origin: Option<PeerId>,
        bytes: usize,
        now: Instant,
    ) -> Result<(), Over> {
        if !self.neighbours.charge(&from, bytes, now) {
            return Err(Over::Neighbour);
        }
        match origin {
            Some(origin) if !self.origins.charge(&origin, bytes, now) => Err(Over::Origin),
            _ => Ok(()),
        }
    }

    /// The link to `peer` went down: its budget goes.
    pub(crate) fn forget_neighbour(&mut self, peer: &PeerId) {
        self.neighbours.forget(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_work_is_charged_to_the_origin_and_own_work_is_not() {
        let now = Instant::now();
        let origin_budget = Budget {
            messages_per_second: 1000,
            message_burst: 1000,
            bytes_per_second: 1000,
            byte_burst: 4000,
        };
        let mut work = Work::new(Budget::UNLIMITED, origin_budget);
        let (relay, origin) = (PeerId::random(), PeerId::random());
        assert_eq!(work.charge(relay, Some(origin), 3000, now), Ok(()));
        assert_eq!(
            work.charge(relay, Some(origin), 3000, now),
            Err(Over::Origin)
        );
        assert_eq!(work.charge(relay, None, 3000, now), Ok(()));
    }

    #[test]
    fn a_neighbour_over_its_budget_is_refused_before_the_origin_is_charged() {
        let now = Instant::now();
        let mut work = Work::new(Budget::messages(1, 1), Budget::messages(1, 1));
        let (relay, origin) = (PeerId::random(), PeerId::random());
        assert_eq!(work.charge(relay, None, 1, now), Ok(()));
        assert_eq!(
            work.charge(relay, Some(origin), 1, now),
            Err(Over::Neighbour)
        );
        // The origin's budget was not spent by the refused frame.
        assert_eq!(work.charge(PeerId::random(), Some(origin), 1, now), Ok(()));
    }
}
