//! A TCP proxy on 127.0.0.1 that can go silent: [`Proxy::freeze`] stops forwarding in both
//! directions without closing anything, like a link whose far end vanished (a cable pulled, a
//! host frozen). Neither end sees an error; only its heartbeat can tell.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use libp2p::Multiaddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{tcp, TcpListener, TcpStream},
    task::JoinSet,
};

/// See the module docs. Dropping it stops it and closes every connection through it.
pub(crate) struct Proxy {
    pub(crate) addr: Multiaddr,
    frozen: Arc<AtomicBool>,
    _tasks: JoinSet<()>,
}

impl Proxy {
    /// A proxy forwarding every connection it accepts to `target`.
    pub(crate) async fn start(target: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            // Pipes live as long as the accept loop: aborting it drops them all.
            let mut pipes = JoinSet::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                pipes.spawn(pipe(ri, wo, flag.clone()));
                pipes.spawn(pipe(ro, wi, flag.clone()));
            }
        });
        Ok(Proxy {
            addr: format!("/ip4/127.0.0.1/tcp/{port}").parse()?,
            frozen,
            _tasks: tasks,
        })
    }

    /// Stops forwarding, for good: everything sent from now on is swallowed, closes included.
    pub(crate) fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

async fn pipe(mut from: tcp::OwnedReadHalf, mut to: tcp::OwnedWriteHalf, frozen: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buf).await;
        if frozen.load(Ordering::SeqCst) {
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
