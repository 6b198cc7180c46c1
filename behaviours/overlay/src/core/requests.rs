//! Requests this node sent: choosing the route, retrying after a relay failed, and reporting
//! exactly one outcome per request.
//!
//! A request is in one of three states. **Sent** over a first hop, it waits for a reply or an
//! error until its deadline. **Waiting** for a route (none yet: state sync has not brought the
//! destination's links, or the network is split), it is sent the moment one appears, and fails
//! with "no route" after the route wait. In **backoff** after a relay reported a failure (or the
//! link to the first hop broke, or its queue was full), it is sent again on whatever route is
//! current once the backoff is over; after `max_attempts` sends the last failure is the outcome.
//! A request **sent** and not answered within `resend_after` (1 s, doubling) is sent again while
//! attempts are left: an answer lost with a link (a duplicate connection closed, a relay that
//! went down after forwarding it) is recovered without waiting for the timeout, and the
//! destination's dedup makes the copy harmless.
//! Errors that another route cannot fix (the destination refused, or serves no such module) end
//! it at once.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use bytes::Bytes;
use libp2p::PeerId;

use super::Core;
use crate::{
    envelope::{ErrorCode, Kind, Target},
    frame::Frame,
    id::{MessageId, RequestId},
    Event, Reply, RequestError, SendError,
};

#[derive(Debug)]
enum State {
    /// On its way through `via`; sent again at `resend_at` if no answer came (an answer lost
    /// with a link that went down is not reported to anyone).
    Sent {
        via: PeerId,
        resend_at: Instant,
    },
    Waiting {
        until: Instant,
    },
    Backoff {
        until: Instant,
    },
}

#[derive(Debug)]
struct Pending {
    dest: PeerId,
    module: u16,
    payload: Bytes,
    deadline: Instant,
    state: State,
    attempts: u8,
    timer: Instant,
    last_error: Option<RequestError>,
}

/// The requests this node waits on, and their timers.
#[derive(Debug, Default)]
pub(super) struct Requests {
    pending: HashMap<MessageId, Pending>,
    timers: BTreeSet<(Instant, MessageId)>,
    waiting: BTreeSet<MessageId>,
}

impl Requests {
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    fn set_timer(&mut self, id: MessageId, at: Instant) {
        if let Some(pending) = self.pending.get_mut(&id) {
            self.timers.remove(&(pending.timer, id));
            pending.timer = at;
            self.timers.insert((at, id));
        }
    }
}

impl Core {
    /// Sends a request to `dest`; its outcome arrives as [`Event::Response`] with the returned ID.
    pub(crate) fn request(
        &mut self,
        dest: PeerId,
        module: u16,
        payload: Bytes,
        timeout: Option<Duration>,
        now: Instant,
    ) -> Result<RequestId, SendError> {
        if dest == self.local {
            return Err(SendError::ToSelf);
        }
        self.check_size(&payload)?;
        let timeout = timeout.unwrap_or(self.config.request_timeout());
        if timeout > self.config.max_request_timeout() {
            return Err(SendError::TimeoutTooLong {
                requested: timeout,
                max: self.config.max_request_timeout(),
            });
        }
        if self.requests.len() >= self.config.max_in_flight() {
            return Err(SendError::TooManyInFlight {
                limit: self.config.max_in_flight(),
            });
        }
        let id = self.next_id();
        let deadline = now + timeout;
        self.requests.pending.insert(
            id,
            Pending {
                dest,
                module,
                payload,
                deadline,
                state: State::Waiting {
                    until: deadline.min(now + self.config.route_wait()),
                },
                attempts: 0,
                timer: deadline,
                last_error: None,
            },
        );
        self.requests.timers.insert((deadline, id));
        self.send_attempt(id, now);
        Ok(RequestId(id))
    }

