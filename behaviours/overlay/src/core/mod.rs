//! The sans-I/O core of the overlay: every routing, forwarding, retry and dedup decision.
//!
//! [`Core`] is driven by plain calls, each given `now`: a link came up or went down, a record
//! listed a node's neighbours, the application sent something, a decoded and checked envelope
//! arrived from a link, or the clock reached [`Core::poll_timeout`]. What it wants done comes out
//! of [`Core::pop_output`]: frames to hand to a link, and events. It reads no clock, owns no
//! timer and does no I/O; its message IDs come from a nonce it is given. Signing goes through the
//! [`Seal`] it is given. So whole networks of cores run deterministically in `sim.rs`.
//!
//! The work is split by job: `routes.rs` (graph and table), `requests.rs` (requests this node
//! sent: routes, retries, outcomes), `relay.rs` (unicast envelopes arriving: deliver once,
//! forward, fail fast), `flood.rs` (multicast trees and broadcast floods), `direct.rs` (when
//! to ask for a direct connection).

pub(crate) mod budget;
mod direct;
pub(crate) mod expiring;
mod flood;
mod park;
mod relay;
mod requests;
pub(crate) mod routes;
#[cfg(test)]
pub(crate) mod sim;
#[cfg(test)]
mod tests;

use std::{collections::VecDeque, time::Instant};

use bytes::Bytes;
use libp2p::PeerId;

use crate::{
    envelope::{Envelope, Header, Kind, Target},
    frame::{Frame, Received},
    id::MessageId,
    seal::Seal,
    Config, Event, Route, SendError, Stats,
};

/// Decides whether an origin may reach this node (the node's access list).
pub(crate) type Access = Box<dyn Fn(&PeerId) -> Result<(), String> + Send>;

/// Something the driver of a [`Core`] must do.
#[derive(Debug)]
pub(crate) enum Output {
    /// Hand `frame` to the link to `to`.
    Send { to: PeerId, frame: Frame },
    /// Report this event.
    Event(Event),
}

/// Key of a message among all nodes' messages.
pub(crate) type Key = (PeerId, MessageId);

/// See the module docs.
pub(crate) struct Core {
    local: PeerId,
    config: Config,
    seal: Box<dyn Seal>,
    access: Access,
    nonce: u64,
    counter: u64,
    routes: routes::Routes,
    /// The routing table version last acted upon (waiting messages are retried when it moves).
    routes_seen: u64,
    requests: requests::Requests,
    relay: relay::Relay,
    flood: flood::Flood,
    direct: direct::Direct,
    budgets: budget::Work,
    /// Rate-limits the log lines about frames dropped by design (over budget, full queues).
    drop_log: fisco_p2p_ratelimit::PerSource<PeerId>,
    outputs: VecDeque<Output>,
    stats: Stats,
}

