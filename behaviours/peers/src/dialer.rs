//! Bounded dialling, free of I/O: one dial in flight per target, at most `max_in_flight` dials at
//! once, the rest waiting in a bounded queue in arrival order.
//!
//! Without it every request to a peer that is down started its own dial (about 790 dials a
//! second were measured), and 100,000 static peers opened 20,000 sockets at once. Here a second
//! request for a target joins the dial in flight, and a dial beyond the cap waits for a free slot.
//! The [`Behaviour`](crate::Behaviour) feeds it the swarm's outcomes by connection ID.

use std::collections::{HashMap, VecDeque};

use libp2p::{
    swarm::{
        dial_opts::{DialOpts, PeerCondition},
        ConnectionId,
    },
    Multiaddr, PeerId,
};

/// What [`Behaviour::dial`](crate::Behaviour::dial) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dial {
    /// The node is connected already; nothing to wait for.
    Connected,
    /// A dial was started.
    Started,
    /// A dial to the node is in flight already; this request shares it.
    Joined,
    /// The dial cap is reached; the dial starts when a slot frees.
    Queued,
}

/// [`Behaviour::dial`](crate::Behaviour::dial) refused a dial: the queue of dials waiting for a
/// slot is full. Try again later, or raise
/// [`Config::with_max_queued_dials`](crate::Config::with_max_queued_dials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialQueueFull;

impl std::fmt::Display for DialQueueFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many dials waiting for a free slot; try again later")
    }
}

impl std::error::Error for DialQueueFull {}

/// What one dial is for: a known node, or an address whose node is not known yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Peer(PeerId),
    Address(Multiaddr),
}

/// What became of a dial request.
#[derive(Debug)]
pub(crate) enum Requested {
    /// A dial to the target is in flight already: wait for this one.
    InFlight(ConnectionId),
    /// Hand these options to the swarm now.
    Start(DialOpts),
    /// Waiting for a free slot; [`Dialer::start_queued`] starts it later.
    Queued,
    /// The queue is full: the request is refused.
    QueueFull,
}

#[derive(Debug)]
struct Waiting {
    target: Target,
    addresses: Vec<Multiaddr>,
}

/// The dial table. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Dialer {
    max_in_flight: usize,
    max_queued: usize,
    in_flight: HashMap<ConnectionId, Target>,
    by_target: HashMap<Target, ConnectionId>,
    queue: VecDeque<Waiting>,
}

