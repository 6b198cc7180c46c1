//! The live feed behind `GET /v1/events`, and the daemon's default module.
//!
//! One task reads the node's events and the inbox of [`DEFAULT_MODULE`](super::DEFAULT_MODULE):
//! it answers each request by echoing its data back, and turns every node event, and every
//! message of the module, into an [`ApiEvent`] encoded once and handed to the [`Hub`], which
//! queues it for each SSE client within that client's bounds. If this task itself falls behind
//! the node, every client is told with a `lagged` event naming how many events were lost.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Serialize;
use tokio::sync::watch;

use super::{
    body::Data,
    hub::{Hub, Item, Subscription},
};
use fisco_p2p::{
    identity::NodeId,
    node::{Direction, Event, Events, Inbox, Message},
};
use fisco_p2p_metrics::labels::{disconnect_code, refusal_code};

/// Every `type` an event of the feed can have, in the order of the docs.
pub const EVENT_TYPES: [&str; 13] = [
    "listening",
    "peer_connected",
    "peer_disconnected",
    "connection_refused",
    "static_peer_unreachable",
    "self_dial",
    "peer_state",
    "peer_online",
    "peer_offline",
    "peer_forgotten",
    "invalid_message",
    "message",
    "lagged",
];

/// One event as `GET /v1/events` sends it: a JSON object whose `type` says which.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ApiEvent {
    /// The node listens on a new address.
    Listening { address: String },
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
    /// A static peer address could not be connected; it is retried later.
    StaticPeerUnreachable {
        address: String,
        failures: u32,
        retry_in_ms: u64,
    },
    /// A static peer address turned out to be this node's own; it is no longer dialled.
    SelfDial { address: String },
    /// State sync brought a node's new state.
    PeerState {
        node_id: NodeId,
        seq: u64,
        topics: Vec<String>,
    },
    /// A node marked offline was heard of again.
    PeerOnline { node_id: NodeId },
    /// A node was not heard of for the offline time.
    PeerOffline { node_id: NodeId },
    /// A node was not heard of for the forget time; its state was dropped.
    PeerForgotten { node_id: NodeId },
    /// A neighbour sent something that was refused and dropped.
    InvalidMessage {
        node_id: NodeId,
        /// The node it claimed to come from, when it came through a relay.
        origin: Option<NodeId>,
        protocol: &'static str,
        reason: String,
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
    /// Events were lost: the feed fell behind the node (`source` `node`, every client gets
    /// this), or this client read too slowly (`client`, and its stream ends).
    Lagged {
        missed: u64,
        source: &'static str,
        message: &'static str,
    },
}

impl ApiEvent {
    /// The API's view of a node event: every kind of event has one.
    fn from_node(event: &Event) -> Self {
        match event {
            Event::Listening { address } => Self::Listening {
                address: address.to_string(),
            },
            Event::PeerConnected {
                node_id,
                address,
                direction,
            } => Self::PeerConnected {
                node_id: node_id.clone(),
                address: address.to_string(),
                direction: *direction,
            },
            Event::PeerDisconnected { node_id, reason } => Self::PeerDisconnected {
                node_id: node_id.clone(),
                reason: disconnect_code(reason),
                message: reason.to_string(),
            },
            Event::ConnectionRefused {
                node_id,
                address,
                direction,
                reason,
            } => Self::ConnectionRefused {
                node_id: node_id.clone(),
                address: address.as_ref().map(ToString::to_string),
                direction: *direction,
                reason: refusal_code(reason),
                message: reason.to_string(),
            },
            Event::StaticPeerUnreachable {
                address,
                failures,
                retry_in,
            } => Self::StaticPeerUnreachable {
                address: address.to_string(),
                failures: *failures,
                retry_in_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            },
            Event::SelfDial { address } => Self::SelfDial {
                address: address.to_string(),
            },
            Event::PeerStateChanged {
                node_id,
                seq,
                topics,
            } => Self::PeerState {
                node_id: node_id.clone(),
                seq: *seq,
                topics: topics.clone(),
            },
            Event::PeerOnline { node_id } => Self::PeerOnline {
                node_id: node_id.clone(),
            },
            Event::PeerOffline { node_id } => Self::PeerOffline {
                node_id: node_id.clone(),
            },
            Event::PeerForgotten { node_id } => Self::PeerForgotten {
                node_id: node_id.clone(),
            },
            Event::InvalidMessage {
                node_id,
                origin,
                protocol,
                reason,
            } => Self::InvalidMessage {
                node_id: node_id.clone(),
                origin: origin.clone(),
                protocol,
                reason: reason.clone(),
            },
        }
    }

