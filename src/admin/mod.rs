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
//! | `GET /metrics` | Prometheus text |
//!
//! Payloads are `data` (UTF-8 text) or `data_base64` (binary). Bad input is answered 4xx with
//! `{"error": "..."}` naming the problem; node errors map to 404 (no follower), 413 (too large),
//! 502 (the peer failed), 503 (node busy or stopped) and 504 (timeout).
//!
//! [`client::Client`] is the small HTTP client `fisco-p2p ctl` uses.
//!
//! A [`Service`] also answers requests for [`DEFAULT_MODULE`] by echoing the data back, so two
//! daemons can try requests; an application that wants its own answers turns that off
//! ([`Config::with_echo`]) and registers the module itself.
//!
//! ```no_run
//! # async fn example(handle: fisco_p2p::node::Handle) -> Result<(), fisco_p2p::admin::AdminError> {
//! use fisco_p2p::admin;
//! let listener = admin::bind("127.0.0.1:0".parse().unwrap(), false).await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! admin::serve(listener, handle, admin::Config::default(), shutdown).await
//! # }
//! ```

mod body;
pub mod client;
mod error;
mod feed;
mod messages;
mod routes;

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::{
    net::TcpListener,
    sync::{broadcast, watch},
    task::JoinHandle,
};

pub use error::AdminError;

use crate::{metrics::Metrics, node::Handle};

/// The module of the requests, multicasts and broadcasts sent through the admin API when the
/// body names none, and the module a [`Service`] answers by echoing.
pub const DEFAULT_MODULE: u16 = 0;

/// Settings of the admin API. See [`Config::default`].
#[derive(Debug, Clone)]
pub struct Config {
    max_body: usize,
    event_capacity: usize,
    echo: bool,
    metrics: Option<Arc<Metrics>>,
}

impl Default for Config {
    /// - request bodies up to the base64 size of a 32 MiB message (the node's default maximum)
    ///   plus 64 KiB for the JSON around it;
    /// - 1024 events buffered for the SSE clients (a client further behind skips the oldest);
    /// - echo requests for [`DEFAULT_MODULE`];
    /// - no metrics (`GET /metrics` answers 404).
    fn default() -> Self {
        Self {
            max_body: body_limit(32 * 1024 * 1024),
            event_capacity: 1024,
            echo: true,
            metrics: None,
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

    /// Events buffered for the SSE clients of `GET /v1/events`.
    pub fn with_event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Whether the service registers [`DEFAULT_MODULE`] and answers its requests by echoing the
    /// data back (and reports its messages as `message` events).
    pub fn with_echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// The node's metrics, served at `GET /metrics` (give the node the same ones through
    /// [`node::Config::with_metrics`](crate::node::Config::with_metrics)).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
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
    feed: broadcast::WeakSender<feed::ApiEvent>,
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
        let (sender, _) = broadcast::channel(config.event_capacity);
        let feed = sender.downgrade();
        let task = tokio::spawn(feed::run(events, inbox, sender));
        Ok(Self {
            handle,
            config,
            feed,
            task,
        })
    }

    /// Serves the admin API on `listener` until `shutdown` resolves, then lets the requests
    /// under way finish (event streams end at once) and returns.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AdminError> {
        let (stop, stopped) = watch::channel(false);
        let state = routes::State {
            handle: self.handle.clone(),
            feed: self.feed.clone(),
            metrics: self.config.metrics.clone(),
            stopped,
        };
        let app = routes::router(state, self.config.max_body);
        if let Ok(address) = listener.local_addr() {
            tracing::info!(%address, "admin API listening");
        }
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
            .map_err(AdminError::Serve)
    }
}
