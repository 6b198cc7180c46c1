//! The admin API: a small HTTP/JSON server on loopback to watch and drive one node, with live
//! events (Server-Sent Events) and Prometheus metrics. `fisco-p2p run --admin ADDR` serves it and
//! `fisco-p2p ctl` is its client; `docs/admin-api.md` documents every route.
//!
//! | route | does |
//! |---|---|
//! | `GET /v1/status` | node ID, listen addresses, seq, topics, connected count |
//! | `GET /v1/peers` | every node known: connected, addresses, topics, seq, state |
//! | `GET /v1/static-peers` | the static peer list and who is connected at each address |
//! | `POST`/`DELETE /v1/peers {"addr"}` | add or remove a static peer |
//! | `POST /v1/request {"to","module"?,"data"}` | request to one node, answers `{"from","data"}` |
//! | `POST /v1/send-topic {"topic","module"?,"data"}` | request to one follower of a topic |
//! | `POST /v1/multicast {"topic","module"?,"data"}` | to every follower of a topic |
//! | `POST /v1/broadcast {"module"?,"data"}` | to every node |
//! | `POST /v1/subscribe`, `/v1/unsubscribe {"topic"}` | follow or stop following a topic |
//! | `GET /v1/events` | SSE: one JSON object per event |
//! | `GET /metrics` | Prometheus metrics: OpenMetrics or the 0.0.4 text format, by `Accept` |
//!
//! Payloads are `data` (UTF-8 text) or `data_base64` (binary). Bad input is answered 4xx with
//! `{"error": "..."}` naming the problem; node errors map to 404 (no follower), 413 (too large),
//! 502 (the peer failed), 503 (node busy or stopped) and 504 (timeout).
//!
//! The API is for the node's operators, not for web pages: requests must be addressed to an IP
//! address or `localhost` and carry no foreign `Origin`, bodies must be JSON, and with a
//! [`Token`] every request must present it (see `guard.rs`). The server bounds its connections,
//! the time to send a request, idle connections, and what each event stream may hold
//! ([`Config::default`]).
//!
//! [`api`] holds every request body, answer and event of the API as a type the server and the
//! client share; [`client::Client`] is the small HTTP client `fisco-p2p ctl` uses.
//!
//! A [`Service`] also answers requests for [`DEFAULT_MODULE`] by echoing the data back, so two
//! daemons can try requests; an application that wants its own answers turns that off
//! ([`Config::with_echo`]) and registers the module itself.
//!
//! ```no_run
//! # async fn example(handle: fisco_p2p::node::Handle) -> Result<(), fisco_p2p_admin::AdminError> {
//! use fisco_p2p_admin as admin;
//! let listener = admin::bind("127.0.0.1:0".parse().expect("an address"), false).await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! admin::serve(listener, handle, admin::Config::default(), shutdown).await
//! # }
//! ```

pub mod api;
mod body;
pub mod client;
mod error;
mod feed;
mod guard;
mod hub;
mod messages;
mod routes;
mod server;
mod state;
mod token;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

pub use api::EVENT_TYPES;
pub use error::AdminError;
pub use token::{Token, TokenError, MAX_TOKEN_FILE, MIN_TOKEN_LEN};

use fisco_p2p::node::Handle;
use fisco_p2p_metrics::Metrics;

/// The module of the requests, multicasts and broadcasts sent through the admin API when the
/// body names none, and the module a [`Service`] answers by echoing.
pub const DEFAULT_MODULE: u16 = 0;

/// Settings of the admin API. See [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    max_body: usize,
    echo: bool,
    metrics: Option<Arc<Metrics>>,
    token: Option<Token>,
    hosts: Vec<String>,
    max_connections: usize,
    header_timeout: Duration,
    idle_timeout: Duration,
    body_timeout: Duration,
    event_capacity: usize,
    event_bytes: usize,
    event_payload: usize,
    event_streams: usize,
}

impl Default for Config {
    /// - request bodies up to the base64 size of a 32 MiB message (the node's default maximum)
    ///   plus 64 KiB for the JSON around it, received within 30 s;
    /// - echo requests for [`DEFAULT_MODULE`];
    /// - no metrics (`GET /metrics` answers 404), no token, no host names besides IP addresses
    ///   and `localhost`;
    /// - at most 64 connections; a request head must arrive within 10 s of the connection or
    ///   the previous answer; a connection that moves nothing for 60 s while no request is
    ///   being answered is closed;
    /// - at most 16 event streams, each holding at most 1024 events and 8 MiB for a slow reader
    ///   (which is then told it lagged and dropped); message payloads over 64 KiB appear in
    ///   events by size only.
    fn default() -> Self {
        Self {
            max_body: body_limit(fisco_p2p::node::MAX_MESSAGE_SIZE),
            echo: true,
            metrics: None,
            token: None,
            hosts: Vec::new(),
            max_connections: 64,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            event_capacity: 1024,
            event_bytes: 8 * 1024 * 1024,
            event_payload: 64 * 1024,
            event_streams: 16,
        }
    }
}

/// The largest JSON body that can carry a message of `max_message_size` bytes in base64.
fn body_limit(max_message_size: usize) -> usize {
    max_message_size
        .div_ceil(3)
        .saturating_mul(4)
        .saturating_add(64 * 1024)
}

