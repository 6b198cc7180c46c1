//! The fan-out behind `GET /v1/events`: each SSE client has its own queue, bounded in events
//! and in bytes; a client that falls behind either bound is told it lagged and is dropped.
//!
//! A shared broadcast ring would keep the last N events for the slowest reader whatever their
//! size (N × 32 MiB messages), so each event is encoded once and queued per client by
//! reference, with the bytes counted against that client. A client over its budget loses its
//! queue at once (the memory is freed then, not when its socket finally closes), gets one last
//! `lagged` event and its stream ends; a fresh `GET /v1/events` starts over. Publishing never
//! waits for a client.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};

use futures::Stream;

/// One encoded event (its JSON text), shared by every client's queue.
pub(super) type Encoded = Arc<str>;

/// The bounds of each client's queue, and how many clients there may be.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) events: usize,
    pub(super) bytes: usize,
    pub(super) clients: usize,
}

/// The clients of the feed.
#[derive(Debug)]
pub(super) struct Hub {
    bounds: Bounds,
    clients: Mutex<Vec<Arc<Mutex<Queue>>>>,
    closed: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Encoded>,
    bytes: usize,
    /// Set once the client fell behind: how many events it lost. Nothing is queued after that.
    lagged: Option<u64>,
    /// The hub stopped (the node or the API is gone).
    closed: bool,
    waker: Option<Waker>,
}

/// What a client's stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// An event.
    Event(Encoded),
    /// The client fell behind and lost this many events; its stream ends after this.
    Lagged(u64),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep serving.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    pub(super) fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            clients: Mutex::new(Vec::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the feed has ended (the node stopped).
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new client, or `None` when [`Bounds::clients`] are already connected.
    pub(super) fn subscribe(&self) -> Option<Subscription> {
        let mut clients = lock(&self.clients);
        clients.retain(|queue| Arc::strong_count(queue) > 1);
        if clients.len() >= self.bounds.clients {
            return None;
        }
        let queue = Arc::new(Mutex::new(Queue::default()));
        clients.push(Arc::clone(&queue));
        Some(Subscription { queue })
    }

    /// Queues `event` for every client; a client it does not fit is marked lagged.
    pub(super) fn publish(&self, event: Encoded) {
        let mut clients = lock(&self.clients);
        // A client whose stream was dropped holds no reference any more.
        clients.retain(|queue| Arc::strong_count(queue) > 1);
        for queue in clients.iter() {
            let mut queue = lock(queue);
            if queue.lagged.is_some() || queue.closed {
                continue;
            }
            let fits = queue.events.len() < self.bounds.events
                && queue.bytes + event.len() <= self.bounds.bytes;
            if fits {
                queue.bytes += event.len();
                queue.events.push_back(Arc::clone(&event));
            } else {
                let lost = queue.events.len() as u64 + 1;
                queue.events = VecDeque::new();
                queue.bytes = 0;
                queue.lagged = Some(lost);
            }
            if let Some(waker) = queue.waker.take() {
                waker.wake();
            }
        }
    }

    /// Ends every client's stream (after what is queued).
    pub(super) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for queue in lock(&self.clients).drain(..) {
            let mut queue = lock(&queue);
            queue.closed = true;
            if let Some(waker) = queue.waker.take() {
                waker.wake();
            }
        }
    }

    /// Clients connected now.
    #[cfg(test)]
    fn clients(&self) -> usize {
        let mut clients = lock(&self.clients);
        clients.retain(|queue| Arc::strong_count(queue) > 1);
        clients.len()
    }
}

/// One client's events, as a stream; dropping it unsubscribes.
#[derive(Debug)]
pub(super) struct Subscription {
    queue: Arc<Mutex<Queue>>,
}

impl Stream for Subscription {
    type Item = Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let mut queue = lock(&self.queue);
        if let Some(event) = queue.events.pop_front() {
            queue.bytes -= event.len();
            return Poll::Ready(Some(Item::Event(event)));
        }
        if let Some(lost) = queue.lagged.take() {
            // Reported once; `closed` then ends the stream.
            queue.closed = true;
            return Poll::Ready(Some(Item::Lagged(lost)));
        }
        if queue.closed {
            return Poll::Ready(None);
        }
        queue.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn hub(events: usize, bytes: usize) -> Hub {
        Hub::new(Bounds {
            events,
            bytes,
            clients: 2,
        })
    }

    fn next(subscription: &mut Subscription) -> Option<Item> {
        futures::executor::block_on(subscription.next())
    }

    #[test]
    fn every_client_gets_every_event_in_order() {
        let hub = hub(10, 1000);
        let mut a = hub.subscribe().unwrap();
        let mut b = hub.subscribe().unwrap();
        hub.publish("one".into());
        hub.publish("two".into());
        hub.close();
        for client in [&mut a, &mut b] {
            assert_eq!(next(client), Some(Item::Event("one".into())));
            assert_eq!(next(client), Some(Item::Event("two".into())));
            assert_eq!(next(client), None);
        }
    }

    #[test]
    fn a_client_over_its_byte_budget_is_told_it_lagged_and_ends() {
        let hub = hub(100, 10);
        let mut slow = hub.subscribe().unwrap();
        hub.publish("123456".into());
        hub.publish("123456".into()); // 12 bytes > 10: lagged, queue freed
        hub.publish("later".into()); // not queued for a lagged client
        assert_eq!(next(&mut slow), Some(Item::Lagged(2)));
        assert_eq!(next(&mut slow), None);
    }

    #[test]
    fn a_client_over_its_event_budget_is_told_it_lagged() {
        let hub = hub(2, 1000);
        let mut slow = hub.subscribe().unwrap();
        let mut fast = hub.subscribe().unwrap();
        for _ in 0..2 {
            hub.publish("e".into());
            assert!(matches!(next(&mut fast), Some(Item::Event(_))));
        }
        hub.publish("e".into());
        assert!(matches!(next(&mut fast), Some(Item::Event(_))));
        assert_eq!(next(&mut slow), Some(Item::Lagged(3)));
    }

    #[test]
    fn clients_are_limited_and_a_dropped_one_frees_its_place() {
        let hub = hub(1, 1);
        let a = hub.subscribe().unwrap();
        let _b = hub.subscribe().unwrap();
        assert!(hub.subscribe().is_none());
        drop(a);
        assert_eq!(hub.clients(), 1);
        assert!(hub.subscribe().is_some());
    }
}
