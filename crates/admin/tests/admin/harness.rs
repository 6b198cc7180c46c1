//! In-process daemons for the admin API tests: a node on 127.0.0.1 port 0 with metrics, its
//! admin API on another port 0, and a client of it.

#![allow(unreachable_pub)]

use std::{sync::Arc, time::Duration};

use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::Config,
};
use fisco_p2p_admin::{self as admin, client::Client, client::EventStream};
use fisco_p2p_metrics::Metrics;
use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::common::{network::messaging_config, TestNode, WAIT};

/// A node with its admin API being served.
pub struct Daemon {
    pub node: TestNode,
    pub client: Client,
    /// The admin API's address.
    pub address: std::net::SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: Option<JoinHandle<Result<(), admin::AdminError>>>,
}

impl Daemon {
    /// A daemon with the default admin settings.
    pub async fn start(identity: NodeIdentity) -> Daemon {
        Self::start_with(identity, messaging_config(), admin::Config::default()).await
    }

    /// A daemon with these node and admin settings (metrics are added to both).
    pub async fn start_with(
        identity: NodeIdentity,
        config: Config,
        admin_config: admin::Config,
    ) -> Daemon {
        let metrics = Arc::new(Metrics::new());
        let node = TestNode::spawn(identity, config.with_recorder(metrics.clone())).await;
        let listener = admin::bind("127.0.0.1:0".parse().expect("address"), false)
            .await
            .expect("admin API binds");
        let address = listener.local_addr().expect("bound address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let service =
            admin::Service::start(node.handle.clone(), admin_config.with_metrics(metrics))
                .await
                .expect("admin service starts");
        let server = tokio::spawn(service.serve(listener, async {
            let _ = stop.await;
        }));
        Daemon {
            node,
            client: Client::new(address).with_timeout(WAIT),
            address,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node.node_id()
    }

    /// `GET path`, expecting success.
    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `POST path body`, expecting success.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.client
            .post(path, &body)
            .await
            .unwrap_or_else(|e| panic!("POST {path} {body}: {e}"))
    }

    /// `POST path` with a raw body; returns the status and the body whatever they are.
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let answer = self
            .client
            .send(
                hyper::Method::POST,
                path,
                Some(bytes::Bytes::from(body.to_owned())),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        (answer.status, answer.body)
    }

    /// Opens the event stream.
    pub async fn events(&self) -> EventStream {
        self.client.events().await.expect("event stream opens")
    }

    /// Stops serving the admin API and waits for the server to return.
    pub async fn stop_admin(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server)
                .await
                .expect("admin API stops in time")
                .expect("server task")
                .expect("server ends cleanly");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// Waits for the first event of `stream` that `accept` takes, skipping others.
pub async fn wait_event(
    stream: &mut EventStream,
    what: &str,
    mut accept: impl FnMut(&Value) -> bool,
) -> Value {
    tokio::time::timeout(WAIT, async {
        loop {
            match stream.next_json().await.expect("event stream readable") {
                Some(event) if accept(&event) => return event,
                Some(_) => {}
                None => panic!("event stream ended while waiting for {what}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `GET path` until `check` holds on the body.
pub async fn wait_until(daemon: &Daemon, path: &str, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check(&daemon.get(path).await) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects `a` to `b` as a static peer and waits for the connection.
pub async fn connect(a: &mut Daemon, b: &Daemon) {
    let addr = b.node.addr.to_string();
    let answer = a
        .post("/v1/peers", serde_json::json!({ "addr": addr }))
        .await;
    assert_eq!(answer["added"], true);
    a.node.wait_connected(b.node_id()).await;
}

/// Two daemons of one chain, connected.
pub async fn pair() -> (Daemon, Daemon) {
    let mut ids = crate::common::network::identities(2).into_iter();
    let mut a = Daemon::start(ids.next().expect("identity")).await;
    let b = Daemon::start(ids.next().expect("identity")).await;
    connect(&mut a, &b).await;
    (a, b)
}

/// Sends `request` (a whole HTTP/1.1 request as text) on a new connection and reads until the
/// server closes it or `WAIT` passes; returns the status code and everything read.
pub async fn raw_http(address: std::net::SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connects");
        stream.write_all(request.as_bytes()).await.expect("writes");
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        // One answer: stop at the end of the body (Content-Length) or when the server closes.
        loop {
            let n = stream.read(&mut buffer).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
            if complete(&answer) {
                break;
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    };
    let text = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("an answer in time");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether `answer` holds a whole response with a Content-Length body.
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| body.len() >= length)
}

/// A JSON value that must be a string.
pub fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is a string"))
}
