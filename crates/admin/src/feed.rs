//! The live feed behind `GET /v1/events`, and the daemon's default module.
//!
//! One task reads the node's events and the inbox of [`DEFAULT_MODULE`](super::DEFAULT_MODULE):
//! it answers each request by echoing its data back, and turns every node event, and every
//! message of the module, into an [`api::Event`] encoded once and handed to the [`Hub`], which
//! queues it for each SSE client within that client's bounds. If this task itself falls behind
//! the node, every client is told with a `lagged` event naming how many events were lost.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use tokio::sync::watch;

use super::{
    api::{self, Data, LagSource, MessageKind},
    hub::{Hub, Item, Subscription},
};
use fisco_p2p::node::{Event as NodeEvent, Events, Inbox, Message};
use fisco_p2p_metrics::labels::{disconnect_code, refusal_code};

/// The API's view of a node event: every kind of event has one.
fn from_node(event: &NodeEvent) -> api::Event {
    match event {
        NodeEvent::Listening { address } => api::Event::Listening {
            address: address.to_string(),
        },
        NodeEvent::PeerConnected {
            node_id,
            address,
            direction,
        } => api::Event::PeerConnected {
            node_id: node_id.clone(),
            address: address.to_string(),
            direction: *direction,
        },
        NodeEvent::PeerDisconnected { node_id, reason } => api::Event::PeerDisconnected {
            node_id: node_id.clone(),
            reason: disconnect_code(reason).to_owned(),
            message: reason.to_string(),
        },
        NodeEvent::ConnectionRefused {
            node_id,
            address,
            direction,
            reason,
        } => api::Event::ConnectionRefused {
            node_id: node_id.clone(),
            address: address.as_ref().map(ToString::to_string),
            direction: *direction,
            reason: refusal_code(reason).to_owned(),
            message: reason.to_string(),
        },
        NodeEvent::StaticPeerUnreachable {
            address,
            failures,
            retry_in,
        } => api::Event::StaticPeerUnreachable {
            address: address.to_string(),
            failures: *failures,
            retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        },
        NodeEvent::SelfDial { address } => api::Event::SelfDial {
            address: address.to_string(),
        },
        NodeEvent::PeerStateChanged {
            node_id,
            seq,
            topics,
        } => api::Event::PeerState {
            node_id: node_id.clone(),
            seq: *seq,
            topics: topics.clone(),
        },
        NodeEvent::PeerOnline { node_id } => api::Event::PeerOnline {
            node_id: node_id.clone(),
        },
        NodeEvent::PeerOffline { node_id } => api::Event::PeerOffline {
            node_id: node_id.clone(),
        },
        NodeEvent::PeerForgotten { node_id } => api::Event::PeerForgotten {
            node_id: node_id.clone(),
        },
        NodeEvent::InvalidMessage {
            node_id,
            origin,
            protocol,
            reason,
        } => api::Event::InvalidMessage {
            node_id: node_id.clone(),
            origin: origin.clone(),
            protocol: (*protocol).to_owned(),
            reason: reason.clone(),
        },
    }
}

/// The JSON text of an event, as every client receives it.
fn encode(event: &api::Event) -> Arc<str> {
    match serde_json::to_string(event) {
        Ok(json) => json.into(),
        // Serializing these plain structs cannot fail; say so rather than panic.
        Err(error) => format!(
            "{{\"type\":\"lagged\",\"missed\":1,\"source\":\"node\",\"message\":\"an event could not be encoded: {}\"}}",
            error.to_string().replace('"', "'")
        )
        .into(),
    }
}

/// Runs the feed until the node stops: forwards node events, and echoes and reports the
/// messages of the default module (when `inbox` is given; payloads over `max_payload` bytes
/// are reported by size only).
pub(super) async fn run(
    mut events: Events,
    mut inbox: Option<Inbox>,
    hub: Arc<Hub>,
    max_payload: usize,
) {
    loop {
        tokio::select! {
            event = events.next_or_lag() => match event {
                Some(Ok(event)) => hub.publish(encode(&from_node(&event))),
                Some(Err(missed)) => {
                    tracing::warn!(missed, "admin event feed fell behind the node");
                    hub.publish(encode(&api::Event::Lagged {
                        missed,
                        source: LagSource::Node,
                        message: "the admin API fell behind the node and lost events".into(),
                    }));
                }
                None => break,
            },
            message = next_message(&mut inbox) => match message {
                Some(message) => {
                    if let Some(event) = on_message(message, max_payload).await {
                        hub.publish(encode(&event));
                    }
                }
                None => inbox = None,
            },
        }
    }
    hub.close();
    tracing::debug!("node stopped; admin event feed ends");
}

async fn next_message(inbox: &mut Option<Inbox>) -> Option<Message> {
    match inbox {
        Some(inbox) => inbox.next().await,
        None => std::future::pending().await,
    }
}

/// Echoes a request back; the event reporting the message.
async fn on_message(message: Message, max_payload: usize) -> Option<api::Event> {
    let event = match message {
        Message::Request(request) => {
            let event = api::Event::Message {
                kind: MessageKind::Unicast,
                from: request.from,
                topic: None,
                module: request.module,
                data: Data::at_most(&request.payload, max_payload),
            };
            if let Err(error) = request.responder.reply(request.payload).await {
                tracing::debug!(%error, "echo reply not sent");
                return None;
            }
            event
        }
        Message::Multicast {
            from,
            topic,
            payload,
            ..
        } => api::Event::Message {
            kind: MessageKind::Multicast,
            from,
            topic: Some(topic),
            module: super::DEFAULT_MODULE,
            data: Data::at_most(&payload, max_payload),
        },
        Message::Broadcast { from, payload, .. } => api::Event::Message {
            kind: MessageKind::Broadcast,
            from,
            topic: None,
            module: super::DEFAULT_MODULE,
            data: Data::at_most(&payload, max_payload),
        },
    };
    Some(event)
}

/// How often an idle SSE stream sends a comment, so proxies and clients see it alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The SSE answer of `GET /v1/events`: every event from now on, until the node or the admin
/// API stops, or the client falls behind (then a last `lagged` event).
pub(super) fn sse(
    subscription: Subscription,
    stop: watch::Receiver<bool>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let events = subscription.map(|item| {
        let json = match item {
            Item::Event(json) => json,
            Item::Lagged(missed) => encode(&api::Event::Lagged {
                missed,
                source: LagSource::Client,
                message: "this client read too slowly; its stream ends: reconnect and read faster"
                    .into(),
            }),
        };
        Ok(SseEvent::default().data(&*json))
    });
    Sse::new(events.take_until(stopped(stop))).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Resolves once the admin API is shutting down (or its stop signal is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
