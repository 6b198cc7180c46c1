//! The raw clients of the hostile tests: idle TCP floods from chosen loopback source IPs, and
//! clients that speak garbage, truncate or stall their handshake.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
};

/// How long any single socket operation of an attacker may take.
const STEP: Duration = Duration::from_secs(5);

/// A TCP connection to `target` from `source` (any 127.0.0.0/8 address works on Linux loopback).
pub(crate) async fn connect_from(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    tokio::time::timeout(STEP, socket.connect(target))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))?
}

/// `n` loopback source addresses from 127.0.0.2 on (127.0.0.1 is left to legitimate peers).
pub(crate) fn sources(n: u8) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
        .collect()
}

/// Idle connections that send nothing, each re-opened as soon as the node closes it, as the
/// issue's attacker did. Stops (closing every socket) when dropped.
pub(crate) struct Flood {
    tasks: Vec<JoinHandle<()>>,
    opened: Arc<AtomicU64>,
}

impl Flood {
    /// `per_source` idle connections from each of `sources` to `target`.
    pub(crate) fn start(target: SocketAddr, sources: &[IpAddr], per_source: usize) -> Flood {
        let opened = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for source in sources {
            for _ in 0..per_source {
                let (source, opened) = (*source, Arc::clone(&opened));
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok(mut stream) = connect_from(source, target).await else {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        };
                        opened.fetch_add(1, Ordering::Relaxed);
                        // Hold it, silent, until the node closes it.
                        let mut byte = [0u8; 64];
                        while matches!(stream.read(&mut byte).await, Ok(n) if n > 0) {}
                    }
                }));
            }
        }
        Flood { tasks, opened }
    }

    /// Connections opened so far, re-openings included.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One multistream-select message: a one-byte length, the text, a newline.
pub(crate) fn frame(text: &str) -> Vec<u8> {
    let len = u8::try_from(text.len() + 1).expect("short protocol name");
    assert!(len < 0x80, "single-byte varint");
    [&[len][..], text.as_bytes(), b"\n"].concat()
}

/// The dialer's lazy proposal of `/fisco-tls/1.0.0`, as a real node sends it.
pub(crate) fn tls_proposal() -> Vec<u8> {
    [frame("/multistream/1.0.0"), frame("/fisco-tls/1.0.0")].concat()
}

/// Reads until the node closes the connection (EOF or reset); returns how long that took, or
/// `None` if it was still open after `limit`.
pub(crate) async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(limit, async {
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    closed.ok().map(|()| start.elapsed())
}

/// Writes `bytes`, ignoring a connection the node already closed.
pub(crate) async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = tokio::time::timeout(STEP, stream.write_all(bytes)).await;
}
