//! Reading request bodies: strict JSON (unknown fields refused), payloads given as UTF-8 `data`
//! or binary `data_base64`, node IDs and topics, each refused with a 400 naming the problem.

use axum::{body::Bytes, extract::rejection::BytesRejection};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use fisco_p2p::identity::NodeId;

/// Parses a JSON body, answering 4xx with what is wrong: too large (413, from the body limit),
/// not JSON, a missing field, an unknown field, a value of the wrong type.
pub(super) fn json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body =
        body.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// The payload of a message: `data` (UTF-8 text) or `data_base64` (standard base64), exactly one.
pub(super) fn payload(
    data: Option<String>,
    data_base64: Option<String>,
) -> Result<Bytes, ApiError> {
    match (data, data_base64) {
        (Some(text), None) => Ok(Bytes::from(text)),
        (None, Some(encoded)) => BASE64
            .decode(encoded.trim())
            .map(Bytes::from)
            .map_err(|e| ApiError::bad_request(format!("bad base64 in \"data_base64\": {e}"))),
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give either \"data\" or \"data_base64\", not both",
        )),
        (None, None) => Err(ApiError::bad_request(
            "missing payload: give \"data\" (UTF-8 text) or \"data_base64\" (binary, base64)",
        )),
    }
}

/// A node ID given in a body field, with a 400 naming the field and the problem.
pub(super) fn node_id(field: &str, text: &str) -> Result<NodeId, ApiError> {
    text.parse().map_err(|e| {
        ApiError::bad_request(format!(
            "bad node ID in \"{field}\" ({:?}): {e}; give the 128 hex characters of a FISCO 2.x \
             node.nodeid, or for a FISCO 3.x node its P2P ID or the modulus in conf/ssl.nodeid",
            shorten(text)
        ))
    })
}

/// A topic given in a body, checked by the one rule of [`fisco_p2p::node::check_topic`].
pub(super) fn topic(topic: &str) -> Result<(), ApiError> {
    fisco_p2p::node::check_topic(topic).map_err(|reason| {
        ApiError::bad_request(format!("invalid topic {:?}: {reason}", shorten(topic)))
    })
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(24).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_takes_text_or_base64_but_not_both() {
        assert_eq!(payload(Some("hi".into()), None).unwrap(), "hi");
        assert_eq!(
            payload(None, Some("AAH/".into())).unwrap(),
            &[0u8, 1, 255][..]
        );
        assert!(payload(None, Some("not base64!".into())).is_err());
        assert!(payload(Some("a".into()), Some("YQ==".into())).is_err());
        assert!(payload(None, None).is_err());
    }
}
