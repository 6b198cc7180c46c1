//! The outcomes of the application's calls, without I/O: a request to one node, a send to one
//! follower of a topic (failing over to the others), a multicast.
//!
//! The driver feeds [`Calls::handle`] the application's calls and what the overlay said, then
//! takes the [`Output`]s with [`Calls::poll_output`] and carries them out: send this request,
//! start this multicast, give this caller its answer. [`Calls::poll_timeout`] is the next deadline; the driver calls
//! [`Calls::handle_timeout`] once it has passed. The rules, which the property tests in
//! `tests.rs` check on arbitrary interleavings of calls, overlay answers (late, repeated and
//! unknown ones too), follower changes and time:
//! - every call ends exactly once, whatever the overlay does, with or without an answer;
//! - no attempt outlives its deadline: the overlay's own timeout plus its route wait plus
//!   [`GRACE`]. The overlay ends requests itself; the deadline is the backstop that keeps a call
//!   from waiting forever if an answer is lost (a late answer is then ignored);
//! - a send to a topic tries each follower at most once (the choice is [`Failover`]'s);
//! - once every call has ended, nothing of them is kept.

mod multicast;
mod protocol;
#[cfg(test)]
mod tests;
mod topic;

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    hash::{BuildHasherDefault, Hasher},
    time::{Duration, Instant},
};

use bytes::Bytes;
use fisco_p2p_overlay::{RequestError, SendError as OverlayRefusal};
pub(crate) use protocol::{
    Attempt, CallFailure, CallId, Input, Limits, MulticastFailure, Output, TopicFailure, Types,
    View,
};

use self::{multicast::Multicast, topic::TopicSend};
use crate::node::{error::refused, topic as topic_name, SendError};

