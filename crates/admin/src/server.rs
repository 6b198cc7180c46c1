//! Serving HTTP/1.1 connections within bounds, each request shown to the [`Guard`] before its
//! body is read: at most so many at once, the request head within
//! a time limit, and no connection silent (nothing read, nothing written) for longer than the
//! idle timeout.
//!
//! Without these, 2,000 idle connections or 300 that sent half a header stayed open for good.
//! A connection over the limit is answered `503` at once and closed, so a client sees why
//! instead of a hang. The idle timeout also ends an event stream whose client stopped reading:
//! its writes stall, nothing moves, and the connection is closed.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{body::Body, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tower::ServiceExt as _;

use super::guard::Guard;

/// The bounds of the server.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) connections: usize,
    pub(super) header_timeout: Duration,
    pub(super) idle_timeout: Duration,
    /// Longest time to receive a request body, and its largest size.
    pub(super) body_timeout: Duration,
    pub(super) max_body: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves; then lets the requests under way finish
/// and returns once every connection has closed.
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    guard: Guard,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.connections));
    // Refusals are written by short tasks of their own; bound those too.
    let refusals = Arc::new(Semaphore::new(16));
    let (closing, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and alike: wait a moment rather than spin.
                    tracing::warn!(%error, "admin API: cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let app = app.clone();
                let guard = guard.clone();
                let closing = closing_rx.clone();
                connections.spawn(serve(stream, (app, guard), limits, permit, closing));
            }
            Err(_) => {
                if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                    last_warning = Some(Instant::now());
                    tracing::warn!(
                        %peer,
                        limit = limits.connections,
                        "admin API: connection limit reached; refusing connections (logged at most every 10 s)"
                    );
                }
                if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(refuse(stream, permit));
                }
            }
        }
    }
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Answers 503 to a connection over the limit, without reading its request.
async fn refuse(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let body = r#"{"error":"the admin API has too many connections open; retry shortly"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serves one connection until it closes, goes idle, or the server shuts down.
async fn serve(
    stream: TcpStream,
    (app, guard): (Router, Guard),
    limits: Limits,
    _permit: OwnedSemaphorePermit,
    mut closing: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let busy = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        let admitted = guard.admit(request.method(), request.headers());
        let busy = Busy::new(Arc::clone(&busy));
        async move {
            let response = match admitted {
                Err(refusal) => refusal,
                Ok(()) => match read_body(request, limits).await {
                    Ok(request) => app.oneshot(request).await.infallible(),
                    Err(refusal) => refusal,
                },
            };
            drop(busy);
            Ok::<_, Infallible>(response)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "admin API connection ended");
                }
                return;
            }
            () = activity.idle_for(limits.idle_timeout) => {
                tracing::debug!("admin API connection idle; closed");
                return;
            }
            _ = closing.wait_for(|closing| *closing), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Reads the whole request body within the body timeout (so a client that trickles its body
/// cannot hold a connection), and at most `max_body` bytes.
async fn read_body(
    request: Request<Incoming>,
    limits: Limits,
) -> Result<Request<Body>, axum::response::Response> {
    use axum::response::IntoResponse as _;
    use http_body_util::{BodyExt as _, Limited};
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(
        limits.body_timeout,
        Limited::new(body, limits.max_body).collect(),
    )
    .await;
    let refuse =
        |status, message: String| super::error::ApiError::new(status, message).into_response();
    match collected {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes.to_bytes()))),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(refuse(
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body over {} bytes (the largest message in base64, plus 64 KiB)",
                limits.max_body
            ),
        )),
        Ok(Err(error)) => Err(refuse(
            hyper::StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {error}"),
        )),
        Err(_) => Err(refuse(
            hyper::StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                limits.body_timeout.as_secs()
            ),
        )),
    }
}

/// Marks a connection busy (a request being read or answered) while it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Turns `Result<T, Infallible>` into `T`.
trait Infallibly<T> {
    fn infallible(self) -> T;
}

impl<T> Infallibly<T> for Result<T, Infallible> {
    fn infallible(self) -> T {
        match self {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }
}

/// When a connection last moved a byte, in milliseconds since it was accepted, and how many of
/// its requests are being answered (a request may wait minutes for a peer, silently).
struct Activity {
    start: Instant,
    last: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `timeout`: sleeps until the deadline the last
    /// activity sets, and again if there was activity meanwhile.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = self.start + last + timeout;
            if Instant::now() >= deadline {
                if self.busy.load(Ordering::Relaxed) == 0 {
                    return;
                }
                // Answering: the deadline moves past the answer (Busy touches on drop).
                tokio::time::sleep(timeout).await;
                continue;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A stream that notes every byte read or written.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