impl Dialer {
    pub(crate) fn new(max_in_flight: usize, max_queued: usize) -> Self {
        Self {
            max_in_flight: max_in_flight.max(1),
            max_queued,
            in_flight: HashMap::new(),
            by_target: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// Asks for a dial to `target` at `addresses` (for a [`Target::Address`], the address itself
    /// is dialled and `addresses` is ignored).
    pub(crate) fn request(&mut self, target: Target, addresses: Vec<Multiaddr>) -> Requested {
        if let Some(id) = self.by_target.get(&target) {
            return Requested::InFlight(*id);
        }
        if let Some(waiting) = self.queue.iter_mut().find(|w| w.target == target) {
            for address in addresses {
                if !waiting.addresses.contains(&address) {
                    waiting.addresses.push(address);
                }
            }
            return Requested::Queued;
        }
        if self.in_flight.len() < self.max_in_flight {
            return Requested::Start(self.start(target, addresses));
        }
        if self.queue.len() >= self.max_queued {
            return Requested::QueueFull;
        }
        self.queue.push_back(Waiting { target, addresses });
        Requested::Queued
    }

    /// The dial `id` ended (connected or failed); returns its target if it was ours.
    pub(crate) fn finished(&mut self, id: ConnectionId) -> Option<Target> {
        let target = self.in_flight.remove(&id)?;
        self.by_target.remove(&target);
        Some(target)
    }

    /// Starts the longest-waiting queued dial if a slot is free.
    pub(crate) fn start_queued(&mut self) -> Option<(Target, DialOpts)> {
        if self.in_flight.len() >= self.max_in_flight {
            return None;
        }
        let waiting = self.queue.pop_front()?;
        let opts = self.start(waiting.target.clone(), waiting.addresses);
        Some((waiting.target, opts))
    }

    /// Drops a queued request for `target` (a dial in flight runs to its end).
    pub(crate) fn cancel_queued(&mut self, target: &Target) {
        self.queue.retain(|w| w.target != *target);
    }

    /// The target of the dial in flight `id`.
    #[cfg(test)]
    pub(crate) fn target(&self, id: ConnectionId) -> Option<&Target> {
        self.in_flight.get(&id)
    }

    /// Dials in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Requests waiting for a slot.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    fn start(&mut self, target: Target, addresses: Vec<Multiaddr>) -> DialOpts {
        // A new local port for each dial: two nodes that dial each other at once from their
        // listen ports would otherwise ask for the same TCP 4-tuple, and one dial would fail with
        // "address already in use".
        let opts = match &target {
            // This table already keeps one dial per peer; `Disconnected` only skips a dial to a
            // peer that got connected meanwhile (the swarm then reports a failed condition).
            Target::Peer(peer) => DialOpts::peer_id(*peer)
                .addresses(addresses)
                .condition(PeerCondition::Disconnected)
                .allocate_new_port()
                .build(),
            Target::Address(address) => DialOpts::unknown_peer_id()
                .address(address.clone())
                .allocate_new_port()
                .build(),
        };
        let id = opts.connection_id();
        self.in_flight.insert(id, target.clone());
        self.by_target.insert(target, id);
        opts
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn peer(n: u8) -> Target {
        // Deterministic distinct peer IDs from an identity multihash.
        let key = libp2p::identity::Keypair::ed25519_from_bytes([n; 32]).expect("key");
        Target::Peer(key.public().to_peer_id())
    }

    #[test]
    fn a_second_request_for_a_target_joins_the_dial_in_flight() {
        let mut dialer = Dialer::new(4, 4);
        let Requested::Start(opts) = dialer.request(peer(1), vec![]) else {
            panic!("first request starts a dial");
        };
        assert!(
            matches!(dialer.request(peer(1), vec![]), Requested::InFlight(id) if id == opts.connection_id())
        );
        assert_eq!(dialer.in_flight(), 1);
        assert_eq!(dialer.finished(opts.connection_id()), Some(peer(1)));
        assert!(matches!(
            dialer.request(peer(1), vec![]),
            Requested::Start(_)
        ));
    }

    #[test]
    fn dials_beyond_the_cap_wait_and_start_in_order_as_slots_free() {
        let mut dialer = Dialer::new(1, 2);
        let Requested::Start(first) = dialer.request(peer(1), vec![]) else {
            panic!("starts");
        };
        assert!(matches!(dialer.request(peer(2), vec![]), Requested::Queued));
        assert!(matches!(dialer.request(peer(3), vec![]), Requested::Queued));
        assert!(matches!(dialer.request(peer(2), vec![]), Requested::Queued));
        assert!(matches!(
            dialer.request(peer(4), vec![]),
            Requested::QueueFull
        ));
        assert!(dialer.start_queued().is_none(), "no free slot yet");
        dialer.finished(first.connection_id());
        let (target, _) = dialer.start_queued().expect("a slot is free");
        assert_eq!(target, peer(2));
        assert!(dialer.start_queued().is_none());
        assert_eq!((dialer.in_flight(), dialer.queued()), (1, 1));
    }

    proptest! {
        /// Whatever arrives and ends in whatever order, no more than the cap is in flight, no
        /// target has two dials in flight, and the queue stays within its bound.
        #[test]
        fn the_cap_and_one_dial_per_target_always_hold(
            ops in prop::collection::vec((any::<bool>(), 0u8..12), 1..300),
            cap in 1usize..5,
            queue in 0usize..6,
        ) {
            let mut dialer = Dialer::new(cap, queue);
            let mut started: Vec<ConnectionId> = Vec::new();
            for (finish, n) in ops {
                if finish && !started.is_empty() {
                    let id = started.remove(usize::from(n) % started.len());
                    dialer.finished(id);
                    while let Some((_, opts)) = dialer.start_queued() {
                        started.push(opts.connection_id());
                    }
                } else if let Requested::Start(opts) = dialer.request(peer(n), vec![]) {
                    started.push(opts.connection_id());
                }
                prop_assert!(dialer.in_flight() <= cap);
                prop_assert!(dialer.queued() <= queue);
                prop_assert_eq!(dialer.in_flight(), started.len());
                let mut targets: Vec<_> = started.iter().filter_map(|id| dialer.target(*id)).collect();
                let count = targets.len();
                targets.sort_by_key(|t| format!("{t:?}"));
                targets.dedup();
                prop_assert_eq!(targets.len(), count);
            }
        }
    }
}
