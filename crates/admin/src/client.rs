//! A small HTTP/1.1 client of the admin API, as `fisco-p2p ctl` uses it: one connection per
//! call (the API is on loopback), JSON in and out, bounded answers, and the live event stream.

use std::{net::SocketAddr, time::Duration};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{body::Incoming, client::conn::http1, header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Why a call to the admin API failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing answers at the address: the node is not running, or serves its admin API
    /// elsewhere (`run --admin ADDR`, the `admin` key of node.toml).
    #[error("cannot reach the admin API at {address}: {source}; is the node running with its admin API there?")]
    Connect {
        /// The address.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The call took longer than the client's timeout.
    #[error("no answer from the admin API at {0} in time; the node may still be working on it (a request to a slow peer): give more time with --timeout")]
    Timeout(SocketAddr),
    /// The HTTP exchange failed, or the answer was too large or not JSON.
    #[error("bad exchange with the admin API: {0}")]
    Protocol(String),
    /// The API answered with an error status and message.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's `error` message.
        message: String,
    },
}

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
        let message = match &self.body {
            Value::Object(fields) => match fields.get("error") {
                Some(Value::String(error)) => error.clone(),
                _ => self.body.to_string(),
            },
            Value::String(text) => text.clone(),
            other => other.to_string(),
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
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let body = Bytes::from(body.to_string());
        self.send(Method::POST, path, Some(body))
            .await?
            .into_result()
    }

    /// `DELETE path` with a JSON body, returning the body of a 2xx answer.
    pub async fn delete(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let body = Bytes::from(body.to_string());
        self.send(Method::DELETE, path, Some(body))
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
        Ok(EventStream {
            body: response.into_body(),
            buffer: BytesMut::new(),
            max_event: self.max_answer,
        })
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

/// The event stream of `GET /v1/events`.
#[derive(Debug)]
pub struct EventStream {
    body: Incoming,
    buffer: BytesMut,
    max_event: usize,
}

impl EventStream {
    /// The next event, or `None` once the stream has ended (the node or its API stopped).
    /// Keep-alive comments are skipped.
    pub async fn next(&mut self) -> Result<Option<Value>, ClientError> {
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
    fn error_answers_carry_the_api_message() {
        let answer = Answer {
            status: 400,
            body: serde_json::json!({ "error": "bad node ID" }),
        };
        let error = answer.into_result().unwrap_err().to_string();
        assert_eq!(error, "bad node ID (HTTP 400)");
    }
}