impl Core {
    /// A core for node `local`, signing with `seal`, admitting origins by `access`, drawing
    /// message IDs under boot `nonce`.
    pub(crate) fn new(
        local: PeerId,
        config: Config,
        seal: Box<dyn Seal>,
        access: Access,
        nonce: u64,
    ) -> Self {
        Core {
            local,
            requests: requests::Requests::default(),
            relay: relay::Relay::new(&config),
            flood: flood::Flood::new(&config),
            direct: direct::Direct::new(&config),
            budgets: {
                let (neighbour, origin) = config.budgets();
                budget::Work::new(neighbour, origin)
            },
            drop_log: fisco_p2p_ratelimit::PerSource::new(
                fisco_p2p_ratelimit::Config::default().with_burst(1),
            ),
            config,
            seal,
            access,
            nonce,
            counter: 0,
            routes: routes::Routes::new(local),
            routes_seen: 0,
            outputs: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The next output to act on.
    pub(crate) fn pop_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// What the overlay did so far.
    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Replaces the access check of origins.
    pub(crate) fn set_access(&mut self, access: Access) {
        self.access = access;
    }

    /// Every route, by destination.
    pub(crate) fn routes(&mut self) -> std::collections::BTreeMap<PeerId, Route> {
        self.routes.table()
    }

    /// How many nodes have a route.
    pub(crate) fn route_count(&mut self) -> usize {
        self.routes.len()
    }

    /// The route to `dest`.
    pub(crate) fn route(&mut self, dest: &PeerId) -> Option<Route> {
        self.routes.route(dest)
    }

    /// The path to `dest` through the relays, as this node sees the graph.
    pub(crate) fn path(&mut self, dest: &PeerId) -> Option<Vec<PeerId>> {
        self.routes.path(dest)
    }

    /// Requests this node remembers having forwarded (for the tests' "nothing left behind").
    #[cfg(test)]
    pub(crate) fn forwarded(&self) -> usize {
        self.relay.forwarded_len()
    }

    /// Requests in flight (sent and not ended).
    pub(crate) fn in_flight(&self) -> usize {
        self.requests.len()
    }

    /// A link to `peer` came up.
    pub(crate) fn link_up(&mut self, peer: PeerId, now: Instant) {
        self.routes.set_link(peer, true);
        self.on_routes_maybe_changed(now);
    }

    /// The link to `peer` went down: what was sent over it may be lost.
    pub(crate) fn link_down(&mut self, peer: PeerId, now: Instant) {
        self.routes.set_link(peer, false);
        self.budgets.forget_neighbour(&peer);
        self.frames_lost(peer, now);
        self.on_routes_maybe_changed(now);
    }

    /// Frames queued on the link to `peer` were lost (its connection was replaced by another
    /// one), though the link stays up: requests that went over it are retried.
    pub(crate) fn frames_lost(&mut self, peer: PeerId, now: Instant) {
        self.requests_lost_via(peer, now);
        self.forwarded_lost_via(peer, now);
    }

    /// `node`'s record now lists `neighbours`.
    pub(crate) fn set_neighbours(
        &mut self,
        node: PeerId,
        neighbours: std::collections::BTreeSet<PeerId>,
        now: Instant,
    ) {
        self.routes.set_neighbours(node, neighbours);
        self.on_routes_maybe_changed(now);
    }

    /// State sync forgot `node`.
    pub(crate) fn remove_node(&mut self, node: &PeerId, now: Instant) {
        self.routes.remove_node(node);
        self.on_routes_maybe_changed(now);
    }

    /// An envelope arrived from the link to `from`.
    pub(crate) fn on_received(&mut self, from: PeerId, received: Received, now: Instant) {
        let header = &received.envelope.header;
        // Work done on the origin's behalf: anything it floods, and what others relay for it.
        let for_origin = match header.kind {
            Kind::Multicast | Kind::Broadcast => true,
            _ => header.origin != from,
        };
        let origin = for_origin.then_some(header.origin);
        if let Err(over) = self
            .budgets
            .charge(from, origin, received.envelope.len(), now)
        {
            self.stats.dropped_over_budget += 1;
            let (who, budget) = match over {
                budget::Over::Neighbour => (from, "neighbour"),
                budget::Over::Origin => (header.origin, "origin"),
            };
            if let fisco_p2p_ratelimit::Verdict::Allow { suppressed } =
                self.drop_log.check(who, now)
            {
                tracing::warn!(peer = %who, via = %from, budget, suppressed, "frames over budget dropped");
            }
            return;
        }
        match received.envelope.header.kind {
            Kind::Request | Kind::Reply | Kind::Error => self.on_unicast(from, received, now),
            Kind::Multicast => self.on_multicast(from, received, now),
            Kind::Broadcast => self.on_broadcast(from, received, now),
        }
    }

    /// A frame for `to` found its link's send queue full and was not sent.
    pub(crate) fn on_send_failed(&mut self, to: PeerId, frame: &Frame, now: Instant) {
        self.stats.dropped_queue_full += 1;
        if let fisco_p2p_ratelimit::Verdict::Allow { suppressed } = self.drop_log.check(to, now) {
            tracing::warn!(peer = %to, suppressed, "send queue full: frame dropped (the link or the neighbour is slower than the traffic)");
        }
        let header = &frame.envelope.header;
        if header.kind != Kind::Request {
            return;
        }
        if header.origin == self.local {
            self.request_failed(
                header.id,
                crate::RequestError::Busy(format!("the link to {to} is full")),
                now,
            );
        } else {
            self.forget_forwarded(&(header.origin, header.id));
            let module = header.module;
            let busy = crate::envelope::ErrorCode::Busy(format!(
                "the link from relay {} is full",
                self.local
            ));
            self.send_error(header.origin, header.id, module, busy, None, now);
        }
    }

    /// When [`tick`](Self::tick) has work to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.requests.next_timer(),
            self.flood.next_timer(),
            self.relay.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles everything due by `now`.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.tick_requests(now);
        self.tick_multicasts(now);
        self.relay_housekeeping(now);
    }

    /// A link's handler refused a frame from `from`: count and report it.
    pub(crate) fn refused(&mut self, from: PeerId, origin: Option<PeerId>, reason: crate::Refusal) {
        match reason {
            crate::Refusal::Signature(_) => self.stats.dropped_bad_signature += 1,
            crate::Refusal::Barred(_) => self.stats.dropped_barred_origin += 1,
            _ => self.stats.dropped_malformed += 1,
        }
        self.emit(Event::Refused {
            from,
            origin,
            reason,
        });
    }

    fn on_routes_maybe_changed(&mut self, now: Instant) {
        let version = self.routes.version();
        if version != self.routes_seen {
            self.routes_seen = version;
            self.retry_waiting_requests(now);
            self.retry_waiting_multicasts(now);
            self.retry_parked(now);
        }
    }

    fn next_id(&mut self) -> MessageId {
        self.counter += 1;
        MessageId::new(self.nonce, self.counter)
    }

    /// Builds an envelope from this node, signed if `signed`.
    fn envelope(
        &self,
        kind: Kind,
        module: u16,
        id: MessageId,
        target: Target,
        payload: Bytes,
        signed: bool,
    ) -> Result<Envelope, SendError> {
        let header = Header {
            kind,
            module,
            id,
            origin: self.local,
            target,
        };
        let seal = signed.then_some(self.seal.as_ref());
        Envelope::build(header, payload, seal).map_err(SendError::Signing)
    }

    /// Checks an application payload against the maximum message size.
    fn check_size(&self, payload: &Bytes) -> Result<(), SendError> {
        // Room for the envelope around it; the exact frame is checked when it is built.
        let max = self
            .config
            .max_message_size()
            .saturating_sub(crate::ENVELOPE_OVERHEAD);
        if payload.len() > max {
            return Err(SendError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        Ok(())
    }

    /// Queues `frame` for the link to `to`.
    fn send(&mut self, to: PeerId, frame: Frame) {
        let kind = match frame.envelope.header.kind {
            Kind::Request => 0,
            Kind::Reply => 1,
            Kind::Error => 2,
            Kind::Multicast => 3,
            Kind::Broadcast => 4,
        };
        self.stats.sent[kind] += 1;
        self.stats.sent_bytes += frame.len() as u64;
        if frame.envelope.header.origin != self.local {
            self.stats.relayed += 1;
            self.stats.relayed_bytes += frame.len() as u64;
        }
        self.outputs.push_back(Output::Send { to, frame });
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// Whether `origin` may reach this node; reports the refusal if not.
    fn admitted(&mut self, from: PeerId, origin: PeerId) -> Result<(), String> {
        (self.access)(&origin).inspect_err(|reason| {
            self.stats.dropped_barred_origin += 1;
            self.emit(Event::Refused {
                from,
                origin: Some(origin),
                reason: crate::Refusal::Barred(reason.clone()),
            });
        })
    }
}
