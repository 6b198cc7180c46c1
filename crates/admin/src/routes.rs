//! The router, and the routes that look at the node: status, peers, static peers, events,
//! metrics. The messaging routes are in `messages.rs`; what every route reaches in `state.rs`.

use std::collections::BTreeMap;

use super::{api, body, error::ApiError, feed, messages, state::State};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, DefaultBodyLimit, State as Extract},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use fisco_p2p::node::{parse_address, PeerInfo};

/// Every route of the API; bodies over `max_body` bytes are refused with 413. The server puts
/// the guard in front of it.
pub(super) fn router(state: State, max_body: usize) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/peers", get(peers).post(add_peer).delete(remove_peer))
        .route("/v1/static-peers", get(static_peers))
        .route("/v1/routes", get(routes))
        .route("/v1/request", post(messages::request))
        .route("/v1/send-topic", post(messages::send_topic))
        .route("/v1/multicast", post(messages::multicast))
        .route("/v1/broadcast", post(messages::broadcast))
        .route("/v1/subscribe", post(messages::subscribe))
        .route("/v1/unsubscribe", post(messages::unsubscribe))
        .route("/v1/events", get(events))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such route; see docs/admin-api.md",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

async fn status(Extract(state): Extract<State>) -> Result<Json<api::Status>, ApiError> {
    let status = state.handle.status().await?;
    Ok(Json(api::Status {
        node_id: status.node_id,
        listen: status.listen.iter().map(ToString::to_string).collect(),
        seq: status.seq,
        topics: status.topics,
        connected: status.connected,
        routes: status.routes,
        no_static_peer_connected: status.no_static_peer_connected,
        requests_in_flight: status.requests_in_flight,
        queued_bytes: status.queued_bytes,
        relayed: status.overlay.relayed,
        dropped: api::Dropped {
            over_budget: status.overlay.dropped_over_budget,
            queue_full: status.overlay.dropped_queue_full,
            inbox_full: status.inbox_dropped,
            bad_signature: status.overlay.dropped_bad_signature,
            barred_origin: status.overlay.dropped_barred_origin,
            malformed: status.overlay.dropped_malformed,
            hop_limit: status.overlay.dropped_hop_limit,
            no_route: status.overlay.no_route,
        },
    }))
}

async fn routes(Extract(state): Extract<State>) -> Result<Json<Vec<api::Route>>, ApiError> {
    let mut out = Vec::new();
    for route in state.handle.routes().await? {
        let path = state
            .handle
            .path(route.destination.clone())
            .await?
            .unwrap_or_default();
        out.push(api::Route {
            destination: route.destination,
            next_hop: route.next_hop,
            hops: route.hops,
            path,
        });
    }
    out.sort_by(|a, b| (a.hops, &a.destination).cmp(&(b.hops, &b.destination)));
    Ok(Json(out))
}

/// A known node as `/v1/peers` shows it: state values that are UTF-8 text in `state`, the
/// others, in base64, in `state_base64`.
fn peer(peer: PeerInfo) -> api::Peer {
    use base64::{engine::general_purpose::STANDARD, Engine as _};
    let mut state = BTreeMap::new();
    let mut state_base64 = BTreeMap::new();
    for (key, value) in peer.state {
        match String::from_utf8(value.to_vec()) {
            Ok(text) => state.insert(key, text),
            Err(_) => state_base64.insert(key, STANDARD.encode(&value)),
        };
    }
    api::Peer {
        node_id: peer.node_id,
        connected: peer.connected,
        online: peer.online,
        addrs: peer.addrs.iter().map(ToString::to_string).collect(),
        topics: peer.topics,
        seq: peer.seq,
        state,
        state_base64,
    }
}

async fn peers(Extract(state): Extract<State>) -> Result<Json<Vec<api::Peer>>, ApiError> {
    let peers = state.handle.peers().await?;
    Ok(Json(peers.into_iter().map(peer).collect()))
}

fn address(body: Result<Bytes, BytesRejection>) -> Result<(String, libp2p::Multiaddr), ApiError> {
    let api::AddrBody { addr } = body::json(body)?;
    let multiaddr = parse_address(&addr).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((addr, multiaddr))
}

async fn add_peer(
    Extract(state): Extract<State>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<api::PeerAdded>, ApiError> {
    let (addr, multiaddr) = address(body)?;
    let added = state.handle.operator().add_peer(multiaddr).await?;
    Ok(Json(api::PeerAdded { addr, added }))
}

async fn remove_peer(
    Extract(state): Extract<State>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<api::PeerRemoved>, ApiError> {
    let (addr, multiaddr) = address(body)?;
    let removed = state.handle.operator().remove_peer(multiaddr).await?;
    Ok(Json(api::PeerRemoved { addr, removed }))
}

async fn static_peers(
    Extract(state): Extract<State>,
) -> Result<Json<Vec<api::StaticPeer>>, ApiError> {
    let peers = state.handle.operator().static_peers().await?;
    Ok(Json(
        peers
            .into_iter()
            .map(|p| api::StaticPeer {
                addr: p.address.to_string(),
                connected: p.connected,
                own_address: p.own_address,
            })
            .collect(),
    ))
}

async fn events(Extract(state): Extract<State>) -> Result<Response, ApiError> {
    if state.hub.is_closed() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node has stopped",
        ));
    }
    let subscription = state.hub.subscribe().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many event streams are open; close one and retry",
        )
    })?;
    Ok(feed::sse(subscription, state.stopped.clone()).into_response())
}

async fn metrics(Extract(state): Extract<State>, headers: HeaderMap) -> Result<Response, ApiError> {
    let metrics = state.metrics.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics are not enabled on this node",
        )
    })?;
    // The collector counts from the node's events; this lines it up with the node's own view.
    let status = state.handle.status().await?;
    let peers = state.handle.peers().await?;
    metrics.observe(&status, &peers);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let format = fisco_p2p_metrics::Format::negotiate(accept);
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        metrics.encode_as(format),
    )
        .into_response())
}
