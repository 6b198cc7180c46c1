//! The static addresses: where each stands, when it is due to be dialled, and what the operator is
//! told about them.
//!
//! An operator whose static peers are all unreachable must hear of it at the default log level:
//! each address's failures are logged at WARN with the reason (the first one, then at most once a
//! minute while they last, then "reconnected after N failed attempts"), and a node left with no
//! connection at all once every static address has failed says so at WARN.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use fisco_p2p_ratelimit::{PerSource, Verdict};
use libp2p::{
    swarm::{ConnectionId, DialError},
    Multiaddr, PeerId,
};
use rand::{rngs::StdRng, SeedableRng};

use crate::{
    backoff::{Backoff, BackoffConfig},
    dialer::Target,
    static_ips::StaticIps,
    Event,
};

/// How often an address that keeps failing is logged again.
const FAILURE_LOG_PERIOD: Duration = Duration::from_secs(60);
/// How often a node with no connection at all is reminded of it.
const ISOLATION_LOG_PERIOD: Duration = Duration::from_secs(600);
/// Recoveries an address may report per [`FAILURE_LOG_PERIOD`] (each then lets the next outage's
/// first failure be told at once): a peer that flaps, on purpose or not, writes no more.
const RECOVERY_BURST: u32 = 2;

/// Where a static address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticPeerStatus {
    /// Connected to the node at this address.
    Connected(PeerId),
    /// A dial is under way, or waiting for a free dial slot.
    Dialing,
    /// Waiting before the next dial.
    Waiting,
    /// The address is this node's own; it is never dialled.
    OwnAddress,
}

#[derive(Debug)]
enum Slot {
    Due(Instant),
    /// Handed to the dialer, waiting for a free slot.
    Queued,
    Dialing(ConnectionId),
    Connected(PeerId),
    OwnAddress,
}

#[derive(Debug)]
struct StaticPeer {
    slot: Slot,
    backoff: Backoff,
    /// The node last found at this address, so that a later dial can be skipped while that node
    /// is connected through another connection.
    known_peer: Option<PeerId>,
}

impl StaticPeer {
    fn target(&self, address: &Multiaddr) -> Target {
        match self.known_peer {
            Some(peer) => Target::Peer(peer),
            None => Target::Address(address.clone()),
        }
    }
}

/// A dial that is due: the address, and the target to ask the dialer for.
pub(crate) struct Due {
    pub(crate) address: Multiaddr,
    pub(crate) target: Target,
}

/// The static addresses. See the [module docs](self).
pub(crate) struct StaticPeers {
    peers: BTreeMap<Multiaddr, StaticPeer>,
    backoff: BackoffConfig,
    rng: StdRng,
    ips: StaticIps,
    describe: fn(&DialError) -> String,
    failure_log: PerSource<Multiaddr>,
    recovery_log: PerSource<Multiaddr>,
    isolation_log: PerSource<()>,
    /// Since when every static address has failed and no connection exists, and when that was
    /// last said at WARN (if it was).
    isolated: Option<(Instant, Option<Instant>)>,
}

impl StaticPeers {
    pub(crate) fn new(
        backoff: BackoffConfig,
        ips: StaticIps,
        describe: fn(&DialError) -> String,
    ) -> Self {
        let per = |burst, period| {
            fisco_p2p_ratelimit::Config::default()
                .with_burst(burst)
                .with_period(period)
        };
        Self {
            peers: BTreeMap::new(),
            backoff,
            rng: StdRng::from_entropy(),
            ips,
            describe,
            failure_log: PerSource::new(per(1, FAILURE_LOG_PERIOD)),
            recovery_log: PerSource::new(per(RECOVERY_BURST, FAILURE_LOG_PERIOD)),
            isolation_log: PerSource::new(per(RECOVERY_BURST, ISOLATION_LOG_PERIOD)),
            isolated: None,
        }
    }

    pub(crate) fn add(&mut self, address: Multiaddr, now: Instant) -> bool {
        if self.peers.contains_key(&address) {
            return false;
        }
        self.ips.add(&address);
        self.peers.insert(
            address,
            StaticPeer {
                slot: Slot::Due(now),
                backoff: Backoff::default(),
                known_peer: None,
            },
        );
        true
    }

