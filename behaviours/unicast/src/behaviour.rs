//! The unicast behaviour's API: `request_response` underneath, plus modules, per-request
//! timeouts and the in-flight bound on top. `network.rs` holds what the swarm calls.

use std::{
    collections::{HashSet, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_timer::Delay;
use libp2p::{
    request_response::{self, OutboundRequestId, ProtocolSupport},
    Multiaddr, PeerId,
};

use crate::{
    codec::Codec,
    pending::Pending,
    protocol::{Request, ENVELOPE_MAX},
    Config, Error, Event, ReplyError, RequestId, ResponseChannel, PROTOCOL_NAME,
};

mod network;

type Inner = request_response::Behaviour<Codec>;

/// How long a substream failure waits for the connection's closure, which libp2p reports just
/// after it when the peer went away; see `pending.rs`.
const STREAM_FAILURE_GRACE: Duration = Duration::from_millis(250);

/// Requests to one node, addressed by peer ID and module; see the [crate docs](crate).
pub struct Behaviour {
    inner: Inner,
    config: Config,
    modules: HashSet<u16>,
    pending: Pending<OutboundRequestId>,
    /// Fires at `pending.next_deadline()`.
    timer: Option<(Instant, Delay)>,
    /// Bounded: at most one event per inner event, plus timeouts (bounded by `max_in_flight`);
    /// drained before anything else in `poll`.
    events: VecDeque<Event>,
}

impl Behaviour {
    /// A behaviour serving no module yet; see [`register_module`](Self::register_module).
    pub fn new(config: Config) -> Self {
        // The inner timeout is only a backstop: ours fire first, per request.
        let inner_config = request_response::Config::default()
            .with_request_timeout(config.max_request_timeout() + Duration::from_secs(1))
            .with_max_concurrent_streams(config.max_streams_per_connection());
        let inner = Inner::with_codec(
            Codec::new(config.max_message_size()),
            [(PROTOCOL_NAME, ProtocolSupport::Full)],
            inner_config,
        );
        Behaviour {
            inner,
            config,
            modules: HashSet::new(),
            pending: Pending::new(),
            timer: None,
            events: VecDeque::new(),
        }
    }

    /// Accepts requests for `module` from now on: they arrive as [`Event::Request`]. Requests
    /// for modules not registered are answered with [`ReplyError::UnknownModule`] at once.
    pub fn register_module(&mut self, module: u16) {
        self.modules.insert(module);
    }

    /// Stops accepting requests for `module`.
    pub fn unregister_module(&mut self, module: u16) {
        self.modules.remove(&module);
    }

    /// Sends a request with the configured default timeout; see
    /// [`send_request_with_timeout`](Self::send_request_with_timeout).
    pub fn send_request(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
    ) -> Result<RequestId, Error> {
        self.send_request_with_timeout(peer, module, payload, self.config.request_timeout())
    }

    /// Sends a request to `peer` for `module`. The outcome arrives as exactly one
    /// [`Event::Response`] with the returned ID: the reply, or a [`RequestError`](crate::RequestError) (timeout after
    /// `timeout`, disconnection, unreachable, refused). If `peer` is not connected, it is dialled
    /// with the addresses the swarm knows for it.
    pub fn send_request_with_timeout(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<RequestId, Error> {
        self.send_request_with_addresses(peer, module, payload, timeout, Vec::new())
    }

    /// Like [`send_request_with_timeout`](Self::send_request_with_timeout), dialling `addresses`
    /// (for instance those a node advertises through state sync) if `peer` is not connected.
    pub fn send_request_with_addresses(
        &mut self,
        peer: &PeerId,
        module: u16,
        payload: Bytes,
        timeout: Duration,
        addresses: Vec<Multiaddr>,
    ) -> Result<RequestId, Error> {
        let max = self.config.max_message_size();
        if payload.len() + ENVELOPE_MAX > max {
            return Err(Error::TooLarge {
                size: payload.len(),
                max,
            });
        }
        if timeout > self.config.max_request_timeout() {
            return Err(Error::TimeoutTooLong {
                requested: timeout,
                max: self.config.max_request_timeout(),
            });
        }
        if self.pending.len() >= self.config.max_in_flight() {
            return Err(Error::TooManyInFlight {
                limit: self.config.max_in_flight(),
            });
        }
        let request = Request { module, payload };
        let id = self
            .inner
            .send_request_with_addresses(peer, request, addresses);
        let now = Instant::now();
        self.pending.insert(id, *peer, now + timeout);
        self.arm_timer(now, now + timeout);
        Ok(RequestId(id))
    }

    /// Makes the timer fire at `deadline` unless it already fires earlier.
    fn arm_timer(&mut self, now: Instant, deadline: Instant) {
        if self.timer.as_ref().is_none_or(|(at, _)| deadline < *at) {
            let delay = Delay::new(deadline.saturating_duration_since(now));
            self.timer = Some((deadline, delay));
        }
    }

    /// Answers an inbound request with a reply (`Ok`) or an error the requester receives.
    ///
    /// A reply over the maximum message size is not sent: the requester receives
    /// [`ReplyError::TooLarge`] instead, and this returns [`Error::TooLarge`].
    pub fn send_response(
        &mut self,
        channel: ResponseChannel,
        response: Result<Bytes, ReplyError>,
    ) -> Result<(), Error> {
        let max = self.config.max_message_size();
        let (response, refused) = match response {
            Ok(payload) if payload.len() + ENVELOPE_MAX > max => {
                let size = payload.len();
                let error = ReplyError::TooLarge {
                    size: size as u64,
                    max: max as u64,
                };
                (Err(error), Some(Error::TooLarge { size, max }))
            }
            response => (response, None),
        };
        self.inner
            .send_response(channel.0, response)
            .map_err(|_| Error::ChannelClosed)?;
        refused.map_or(Ok(()), Err)
    }

    /// Outbound requests awaiting their outcome.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}