/// Hashes the IDs the core keys its maps by: its own counters and the overlay's IDs of messages
/// this node sent, never keys a peer picks, so a multiply-and-rotate mix (FxHash's) does where
/// SipHash's resistance to chosen keys would only cost time on every call.
#[derive(Default)]
struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        for &byte in words.remainder() {
            self.mix(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

/// A map keyed by IDs (see [`IdHasher`]).
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// How long past the overlay's own limits a call's deadline lies.
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// A request to one node in progress.
struct NodeCall<T: Types> {
    started: Instant,
    deadline: Instant,
    request: Option<T::RequestId>,
    reply: T::CallReply,
}

/// Whose deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    Attempt(Attempt),
    Multicast(CallId),
}

/// The calls in progress. See the [module docs](self).
pub(crate) struct Calls<T: Types> {
    limits: Limits,
    next_id: u64,
    nodes: IdMap<CallId, NodeCall<T>>,
    topics: IdMap<CallId, TopicSend<T>>,
    multicasts: IdMap<CallId, Multicast<T>>,
    /// Requests in flight, by the overlay's ID.
    requests: IdMap<T::RequestId, Attempt>,
    /// Multicasts in flight, by the overlay's ID.
    multicast_ids: IdMap<T::MulticastId, CallId>,
    /// Each call's deadline, earliest first.
    deadlines: BTreeSet<(Instant, Deadline)>,
    /// What the driver is to do, oldest first (see [`poll_output`](Self::poll_output)); one
    /// buffer for the node's life, so a step allocates nothing once warm.
    outputs: VecDeque<Output<T>>,
    rng: rand::rngs::StdRng,
}

impl<T: Types> Calls<T> {
    pub(crate) fn new(limits: Limits) -> Self {
        Self::with_rng(limits, rand::SeedableRng::from_entropy())
    }

    /// With a given source of randomness (the order followers are tried in), for tests.
    pub(crate) fn with_rng(limits: Limits, rng: rand::rngs::StdRng) -> Self {
        Self {
            limits,
            next_id: 0,
            nodes: IdMap::default(),
            topics: IdMap::default(),
            multicasts: IdMap::default(),
            requests: IdMap::default(),
            multicast_ids: IdMap::default(),
            deadlines: BTreeSet::new(),
            outputs: VecDeque::new(),
            rng,
        }
    }

    /// How many calls are in progress.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len() + self.topics.len() + self.multicasts.len()
    }

    /// The earliest deadline of a call in progress: call
    /// [`handle_timeout`](Self::handle_timeout) once it has passed.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// What the driver is to do next, in order: call it until `None` after each
    /// [`handle`](Self::handle) and [`handle_timeout`](Self::handle_timeout) (what the overlay
    /// says to an output goes back in through `handle`, its outputs joining the queue).
    pub(crate) fn poll_output(&mut self) -> Option<Output<T>> {
        self.outputs.pop_front()
    }

    /// Takes `input` at `now`; what to do then comes out of [`poll_output`](Self::poll_output).
    pub(crate) fn handle(&mut self, input: Input<T>, now: Instant, view: &mut impl View<T::Peer>) {
        // Taken out for the step (the helpers borrow `self` too) and put back: no copy.
        let mut out = std::mem::take(&mut self.outputs);
        self.step(input, now, view, &mut out);
        self.outputs = out;
    }

    fn step(
        &mut self,
        input: Input<T>,
        now: Instant,
        view: &mut impl View<T::Peer>,
        out: &mut VecDeque<Output<T>>,
    ) {
        match input {
            Input::Request {
                peer,
                module,
                payload,
                timeout,
                reply,
            } => self.request(peer, (module, payload, timeout), reply, now, out),
            Input::SendToTopic {
                topic,
                module,
                payload,
                reply,
            } => {
                if let Err(error) =
                    topic_name::check(&topic).and_then(|()| self.check_size(&payload))
                {
                    let result = Err(TopicFailure::NotSent(error));
                    out.push_back(Output::TopicDone {
                        reply,
                        topic,
                        started: now,
                        result,
                    });
                    return;
                }
                let call = self.next_call();
                let send = TopicSend::new(topic, module, payload, reply, now);
                self.next_follower(call, send, now, view, out);
            }
            Input::Multicast {
                topic,
                module,
                payload,
                reply,
            } => self.multicast(topic, (module, payload), reply, now, view, out),
            Input::Sent { attempt, result } => self.on_sent(attempt, result, out),
            Input::MulticastStarted { call, result } => match result {
                Ok(id) => self.multicast_started(call, id),
                Err(refusal) => {
                    let failure = MulticastFailure::NotSent(refused(refusal));
                    self.end_multicast(call, Err(failure), out);
                }
            },
            Input::Response { id, from, result } => match self.requests.remove(&id) {
                Some(Attempt::Node(call)) => {
                    self.end_node(call, result.map_err(CallFailure::Failed), out)
                }
                Some(Attempt::Topic(call)) => {
                    self.on_topic_response(call, Some(from), result, now, view, out)
                }
                None => {}
            },
            Input::MulticastSent { id, sent } => {
                if let Some(call) = self.multicast_ids.remove(&id) {
                    let result = match sent {
                        0 => Err(MulticastFailure::NoFollower),
                        sent => Ok(sent),
                    };
                    self.end_multicast(call, result, out);
                }
            }
        }
    }

    /// Ends every attempt whose deadline is at or before `now`, as if the overlay had said so:
    /// a request to one node as timed out, a topic send's attempt as its follower having timed
    /// out (the next one is tried), a multicast as unconfirmed.
    pub(crate) fn handle_timeout(&mut self, now: Instant, view: &mut impl View<T::Peer>) {
        let mut out = std::mem::take(&mut self.outputs);
        while let Some(&(deadline, whose)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            // Taken out first, so that the loop moves on even if nothing were left of the call.
            self.deadlines.pop_first();
            tracing::debug!(
                ?whose,
                "a call reached its deadline without a word from the overlay"
            );
            match whose {
                Deadline::Attempt(Attempt::Node(call)) => {
                    let result = Err(CallFailure::Failed(RequestError::Timeout));
                    self.end_node(call, result, &mut out)
                }
                Deadline::Attempt(Attempt::Topic(call)) => {
                    let timeout = Err(RequestError::Timeout);
                    self.on_topic_response(call, None, timeout, now, view, &mut out)
                }
                Deadline::Multicast(call) => {
                    self.end_multicast(call, Err(MulticastFailure::Unconfirmed), &mut out)
                }
            }
        }
        self.outputs = out;
    }

    fn request(
        &mut self,
        peer: T::Peer,
        (module, payload, timeout): (u16, Bytes, Option<Duration>),
        reply: T::CallReply,
        now: Instant,
        out: &mut VecDeque<Output<T>>,
    ) {
        if let Err(error) = self.check_size(&payload) {
            let result = Err(CallFailure::NotSent(error));
            out.push_back(Output::CallDone {
                reply,
                started: now,
                result,
            });
            return;
        }
        let call = self.next_call();
        let deadline = self.deadline(now, timeout);
        self.deadlines
            .insert((deadline, Deadline::Attempt(Attempt::Node(call))));
        let entry = NodeCall {
            started: now,
            deadline,
            request: None,
            reply,
        };
        self.nodes.insert(call, entry);
        let attempt = Attempt::Node(call);
        out.push_back(Output::Send {
            attempt,
            peer,
            module,
            payload,
            timeout,
        });
    }

    /// The overlay took or refused the request of `attempt`.
    fn on_sent(
        &mut self,
        attempt: Attempt,
        result: Result<T::RequestId, OverlayRefusal>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let id = match result {
            Ok(id) => id,
            Err(refusal) => {
                let error = refused(refusal);
                return match attempt {
                    Attempt::Node(call) => {
                        self.end_node(call, Err(CallFailure::NotSent(error)), out)
                    }
                    Attempt::Topic(call) => self.refuse_topic(call, error, out),
                };
            }
        };
        let slot = match attempt {
            Attempt::Node(call) => self.nodes.get_mut(&call).map(|c| &mut c.request),
            Attempt::Topic(call) => self
                .topics
                .get_mut(&call)
                .and_then(|s| s.attempt.as_mut())
                .map(|(_, request)| request),
        };
        if let Some(slot) = slot {
            *slot = Some(id);
            self.requests.insert(id, attempt);
        }
    }

    /// Ends call `call` to one node with `result`.
    fn end_node(
        &mut self,
        call: CallId,
        result: Result<Bytes, CallFailure>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let Some(entry) = self.nodes.remove(&call) else {
            return;
        };
        let attempt = Deadline::Attempt(Attempt::Node(call));
        self.deadlines.remove(&(entry.deadline, attempt));
        if let Some(id) = entry.request {
            self.requests.remove(&id);
        }
        let (reply, started) = (entry.reply, entry.started);
        out.push_back(Output::CallDone {
            reply,
            started,
            result,
        });
    }

    fn check_size(&self, payload: &Bytes) -> Result<(), SendError> {
        SendError::check_size(payload.len(), self.limits.max_message_size)
    }

    /// The latest an attempt with `timeout` that starts at `now` may end.
    fn deadline(&self, now: Instant, timeout: Option<Duration>) -> Instant {
        now + timeout.unwrap_or(self.limits.request_timeout) + self.limits.route_wait + GRACE
    }

    fn next_call(&mut self) -> CallId {
        self.next_id += 1;
        CallId(self.next_id)
    }
}
