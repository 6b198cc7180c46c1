//! [`Admitted`]: the upgraded transport whose inbound connections go through admission, and
//! [`Pending`], the future of one pending inbound connection.

use std::{
    error::Error,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures_timer::Delay;
use libp2p::{
    core::transport::{DialOpts, ListenerId, PortUse, TransportError, TransportEvent},
    Multiaddr, Transport,
};

use super::{ip_of, Admission, Registration, TurnedAway};

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

/// A transport whose inbound connections go through admission. See the [module docs](self).
pub(crate) struct Admitted<T> {
    inner: T,
    admission: Admission,
}

impl<T> Admitted<T> {
    pub(super) fn new(inner: T, admission: Admission) -> Self {
        Self { inner, admission }
    }
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
        // Every dial from a fresh ephemeral port, as FISCO's nodes dial. libp2p's default binds
        // the dialling socket to the listening port, which only NAT hole punching needs; the
        // bind then fails with "address in use" while an earlier connection between the same
        // two ports is still closing (seen in the TLS tests, which dial both ways between two
        // listeners), and libp2p-tcp falls back to a new port only on "not available".
        let opts = DialOpts {
            port_use: PortUse::New,
            ..opts
        };
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

    /// Ends the handshake with `why`, resetting the connection, and logs it.
    fn turn_away<E>(&mut self, why: TurnedAway, cx: &mut Context<'_>) -> AdmissionError<E>
    where
        F: Future,
    {
        if let Some(registration) = &self.registration {
            registration.probe.turn_away();
            // A connection evicted before its first poll has not picked up its probe yet; one
            // poll makes the socket wrapper take it, so that dropping the socket resets it.
            if let Some(inner) = self.inner.as_mut() {
                let _ = inner.as_mut().poll(cx);
            }
        }
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
            return Poll::Ready(Err(this.turn_away(why, cx)));
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
