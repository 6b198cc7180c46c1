//! Framing on a broadcast substream: `[length: u32 big-endian][hops: u8][body]`.
//!
//! `length` counts the hop byte and the body. The frames are `fisco_p2p_framing`'s: the length is
//! checked against the configured maximum before anything is allocated for the frame, and the
//! frame is then read in chunks, so neither a forged length nor a slow sender makes the node
//! reserve memory it has not received.

use bytes::Bytes;
use fisco_p2p_framing::{FrameError, MAX_FRAME_LEN};
use futures::{AsyncRead, AsyncWrite};

/// Why a frame could not be read. Every case ends the substream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// Over the maximum, or the substream failed or ended in the middle of a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The length prefix announced a frame without even the hop byte.
    #[error("empty frame (no hop count)")]
    Empty,
}

/// Writes one frame and flushes it.
pub(crate) async fn write_frame<S>(io: &mut S, hops: u8, body: &[u8]) -> Result<(), FrameError>
where
    S: AsyncWrite + Unpin,
{
    // The behaviour checked the size against our maximum when the message was published, and a
    // relayed body came in under it; only the prefix's own limit is left to enforce.
    fisco_p2p_framing::write_frame(io, &[&[hops], body], MAX_FRAME_LEN).await
}

/// Reads one frame: `Ok(None)` when the remote closed the substream cleanly between frames.
pub(crate) async fn read_frame<S>(io: &mut S, max: usize) -> Result<Option<(u8, Bytes)>, ReadError>
where
    S: AsyncRead + Unpin,
{
    let mut frame = match fisco_p2p_framing::read_frame(io, max).await {
        Ok(frame) => Bytes::from(frame),
        Err(FrameError::Closed) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if frame.is_empty() {
        return Err(ReadError::Empty);
    }
    let hops = frame.split_to(1)[0];
    Ok(Some((hops, frame)))
}

#[cfg(test)]
mod tests {
    use std::io;

    use futures::{executor::block_on, io::Cursor};

    use super::*;

    #[test]
    fn a_frame_reads_back_as_written() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 3, b"body")).expect("writes");
        assert_eq!(wire.get_ref()[..5], [0, 0, 0, 5, 3]);
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
    fn a_length_just_over_the_maximum_is_refused() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 1, &[0u8; 100])).expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let err = block_on(read_frame(&mut wire, 100)).expect_err("101 > 100");
        assert!(matches!(
            err,
            ReadError::Frame(FrameError::TooLarge { len: 101, max: 100 })
        ));
    }

    #[test]
    fn a_frame_without_a_hop_count_is_refused() {
        let err = block_on(read_frame(&mut Cursor::new(vec![0, 0, 0, 0]), 100)).expect_err("empty");
        assert!(matches!(err, ReadError::Empty));
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_a_clean_end() {
        let mut wire = Cursor::new(Vec::new());
        block_on(write_frame(&mut wire, 1, &[7u8; 200_000])).expect("writes");
        let mut bytes = wire.into_inner();
        bytes.truncate(150_000);
        let err = block_on(read_frame(&mut Cursor::new(bytes), 1 << 20)).expect_err("truncated");
        assert!(matches!(
            err,
            ReadError::Frame(FrameError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof
        ));
    }
}