    /// Removes `address`; returns the node it led to (connected or last known) and the target a
    /// queued dial of it waits under.
    pub(crate) fn remove(&mut self, address: &Multiaddr) -> Option<(Option<PeerId>, Target)> {
        let removed = self.peers.remove(address)?;
        self.ips.remove(address);
        self.failure_log.forget(address);
        self.recovery_log.forget(address);
        let target = removed.target(address);
        let peer = match removed.slot {
            Slot::Connected(peer) => Some(peer),
            _ => removed.known_peer,
        };
        Some((peer, target))
    }

    pub(crate) fn statuses(&self) -> impl Iterator<Item = (&Multiaddr, StaticPeerStatus)> {
        self.peers.iter().map(|(address, peer)| {
            let status = match peer.slot {
                Slot::Due(_) => StaticPeerStatus::Waiting,
                Slot::Queued | Slot::Dialing(_) => StaticPeerStatus::Dialing,
                Slot::Connected(peer) => StaticPeerStatus::Connected(peer),
                Slot::OwnAddress => StaticPeerStatus::OwnAddress,
            };
            (address, status)
        })
    }

    /// Describes a failed dial for logs and events.
    pub(crate) fn describe(&self, error: &DialError) -> String {
        (self.describe)(error)
    }

    pub(crate) fn ips(&self) -> &StaticIps {
        &self.ips
    }

    pub(crate) fn is_static(&self, peer: &PeerId) -> bool {
        self.peers
            .values()
            .any(|p| p.known_peer.as_ref() == Some(peer))
    }

    /// Whether static addresses (other than our own) are configured and none is connected.
    pub(crate) fn none_connected(&self) -> bool {
        let mut configured = self
            .peers
            .values()
            .filter(|p| !matches!(p.slot, Slot::OwnAddress));
        configured.next().is_some()
            && !self
                .peers
                .values()
                .any(|p| matches!(p.slot, Slot::Connected(_)))
    }

    pub(crate) fn on_established(&mut self, id: ConnectionId, peer_id: PeerId) {
        for (address, peer) in self.peers.iter_mut() {
            let ours = match peer.slot {
                Slot::Dialing(dial) => dial == id || peer.known_peer == Some(peer_id),
                Slot::Due(_) | Slot::Queued => peer.known_peer == Some(peer_id),
                Slot::Connected(_) | Slot::OwnAddress => false,
            };
            if !ours {
                continue;
            }
            let failures = peer.backoff.failures();
            if failures > 0
                && self
                    .recovery_log
                    .check(address.clone(), Instant::now())
                    .is_allowed()
            {
                tracing::info!(%address, peer = %peer_id, failures, "static peer reconnected after {failures} failed attempts");
                // The next outage is news again.
                self.failure_log.forget(address);
            }
            peer.known_peer = Some(peer_id);
            peer.backoff.reset();
            peer.slot = Slot::Connected(peer_id);
        }
        if let Some((_, Some(_))) = self.isolated.take() {
            tracing::info!(peer = %peer_id, "connected to a static peer again");
        }
    }

    /// The last connection to `peer` closed: its addresses are due at once (a restarted peer is
    /// usually back within moments). Returns whether any was.
    pub(crate) fn on_disconnected(&mut self, peer_id: PeerId, now: Instant) -> bool {
        let mut any = false;
        for peer in self.peers.values_mut() {
            if matches!(peer.slot, Slot::Connected(p) if p == peer_id) {
                peer.slot = Slot::Due(now);
                any = true;
            }
        }
        any
    }

    /// The dial to `target` was started as `id`: its queued addresses are now dialling.
    pub(crate) fn on_dial_started(&mut self, target: &Target, id: ConnectionId) {
        for (address, peer) in self.peers.iter_mut() {
            if matches!(peer.slot, Slot::Queued) && peer.target(address) == *target {
                peer.slot = Slot::Dialing(id);
            }
        }
    }

    /// Marks `address` as queued or dialling, as the dialer answered.
    pub(crate) fn set_dialing(&mut self, address: &Multiaddr, id: Option<ConnectionId>) {
        if let Some(peer) = self.peers.get_mut(address) {
            peer.slot = match id {
                Some(id) => Slot::Dialing(id),
                None => Slot::Queued,
            };
        }
    }

