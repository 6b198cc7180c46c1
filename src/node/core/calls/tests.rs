//! Property tests of the call core: arbitrary calls, overlay answers (refusals, late, repeated
//! and unknown ones), follower changes and time, against the rules of the module docs.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    time::{Duration, Instant},
};

use bytes::Bytes;
use fisco_p2p_overlay::{RequestError, SendError as OverlayRefusal};
use proptest::prelude::*;
use rand::SeedableRng;

use super::*;
use crate::node::core::failover::Failure;

/// Small stand-ins: peers are bytes, IDs counters, and each reply is the number of its call.
struct Sim;

impl Types for Sim {
    type Peer = u8;
    type RequestId = u32;
    type MulticastId = u32;
    type CallReply = u32;
    type TopicReply = u32;
    type MulticastReply = u32;
}

/// Peer 9 cannot be named; peers in `refuse` are refused by the overlay.
const UNNAMEABLE: u8 = 9;
const TOPICS: [&str; 3] = ["a", "b", "c"];
const LIMITS: Limits = Limits {
    max_message_size: 100,
    request_timeout: Duration::from_secs(10),
    route_wait: Duration::from_secs(2),
};

struct Followers(HashMap<&'static str, Vec<(u8, bool)>>);

impl View<u8> for Followers {
    fn followers(&mut self, topic: &str) -> Vec<(u8, bool)> {
        self.0.get(topic).cloned().unwrap_or_default()
    }
    fn nameable(&self, peer: &u8) -> bool {
        *peer != UNNAMEABLE
    }
}

#[derive(Debug, Clone)]
enum Op {
    Request {
        peer: u8,
        timeout_s: Option<u8>,
        big: bool,
    },
    Topic {
        topic: usize,
        big: bool,
    },
    Multicast {
        topic: usize,
    },
    /// Answers a request the overlay took (any of them: answered ones again, late ones too).
    Answer {
        pick: usize,
        ok: bool,
    },
    Unknown {
        id: u32,
    },
    /// Says how many followers a multicast went to (any of them, again too).
    Confirm {
        pick: usize,
        sent: usize,
    },
    Advance {
        ms: u32,
    },
    SetFollowers {
        topic: usize,
        list: Vec<(u8, bool)>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0u8..12, prop::option::of(0u8..20), prop::bool::weighted(0.1))
            .prop_map(|(peer, timeout_s, big)| Op::Request { peer, timeout_s, big }),
        1 => (0..TOPICS.len(), prop::bool::weighted(0.1)).prop_map(|(topic, big)| Op::Topic { topic, big }),
        1 => (0..TOPICS.len()).prop_map(|topic| Op::Multicast { topic }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, ok)| Op::Answer { pick, ok }),
        1 => (1000u32..1010).prop_map(|id| Op::Unknown { id }),
        1 => (any::<usize>(), 0usize..4).prop_map(|(pick, sent)| Op::Confirm { pick, sent }),
        2 => (0u32..15_000).prop_map(|ms| Op::Advance { ms }),
        1 => (0..TOPICS.len(), prop::collection::vec((0u8..12, any::<bool>()), 0..6))
            .prop_map(|(topic, list)| Op::SetFollowers { topic, list }),
    ]
}

/// The harness: a simulated overlay and driver, and what it has seen of each call.
struct Run {
    calls: Calls<Sim>,
    now: Instant,
    view: Followers,
    refuse: HashSet<u8>,
    refuse_multicast: bool,
    next_call: u32,
    next_id: u32,
    /// Every request the overlay took, with its destination.
    taken: Vec<(u32, u8)>,
    multicasts: Vec<u32>,
    /// Which call each attempt and multicast belongs to.
    owner: HashMap<Attempt, u32>,
    multicast_owner: HashMap<CallId, u32>,
    /// The latest each call in progress may end, and whether it is a send to a topic.
    bound: HashMap<u32, Instant>,
    tried: HashMap<u32, Vec<u8>>,
    ended: BTreeSet<u32>,
    started: u32,
}

impl Run {
    fn new(seed: u64, refuse: HashSet<u8>, refuse_multicast: bool) -> Self {
        let view = Followers(
            TOPICS
                .iter()
                .map(|t| (*t, vec![(1, true), (2, false)]))
                .collect(),
        );
        Self {
            calls: Calls::with_rng(LIMITS, rand::rngs::StdRng::seed_from_u64(seed)),
            now: Instant::now(),
            view,
            refuse,
            refuse_multicast,
            next_call: 0,
            next_id: 0,
            taken: Vec::new(),
            multicasts: Vec::new(),
            owner: HashMap::new(),
            multicast_owner: HashMap::new(),
            bound: HashMap::new(),
            tried: HashMap::new(),
            ended: BTreeSet::new(),
            started: 0,
        }
    }

