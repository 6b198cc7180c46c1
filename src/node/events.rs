//! [`Events`]: the stream of a node's events, and [`Lagged`], how many a slow reader skipped.

use tokio::sync::broadcast;
use tokio_util::sync::ReusableBoxFuture;

use super::Event;

/// The events of a node, in order. Each stream buffers a bounded number of events
/// ([`Config::with_event_capacity`](super::Config::with_event_capacity)); a stream that falls
/// further behind skips the oldest ones.
///
/// As a [`futures::Stream`], every item is an event or a [`Lagged`] saying how many events this
/// stream skipped (the events after them follow); the stream ends when the node stops.
/// [`Events::next`] skips lags with a warning in the log. Both are cancel-safe: an event that
/// arrives while a `next` call is dropped is kept for the next call.
pub struct Events {
    /// The next receive, owning the receiver until it completes; its one allocation is reused
    /// for every receive.
    pending: ReusableBoxFuture<'static, Received>,
}

/// What a receive gives back: its result and the receiver.
type Received = (
    Result<Event, broadcast::error::RecvError>,
    broadcast::Receiver<Event>,
);

async fn receive(mut receiver: broadcast::Receiver<Event>) -> Received {
    let result = receiver.recv().await;
    (result, receiver)
}

/// An [`Events`] stream fell behind and skipped this many events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl std::fmt::Display for Lagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the event stream fell behind and skipped {} events",
            self.0
        )
    }
}

impl std::error::Error for Lagged {}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl futures::Stream for Events {
    type Item = Result<Event, Lagged>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let (result, receiver) = std::task::ready!(self.pending.poll(cx));
        self.pending.set(receive(receiver));
        std::task::Poll::Ready(match result {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Err(Lagged(missed))),
            Err(broadcast::error::RecvError::Closed) => None,
        })
    }
}

impl Events {
    pub(crate) fn from_receiver(inner: broadcast::Receiver<Event>) -> Self {
        Self {
            pending: ReusableBoxFuture::new(receive(inner)),
        }
    }

    pub(super) fn ended() -> Self {
        let (_, inner) = broadcast::channel(1);
        Self::from_receiver(inner)
    }

    /// Like [`next`](Self::next), but says when this stream fell behind: `Some(Err(missed))`
    /// stands for the events it skipped, and the events after them follow. The same as the
    /// stream's next item, with the count unwrapped. Cancel-safe.
    pub async fn next_or_lag(&mut self) -> Option<Result<Event, u64>> {
        futures::StreamExt::next(self)
            .await
            .map(|item| item.map_err(|Lagged(missed)| missed))
    }

    /// The next event, or `None` once the node has stopped. Events skipped because this stream
    /// fell behind are logged (WARN) and passed over. Cancel-safe.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match futures::StreamExt::next(self).await? {
                Ok(event) => return Some(event),
                Err(Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "event stream fell behind; skipped the oldest events"
                    );
                }
            }
        }
    }
}
