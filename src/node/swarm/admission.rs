//! Pre-handshake admission: strangers cannot use up a node's inbound capacity.
//!
//! An inbound connection is *pending* from TCP accept until its handshake (multistream-select,
//! TLS, multiplexer) completes. Before this layer, 100 idle sockets from one process kept every
//! legitimate peer out: each held one of the 64 pending slots for the whole 10 s handshake
//! timeout. Now every pending connection is registered, with its source IP, in a bounded
//! [`table`](table::Table) that
//! - allows at most `per_ip` pending connections per stranger's IP (default 4; an IPv6 source
//!   counts as its /64 prefix);
//! - when full, evicts a pending connection rather than refusing the newcomer: a silent one (no
//!   byte received yet) before one that has spoken, from the IP holding the most, the oldest;
//! - always admits the IPs of static peers, and never evicts them;
//!
//! and a connection that sends nothing within the first-bytes deadline (default 3 s) is closed,
//! however long the whole handshake may take. A connection admission turns away is reset (TCP
//! RST), not closed: a flood of them leaves no TIME_WAIT sockets behind on the node.
//!
//! How it plugs in: [`Admission::watch`] wraps each accepted TCP socket so that its first byte
//! marks the entry as spoken, and [`Admitted`] wraps the fully upgraded transport, so that it sees
//! each inbound connection from accept to its end. The two meet through a hand-off keyed by the
//! connection's (local, remote) addresses: the wrapper registers the connection when the listener
//! reports it, and the socket wrapper picks up its probe when the socket is first polled.
//!
//! Every failed inbound handshake is logged here, where the source IP is known: refusals at WARN,
//! connections the peer itself closed at DEBUG, each rate-limited per source IP and overall.
//!
//! Layout: this file, the shared state and the registration of a connection; `table.rs`, the
//! admission rules (pure); `transport.rs`, the transport wrapper and the pending connection's
//! future; `watched.rs`, the socket wrapper.

mod table;
mod transport;
mod watched;

pub(crate) use transport::Admitted;
pub(crate) use watched::{Resettable, Watched};

use std::{
    collections::HashMap,
    error::Error,
    fmt,
    net::IpAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};

use fisco_p2p_peers::StaticIps;
use fisco_p2p_ratelimit::{PerSource, Verdict};
use futures::task::AtomicWaker;
use libp2p::{core::ConnectedPoint, multiaddr::Protocol, Multiaddr};

pub(crate) use table::Limits;
use table::{Admission as TableVerdict, Table, Ticket};

use super::{
    classify::{classify, is_refusal},
    turned_away::{Eviction, TurnedAway},
};

/// How a node admits pending inbound connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) limits: Limits,
    /// How long an accepted connection may stay silent.
    pub(crate) first_bytes: Duration,
}

/// The admission state shared by the transport wrappers and the pending connections.
#[derive(Clone)]
pub(crate) struct Admission {
    shared: Arc<Mutex<Shared>>,
    first_bytes: Duration,
    static_ips: StaticIps,
}

struct Shared {
    table: Table,
    /// The probe of every pending connection.
    probes: HashMap<Ticket, Arc<Probe>>,
    /// Pending connections whose socket has not picked up its probe yet, by (local, remote)
    /// address.
    handoff: HashMap<(Multiaddr, Multiaddr), Ticket>,
    /// Rate-limits the log lines of failed inbound handshakes, per source IP.
    log: PerSource<IpAddr>,
}

/// What a pending connection and its socket share: whether the peer spoke, whether it was evicted.
struct Probe {
    ticket: Ticket,
    spoken: AtomicBool,
    /// Admission turned the connection away: reset it rather than close it.
    turned_away: AtomicBool,
    evicted: Mutex<Option<Eviction>>,
    waker: AtomicWaker,
    shared: Weak<Mutex<Shared>>,
}

impl Probe {
    fn spoke(&self) {
        if self.spoken.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(shared) = self.shared.upgrade() {
            lock(&shared).table.mark_spoken(self.ticket);
        }
    }

    fn has_spoken(&self) -> bool {
        self.spoken.load(Ordering::Acquire)
    }

    fn turn_away(&self) {
        self.turned_away.store(true, Ordering::Release);
    }

    fn is_turned_away(&self) -> bool {
        self.turned_away.load(Ordering::Acquire)
    }

    fn evict(&self, why: Eviction) {
        *self.evicted.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.waker.wake();
    }

    fn evicted(&self) -> Option<Eviction> {
        *self.evicted.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // Nothing panics while holding the lock; if something did, the table is still usable.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The IP of an address, an IPv4-mapped IPv6 address (a dual-stack listener's) as IPv4.
fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip).to_canonical()),
        _ => None,
    })
}

