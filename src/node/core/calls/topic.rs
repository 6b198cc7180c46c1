//! Sends to one follower of a topic: one attempt at a time, failing over until a follower
//! replies or none is left.

use std::{collections::VecDeque, time::Instant};

use bytes::Bytes;
use fisco_p2p_overlay::RequestError;

use super::{Attempt, CallId, Calls, Deadline, Output, TopicFailure, Types, View};
use crate::node::{
    core::failover::{Failover, Next},
    SendError,
};

/// A send to a topic in progress.
pub(super) struct TopicSend<T: Types> {
    pub(super) started: Instant,
    /// The current attempt's deadline.
    pub(super) deadline: Instant,
    pub(super) topic: String,
    pub(super) module: u16,
    pub(super) payload: Bytes,
    pub(super) failover: Failover<T::Peer>,
    /// The follower of the current attempt, and its request once the overlay took it.
    pub(super) attempt: Option<(T::Peer, Option<T::RequestId>)>,
    pub(super) reply: T::TopicReply,
}

impl<T: Types> TopicSend<T> {
    pub(super) fn new(
        topic: String,
        module: u16,
        payload: Bytes,
        reply: T::TopicReply,
        now: Instant,
    ) -> Self {
        Self {
            started: now,
            deadline: now,
            topic,
            module,
            payload,
            failover: Failover::new(),
            attempt: None,
            reply,
        }
    }

    fn end(self, result: Result<(T::Peer, Bytes), TopicFailure<T::Peer>>) -> Output<T> {
        Output::TopicDone {
            reply: self.reply,
            topic: self.topic,
            started: self.started,
            result,
        }
    }
}

impl<T: Types> Calls<T> {
    /// Sends `send` to a follower not tried yet (one with a route first), or ends it when none
    /// is left.
    pub(super) fn next_follower(
        &mut self,
        call: CallId,
        mut send: TopicSend<T>,
        now: Instant,
        view: &mut impl View<T::Peer>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let followers = view.followers(&send.topic);
        let peer = match send.failover.next(&followers, &mut self.rng) {
            Next::Try(peer) => peer,
            Next::Failed(failure) => {
                return out.push_back(send.end(Err(TopicFailure::Failed(failure))))
            }
        };
        send.deadline = self.deadline(now, None);
        send.attempt = Some((peer, None));
        let attempt = Attempt::Topic(call);
        self.deadlines
            .insert((send.deadline, Deadline::Attempt(attempt)));
        let (module, payload) = (send.module, send.payload.clone());
        self.topics.insert(call, send);
        out.push_back(Output::Send {
            attempt,
            peer,
            module,
            payload,
            timeout: None,
        });
    }

    /// How the current attempt of send `call` ended: `from` names the node that answered,
    /// `None` when the deadline ended it.
    pub(super) fn on_topic_response(
        &mut self,
        call: CallId,
        from: Option<T::Peer>,
        result: Result<Bytes, RequestError>,
        now: Instant,
        view: &mut impl View<T::Peer>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let Some(mut send) = self.remove_topic(call) else {
            return;
        };
        let Some((peer, _)) = send.attempt.take() else {
            return; // a send in the map always has an attempt
        };
        match result {
            Ok(bytes) if from.is_some_and(|f| view.nameable(&f)) => {
                out.push_back(send.end(Ok((peer, bytes))))
            }
            result => {
                // A reply from a node this one cannot name cannot be handed over (every
                // follower's record carries its key, so this does not happen): try another.
                let error = result.err().unwrap_or_else(|| {
                    RequestError::Application("the replying node cannot be named".into())
                });
                tracing::debug!(?peer, %error, topic = %send.topic, "follower failed; trying another");
                send.failover.failed(peer, error);
                self.next_follower(call, send, now, view, out);
            }
        }
    }

    /// The overlay refused the current attempt of send `call`: the send ends with that.
    pub(super) fn refuse_topic(
        &mut self,
        call: CallId,
        error: SendError,
        out: &mut VecDeque<Output<T>>,
    ) {
        if let Some(send) = self.remove_topic(call) {
            out.push_back(send.end(Err(TopicFailure::NotSent(error))));
        }
    }

    /// Takes send `call` out, with its deadline and its request in flight.
    fn remove_topic(&mut self, call: CallId) -> Option<TopicSend<T>> {
        let send = self.topics.remove(&call)?;
        self.deadlines
            .remove(&(send.deadline, Deadline::Attempt(Attempt::Topic(call))));
        if let Some((_, Some(id))) = send.attempt {
            self.requests.remove(&id);
        }
        Some(send)
    }
}