impl Config {
    /// Sizes the body limit for messages of up to `bytes` (use the node's maximum message size).
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_body = body_limit(bytes);
        self
    }

    /// Events held for each SSE client of `GET /v1/events`; a client further behind is told it
    /// lagged and dropped.
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Bytes of events held for each SSE client; a client further behind is told it lagged
    /// and dropped.
    pub fn with_event_bytes(mut self, bytes: usize) -> Self {
        self.event_bytes = bytes.max(1024);
        self
    }

    /// Largest message payload shown in a `message` event; larger ones are shown by size.
    pub fn with_event_payload(mut self, bytes: usize) -> Self {
        self.event_payload = bytes;
        self
    }

    /// Most SSE clients at once; more are answered 503.
    pub fn with_event_streams(mut self, streams: usize) -> Self {
        self.event_streams = streams.max(1);
        self
    }

    /// Most connections at once; more are answered 503 and closed.
    pub fn with_max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request head (from connecting, or from the end of
    /// the previous answer), and how long a connection may move nothing while no request is
    /// being answered.
    pub fn with_timeouts(mut self, header: Duration, idle: Duration) -> Self {
        self.header_timeout = header.max(Duration::from_millis(10));
        self.idle_timeout = idle.max(Duration::from_millis(10));
        self
    }

    /// Whether the service registers [`DEFAULT_MODULE`] and answers its requests by echoing the
    /// data back (and reports its messages as `message` events).
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// The node's metrics, served at `GET /metrics` (give the node the same ones through
    /// [`node::Config::with_recorder`](fisco_p2p::node::Config::with_recorder)).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Requires `Authorization: Bearer <token>` on every request. Required to serve on a
    /// non-loopback address.
    pub fn with_token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Accepts requests whose `Host` is `name` (besides IP addresses and `localhost`), for an API
    /// reached by a DNS name.
    pub fn with_allowed_host(mut self, name: impl Into<String>) -> Self {
        self.hosts
            .push(name.into().trim_end_matches('.').to_ascii_lowercase());
        self
    }
}

/// Binds the admin API's listener, refusing a non-loopback address unless `public`.
pub async fn bind(address: SocketAddr, public: bool) -> Result<TcpListener, AdminError> {
    if !address.ip().is_loopback() && !public {
        return Err(AdminError::NotLoopback(address));
    }
    TcpListener::bind(address)
        .await
        .map_err(|source| AdminError::Bind { address, source })
}

/// Starts a [`Service`] for `handle` and serves the admin API on `listener` until `shutdown`
/// resolves; then finishes the requests under way and returns. Once the node has stopped, its
/// routes answer 503.
pub async fn serve(
    listener: TcpListener,
    handle: Handle,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    Service::start(handle, config)
        .await?
        .serve(listener, shutdown)
        .await
}

/// The node side of the admin API: the event feed and the echo of [`DEFAULT_MODULE`] (see the
/// [module docs](self)). It runs from [`Service::start`] until the node stops or it is dropped,
/// whether or not it serves HTTP.
#[derive(Debug)]
pub struct Service {
    handle: Handle,
    config: Config,
    hub: Arc<hub::Hub>,
    task: JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Service {
    /// Subscribes to the node's events and, with echo on, registers [`DEFAULT_MODULE`].
    pub async fn start(handle: Handle, config: Config) -> Result<Self, AdminError> {
        let events = handle.events();
        let inbox = match config.echo {
            true => Some(handle.register(DEFAULT_MODULE).await?),
            false => None,
        };
        let hub = Arc::new(hub::Hub::new(hub::Bounds {
            events: config.event_capacity,
            bytes: config.event_bytes,
            clients: config.event_streams,
        }));
        let task = tokio::spawn(feed::run(
            events,
            inbox,
            Arc::clone(&hub),
            config.event_payload,
        ));
        Ok(Self {
            handle,
            config,
            hub,
            task,
        })
    }

    /// Serves the admin API on `listener` until `shutdown` resolves, then lets the requests
    /// under way finish (event streams end at once) and returns. A listener on a non-loopback
    /// address needs a token ([`Config::with_token`]).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AdminError> {
        let address = listener.local_addr().map_err(AdminError::Serve)?;
        if !address.ip().is_loopback() && self.config.token.is_none() {
            return Err(AdminError::PublicWithoutToken(address));
        }
        let (stop, stopped) = watch::channel(false);
        let state = state::State {
            handle: self.handle.clone(),
            hub: Arc::clone(&self.hub),
            metrics: self.config.metrics.clone(),
            stopped,
        };
        let guard = guard::Guard {
            token: self.config.token.clone(),
            hosts: self.config.hosts.clone(),
        };
        let app = routes::router(state, self.config.max_body);
        let limits = server::Limits {
            connections: self.config.max_connections,
            header_timeout: self.config.header_timeout,
            idle_timeout: self.config.idle_timeout,
            body_timeout: self.config.body_timeout,
            max_body: self.config.max_body,
        };
        tracing::info!(%address, token = self.config.token.is_some(), "admin API listening");
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        server::run(listener, app, guard, limits, signal)
            .await
            .map_err(AdminError::Serve)
    }
}

#[doc = include_str!("../../../docs/admin-api.md")]
#[cfg(doctest)]
pub struct AdminApiDoctests;
