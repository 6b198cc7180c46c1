//! Pre-handshake admission: strangers cannot use up a node's inbound capacity.
//!
//! An inbound connection is *pending* from TCP accept until its handshake (multistream-select,
//! TLS, multiplexer) completes. Before this layer, 100 idle sockets from one process kept every
//! legitimate peer out: each held one of the 64 pending slots for the whole 10 s handshake
//! timeout. Now every pending connection is registered, with its source IP, in a bounded
//! [`table`](table::Table) that
//! - allows at most `per_ip` pending connections per stranger's IP (default 4);
//! - when full, evicts a pending connection rather than refusing the newcomer: a silent one (no
//!   byte received yet) before one that has spoken, from the IP holding the most, the oldest;
//! - always admits the IPs of static peers, and never evicts them;
//!
//! and a connection that sends nothing within the first-bytes deadline (default 3 s) is closed,
//! however long the whole handshake may take.
//!
//! How it plugs in: [`Admission::watch`] wraps each accepted TCP socket so that its first byte
//! marks the entry as spoken, and [`Admitted`] wraps the fully upgraded transport, so that it sees
//! each inbound connection from accept to its end. The two meet through a hand-off keyed by the
//! connection's (local, remote) addresses: the wrapper registers the connection when the listener
//! reports it, and the socket wrapper picks up its probe when the socket is first polled.
//!
//! Every failed inbound handshake is logged here, where the source IP is known: refusals at WARN,
//! connections the peer itself closed at DEBUG, each rate-limited per source IP and overall.

mod table;

use std::{
    collections::HashMap,
    error::Error,
    fmt,
    future::Future,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, Weak,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use fisco_p2p_peers::StaticIps;
use fisco_p2p_ratelimit::{PerSource, Verdict};
use futures::{task::AtomicWaker, AsyncRead, AsyncWrite};
use futures_timer::Delay;
use libp2p::{
    core::{
        transport::{DialOpts, ListenerId, TransportError, TransportEvent},
        ConnectedPoint,
    },
    multiaddr::Protocol,
    Multiaddr, Transport,
};

use table::{Admission as TableVerdict, Table, Ticket};
pub(crate) use table::{Eviction, Limits, Refused};

use super::classify::{classify, is_refusal};

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

    fn evict(&self, why: Eviction) {
        *self.evicted.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        self.waker.wake();
    }

    fn evicted(&self) -> Option<Eviction> {
        *self.evicted.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // Nothing panics while holding the lock; if something did, the table is still usable.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
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
    pub(crate) fn watch<S>(&self) -> impl FnOnce(S, ConnectedPoint) -> Watched<S> + Clone {
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
            Watched {
                inner: socket,
                probe,
            }
        }
    }

    /// Wraps the upgraded transport so that every inbound connection goes through admission.
    pub(crate) fn wrap<T>(&self, transport: T) -> Admitted<T> {
        Admitted {
            inner: transport,
            admission: self.clone(),
        }
    }

    /// Registers an inbound connection from `remote` at `local`.
    fn register(&self, local: &Multiaddr, remote: &Multiaddr) -> Result<Registration, TurnedAway> {
        let ip = ip_of(remote).ok_or(TurnedAway::NoSourceIp)?;
        let exempt = self.static_ips.contains(&ip);
        let mut shared = lock(&self.shared);
        let (ticket, evicted) = match shared.table.admit(ip, exempt) {
            TableVerdict::Admitted { ticket, evicted } => (ticket, evicted),
            TableVerdict::Refused(why) => return Err(TurnedAway::Refused(why)),
        };
        if let Some((victim, why)) = evicted {
            // Its future sees the flag, fails, and releases its (already released) ticket.
            if let Some(probe) = shared.probes.remove(&victim) {
                shared.handoff.retain(|_, t| *t != victim);
                probe.evict(why);
            }
        }
        let probe = Arc::new(Probe {
            ticket,
            spoken: AtomicBool::new(false),
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
            Some(ip) if refusal => lock(&self.shared).log.check(ip, Instant::now()),
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

/// Why admission turned an inbound connection away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnedAway {
    /// Refused on arrival.
    Refused(Refused),
    /// Pushed out of a full table by a newer connection.
    Evicted(Eviction),
    /// Sent nothing within the first-bytes deadline.
    Silent(Duration),
    /// The connection has no source IP (not TCP/IP).
    NoSourceIp,
}

impl fmt::Display for TurnedAway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(Refused::PerIp) => f.write_str(
                "too many handshakes in progress from this IP (limits.max_pending_per_ip)",
            ),
            Self::Refused(Refused::ExemptFull) => f.write_str(
                "too many handshakes in progress from static peers' IPs (limits.max_pending_incoming)",
            ),
            Self::Evicted(Eviction::SameIp) => f.write_str(
                "evicted for a newer connection from the same IP (limits.max_pending_per_ip)",
            ),
            Self::Evicted(Eviction::TableFull { holding }) => write!(
                f,
                "evicted from the full table of pending handshakes, its IP holding {holding} \
                 (limits.max_pending_incoming)"
            ),
            Self::Silent(after) => write!(
                f,
                "sent nothing within {after:?} (intervals.first_bytes_timeout)"
            ),
            Self::NoSourceIp => f.write_str("the connection has no source IP"),
        }
    }
}