    /// The JSON text of the event, as every client receives it.
    fn encode(&self) -> Arc<str> {
        match serde_json::to_string(self) {
            Ok(json) => json.into(),
            // Serializing these plain structs cannot fail; say so rather than panic.
            Err(error) => format!(
                "{{\"type\":\"lagged\",\"missed\":1,\"source\":\"node\",\"message\":\"an event could not be encoded: {}\"}}",
                error.to_string().replace('"', "'")
            )
            .into(),
        }
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
                Some(Ok(event)) => hub.publish(ApiEvent::from_node(&event).encode()),
                Some(Err(missed)) => {
                    tracing::warn!(missed, "admin event feed fell behind the node");
                    hub.publish(ApiEvent::Lagged {
                        missed,
                        source: "node",
                        message: "the admin API fell behind the node and lost events",
                    }.encode());
                }
                None => break,
            },
            message = next_message(&mut inbox) => match message {
                Some(message) => {
                    if let Some(event) = on_message(message, max_payload).await {
                        hub.publish(event.encode());
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
async fn on_message(message: Message, max_payload: usize) -> Option<ApiEvent> {
    let event = match message {
        Message::Request(request) => {
            let event = ApiEvent::Message {
                kind: "unicast",
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
        } => ApiEvent::Message {
            kind: "multicast",
            from,
            topic: Some(topic),
            module: super::DEFAULT_MODULE,
            data: Data::at_most(&payload, max_payload),
        },
        Message::Broadcast { from, payload, .. } => ApiEvent::Message {
            kind: "broadcast",
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
            Item::Lagged(missed) => ApiEvent::Lagged {
                missed,
                source: "client",
                message: "this client read too slowly; its stream ends: reconnect and read faster",
            }
            .encode(),
        };
        Ok(SseEvent::default().data(&*json))
    });
    Sse::new(events.take_until(stopped(stop))).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Resolves once the admin API is shutting down (or its stop signal is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_listed() {
        let id = NodeId::from_peer_id(
            &libp2p::identity::Keypair::generate_secp256k1()
                .public()
                .to_peer_id(),
        )
        .expect("a secp256k1 peer ID");
        let samples = [
            ApiEvent::Listening {
                address: "/ip4/127.0.0.1/tcp/1".into(),
            },
            ApiEvent::SelfDial {
                address: "a".into(),
            },
            ApiEvent::PeerOnline {
                node_id: id.clone(),
            },
            ApiEvent::PeerOffline {
                node_id: id.clone(),
            },
            ApiEvent::PeerForgotten {
                node_id: id.clone(),
            },
            ApiEvent::StaticPeerUnreachable {
                address: "a".into(),
                failures: 1,
                retry_in_ms: 100,
            },
            ApiEvent::InvalidMessage {
                node_id: id,
                origin: None,
                protocol: "sync",
                reason: "x".into(),
            },
            ApiEvent::Lagged {
                missed: 3,
                source: "node",
                message: "m",
            },
        ];
        for event in samples {
            let json: serde_json::Value = serde_json::from_str(&event.encode()).unwrap();
            let kind = json["type"].as_str().unwrap().to_owned();
            assert!(EVENT_TYPES.contains(&kind.as_str()), "{kind}");
        }
    }
}