    fn bound(&self, timeout: Option<Duration>) -> Instant {
        self.now + timeout.unwrap_or(LIMITS.request_timeout) + LIMITS.route_wait + GRACE
    }

    /// Feeds `input` (made by call `call`, if it starts one) and carries out what comes back,
    /// as the driver does: the overlay's answers to sends go straight back in.
    fn feed(&mut self, input: Input<Sim>, call: Option<u32>) -> Result<(), TestCaseError> {
        self.calls.handle(input, self.now, &mut self.view);
        self.drain(call)
    }

    /// Carries out every output, feeding what the overlay says to each straight back in.
    fn drain(&mut self, call: Option<u32>) -> Result<(), TestCaseError> {
        while let Some(output) = self.calls.poll_output() {
            if let Some(next) = self.carry_out(output, call)? {
                self.calls.handle(next, self.now, &mut self.view);
            }
        }
        Ok(())
    }

    fn carry_out(
        &mut self,
        output: Output<Sim>,
        call: Option<u32>,
    ) -> Result<Option<Input<Sim>>, TestCaseError> {
        Ok(match output {
            Output::Send {
                attempt,
                peer,
                timeout,
                ..
            } => {
                let owner = *self
                    .owner
                    .entry(attempt)
                    .or_insert_with(|| call.expect("a new attempt comes from a new call"));
                if let Attempt::Topic(_) = attempt {
                    let tried = self.tried.entry(owner).or_default();
                    prop_assert!(
                        !tried.contains(&peer),
                        "call {} tried follower {} twice",
                        owner,
                        peer
                    );
                    tried.push(peer);
                }
                self.bound.insert(owner, self.bound(timeout));
                let result = if self.refuse.contains(&peer) {
                    Err(OverlayRefusal::ToSelf)
                } else {
                    self.next_id += 1;
                    self.taken.push((self.next_id, peer));
                    Ok(self.next_id)
                };
                Some(Input::Sent { attempt, result })
            }
            Output::Multicast {
                call: id,
                followers,
                ..
            } => {
                prop_assert!(!followers.is_empty());
                let owner = call.expect("a multicast comes from its call");
                self.multicast_owner.insert(id, owner);
                self.bound.insert(owner, self.bound(Some(Duration::ZERO)));
                let result = if self.refuse_multicast {
                    Err(OverlayRefusal::QueueFull {
                        peer: libp2p::PeerId::random(),
                    })
                } else {
                    self.next_id += 1;
                    self.multicasts.push(self.next_id);
                    Ok(self.next_id)
                };
                Some(Input::MulticastStarted { call: id, result })
            }
            Output::CallDone { reply, .. } | Output::MulticastDone { reply, .. } => {
                self.end(reply)?;
                None
            }
            Output::TopicDone { reply, result, .. } => {
                let tried = self.tried.remove(&reply).unwrap_or_default();
                match result {
                    Ok((peer, _)) => {
                        prop_assert_eq!(
                            tried.last(),
                            Some(&peer),
                            "the reply is the last attempt's"
                        );
                        prop_assert!(peer != UNNAMEABLE);
                    }
                    Err(TopicFailure::Failed(Failure::NoFollower)) => {
                        prop_assert!(tried.is_empty())
                    }
                    Err(TopicFailure::Failed(Failure::AllFailed(failures))) => {
                        let failed: Vec<u8> = failures.iter().map(|(p, _)| *p).collect();
                        prop_assert_eq!(failed, tried, "every follower tried failed, in order");
                    }
                    Err(TopicFailure::NotSent(_)) => {}
                }
                self.end(reply)?;
                None
            }
        })
    }

    fn end(&mut self, call: u32) -> Result<(), TestCaseError> {
        prop_assert!(self.ended.insert(call), "call {} ended twice", call);
        if let Some(bound) = self.bound.remove(&call) {
            prop_assert!(self.now <= bound, "call {} ended after its deadline", call);
        }
        Ok(())
    }

