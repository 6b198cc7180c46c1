//! The live feed behind `GET /v1/events`, and the daemon's default module.
//!
//! One task reads the node's events and the inbox of [`DEFAULT_MODULE`](super::DEFAULT_MODULE):
//! it answers each request by echoing its data back, and turns connections, refusals, state
//! updates and every message of the module into [`ApiEvent`]s on a bounded broadcast channel.
//! Each SSE client reads that channel on its own; one that falls behind skips the oldest events
//! (it is told how many in an SSE comment) and never slows the node or the other clients.

use std::{convert::Infallible, time::Duration};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::body::Data;
use crate::{
    identity::NodeId,
    metrics::labels::{disconnect_code, refusal_code},
    node::{Direction, Event, Events, Inbox, Message},
};

/// One event as `GET /v1/events` sends it: a JSON object whose `type` says which.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ApiEvent {
    /// A node connected.
    PeerConnected {
        node_id: NodeId,
        address: String,
        direction: Direction,
    },
    /// A node's last connection closed.
    PeerDisconnected {
        node_id: NodeId,
        /// One word (`connection_lost`, `heartbeat_timeout`, `blacklisted`, ...).
        reason: &'static str,
        /// The reason in words.
        message: String,
    },
    /// A connection attempt failed.
    ConnectionRefused {
        node_id: Option<NodeId>,
        address: Option<String>,
        direction: Direction,
        /// One word (`unknown_ca`, `expired`, `blacklisted`, `unreachable`, ...).
        reason: &'static str,
        /// The reason in words.
        message: String,
    },
    /// A message for the default module: a request it answered, a multicast or a broadcast.
    Message {
        /// `unicast`, `multicast` or `broadcast`.
        kind: &'static str,
        from: NodeId,
        /// The topic of a multicast; null otherwise.
        topic: Option<String>,
        module: u16,
        #[serde(flatten)]
        data: Data,
    },
    /// State sync brought a node's new state.
    PeerState {
        node_id: NodeId,
        seq: u64,
        topics: Vec<String>,
    },
}

impl ApiEvent {
    /// The API's view of a node event; `None` for events the API does not show.
    fn from_node(event: &Event) -> Option<Self> {
        Some(match event {
            Event::PeerConnected {
                node_id,
                address,
                direction,
            } => Self::PeerConnected {
                node_id: *node_id,
                address: address.to_string(),
                direction: *direction,
            },
            Event::PeerDisconnected { node_id, reason } => Self::PeerDisconnected {
                node_id: *node_id,
                reason: disconnect_code(reason),
                message: reason.to_string(),
            },
            Event::ConnectionRefused {
                node_id,
                address,
                direction,
                reason,
            } => Self::ConnectionRefused {
                node_id: *node_id,
                address: address.as_ref().map(ToString::to_string),
                direction: *direction,
                reason: refusal_code(reason),
                message: reason.to_string(),
            },
            Event::PeerStateChanged {
                node_id,
                seq,
                topics,
            } => Self::PeerState {
                node_id: *node_id,
                seq: *seq,
                topics: topics.clone(),
            },
            _ => return None,
        })
    }
}

/// Runs the feed until the node stops: forwards node events, and echoes and reports the
/// messages of the default module (when `inbox` is given).
pub(super) async fn run(
    mut events: Events,
    mut inbox: Option<Inbox>,
    feed: broadcast::Sender<ApiEvent>,
) {
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(event) => {
                    if let Some(event) = ApiEvent::from_node(&event) {
                        // No SSE client is fine: the feed is a view, not a queue of work.
                        let _ = feed.send(event);
                    }
                }
                None => break,
            },
            message = next_message(&mut inbox) => match message {
                Some(message) => on_message(message, &feed).await,
                None => inbox = None,
            },
        }
    }
    tracing::debug!("node stopped; admin event feed ends");
}

async fn next_message(inbox: &mut Option<Inbox>) -> Option<Message> {
    match inbox {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// Echoes a request back, and reports the message on the feed.
async fn on_message(message: Message, feed: &broadcast::Sender<ApiEvent>) {
    let event = match message {
        Message::Request(request) => {
            let event = ApiEvent::Message {
                kind: "unicast",
                from: request.from,
                topic: None,
                module: request.module,
                data: Data::new(&request.payload),
            };
            if let Err(error) = request.responder.reply(request.payload).await {
                tracing::debug!(%error, "echo reply not sent");
                return;
            }
            event
        }
        Message::Multicast {
            from,
            topic,
            payload,
            ..
        } => ApiEvent::Message {
            kind: "multicast",
            from,
            topic: Some(topic),
            module: super::DEFAULT_MODULE,
            data: Data::new(&payload),
        },
        Message::Broadcast { from, payload, .. } => ApiEvent::Message {
            kind: "broadcast",
            from,
            topic: None,
            module: super::DEFAULT_MODULE,
            data: Data::new(&payload),
        },
    };
    let _ = feed.send(event);
}

/// How often an idle SSE stream sends a comment, so proxies and clients see it alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE answer of `GET /v1/events`: every event from now on, until the node or the admin
/// API stops.
pub(super) fn sse(
    receiver: broadcast::Receiver<ApiEvent>,
    stop: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        let item = match receiver.recv().await {
            Ok(event) => match SseEvent::default().json_data(&event) {
                Ok(sse) => sse,
                Err(error) => SseEvent::default().comment(format!("event not encoded: {error}")),
            },
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                SseEvent::default().comment(format!("fell behind: skipped {missed} events"))
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(item), receiver))
    });
    Sse::new(events.take_until(stopped(stop))).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Resolves once the admin API is shutting down (or its stop signal is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