    /// Sends request `id` on the current route, or waits for one.
    fn send_attempt(&mut self, id: MessageId, now: Instant) {
        let Some(pending) = self.requests.pending.get(&id) else {
            return;
        };
        let (dest, module, payload, deadline) = (
            pending.dest,
            pending.module,
            pending.payload.clone(),
            pending.deadline,
        );
        let Some(route) = self.routes.route(&dest) else {
            let until = match pending.state {
                State::Waiting { until } => until,
                _ => deadline.min(now + self.config.route_wait()),
            };
            if let Some(pending) = self.requests.pending.get_mut(&id) {
                pending.state = State::Waiting { until };
            }
            self.requests.waiting.insert(id);
            self.requests.set_timer(id, until);
            return;
        };
        // Straight to the destination the TLS link proves the origin; through relays it is signed.
        let signed = route.next_hop != dest;
        let envelope = match self.envelope(
            Kind::Request,
            module,
            id,
            Target::Node(dest),
            payload,
            signed,
        ) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.finish(id, Err(RequestError::Busy(error.to_string())));
                return;
            }
        };
        let ttl_ms =
            u32::try_from(deadline.saturating_duration_since(now).as_millis()).unwrap_or(u32::MAX);
        self.requests.waiting.remove(&id);
        if let Some(pending) = self.requests.pending.get_mut(&id) {
            pending.attempts += 1;
            if pending.attempts > 1 {
                self.stats.retries += 1;
            }
            let resend_at = (now + self.config.resend_after(pending.attempts)).min(deadline);
            pending.state = State::Sent {
                via: route.next_hop,
                resend_at,
            };
        }
        let timer = match self.requests.pending.get(&id).map(|p| &p.state) {
            Some(State::Sent { resend_at, .. }) => *resend_at,
            _ => deadline,
        };
        self.requests.set_timer(id, timer);
        if !self.routes.is_link(&dest) {
            self.note_traffic(dest, now);
        }
        self.send(
            route.next_hop,
            Frame {
                hops: 1,
                ttl_ms,
                dests: Vec::new(),
                envelope,
            },
        );
    }

    /// A route appeared (or changed): send the requests that waited for one.
    pub(super) fn retry_waiting_requests(&mut self, now: Instant) {
        let waiting: Vec<MessageId> = self.requests.waiting.iter().copied().collect();
        for id in waiting {
            let dest = match self.requests.pending.get(&id) {
                Some(pending) => pending.dest,
                None => {
                    self.requests.waiting.remove(&id);
                    continue;
                }
            };
            if self.routes.route(&dest).is_some() {
                self.send_attempt(id, now);
            }
        }
    }

    /// Attempt of request `id` failed with `error`: retry after a backoff if another route may
    /// help and attempts are left, or end it.
    pub(super) fn request_failed(&mut self, id: MessageId, error: RequestError, now: Instant) {
        let Some(pending) = self.requests.pending.get_mut(&id) else {
            return;
        };
        if !error.is_retryable() || pending.attempts >= self.config.max_attempts() {
            self.finish(id, Err(error));
            return;
        }
        let until = (now + self.config.backoff(pending.attempts)).min(pending.deadline);
        pending.state = State::Backoff { until };
        pending.last_error = Some(error);
        self.requests.set_timer(id, until);
    }

    /// The link to `peer` lost what was sent over it: requests sent through it are retried,
    /// and so are requests *to* `peer` that went another way, whose reply may have been coming
    /// back over the lost connection (when two nodes dial each other at once, one connection is
    /// closed with whatever was on it). A retry costs the destination nothing: it delivers each
    /// request once and answers a retry from its reply cache.
    pub(super) fn requests_lost_via(&mut self, peer: PeerId, now: Instant) {
        let lost: Vec<MessageId> = self
            .requests
            .pending
            .iter()
            .filter(|(_, p)| match p.state {
                State::Sent { via, .. } => via == peer || p.dest == peer,
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.request_failed(id, RequestError::RelayFailed { relay: peer }, now);
        }
    }

    /// A reply or error addressed to this node arrived.
    pub(super) fn on_answer(
        &mut self,
        hops: u8,
        envelope: crate::envelope::Envelope,
        now: Instant,
    ) {
        let header = &envelope.header;
        let id = header.id;
        let Some(pending) = self.requests.pending.get(&id) else {
            // Late (after the timeout) or a duplicate of an answer already taken.
            self.stats.duplicates += 1;
            return;
        };
        let from_destination = header.origin == pending.dest;
        match header.kind {
            Kind::Reply if from_destination => self.finish(
                id,
                Ok(Reply {
                    payload: envelope.payload,
                    hops,
                }),
            ),
            Kind::Error => match ErrorCode::decode(envelope.payload.clone()) {
                Ok(code) => {
                    let error = RequestError::from_code(code, header.origin);
                    if error.is_retryable() {
                        self.request_failed(id, error, now);
                    } else if from_destination {
                        self.finish(id, Err(error));
                    }
                }
                Err(reason) => {
                    tracing::debug!(origin = %header.origin, %reason, "undecodable error envelope ignored")
                }
            },
            _ => {
                tracing::debug!(origin = %header.origin, "answer from a node the request was not sent to ignored")
            }
        }
    }

    /// Ends request `id` with `result`.
    fn finish(&mut self, id: MessageId, result: Result<Reply, RequestError>) {
        let Some(pending) = self.requests.pending.remove(&id) else {
            return;
        };
        self.requests.timers.remove(&(pending.timer, id));
        self.requests.waiting.remove(&id);
        self.emit(Event::Response {
            id: RequestId(id),
            destination: pending.dest,
            result,
        });
    }

    /// Fires the request timers due by `now`.
    pub(super) fn tick_requests(&mut self, now: Instant) {
        while let Some((at, id)) = self.requests.timers.first().copied() {
            if at > now {
                break;
            }
            self.requests.timers.pop_first();
            let Some(pending) = self.requests.pending.get_mut(&id) else {
                continue;
            };
            // The timer was taken off the set; keep the record consistent before acting.
            pending.timer = now;
            self.requests.timers.insert((now, id));
            if now >= pending.deadline {
                let error = match (&pending.state, pending.last_error.take()) {
                    (State::Sent { .. }, _) => RequestError::Timeout,
                    (State::Waiting { .. }, _) => RequestError::NoRoute,
                    (State::Backoff { .. }, last) => last.unwrap_or(RequestError::Timeout),
                };
                self.finish(id, Err(error));
                continue;
            }
            match pending.state {
                State::Waiting { until } if now >= until => {
                    self.finish(id, Err(RequestError::NoRoute));
                }
                State::Backoff { until } if now >= until => self.send_attempt(id, now),
                // No answer yet: send it again, once per attempt left. The destination delivers
                // it once, and answers a copy of a request it already answered from its cache.
                State::Sent { resend_at, .. }
                    if now >= resend_at && pending.attempts < self.config.max_attempts() =>
                {
                    self.send_attempt(id, now)
                }
                _ => {
                    let next = match pending.state {
                        State::Sent { resend_at, .. } if resend_at > now => resend_at,
                        State::Sent { .. } => pending.deadline,
                        State::Waiting { until } | State::Backoff { until } => until,
                    };
                    self.requests.set_timer(id, next);
                }
            }
        }
    }
}
