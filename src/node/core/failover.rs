//! The decisions of send-to-topic, without I/O: which follower to try next, and how the send
//! ends. The event loop feeds it the followers it knows (and whether each has a route) and the
//! outcome of each attempt; it answers with the follower to try or the end.
//!
//! The rules, which the property tests below check on arbitrary follower sets and outcomes:
//! - a follower is tried at most once per send, even when the follower list changes meanwhile;
//! - followers with a route are tried before those without one (which may get one within the
//!   overlay's route wait), in random order within each group;
//! - the send ends exactly once: with the first reply, or when no untried follower is left, as
//!   "no follower" if nothing was tried, else "all failed" with every failure in order.

use std::{collections::HashSet, hash::Hash};

use rand::{seq::SliceRandom, Rng};

use crate::node::{RequestError, RequestOutcome};

/// One send-to-topic's failover state.
#[derive(Debug)]
pub(crate) struct Failover<P> {
    tried: HashSet<P>,
    failures: Vec<(P, RequestError)>,
}

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<P> {
    /// Send to this follower.
    Try(P),
    /// Nobody is left to try: the send failed.
    Failed(Failure<P>),
}

/// How a send-to-topic failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure<P> {
    /// No follower could be tried.
    NoFollower,
    /// Every follower tried failed, in this order.
    AllFailed(Vec<(P, RequestError)>),
}

impl<P> Failure<P> {
    /// The outcome the request metrics record for it.
    pub(crate) fn outcome(&self) -> RequestOutcome {
        match self {
            Failure::NoFollower => RequestOutcome::Unreachable,
            Failure::AllFailed(failures) => failures
                .last()
                .map_or(RequestOutcome::Unreachable, |(_, error)| {
                    RequestOutcome::of_error(error)
                }),
        }
    }
}

impl<P: Copy + Eq + Hash> Failover<P> {
    pub(crate) fn new() -> Self {
        Self {
            tried: HashSet::new(),
            failures: Vec::new(),
        }
    }

    /// The next follower to try among `followers` (each with whether it has a route now), or
    /// the end of the send if none is left untried.
    pub(crate) fn next(&mut self, followers: &[(P, bool)], rng: &mut impl Rng) -> Next<P> {
        let untried = |routed: bool| -> Vec<P> {
            followers
                .iter()
                .filter(|&&(p, r)| r == routed && !self.tried.contains(&p))
                .map(|&(p, _)| p)
                .collect()
        };
        let (mut routed, mut unrouted) = (untried(true), untried(false));
        routed.shuffle(rng);
        unrouted.shuffle(rng);
        match routed.pop().or_else(|| unrouted.pop()) {
            Some(peer) => {
                self.tried.insert(peer);
                Next::Try(peer)
            }
            None if self.failures.is_empty() => Next::Failed(Failure::NoFollower),
            None => Next::Failed(Failure::AllFailed(std::mem::take(&mut self.failures))),
        }
    }

    /// The attempt at `follower` failed with `error`.
    pub(crate) fn failed(&mut self, follower: P, error: RequestError) {
        self.failures.push((follower, error));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    use super::*;

    /// One send: the follower list seen at each step (it may change between attempts), and for
    /// each attempt whether the follower replies.
    fn run(
        lists: &[Vec<(u8, bool)>],
        replies: &[bool],
        seed: u64,
    ) -> (Vec<u8>, Result<u8, Failure<u8>>) {
        let mut failover = Failover::new();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut tried = Vec::new();
        let mut step = 0;
        loop {
            let list = &lists[step.min(lists.len() - 1)];
            match failover.next(list, &mut rng) {
                Next::Try(peer) => {
                    // A routed follower is never passed over for an unrouted one.
                    let was_routed = list.iter().any(|&(p, r)| p == peer && r);
                    let routed_left = list
                        .iter()
                        .any(|&(p, r)| r && p != peer && !tried.contains(&p));
                    assert!(
                        was_routed || !routed_left,
                        "{peer} tried before a routed follower"
                    );
                    tried.push(peer);
                    if replies.get(step).copied().unwrap_or(false) {
                        return (tried, Ok(peer));
                    }
                    failover.failed(peer, RequestError::Timeout);
                    step += 1;
                }
                Next::Failed(failure) => return (tried, Err(failure)),
            }
        }
    }

    fn lists() -> impl Strategy<Value = Vec<Vec<(u8, bool)>>> {
        prop::collection::vec(prop::collection::vec((0u8..12, any::<bool>()), 0..8), 1..6)
    }

    proptest! {
        #[test]
        fn each_follower_is_tried_at_most_once_and_the_send_ends_once(
            lists in lists(),
            replies in prop::collection::vec(any::<bool>(), 0..16),
            seed in any::<u64>(),
        ) {
            let (tried, end) = run(&lists, &replies, seed);
            let distinct: BTreeSet<u8> = tried.iter().copied().collect();
            prop_assert_eq!(distinct.len(), tried.len(), "a follower tried twice: {:?}", tried);
            match end {
                Ok(peer) => prop_assert_eq!(tried.last(), Some(&peer)),
                Err(Failure::NoFollower) => prop_assert!(tried.is_empty()),
                Err(Failure::AllFailed(failures)) => {
                    let failed: Vec<u8> = failures.iter().map(|(p, _)| *p).collect();
                    prop_assert_eq!(&failed, &tried, "every failure, in order");
                    prop_assert!(!tried.is_empty());
                }
            }
        }

        #[test]
        fn a_send_that_fails_has_tried_every_follower_of_the_last_list(
            list in prop::collection::vec((0u8..12, any::<bool>()), 0..8),
            seed in any::<u64>(),
        ) {
            let (tried, end) = run(std::slice::from_ref(&list), &[], seed);
            let all: BTreeSet<u8> = list.iter().map(|(p, _)| *p).collect();
            prop_assert_eq!(tried.iter().copied().collect::<BTreeSet<u8>>(), all);
            prop_assert!(end.is_err());
        }
    }

    #[test]
    fn the_outcome_of_a_failure_is_its_last_error() {
        assert_eq!(
            Failure::<u8>::NoFollower.outcome(),
            RequestOutcome::Unreachable
        );
        let failures = vec![(1, RequestError::NoRoute), (2, RequestError::Timeout)];
        assert_eq!(
            Failure::AllFailed(failures).outcome(),
            RequestOutcome::Timeout
        );
    }
}