/// Whom the per-source limits count a connection against: an IPv4 address, or the /64 prefix of
/// an IPv6 address (one host usually holds a whole /64, so counting single IPv6 addresses would
/// give it 2^64 allowances).
fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
    }
}

impl Admission {
    pub(crate) fn new(settings: Settings, static_ips: StaticIps) -> Self {
        let shared = Shared {
            table: Table::new(settings.limits),
            probes: HashMap::new(),
            handoff: HashMap::new(),
            log: PerSource::new(fisco_p2p_ratelimit::Config::default()),
        };
        Self {
            shared: Arc::new(Mutex::new(shared)),
            first_bytes: settings.first_bytes,
            static_ips,
        }
    }

    /// The socket wrapper for `Transport::map` on the TCP transport: an accepted socket gets the
    /// probe its connection was registered with.
    pub(crate) fn watch<S: Resettable>(
        &self,
    ) -> impl FnOnce(S, ConnectedPoint) -> Watched<S> + Clone {
        let shared = Arc::downgrade(&self.shared);
        move |socket, endpoint| {
            let probe = match (&endpoint, shared.upgrade()) {
                (
                    ConnectedPoint::Listener {
                        local_addr,
                        send_back_addr,
                    },
                    Some(shared),
                ) => {
                    let mut shared = lock(&shared);
                    let key = (local_addr.clone(), send_back_addr.clone());
                    let ticket = shared.handoff.remove(&key);
                    ticket.and_then(|t| shared.probes.get(&t).cloned())
                }
                _ => None,
            };
            Watched::new(socket, probe)
        }
    }

    /// Wraps the upgraded transport so that every inbound connection goes through admission.
    pub(crate) fn wrap<T>(&self, transport: T) -> Admitted<T> {
        Admitted::new(transport, self.clone())
    }

    /// Registers an inbound connection from `remote` at `local`.
    fn register(&self, local: &Multiaddr, remote: &Multiaddr) -> Result<Registration, TurnedAway> {
        let ip = ip_of(remote).ok_or(TurnedAway::NoSourceIp)?;
        let exempt = self.static_ips.contains(&ip);
        let mut shared = lock(&self.shared);
        let (ticket, evicted) = match shared.table.admit(source_of(ip), exempt) {
            TableVerdict::Admitted { ticket, evicted } => (ticket, evicted),
            TableVerdict::Refused(why) => return Err(TurnedAway::Refused(why)),
        };
        if let Some((victim, why)) = evicted {
            // Its future sees the flag and fails; its registration then clears what is left.
            if let Some(probe) = shared.probes.get(&victim) {
                probe.evict(why);
            }
        }
        let probe = Arc::new(Probe {
            ticket,
            spoken: AtomicBool::new(false),
            turned_away: AtomicBool::new(false),
            evicted: Mutex::new(None),
            waker: AtomicWaker::new(),
            shared: Arc::downgrade(&self.shared),
        });
        let key = (local.clone(), remote.clone());
        shared.probes.insert(ticket, Arc::clone(&probe));
        shared.handoff.insert(key.clone(), ticket);
        drop(shared);
        Ok(Registration {
            probe,
            shared: Arc::clone(&self.shared),
            key,
        })
    }

    /// Logs a failed inbound handshake from `ip`, rate-limited per IP and overall.
    fn log_failure(&self, ip: Option<IpAddr>, remote: &Multiaddr, error: &(dyn Error + 'static)) {
        let reason = classify(error);
        let refusal = is_refusal(&reason);
        let verdict = match ip {
            Some(ip) if refusal => lock(&self.shared).log.check(source_of(ip), Instant::now()),
            _ => Verdict::Allow { suppressed: 0 },
        };
        match verdict {
            Verdict::Allow { suppressed } if refusal => {
                tracing::warn!(address = %remote, %reason, suppressed, "inbound connection refused")
            }
            Verdict::Allow { .. } => {
                tracing::debug!(address = %remote, %reason, "inbound connection failed")
            }
            Verdict::Suppress => {}
        }
    }
}

/// A pending connection's place in the table; dropping it releases the place.
struct Registration {
    probe: Arc<Probe>,
    shared: Arc<Mutex<Shared>>,
    key: (Multiaddr, Multiaddr),
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut shared = lock(&self.shared);
        let ticket = self.probe.ticket;
        shared.table.release(ticket);
        if shared
            .probes
            .get(&ticket)
            .is_some_and(|p| Arc::ptr_eq(p, &self.probe))
        {
            shared.probes.remove(&ticket);
        }
        if shared.handoff.get(&self.key) == Some(&ticket) {
            shared.handoff.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests;