    /// The dialer refused a dial (its queue is full): try again after the backoff.
    pub(crate) fn set_refused(&mut self, address: &Multiaddr, now: Instant) {
        if let Some(peer) = self.peers.get_mut(address) {
            let retry_in = peer.backoff.next_delay(&self.backoff, &mut self.rng);
            peer.slot = Slot::Due(now + retry_in);
        }
    }

    /// The dial `id` failed; `connected` tells whether a node has a connection now. Returns the
    /// events to report.
    pub(crate) fn on_dial_failure(
        &mut self,
        id: ConnectionId,
        error: &DialError,
        connected: impl Fn(&PeerId) -> bool,
        now: Instant,
    ) -> Vec<Event> {
        let mut events = Vec::new();
        for (address, peer) in self.peers.iter_mut() {
            if !matches!(peer.slot, Slot::Dialing(dial) if dial == id) {
                continue;
            }
            match error {
                // The swarm drops dial addresses that are its own listen addresses, which leaves
                // a static dial with none; an address it does not know as its own leads to us
                // and shows up as `LocalPeerId` after the handshake. Both mean: our own address.
                DialError::LocalPeerId { .. } | DialError::NoAddresses => {
                    tracing::warn!(%address, "static peer address is this node itself; not dialling it again");
                    peer.slot = Slot::OwnAddress;
                    events.push(Event::SelfDial {
                        address: address.clone(),
                    });
                }
                DialError::DialPeerConditionFalse(_) => {
                    // Connected meanwhile through another connection.
                    peer.slot = match peer.known_peer {
                        Some(known) if connected(&known) => Slot::Connected(known),
                        _ => Slot::Due(now + self.backoff.initial),
                    };
                }
                error => {
                    if matches!(error, DialError::WrongPeerId { .. }) {
                        // Another node now answers at this address: learn it afresh.
                        peer.known_peer = None;
                    }
                    let retry_in = peer.backoff.next_delay(&self.backoff, &mut self.rng);
                    peer.slot = Slot::Due(now + retry_in);
                    let failures = peer.backoff.failures();
                    let reason = (self.describe)(error);
                    if let Verdict::Allow { .. } = self.failure_log.check(address.clone(), now) {
                        tracing::warn!(%address, failures, ?retry_in, %reason, "static peer unreachable; retrying");
                    }
                    events.push(Event::DialFailed {
                        address: address.clone(),
                        failures,
                        retry_in,
                        error: reason,
                    });
                }
            }
        }
        events
    }

    /// Warns when every static address has failed at least once and the node has no connection
    /// at all (`connections` is the number of peers connected).
    pub(crate) fn check_isolated(&mut self, connections: usize, now: Instant) {
        let mut configured = self
            .peers
            .values()
            .filter(|p| !matches!(p.slot, Slot::OwnAddress))
            .peekable();
        let round_failed = configured.peek().is_some()
            && configured
                .all(|p| p.backoff.failures() > 0 && !matches!(p.slot, Slot::Connected(_)));
        if !round_failed || connections > 0 {
            return;
        }
        let (since, warned) = self.isolated.get_or_insert((now, None));
        let due = match warned {
            // A reminder while it lasts.
            Some(at) => now.saturating_duration_since(*at) >= ISOLATION_LOG_PERIOD,
            // A new episode, unless the node keeps falling in and out of it.
            None => self.isolation_log.check((), now).is_allowed(),
        };
        if due {
            *warned = Some(now);
            let count = self.peers.len();
            let for_secs = now.saturating_duration_since(*since).as_secs();
            tracing::warn!(
                static_peers = count,
                for_secs,
                "no connection: none of the {count} static peers could be reached; check their \
                 addresses, that those nodes run and listen, and firewalls; still retrying"
            );
        }
    }

    /// Starts what is due: returns the dials to request and when the next one is due.
    pub(crate) fn take_due(
        &mut self,
        now: Instant,
        connected: impl Fn(&PeerId) -> bool,
    ) -> (Vec<Due>, Option<Instant>) {
        let mut next: Option<Instant> = None;
        let mut due = Vec::new();
        for (address, peer) in self.peers.iter_mut() {
            let Slot::Due(at) = peer.slot else { continue };
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                continue;
            }
            if let Some(known) = peer.known_peer {
                if connected(&known) {
                    peer.slot = Slot::Connected(known);
                    continue;
                }
            }
            peer.slot = Slot::Queued;
            due.push(Due {
                address: address.clone(),
                target: peer.target(address),
            });
        }
        (due, next)
    }
}
