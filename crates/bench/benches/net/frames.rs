//! Request/reply over a byte stream (raw TCP or rustls) with `[u32 BE length][payload]` frames:
//! the baselines' protocol. Replies come back in order, so the client matches them FIFO.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use bytes::Bytes;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf},
    sync::{mpsc, Semaphore},
};

use crate::rpc::Round;

/// Largest frame accepted (as the libp2p stacks here).
const MAX_FRAME: usize = 4 * 1024 * 1024;

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&(payload.len() as u32).to_be_bytes()).await?;
    w.write_all(payload).await?;
    w.flush().await
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let len = r.read_u32().await? as usize;
    anyhow::ensure!(len <= MAX_FRAME, "frame of {len} bytes");
    buf.resize(len, 0);
    r.read_exact(buf).await?;
    Ok(())
}

/// Answers every frame with `reply` until the stream ends.
pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, reply: Bytes) {
    let mut buf = Vec::new();
    while read_frame(&mut stream, &mut buf).await.is_ok() {
        if write_frame(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// The client's end of a connection, kept across rounds.
pub(crate) struct Client<S> {
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
}

impl<S: AsyncRead + AsyncWrite + Send + 'static> Client<S> {
    pub(crate) fn new(stream: S) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Client { reader, writer }
    }

    /// `count` requests of `payload`, `in_flight` at a time; a writer and a reader run
    /// concurrently, handing send times over a queue as long as the window.
    pub(crate) async fn round(
        &mut self,
        payload: &Bytes,
        count: usize,
        in_flight: usize,
    ) -> anyhow::Result<Round> {
        let window = Arc::new(Semaphore::new(in_flight));
        let (times_tx, mut times_rx) = mpsc::channel::<Instant>(in_flight);
        let started = Instant::now();
        let writer = &mut self.writer;
        let reader = &mut self.reader;
        let write = {
            let window = Arc::clone(&window);
            async move {
                for _ in 0..count {
                    window.acquire().await?.forget();
                    times_tx.send(Instant::now()).await?;
                    write_frame(writer, payload).await?;
                }
                anyhow::Ok(())
            }
        };
        let read = async move {
            let mut latencies = Vec::with_capacity(count);
            let mut buf = Vec::new();
            for _ in 0..count {
                read_frame(reader, &mut buf).await?;
                let at = times_rx.recv().await.context("writer stopped")?;
                latencies.push(at.elapsed());
                window.add_permits(1);
            }
            anyhow::Ok(latencies)
        };
        let both = async { tokio::try_join!(write, read) };
        let ((), latencies) = tokio::time::timeout(Duration::from_secs(120), both)
            .await
            .context("round did not finish in time")??;
        Ok(Round {
            latencies,
            elapsed: started.elapsed(),
        })
    }
}