impl Error for TurnedAway {}

/// The error of an [`Admitted`] transport: the inner transport's, or admission's own.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdmissionError<E> {
    /// The inner transport failed.
    #[error("{0}")]
    Transport(#[source] E),
    /// Admission turned the connection away.
    #[error("inbound connection turned away: {0}")]
    TurnedAway(#[source] TurnedAway),
}

/// A socket whose first received byte marks its pending connection as spoken.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    probe: Option<Arc<Probe>>,
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe")
            .field("ticket", &self.ticket)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = read {
            if n > 0 {
                if let Some(probe) = self.probe.take() {
                    probe.spoke();
                }
            }
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// A transport whose inbound connections go through admission. See the [module docs](self).
pub(crate) struct Admitted<T> {
    inner: T,
    admission: Admission,
}

impl<T> Transport for Admitted<T>
where
    T: Transport + Unpin,
    T::Error: 'static,
{
    type Output = T::Output;
    type Error = AdmissionError<T::Error>;
    type ListenerUpgrade = Pending<T::ListenerUpgrade>;
    type Dial = futures::future::MapErr<T::Dial, fn(T::Error) -> Self::Error>;

    fn listen_on(
        &mut self,
        id: ListenerId,
        addr: Multiaddr,
    ) -> Result<(), TransportError<Self::Error>> {
        self.inner
            .listen_on(id, addr)
            .map_err(|e| e.map(AdmissionError::Transport))
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        self.inner.remove_listener(id)
    }

    fn dial(
        &mut self,
        addr: Multiaddr,
        opts: DialOpts,
    ) -> Result<Self::Dial, TransportError<Self::Error>> {
        use futures::TryFutureExt;
        let dial = self
            .inner
            .dial(addr, opts)
            .map_err(|e| e.map(AdmissionError::Transport))?;
        Ok(dial.map_err(AdmissionError::Transport as fn(T::Error) -> Self::Error))
    }

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<TransportEvent<Self::ListenerUpgrade, Self::Error>> {
        let this = &mut *self;
        let event = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Ready(event) => event,
            Poll::Pending => return Poll::Pending,
        };
        let event = match event {
            TransportEvent::Incoming {
                listener_id,
                upgrade,
                local_addr,
                send_back_addr,
            } => {
                let registration = this.admission.register(&local_addr, &send_back_addr);
                let upgrade = Pending::new(upgrade, registration, &this.admission, &send_back_addr);
                TransportEvent::Incoming {
                    listener_id,
                    upgrade,
                    local_addr,
                    send_back_addr,
                }
            }
            other => other
                .map_upgrade(|_| unreachable!("only Incoming carries an upgrade"))
                .map_err(AdmissionError::Transport),
        };
        Poll::Ready(event)
    }
}

/// The future of one pending inbound connection: the inner handshake, unless admission turns it
/// away first.
pub(crate) struct Pending<F> {
    /// None once it has ended.
    inner: Option<Pin<Box<F>>>,
    /// Its place in the table, released (dropped) when the handshake ends.
    registration: Option<Registration>,
    /// Why it got no place, if it was turned away on arrival.
    refused: Option<TurnedAway>,
    first_bytes: Option<(Delay, Duration)>,
    admission: Admission,
    remote: Multiaddr,
}

impl<F> Pending<F> {
    fn new(
        inner: F,
        registration: Result<Registration, TurnedAway>,
        admission: &Admission,
        remote: &Multiaddr,
    ) -> Self {
        let after = admission.first_bytes;
        let (registration, refused) = match registration {
            Ok(registration) => (Some(registration), None),
            Err(why) => (None, Some(why)),
        };
        Self {
            inner: Some(Box::pin(inner)),
            registration,
            refused,
            first_bytes: Some((Delay::new(after), after)),
            admission: admission.clone(),
            remote: remote.clone(),
        }
    }

    /// Ends the handshake with `why` (dropping the socket), logging it.
    fn turn_away<E>(&mut self, why: TurnedAway) -> AdmissionError<E> {
        self.inner = None;
        self.registration = None;
        self.admission
            .log_failure(ip_of(&self.remote), &self.remote, &why);
        AdmissionError::TurnedAway(why)
    }

    /// Why admission ends this connection now, if it does.
    fn verdict(&mut self, cx: &mut Context<'_>) -> Option<TurnedAway> {
        if let Some(why) = self.refused.take() {
            return Some(why);
        }
        let probe = &self.registration.as_ref()?.probe;
        probe.waker.register(cx.waker());
        if let Some(why) = probe.evicted() {
            return Some(TurnedAway::Evicted(why));
        }
        let (delay, after) = self.first_bytes.as_mut()?;
        if Pin::new(delay).poll(cx).is_pending() {
            return None;
        }
        let after = *after;
        self.first_bytes = None;
        (!probe.has_spoken()).then_some(TurnedAway::Silent(after))
    }
}

impl<F, O, E> Future for Pending<F>
where
    F: Future<Output = Result<O, E>>,
    E: Error + 'static,
{
    type Output = Result<O, AdmissionError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.inner.is_none() {
            // Polled after it ended; libp2p never does.
            return Poll::Pending;
        }
        if let Some(why) = this.verdict(cx) {
            return Poll::Ready(Err(this.turn_away(why)));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        let result = futures::ready!(inner.as_mut().poll(cx));
        this.inner = None;
        // The connection is no longer pending: give its place back.
        this.registration = None;
        if let Err(error) = &result {
            this.admission
                .log_failure(ip_of(&this.remote), &this.remote, error);
        }
        Poll::Ready(result.map_err(AdmissionError::Transport))
    }
}

#[cfg(test)]
mod tests {
    use libp2p::PeerId;

    use super::*;

    fn addr(text: &str) -> Multiaddr {
        text.parse().expect("multiaddr")
    }

    /// The static peers' IPs that admission exempts are those the peers behaviour holds now.
    #[test]
    fn a_static_peers_ip_gets_in_without_evicting_anyone_while_it_is_static() {
        let ips = StaticIps::default();
        let config = fisco_p2p_peers::Config::default().with_static_ips(ips.clone());
        let mut peers = fisco_p2p_peers::Behaviour::new(PeerId::random(), config);
        let static_peer = addr("/ip4/127.0.0.1/tcp/30300");
        peers.add_static_peer(static_peer.clone());
        let settings = Settings {
            limits: Limits {
                capacity: 1,
                per_ip: 1,
            },
            first_bytes: Duration::from_secs(3),
        };
        let admission = Admission::new(settings, ips);
        let local = addr("/ip4/127.0.0.1/tcp/30301");
        let register = |remote: &str| admission.register(&local, &addr(remote)).expect("admitted");
        let first = register("/ip4/127.0.0.9/tcp/5000");
        let second = register("/ip4/127.0.0.8/tcp/5000");
        assert!(first.probe.evicted().is_some(), "a full table evicts");
        let exempt = register("/ip4/127.0.0.1/tcp/5000");
        assert!(
            second.probe.evicted().is_none(),
            "the static IP took no one's place"
        );
        // The socket of each connection picks up its probe once.
        let watch = admission.watch::<()>();
        let endpoint = ConnectedPoint::Listener {
            local_addr: local.clone(),
            send_back_addr: addr("/ip4/127.0.0.1/tcp/5000"),
        };
        let watched = watch((), endpoint);
        assert_eq!(watched.probe.map(|p| p.ticket), Some(exempt.probe.ticket));
        // No longer static: the same IP is a stranger again and must make room.
        assert!(peers.remove_static_peer(&static_peer));
        let _third = register("/ip4/127.0.0.1/tcp/5001");
        assert!(second.probe.evicted().is_some());
    }
}
