//! A small HTTP/1.1 client of the admin API, as `fisco-p2p ctl` uses it: one connection per
//! call (the API is on loopback), JSON in and out, bounded answers, and the live event stream.
//!
//! Each route has a typed call (`calls.rs`: [`Client::status`], [`Client::request`], ...)
//! sending and reading the [`api`](crate::api) types; [`Client::get`], [`Client::post`],
//! [`Client::delete`] and [`Client::send`] give the JSON as it came, for tools and tests that
//! look at the wire. [`EventStream`] (`events.rs`) reads the live events.

mod calls;
mod error;
mod events;

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Incoming, client::conn::http1, header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;
use tokio::net::TcpStream;

pub use error::ClientError;
pub use events::EventStream;

use crate::api::ErrorAnswer;

/// An answer of the API: its status and its body (JSON, or a string for non-JSON bodies).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body as JSON; a body that is not JSON is given as a JSON string.
    pub body: Value,
}

impl Answer {
    /// The body of a 2xx answer, or [`ClientError::Api`] with the API's error message.
    pub fn into_result(self) -> Result<Value, ClientError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let message = match (&self.body, ErrorAnswer::deserialize(&self.body)) {
            (_, Ok(ErrorAnswer { error })) => error,
            (Value::String(text), _) => text.clone(),
            (other, _) => other.to_string(),
        };
        Err(ClientError::Api {
            status: self.status,
            message,
        })
    }
}

/// A client of one node's admin API. See the [module docs](self).
#[derive(Clone)]
pub struct Client {
    address: SocketAddr,
    timeout: Duration,
    max_answer: usize,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .field("timeout", &self.timeout)
            .field("token", &self.token.as_ref().map(|_| ".."))
            .finish()
    }
}

impl Client {
    /// A client of the API at `address`; calls time out after 60 s and answers are read up to
    /// 64 MiB (a 32 MiB message in base64, with room).
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
            timeout: Duration::from_secs(60),
            max_answer: 64 * 1024 * 1024,
            token: None,
        }
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sends the token of a token file (its first line) with every call.
    pub fn with_token_file(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, super::TokenError> {
        let text = super::token::read_token_text(path.as_ref())?;
        Ok(self.with_token(text))
    }

    /// The longest a call may take (connecting, sending, and reading the whole answer).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET path`, returning the body of a 2xx answer.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, path, None).await?.into_result()
    }

    /// `POST path` with a JSON body, returning the body of a 2xx answer.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, ClientError> {
        self.send(Method::POST, path, Some(encode(body)?))
            .await?
            .into_result()
    }

    /// `DELETE path` with a JSON body, returning the body of a 2xx answer.
    pub async fn delete(&self, path: &str, body: &impl Serialize) -> Result<Value, ClientError> {
        self.send(Method::DELETE, path, Some(encode(body)?))
            .await?
            .into_result()
    }

    /// Sends any request with a raw body (sent as `application/json`) and returns the answer
    /// whatever its status.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Answer, ClientError> {
        let exchange = async {
            let response = self.start(method, path, body).await?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), self.max_answer)
                .collect()
                .await
                .map_err(|e| ClientError::Protocol(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status: status.as_u16(),
                body: serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    Value::String(String::from_utf8_lossy(&bytes).into_owned())
                }),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout(self.address))?
    }

    /// Opens `GET /v1/events`: the node's events from now on, one JSON object each.
    pub async fn events(&self) -> Result<EventStream, ClientError> {
        let response =
            tokio::time::timeout(self.timeout, self.start(Method::GET, "/v1/events", None))
                .await
                .map_err(|_| ClientError::Timeout(self.address))??;
        if response.status() != StatusCode::OK {
            let status = response.status().as_u16();
            let bytes = Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            let answer = Answer {
                status,
                body: serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| Value::String("the event stream was refused".into())),
            };
            // A 2xx other than 200 is no event stream either.
            let error = answer.into_result().err().unwrap_or(ClientError::Api {
                status,
                message: "the event stream was refused".into(),
            });
            return Err(error);
        }
        Ok(EventStream::new(response.into_body(), self.max_answer))
    }

    async fn start(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<hyper::Response<Incoming>, ClientError> {
        let stream =
            TcpStream::connect(self.address)
                .await
                .map_err(|source| ClientError::Connect {
                    address: self.address,
                    source,
                })?;
        let protocol = |e: hyper::Error| ClientError::Protocol(e.to_string());
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(protocol)?;
        // The connection runs beside the request; it ends when the answer has been read.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "admin API connection ended");
            }
        });
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.address.to_string())
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        sender.send_request(request).await.map_err(protocol)
    }
}

/// A request body as JSON.
fn encode(body: &impl Serialize) -> Result<Bytes, ClientError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ClientError::Protocol(format!("encoding the request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_carry_the_api_message() {
        let answer = Answer {
            status: 400,
            body: serde_json::json!({ "error": "bad node ID" }),
        };
        let error = answer.into_result().unwrap_err().to_string();
        assert_eq!(error, "bad node ID (HTTP 400)");
    }
}
