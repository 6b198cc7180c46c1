//! What the node tells its operator, and what a stranger cannot make it write: unreachable static
//! peers are reported at WARN (once per address and minute), a node left without connections says
//! so, and a flood of refused connections writes a bounded number of lines.
//!
//! Each test captures the log of its own thread: `#[tokio::test]` runs the node's tasks on it.

use std::{
    io::Write,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

use fisco_p2p::node::parse_address;
use tracing_subscriber::fmt::MakeWriter;

use crate::{
    attacker::{closed_within, connect_from, send, sources},
    common::{bounded, config, eventually, network::identities, socket_addr, TestNode, WAIT},
};

/// The log lines written on this thread while the guard lives.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (
            captured.clone(),
            tracing::subscriber::set_default(subscriber),
        )
    }

    /// Forgets what was captured so far.
    pub(crate) fn clear(&self) {
        self.0.lock().expect("log buffer").clear();
    }

    /// Everything captured so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }

    /// The WARN and INFO lines containing `text`.
    pub(crate) fn lines(&self, level: &str, text: &str) -> Vec<String> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| l.contains(level) && l.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A loopback port nothing listens on (it was free a moment ago).
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn unreachable_static_peers_are_reported_at_warn_once_each_and_in_the_status() {
    bounded(async {
        let (log, _guard) = Captured::start();
        let mut ids = identities(2).into_iter();
        let (port_a, port_b) = (free_port().await, free_port().await);
        let address = |port: u16| parse_address(&format!("127.0.0.1:{port}")).expect("address");
        let config = config()
            .with_peer(address(port_a))
            .with_peer(address(port_b));
        let node = TestNode::spawn(ids.next().expect("identity"), config).await;
        // Redials every 50 ms doubling to 1 s: a dozen failures per address in 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let status = node.handle.status().await.expect("running");
        assert!(status.no_static_peer_connected, "{status:?}");
        let unreachable = log.lines("WARN", "static peer unreachable");
        assert_eq!(
            unreachable.len(),
            2,
            "one line per address: {unreachable:#?}"
        );
        assert!(
            unreachable.iter().all(|l| l.contains("reason=")),
            "{unreachable:#?}"
        );
        let isolated = log.lines("WARN", "no connection: none of the 2 static peers");
        assert_eq!(isolated.len(), 1, "{isolated:#?}");

        // The peer at the first address starts: the node says it is back.
        let listen = format!("/ip4/127.0.0.1/tcp/{port_a}")
            .parse()
            .expect("multiaddr");
        let peer = TestNode::spawn(
            ids.next().expect("identity"),
            fisco_p2p::node::Config::default().with_listen(listen),
        )
        .await;
        eventually("the static peer is connected", async || {
            !node
                .handle
                .status()
                .await
                .expect("running")
                .no_static_peer_connected
        })
        .await;
        let back = log.lines("INFO", "static peer reconnected after");
        assert_eq!(back.len(), 1, "{back:#?}");
        peer.shutdown().await;
        node.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_refused_connections_writes_a_bounded_number_of_lines() {
    bounded(async {
        let (log, _guard) = Captured::start();
        let node = TestNode::spawn(identities(1).remove(0), config()).await;
        let target: SocketAddr = socket_addr(&node.addr);
        // 300 connections speaking garbage: 150 from one IP, then 3 from each of 50 IPs.
        let mut clients: Vec<IpAddr> = vec![sources(1)[0]; 150];
        clients.extend(sources(50).into_iter().flat_map(|ip| [ip; 3]));
        let start = tokio::time::Instant::now();
        for chunk in clients.chunks(25) {
            let attempts = chunk.iter().map(|ip| async move {
                let Ok(mut stream) = connect_from(*ip, target).await else {
                    return;
                };
                // A 5-byte multistream message that does not end in a newline: malformed.
                send(&mut stream, b"\x05hello").await;
                let _ = closed_within(&mut stream, WAIT).await;
            });
            futures::future::join_all(attempts).await;
        }
        let refused = log.lines("WARN", "inbound connection refused");
        // All IPs together: a burst of 100, then 10 a second.
        let budget = 100 + 10 * start.elapsed().as_secs() as usize + 10;
        assert!(
            refused.len() <= budget,
            "{} lines for 300 refusals (budget {budget}): {:#?}",
            refused.len(),
            &refused[..refused.len().min(8)]
        );
        let from_one_ip = refused.iter().filter(|l| l.contains("/127.0.0.2/")).count();
        eprintln!(
            "{} WARN lines for 300 refused connections in {:?}, {from_one_ip} of them for the 150 \
             from one IP",
            refused.len(),
            start.elapsed()
        );
        // Per IP: a burst of 5, then one per 10 s.
        let per_ip = 5 + start.elapsed().as_secs() as usize / 10 + 1;
        assert!(
            from_one_ip <= per_ip,
            "{from_one_ip} lines for one IP's 150 refusals"
        );
        assert!(from_one_ip >= 1, "the first refusal is logged");
        node.shutdown().await;
    })
    .await;
}
