//! Framing on a broadcast substream: `[length: u32 big-endian][hops: u8][body]`.
//!
//! `length` counts the hop byte and the body. It is checked against the configured maximum
//! before anything is allocated for the frame, and the frame is then read in chunks, so neither a
//! forged length nor a slow sender makes the node reserve memory it has not received.

use std::io;

use bytes::Bytes;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read at a time while a frame arrives; the buffer grows with what was received.
const READ_CHUNK: usize = 64 * 1024;

/// Size of the length prefix.
pub(crate) const PREFIX_LEN: usize = 4;

/// Why a frame could not be read. Every case ends the substream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The length prefix announced more than the configured maximum.
    #[error("frame of {len} bytes announced, the maximum is {max}")]
    TooLarge { len: u64, max: usize },
    /// The length prefix announced a frame without even the hop byte.
    #[error("empty frame (no hop count)")]
    Empty,
    /// The substream failed or ended in the middle of a frame.
    #[error("substream failed: {0}")]
    Io(#[from] io::Error),
}

/// Writes one frame and flushes it.
pub(crate) async fn write_frame<S>(io: &mut S, hops: u8, body: &[u8]) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let len = u32::try_from(body.len() + 1)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&[hops]).await?;
    io.write_all(body).await?;
    io.flush().await
}

/// Reads one frame: `Ok(None)` when the remote closed the substream cleanly between frames.
pub(crate) async fn read_frame<S>(io: &mut S, max: usize) -> Result<Option<(u8, Bytes)>, FrameError>
where
    S: AsyncRead + Unpin,
{
    let Some(len) = read_prefix(io).await? else {
        return Ok(None);
    };
    if len > max as u64 {
        return Err(FrameError::TooLarge { len, max });
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let mut hops = [0u8; 1];
    io.read_exact(&mut hops).await?;
    let body = read_exact_growing(io, (len - 1) as usize).await?;
    Ok(Some((hops[0], body)))
}

/// Reads the 4-byte prefix, telling a clean end of stream apart from a truncated prefix.
async fn read_prefix<S: AsyncRead + Unpin>(io: &mut S) -> io::Result<Option<u64>> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        let n = io.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    Ok(Some(u64::from(u32::from_be_bytes(prefix))))
}

/// Reads exactly `len` bytes, growing the buffer only as data arrives (doubling, capped at `len`).
async fn read_exact_growing<S: AsyncRead + Unpin>(io: &mut S, len: usize) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let start = buf.len();
        let end = len.min(start + READ_CHUNK);
        if buf.capacity() < end {
            let target = len.min(end.max(buf.capacity() * 2));
            buf.reserve_exact(target - start);
        }
        buf.resize(end, 0);
        io.read_exact(&mut buf[start..end]).await?;
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    use futures::{executor::block_on, io::Cursor};

    use super::*;

    /// A reader that serves `data` and fails the test if asked for anything past it.
    struct NoMoreThan {
        data: Vec<u8>,
        pos: usize,
    }

    impl AsyncRead for NoMoreThan {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            assert!(self.pos < self.data.len(), "read past the length prefix");
            let n = buf.len().min(self.data.len() - self.pos);
            let pos = self.pos;
            buf[..n].copy_from_slice(&self.data[pos..pos + n]);
            self.pos += n;
            Poll::Ready(Ok(n))
        }
    }

    #[test]
    fn a_frame_reads_back_as_written() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 3, b"body")).expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let (hops, body) = block_on(read_frame(&mut wire, 1024))
            .expect("reads")
            .expect("frame");
        assert_eq!((hops, &body[..]), (3, &b"body"[..]));
        assert!(block_on(read_frame(&mut wire, 1024))
            .expect("clean end")
            .is_none());
    }

    #[test]
    fn a_forged_length_is_refused_without_reading_past_the_prefix() {
        let mut reader = NoMoreThan {
            data: u32::MAX.to_be_bytes().to_vec(),
            pos: 0,
        };
        let err = block_on(read_frame(&mut reader, 32 * 1024 * 1024)).expect_err("refused");
        assert!(matches!(err, FrameError::TooLarge { len, .. } if len == u64::from(u32::MAX)));
    }

    #[test]
    fn a_length_just_over_the_maximum_is_refused() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 1, &[0u8; 100])).expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let err = block_on(read_frame(&mut wire, 100)).expect_err("101 > 100");
        assert!(matches!(err, FrameError::TooLarge { len: 101, max: 100 }));
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_a_clean_end() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 1, &[7u8; 200_000])).expect("writes");
        let mut bytes = wire.into_inner();
        bytes.truncate(150_000);
        let err = block_on(read_frame(&mut Cursor::new(bytes), 1 << 20)).expect_err("truncated");
        assert!(matches!(err, FrameError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
    }

    #[test]
    fn a_large_frame_spanning_many_chunks_reads_back_whole() {
        let body: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 9, &body)).expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let (_, read) = block_on(read_frame(&mut wire, 1 << 20))
            .expect("reads")
            .expect("frame");
        assert_eq!(&read[..], &body[..]);
    }
}