    fn new_call(&mut self) -> u32 {
        self.started += 1;
        self.next_call += 1;
        self.next_call
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let payload = |big: bool| Bytes::from(vec![0; if big { 101 } else { 10 }]);
        match op {
            Op::Request {
                peer,
                timeout_s,
                big,
            } => {
                let reply = self.new_call();
                let timeout = timeout_s.map(|s| Duration::from_secs(s.into()));
                let input = Input::Request {
                    peer,
                    module: 1,
                    payload: payload(big),
                    timeout,
                    reply,
                };
                self.feed(input, Some(reply))?;
            }
            Op::Topic { topic, big } => {
                let reply = self.new_call();
                let input = Input::SendToTopic {
                    topic: TOPICS[topic].into(),
                    module: 1,
                    payload: payload(big),
                    reply,
                };
                self.feed(input, Some(reply))?;
            }
            Op::Multicast { topic } => {
                let reply = self.new_call();
                let input = Input::Multicast {
                    topic: TOPICS[topic].into(),
                    module: 1,
                    payload: payload(false),
                    reply,
                };
                self.feed(input, Some(reply))?;
            }
            Op::Answer { pick, ok } if !self.taken.is_empty() => {
                let (id, from) = self.taken[pick % self.taken.len()];
                let result = if ok {
                    Ok(Bytes::new())
                } else {
                    Err(RequestError::NoRoute)
                };
                self.feed(Input::Response { id, from, result }, None)?;
            }
            Op::Unknown { id } => {
                let result = Ok(Bytes::new());
                self.feed(
                    Input::Response {
                        id,
                        from: 1,
                        result,
                    },
                    None,
                )?;
                self.feed(Input::MulticastSent { id, sent: 1 }, None)?;
            }
            Op::Confirm { pick, sent } if !self.multicasts.is_empty() => {
                let id = self.multicasts[pick % self.multicasts.len()];
                self.feed(Input::MulticastSent { id, sent }, None)?;
            }
            Op::Advance { ms } => self.advance(Duration::from_millis(ms.into()))?,
            Op::SetFollowers { topic, list } => {
                self.view.0.insert(TOPICS[topic], list);
            }
            Op::Answer { .. } | Op::Confirm { .. } => {}
        }
        self.check_deadlines()
    }

    /// Moves the clock on, waking the core whenever its next deadline passes, as the driver does.
    fn advance(&mut self, by: Duration) -> Result<(), TestCaseError> {
        let until = self.now + by;
        while let Some(deadline) = self.calls.poll_timeout().filter(|d| *d <= until) {
            self.now = self.now.max(deadline);
            self.calls.handle_timeout(self.now, &mut self.view);
            self.drain(None)?;
        }
        self.now = until;
        Ok(())
    }

    /// Every call in progress is within its deadline, and the core wakes up in time for it.
    fn check_deadlines(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.calls.len(), self.bound.len(), "calls in progress");
        let earliest = self.bound.values().min().copied();
        prop_assert_eq!(
            self.calls.poll_timeout(),
            earliest,
            "the next deadline is the earliest call's"
        );
        for (call, bound) in &self.bound {
            prop_assert!(self.now < *bound, "call {} is past its deadline", call);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_call_ends_once_within_its_deadline_and_nothing_is_left(
        ops in prop::collection::vec(op(), 0..60),
        refuse in prop::collection::hash_set(0u8..12, 0..3),
        refuse_multicast in prop::bool::weighted(0.2),
        seed in any::<u64>(),
    ) {
        let mut run = Run::new(seed, refuse, refuse_multicast);
        for op in ops {
            run.step(op)?;
        }
        // However the overlay behaved, every call has ended once its deadline passed.
        run.advance(Duration::from_secs(3600))?;
        let all: BTreeSet<u32> = (1..=run.started).collect();
        prop_assert_eq!(&run.ended, &all, "every call ended");
        prop_assert_eq!(run.calls.len(), 0);
        prop_assert!(run.calls.requests.is_empty() && run.calls.multicast_ids.is_empty());
        prop_assert!(run.calls.deadlines.is_empty());
    }
}

#[test]
fn a_topic_send_fails_over_on_a_timeout_and_ignores_the_late_reply() {
    let mut run = Run::new(1, HashSet::new(), false);
    run.view.0.insert("a", vec![(1, true), (2, true)]);
    run.step(Op::Topic {
        topic: 0,
        big: false,
    })
    .unwrap();
    let first = run.taken[0];
    run.advance(LIMITS.request_timeout + LIMITS.route_wait + GRACE)
        .unwrap();
    assert_eq!(
        run.taken.len(),
        2,
        "the other follower is tried after the deadline"
    );
    // The first follower's late reply ends nothing.
    run.feed(
        Input::Response {
            id: first.0,
            from: first.1,
            result: Ok(Bytes::new()),
        },
        None,
    )
    .unwrap();
    assert!(run.ended.is_empty());
    let second = run.taken[1];
    run.feed(
        Input::Response {
            id: second.0,
            from: second.1,
            result: Ok(Bytes::new()),
        },
        None,
    )
    .unwrap();
    assert_eq!(run.ended, BTreeSet::from([1]));
}
