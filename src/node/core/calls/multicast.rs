//! Multicasts: handed to the overlay with the topic's followers, ended when the overlay says how
//! many it went to.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use bytes::Bytes;

use super::{CallId, Calls, Deadline, MulticastFailure, Output, Types, View};
use crate::node::topic;

/// A multicast going out.
pub(super) struct Multicast<T: Types> {
    deadline: Instant,
    topic: String,
    id: Option<T::MulticastId>,
    reply: T::MulticastReply,
}

impl<T: Types> Calls<T> {
    pub(super) fn multicast(
        &mut self,
        topic: String,
        (module, payload): (u16, Bytes),
        reply: T::MulticastReply,
        now: Instant,
        view: &mut impl View<T::Peer>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let checked = topic::check(&topic).and_then(|()| self.check_size(&payload));
        let followers: Vec<T::Peer> = match checked {
            Ok(()) => view.followers(&topic).into_iter().map(|(p, _)| p).collect(),
            Err(error) => {
                let result = Err(MulticastFailure::NotSent(error));
                return out.push_back(Output::MulticastDone {
                    reply,
                    topic,
                    result,
                });
            }
        };
        if followers.is_empty() {
            let result = Err(MulticastFailure::NoFollower);
            return out.push_back(Output::MulticastDone {
                reply,
                topic,
                result,
            });
        }
        let call = self.next_call();
        // The overlay waits up to its route wait for followers without a route, then says.
        let deadline = self.deadline(now, Some(Duration::ZERO));
        self.deadlines.insert((deadline, Deadline::Multicast(call)));
        let entry = Multicast {
            deadline,
            topic: topic.clone(),
            id: None,
            reply,
        };
        self.multicasts.insert(call, entry);
        out.push_back(Output::Multicast {
            call,
            topic,
            followers,
            module,
            payload,
        });
    }

    /// The overlay took multicast `call` as `id`.
    pub(super) fn multicast_started(&mut self, call: CallId, id: T::MulticastId) {
        if let Some(multicast) = self.multicasts.get_mut(&call) {
            multicast.id = Some(id);
            self.multicast_ids.insert(id, call);
        }
    }

    pub(super) fn end_multicast(
        &mut self,
        call: CallId,
        result: Result<usize, MulticastFailure>,
        out: &mut VecDeque<Output<T>>,
    ) {
        let Some(entry) = self.multicasts.remove(&call) else {
            return;
        };
        self.deadlines
            .remove(&(entry.deadline, Deadline::Multicast(call)));
        if let Some(id) = entry.id {
            self.multicast_ids.remove(&id);
        }
        out.push_back(Output::MulticastDone {
            reply: entry.reply,
            topic: entry.topic,
            result,
        });
    }
}
