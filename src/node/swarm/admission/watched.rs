//! The socket wrapper: the first byte a pending connection receives marks it as spoken, and a
//! connection admission turned away is reset when it goes.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures::{AsyncRead, AsyncWrite};

use super::Probe;

/// A socket that can be set to be reset (TCP RST) rather than closed when it is dropped.
pub(crate) trait Resettable {
    /// Makes dropping the socket reset the connection; failures are ignored (it then closes).
    fn reset_on_drop(&self);
}

impl Resettable for libp2p::tcp::tokio::TcpStream {
    fn reset_on_drop(&self) {
        // SO_LINGER 0: no TIME_WAIT on our side, and nothing left to send anyway.
        let _ = self.0.set_zero_linger();
    }
}

#[cfg(test)]
impl Resettable for () {
    fn reset_on_drop(&self) {}
}

/// A socket whose first received byte marks its pending connection as spoken.
#[derive(Debug)]
pub(crate) struct Watched<S: Resettable> {
    pub(super) inner: S,
    pub(super) probe: Option<Arc<Probe>>,
    spoken: bool,
}

impl<S: Resettable> Watched<S> {
    pub(super) fn new(inner: S, probe: Option<Arc<Probe>>) -> Self {
        Self {
            inner,
            probe,
            spoken: false,
        }
    }
}

impl<S: Resettable> Drop for Watched<S> {
    fn drop(&mut self) {
        if self.probe.as_ref().is_some_and(|p| p.is_turned_away()) {
            self.inner.reset_on_drop();
        }
    }
}

impl<S: AsyncRead + Resettable + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = read {
            if n > 0 && !self.spoken {
                self.spoken = true;
                if let Some(probe) = &self.probe {
                    probe.spoke();
                }
            }
        }
        read
    }
}

impl<S: AsyncWrite + Resettable + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
