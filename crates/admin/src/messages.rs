//! The messaging routes: request, send-topic, multicast, broadcast, subscribe, unsubscribe.

use std::time::Duration;

use axum::{body::Bytes, extract::rejection::BytesRejection, extract::State as Extract, Json};

use super::{
    api::{
        self, BroadcastBody, Data, Multicast, Reply, RequestBody, SubscribeBody, Subscription,
        TopicBody,
    },
    body,
    error::ApiError,
    state::State,
    DEFAULT_MODULE,
};

/// Longest per-request timeout a body may ask for.
const MAX_TIMEOUT_MS: u64 = 10 * 60 * 1000;

type Body = Result<Bytes, BytesRejection>;

pub(super) async fn request(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<Reply>, ApiError> {
    let request: RequestBody = body::json(body)?;
    let to = body::node_id("to", &request.to)?;
    let payload = body::payload(request.data, request.data_base64)?;
    let module = request.module.unwrap_or(DEFAULT_MODULE);
    let timeout = match request.timeout_ms {
        Some(ms) if ms == 0 || ms > MAX_TIMEOUT_MS => {
            return Err(ApiError::bad_request(format!(
                "\"timeout_ms\" {ms} is out of range; give 1 to {MAX_TIMEOUT_MS}"
            )))
        }
        other => other.map(Duration::from_millis),
    };
    let result = match timeout {
        Some(timeout) => {
            state
                .handle
                .request_with_timeout(to.clone(), module, payload, timeout)
                .await
        }
        None => state.handle.request(to.clone(), module, payload).await,
    };
    let reply = result?;
    Ok(Json(Reply {
        from: to,
        data: Data::from_bytes(&reply),
    }))
}

/// A topic body: its checked topic, its module and its payload.
fn topic_body(body: Body) -> Result<(String, u16, Bytes), ApiError> {
    let parsed: TopicBody = body::json(body)?;
    body::topic(&parsed.topic)?;
    let payload = body::payload(parsed.data, parsed.data_base64)?;
    Ok((
        parsed.topic,
        parsed.module.unwrap_or(DEFAULT_MODULE),
        payload,
    ))
}

pub(super) async fn send_topic(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<Reply>, ApiError> {
    let (topic, module, payload) = topic_body(body)?;
    let result = state.handle.send_to_topic(topic, module, payload).await;
    let (from, reply) = result?;
    Ok(Json(Reply {
        from,
        data: Data::from_bytes(&reply),
    }))
}

pub(super) async fn multicast(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<Multicast>, ApiError> {
    let (topic, module, payload) = topic_body(body)?;
    let sent_to = state
        .handle
        .multicast(topic.clone(), module, payload)
        .await?;
    Ok(Json(Multicast { topic, sent_to }))
}

pub(super) async fn broadcast(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<api::Broadcast>, ApiError> {
    let parsed: BroadcastBody = body::json(body)?;
    let payload = body::payload(parsed.data, parsed.data_base64)?;
    let module = parsed.module.unwrap_or(DEFAULT_MODULE);
    state.handle.broadcast(module, payload).await?;
    Ok(Json(api::Broadcast { sent: true }))
}

pub(super) async fn subscribe(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<Subscription>, ApiError> {
    let SubscribeBody { topic } = body::json(body)?;
    body::topic(&topic)?;
    let changed = state.handle.subscribe(topic.clone()).await?;
    Ok(Json(Subscription { topic, changed }))
}

pub(super) async fn unsubscribe(
    Extract(state): Extract<State>,
    body: Body,
) -> Result<Json<Subscription>, ApiError> {
    let SubscribeBody { topic } = body::json(body)?;
    let changed = state.handle.unsubscribe(topic.clone()).await?;
    Ok(Json(Subscription { topic, changed }))
}
