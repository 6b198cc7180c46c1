//! [`EventStream`]: the events of `GET /v1/events`, read from the SSE answer as they come.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::ClientError;
use crate::api::{Event, EVENT_TYPES};

/// The route named in the errors of the stream.
const ROUTE: &str = "GET /v1/events";

/// The event stream of `GET /v1/events`, from [`Client::events`](super::Client::events).
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    buffer: BytesMut,
    max_event: usize,
}

impl EventStream {
    /// A stream reading `body`, refusing events over `max_event` bytes.
    pub(super) fn new(body: Incoming, max_event: usize) -> Self {
        Self {
            body,
            buffer: BytesMut::new(),
            max_event,
        }
    }

    /// The next event, or `None` once the stream has ended (the node or its API stopped).
    /// Events of a type this client does not know (a newer server's) are skipped; an event of
    /// a known type that does not read as its [`Event`] is [`ClientError::UnexpectedAnswer`].
    ///
    /// Cancel-safe: an event partly received stays buffered for the next call.
    pub async fn next(&mut self) -> Result<Option<Event>, ClientError> {
        while let Some(json) = self.next_json().await? {
            if let Some(event) = typed(json)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// The next event as the JSON object the server sent, whatever its type, or `None` once
    /// the stream has ended. Keep-alive comments are skipped.
    ///
    /// Cancel-safe: an event partly received stays buffered for the next call.
    pub async fn next_json(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            while let Some(block) = self.take_block() {
                if let Some(event) = parse_block(&block)? {
                    return Ok(Some(event));
                }
            }
            if self.buffer.len() > self.max_event {
                return Err(ClientError::Protocol(
                    "an event exceeds the size limit".into(),
                ));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => return Err(ClientError::Protocol(error.to_string())),
                None => return Ok(None),
            }
        }
    }

    /// Splits off the first complete event block (ended by a blank line), if there is one.
    fn take_block(&mut self) -> Option<Bytes> {
        let end = self.buffer.windows(2).position(|w| w == b"\n\n")?;
        let block = self.buffer.split_to(end + 2).freeze();
        Some(block.slice(..end))
    }
}

/// The JSON of an SSE block's `data:` lines; `None` for a block of comments only.
fn parse_block(block: &[u8]) -> Result<Option<Value>, ClientError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| ClientError::Protocol("an event is not UTF-8".into()))?;
    let data: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| data.strip_prefix(' ').unwrap_or(data))
        .collect();
    if data.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&data.join("\n"))
        .map(Some)
        .map_err(|e| ClientError::Protocol(format!("an event is not JSON: {e}")))
}

/// The [`Event`] of an event's JSON; `None` for a type this client does not know.
fn typed(json: Value) -> Result<Option<Event>, ClientError> {
    if let Some(kind) = json.get("type").and_then(Value::as_str) {
        if !EVENT_TYPES.contains(&kind) {
            tracing::debug!(
                kind,
                "skipping an event of a type this client does not know"
            );
            return Ok(None);
        }
    }
    serde_json::from_value(json)
        .map(Some)
        .map_err(|source| ClientError::UnexpectedAnswer {
            route: ROUTE.into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_blocks_give_their_json_and_comments_nothing() {
        assert_eq!(
            parse_block(b"data: {\"type\":\"x\"}").unwrap(),
            Some(serde_json::json!({ "type": "x" }))
        );
        assert_eq!(parse_block(b": keep-alive").unwrap(), None);
        assert!(parse_block(b"data: not json").is_err());
    }

    #[test]
    fn unknown_event_types_are_skipped_and_known_ones_must_read() {
        let newer = serde_json::json!({ "type": "peer_renamed", "node_id": "x" });
        assert_eq!(typed(newer).unwrap(), None);
        let lagged = serde_json::json!({
            "type": "lagged", "missed": 2, "source": "node", "message": "m", "new_field": 1
        });
        assert!(matches!(
            typed(lagged).unwrap(),
            Some(Event::Lagged { missed: 2, .. })
        ));
        let broken = serde_json::json!({ "type": "lagged", "missed": "two" });
        let error = typed(broken).unwrap_err().to_string();
        assert!(
            error.contains("GET /v1/events") && error.contains("invalid type"),
            "{error}"
        );
        let untyped = serde_json::json!({ "missed": 2 });
        assert!(typed(untyped).is_err());
    }
}
