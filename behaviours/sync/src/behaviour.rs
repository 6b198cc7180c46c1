//! The libp2p face of the protocol: drives [`State`] from swarm events, streams and a timer.
//!
//! Transport is libp2p `request_response` with this crate's length-prefixed CBOR codec. The
//! behaviour wraps it and forwards every `NetworkBehaviour` call to it, watching connection
//! events (neighbours come and go), turning its messages into state inputs, and state outputs
//! into requests. The only clock read and the only timer of the protocol live here.

use std::{
    collections::{HashMap, VecDeque},
    task::{Context, Waker},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use futures::FutureExt;
use futures_timer::Delay;
use libp2p::{
    identity::Keypair,
    request_response::{self, OutboundRequestId, ProtocolSupport},
    Multiaddr, PeerId, StreamProtocol,
};

use crate::{
    codec::{codec_error, Codec, Inbound},
    message::Response,
    state::{Entry, FetchId, Output, State},
    CodecError, Config, Error, Event, Record, PROTOCOL_NAME,
};

type Inner = request_response::Behaviour<Codec>;

/// Concurrent sync streams per connection, both directions together. Honest peers need about
/// four (an announcement and a fetch each way, sometimes a timed-out fetch winding down); the
/// bound caps what a flood of fetches can cost (each answer is at most 64 records).
const MAX_STREAMS_PER_CONNECTION: usize = 16;

/// What an outbound request was for.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Announce,
    Fetch(FetchId),
}

/// The sync protocol as a [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour). See the
/// [crate docs](crate).
///
/// Methods are synchronous: changes to the local record are signed at once and announced by
/// [`poll`](libp2p::swarm::NetworkBehaviour::poll), which also yields the [`Event`]s.
pub struct Behaviour {
    inner: Inner,
    state: State,
    /// Our outbound requests; at most one announcement and one fetch per neighbour (plus the
    /// occasional timed-out fetch still winding down inside `request_response`).
    in_flight: HashMap<OutboundRequestId, (PeerId, Pending)>,
    /// Events that come from the transport rather than the state (malformed frames).
    events: VecDeque<Event>,
    timer: Option<(Instant, Delay)>,
    waker: Option<Waker>,
    /// Announcements and fetches each neighbour may send (see `Config::with_request_budget`).
    budgets: fisco_p2p_ratelimit::Budgets<PeerId>,
    /// Requests dropped because their neighbour was over budget.
    dropped_over_budget: u64,
    /// Rate-limits the log lines about it.
    drop_log: fisco_p2p_ratelimit::PerSource<PeerId>,
}

/// Most neighbours with a request budget tracked at once.
const BUDGETS_TRACKED: usize = 4096;

impl Behaviour {
    /// A sync behaviour whose records are signed with the node's `keypair`.
    ///
    /// The local record starts empty at a seq taken from the wall clock (milliseconds since the
    /// Unix epoch), so a restarted node starts above its previous run.
    pub fn new(keypair: Keypair, config: Config) -> Result<Self, Error> {
        let start_seq = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let codec = Codec::new(config.max_message_size());
        let protocols = [(StreamProtocol::new(PROTOCOL_NAME), ProtocolSupport::Full)];
        let transport_config = request_response::Config::default()
            .with_request_timeout(config.fetch_timeout())
            .with_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
        let budgets = fisco_p2p_ratelimit::Budgets::new(config.request_budget(), BUDGETS_TRACKED);
        let state = State::new(keypair, config, start_seq, Instant::now())?;
        Ok(Self {
            inner: Inner::with_codec(codec, protocols, transport_config),
            state,
            in_flight: HashMap::new(),
            events: VecDeque::new(),
            timer: None,
            waker: None,
            budgets,
            dropped_over_budget: 0,
            drop_log: fisco_p2p_ratelimit::PerSource::new(
                fisco_p2p_ratelimit::Config::default().with_burst(1),
            ),
        })
    }

    /// Publishes the addresses this node can be dialled at. Returns whether they changed.
    pub fn set_listen_addrs(&mut self, addrs: Vec<Multiaddr>) -> Result<bool, Error> {
        self.change(|record| {
            let changed = *record.addrs_mut() != addrs;
            *record.addrs_mut() = addrs;
            changed
        })
    }

    /// Follows `topic`. Returns whether this changed the record (false if already followed).
    pub fn follow(&mut self, topic: impl Into<String>) -> Result<bool, Error> {
        let topic = topic.into();
        self.change(|record| record.topics_mut().insert(topic))
    }

    /// Stops following `topic`. Returns whether this changed the record.
    pub fn unfollow(&mut self, topic: &str) -> Result<bool, Error> {
        self.change(|record| record.topics_mut().remove(topic))
    }

    /// Sets the application state `key` to `value`. Returns whether the value changed.
    pub fn set_state(&mut self, key: impl Into<String>, value: Bytes) -> Result<bool, Error> {
        let key = key.into();
        self.change(|record| record.state_mut().insert(key, value.clone()) != Some(value))
    }

    /// Removes the application state `key`. Returns whether it was set.
    pub fn remove_state(&mut self, key: &str) -> Result<bool, Error> {
        self.change(|record| record.state_mut().remove(key).is_some())
    }

    /// Announcements and fetches dropped so far because their neighbour was over its budget.
    pub fn dropped_over_budget(&self) -> u64 {
        self.dropped_over_budget
    }

    /// This node's own record, as peers will see it.
    pub fn local_record(&self) -> &Record {
        self.state.local_record()
    }

    /// The newest record held of `peer` (the local record for the local PeerId).
    pub fn record(&self, peer: &PeerId) -> Option<&Record> {
        self.state.record(peer)
    }

