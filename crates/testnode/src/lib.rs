//! Helpers for the integration tests of the library, the admin API and the CLI: nodes from the
//! fixture certificates on 127.0.0.1 port 0, waiting for events with a timeout, a TCP proxy that
//! can freeze a link ([`network`] for whole networks, [`netns`] for networks in namespaces).
//! A dev-dependency only; every wait in it has a time limit.

// Test helpers: a poisoned lock or a failed call means the test has already failed.
#![allow(clippy::unwrap_used)]

pub mod netns;
pub mod network;

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use fisco_p2p::{
    identity::{NodeId, NodeIdentity},
    node::{Config, Event, Events, Handle, Node},
};
use libp2p::Multiaddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// Upper bound for anything a test waits for; generous so a loaded 2-core CI box passes.
pub const WAIT: Duration = Duration::from_secs(15);

/// Sends the library's logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=debug`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// The directory of a fixture node, e.g. `fixture("fisco-2.5/node0")`.
pub fn fixture(relative: &str) -> PathBuf {
    workspace_root().join("certs").join(relative)
}

/// The workspace's root directory (these helpers serve the tests of the library, at the root,
/// and of the CLI crate, under `crates/cli`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("certs").is_dir())
        .unwrap_or(&manifest)
        .to_path_buf()
}

/// Loads a fixture node directory.
pub fn identity(relative: &str) -> NodeIdentity {
    NodeIdentity::load_dir(fixture(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} loads: {e}"))
}

/// The node ID FISCO's tooling wrote for a fixture node.
pub fn nodeid_file(relative: &str) -> NodeId {
    std::fs::read_to_string(fixture(relative).join("node.nodeid"))
        .expect("node.nodeid readable")
        .trim()
        .parse()
        .expect("node.nodeid holds a node ID")
}

/// A config for tests: listens on 127.0.0.1 port 0, fast heartbeat and redial.
pub fn config() -> Config {
    Config::default()
        .with_listen("/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"))
        .with_heartbeat_interval(Duration::from_millis(500))
        .with_heartbeat_timeout(Duration::from_secs(2))
        .with_redial_backoff(Duration::from_millis(50), Duration::from_secs(1))
}

/// A node under test: its handle, its event stream and its first listen address.
pub struct TestNode {
    /// Its handle.
    pub handle: Handle,
    /// Its events, read by the waits below.
    pub events: Events,
    /// Its first listen address.
    pub addr: Multiaddr,
}

impl TestNode {
    /// Starts a node with `config` (which must listen somewhere: see [`config`]) and returns it
    /// with its first listen address.
    pub async fn spawn(identity: NodeIdentity, config: Config) -> TestNode {
        init_tracing();
        let (handle, events) = tokio::time::timeout(WAIT, Node::spawn(identity, config))
            .await
            .expect("node starts in time")
            .expect("node starts");
        let addr = handle
            .listen_addrs()
            .await
            .expect("node running")
            .into_iter()
            .next()
            .expect("node listens");
        TestNode {
            handle,
            events,
            addr,
        }
    }

    /// Its node ID.
    pub fn node_id(&self) -> NodeId {
        self.handle.node_id()
    }

    /// Waits for the first event `f` accepts, failing the test after [`WAIT`].
    pub async fn wait_for<T>(&mut self, what: &str, mut f: impl FnMut(&Event) -> Option<T>) -> T {
        let events = &mut self.events;
        tokio::time::timeout(WAIT, async {
            loop {
                let event = events.next().await.expect("node running");
                if let Some(found) = f(&event) {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// Waits until this node is connected to `peer`.
    pub async fn wait_connected(&mut self, peer: NodeId) {
        if self.is_connected(peer.clone()).await {
            return;
        }
        self.wait_for("peer connected", |e| match e {
            Event::PeerConnected { node_id, .. } if *node_id == peer => Some(()),
            _ => None,
        })
        .await;
    }

    /// Whether it has a connection to `peer` now.
    pub async fn is_connected(&self, peer: NodeId) -> bool {
        self.handle
            .connected_peers()
            .await
            .expect("node running")
            .iter()
            .any(|p| p.node_id == peer)
    }

    /// Collects the events that arrive within `period`.
    pub async fn events_within(&mut self, period: Duration) -> Vec<Event> {
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(period, async {
            while let Some(event) = self.events.next().await {
                seen.push(event);
            }
        })
        .await;
        seen
    }

    /// Stops it gracefully, within the time limit.
    pub async fn shutdown(self) {
        tokio::time::timeout(WAIT, self.handle.shutdown())
            .await
            .expect("shutdown in time")
            .expect("node was running");
    }
}

/// Longest time one whole test may take.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

/// Runs a test body under [`TEST_LIMIT`], so that no await in it can hang the suite.
pub async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test finished within its time limit")
}

/// Polls `check` until it holds, failing the test after [`WAIT`].
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

/// A TCP proxy on 127.0.0.1 forwarding to `target`; [`Proxy::freeze`] stops forwarding without
/// closing anything, like a link whose far end vanished.
pub struct Proxy {
    /// Where to dial the proxy.
    pub addr: Multiaddr,
    frozen: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                tokio::spawn(pipe(ri, wo, flag.clone()));
                tokio::spawn(pipe(ro, wi, flag.clone()));
            }
        });
        Proxy {
            addr: format!("/ip4/127.0.0.1/tcp/{port}")
                .parse()
                .expect("multiaddr"),
            frozen,
            task,
        }
    }

    /// Stops forwarding, in both directions, without closing anything.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buf).await;
        if frozen.load(Ordering::SeqCst) {
            // Swallow everything from now on, closes included, keeping both sockets open.
            std::future::pending::<()>().await;
        }
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The TCP socket address of a `/ip4/.../tcp/...` multiaddr.
pub fn socket_addr(addr: &Multiaddr) -> std::net::SocketAddr {
    use libp2p::multiaddr::Protocol;
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    std::net::SocketAddr::new(ip.expect("ip in address"), port.expect("port in address"))
}
