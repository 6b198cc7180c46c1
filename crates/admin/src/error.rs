//! Errors: [`AdminError`] for starting the admin API, and the HTTP error answers of its routes.

use std::net::SocketAddr;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

use super::api::ErrorAnswer;
use fisco_p2p::node::{CallError, MulticastError, RequestError, SendError, Stopped, TopicError};

/// Why the admin API could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The address is not a loopback address and exposing the API was not allowed; anyone who
    /// reaches it could drive the node. Use `127.0.0.1:PORT`, or allow it (`--admin-public`).
    #[error("admin address {0} is not a loopback address; use 127.0.0.1:PORT or pass --admin-public to expose the admin API")]
    NotLoopback(SocketAddr),
    /// The API was to be served on a non-loopback address without a token: anyone who reaches
    /// the address could drive the node.
    #[error("the admin API on {0} is reachable from other machines, so it needs a token; set admin_token_file (or --admin-token-file) to a file holding one, made with `openssl rand -hex 32`")]
    PublicWithoutToken(SocketAddr),
    /// The token file could not be used.
    #[error(transparent)]
    Token(#[from] super::token::TokenError),
    /// The address could not be bound (in use, or not an address of this machine).
    #[error(
        "cannot bind the admin API to {address}: {source}; pick another port or free this one"
    )]
    Bind {
        /// The address.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Accepting HTTP connections failed.
    #[error("the admin API stopped: {0}")]
    Serve(#[source] std::io::Error),
    /// The node stopped before the admin API could register its module.
    #[error("cannot start the admin API: {0}")]
    Node(#[from] Stopped),
}

/// An HTTP error answer: a status and `{"error": "..."}` naming the problem.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorAnswer {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<Stopped> for ApiError {
    fn from(error: Stopped) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    }
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        let status = match &error {
            SendError::Stopped
            | SendError::TooManyInFlight { .. }
            | SendError::QueueFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
            SendError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            SendError::TimeoutTooLong { .. }
            | SendError::ToSelf
            | SendError::TooManyTopics { .. }
            | SendError::InvalidTopic { .. }
            | SendError::State(_) => StatusCode::BAD_REQUEST,
            // A kind of error this server does not know yet: not relabelled as anything else.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, error.to_string())
    }
}

impl From<CallError> for ApiError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::NotSent(error) => error.into(),
            CallError::Failed {
                error: ref cause, ..
            } => Self::new(request_status(cause), error.to_string()),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        }
    }
}

impl From<TopicError> for ApiError {
    fn from(error: TopicError) -> Self {
        let status = match &error {
            TopicError::NotSent(_) => StatusCode::BAD_REQUEST,
            TopicError::NoFollower { .. } => StatusCode::NOT_FOUND,
            TopicError::AllFailed { failures, .. } => {
                if failures
                    .iter()
                    .all(|(_, e)| matches!(e, RequestError::Timeout))
                {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                }
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        match error {
            TopicError::NotSent(error) => error.into(),
            other => Self::new(status, other.to_string()),
        }
    }
}

impl From<MulticastError> for ApiError {
    fn from(error: MulticastError) -> Self {
        match error {
            MulticastError::NotSent(error) => error.into(),
            MulticastError::NoFollower { .. } => {
                Self::new(StatusCode::NOT_FOUND, error.to_string())
            }
            MulticastError::Unconfirmed { .. } => {
                Self::new(StatusCode::GATEWAY_TIMEOUT, error.to_string())
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
        }
    }
}

/// How a request that went out but got no reply is answered: 504 for a timeout, 413 when the
/// peer found it too large, 502 for everything else the peer or the link did.
fn request_status(error: &RequestError) -> StatusCode {
    match error {
        RequestError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        RequestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_GATEWAY,
    }
}