    /// The remote node `peer` with its online flag, if its record is held.
    pub fn entry(&self, peer: &PeerId) -> Option<Entry<'_>> {
        self.state.entry(peer)
    }

    /// Every remote node whose record is held, online or offline, ordered by PeerId.
    /// The local node is not included: see [`Behaviour::local_record`].
    pub fn records(&self) -> impl Iterator<Item = Entry<'_>> {
        self.state.entries()
    }

    /// The nodes following `topic` that are online, ordered by PeerId. The local node is
    /// included if it follows the topic, so callers that only want remote followers filter it out.
    pub fn followers(&self, topic: &str) -> Vec<PeerId> {
        self.state.followers(topic)
    }

    fn change(&mut self, change: impl FnOnce(&mut Record) -> bool) -> Result<bool, Error> {
        let changed = self.state.change_local(Instant::now(), change)?;
        if changed {
            // The announcement deadline moved earlier: let `poll` re-arm the timer.
            if let Some(waker) = self.waker.take() {
                waker.wake();
            }
        }
        Ok(changed)
    }

    fn on_transport_event(&mut self, event: request_response::Event<Inbound, Response>) {
        let now = Instant::now();
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request: Err(error),
                    ..
                } => {
                    // Dropping the channel unanswered resets the stream.
                    self.report_invalid_message(peer, error);
                }
                request_response::Message::Request { request: Ok(_), .. }
                    if !self.budgets.charge(&peer, 1, now) =>
                {
                    // Dropping the channel unanswered resets the stream: the neighbour's request
                    // fails, and an honest one (a few a second) never gets here.
                    self.dropped_over_budget += 1;
                    if let fisco_p2p_ratelimit::Verdict::Allow { suppressed } =
                        self.drop_log.check(peer, now)
                    {
                        tracing::warn!(%peer, suppressed, "sync requests over the neighbour's budget dropped");
                    }
                }
                request_response::Message::Request {
                    request: Ok(request),
                    channel,
                    ..
                } => {
                    let response = self.state.on_request(peer, request, now);
                    if self.inner.send_response(channel, response).is_err() {
                        tracing::debug!(%peer, "sync stream closed before our response");
                    }
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.on_response(peer, request_id, response, now),
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => self.on_outbound_failure(peer, request_id, error, now),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound sync stream failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_response(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        response: Response,
        now: Instant,
    ) {
        match (self.in_flight.remove(&request_id), response) {
            (Some((_, Pending::Announce)), _) => self.state.on_announce_done(peer, now),
            (Some((_, Pending::Fetch(id))), Response::Records(envelopes)) => {
                self.state.on_fetch_response(peer, id, envelopes, now)
            }
            (Some((_, Pending::Fetch(id))), Response::Ack) => {
                tracing::warn!(%peer, "peer answered a fetch with an ack");
                self.state.on_fetch_failed(peer, id, now);
            }
            (None, _) => {}
        }
    }

    fn on_outbound_failure(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        error: request_response::OutboundFailure,
        now: Instant,
    ) {
        let Some((_, pending)) = self.in_flight.remove(&request_id) else {
            return;
        };
        match pending {
            Pending::Announce => self.state.on_announce_done(peer, now),
            Pending::Fetch(id) => self.state.on_fetch_failed(peer, id, now),
        }
        if let request_response::OutboundFailure::UnsupportedProtocols = error {
            tracing::debug!(%peer, "peer does not speak {PROTOCOL_NAME}");
            self.state.on_unsupported(peer, now);
            return;
        }
        let io = match &error {
            request_response::OutboundFailure::Io(e) => Some(e),
            _ => None,
        };
        self.on_stream_error(peer, error.to_string(), io);
    }

    /// A stream failed: a protocol violation is reported, anything else (timeouts, closed
    /// connections) is routine and only logged.
    fn on_stream_error(&mut self, peer: PeerId, error: String, io: Option<&std::io::Error>) {
        match io.and_then(codec_error) {
            Some(codec_error) => self.report_invalid_message(peer, codec_error.clone()),
            None => tracing::debug!(%peer, %error, "sync stream failed"),
        }
    }

    fn report_invalid_message(&mut self, peer: PeerId, error: CodecError) {
        tracing::warn!(%peer, %error, "refused a sync frame");
        self.events
            .push_back(Event::InvalidMessage { from: peer, error });
    }

    /// Turns state outputs into requests; returns the first event found.
    fn drain_outputs(&mut self) -> Option<Event> {
        while let Some(output) = self.state.pop_output() {
            match output {
                Output::Event(event) => return Some(event),
                Output::Announce { peer, request } => {
                    let id = self.inner.send_request(&peer, Ok(request));
                    self.in_flight.insert(id, (peer, Pending::Announce));
                }
                Output::Fetch { peer, id, request } => {
                    let request_id = self.inner.send_request(&peer, Ok(request));
                    self.in_flight
                        .insert(request_id, (peer, Pending::Fetch(id)));
                }
            }
        }
        None
    }

    /// Polls the timer armed for the state's next deadline; true if it fired.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = self.state.poll_timeout();
        if self.timer.as_ref().map(|(at, _)| *at) != Some(deadline) {
            let delay = Delay::new(deadline.saturating_duration_since(Instant::now()));
            self.timer = Some((deadline, delay));
        }
        let fired = self
            .timer
            .as_mut()
            .is_some_and(|(_, delay)| delay.poll_unpin(cx).is_ready());
        if fired {
            self.timer = None;
        }
        fired
    }
}

mod swarm;
