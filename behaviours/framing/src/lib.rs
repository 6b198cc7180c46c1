//! Length-prefixed frames on a byte stream, shared by every fisco-p2p protocol:
//! `[length: u32 big-endian][length bytes]`.
//!
//! This is the one place where a length announced by a peer meets memory. [`read_frame`] checks
//! the prefix against the caller's maximum **before** allocating anything for the frame, then
//! reads the body in chunks of at most 64 KiB into a buffer that grows (by doubling, never past
//! the announced length) only as bytes arrive. A forged length therefore costs the reader
//! nothing beyond what the peer really sends, which is how FISCO BCOS once lost memory to
//! forged packets and how we do not.
//!
//! [`write_frame`] refuses a frame over the same maximum before sending a byte, so a node never
//! emits what its own reader would refuse. The frame body may be given in several parts (a
//! header and a payload, say), which are written one after the other without being copied
//! together.
//!
//! What the body means, and how a refused frame is reported, stays with each protocol: this
//! crate moves bytes and says why it would not.
//!
//! # Example
//! ```
//! use fisco_p2p_framing::{read_frame, write_frame, FrameError};
//! use futures::{executor::block_on, io::Cursor};
//!
//! let mut wire = Cursor::new(Vec::new());
//! block_on(write_frame(&mut wire, &[b"head", b"er"], 1024)).expect("fits");
//! assert_eq!(wire.get_ref()[..4], [0, 0, 0, 6]);
//!
//! wire.set_position(0);
//! assert_eq!(block_on(read_frame(&mut wire, 1024)).expect("reads"), b"header");
//! // Nothing more: the peer closed the stream between frames.
//! assert!(matches!(block_on(read_frame(&mut wire, 1024)), Err(FrameError::Closed)));
//! ```

#![deny(missing_docs)]

/// The largest application message a node sends or accepts by default: 32 MiB, FISCO 3.x's.
/// Every protocol's default derives from this one value (the overlay adds room for its
/// envelope); a node's configuration changes it for all of them at once.
pub const MAX_MESSAGE_SIZE: usize = 32 * 1024 * 1024;

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[cfg(test)]
mod tests;

/// Size of the length prefix in bytes.
pub const PREFIX_LEN: usize = 4;

/// The longest body a 4-byte prefix can announce; a larger maximum is treated as this one.
pub const MAX_FRAME_LEN: usize = u32::MAX as usize;

/// Bytes read at a time while a frame arrives.
const READ_CHUNK: usize = 64 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame is longer than the maximum. Reading: the peer's length prefix announced it and
    /// nothing was allocated for it; the peer is broken or hostile, drop the stream. Writing:
    /// nothing was sent; send less, or raise the maximum on every node.
    #[error("frame of {len} bytes is over the maximum of {max}")]
    TooLarge {
        /// The announced (reading) or the encoded (writing) body length.
        len: u64,
        /// The maximum it was checked against.
        max: usize,
    },
    /// The stream ended cleanly before the first byte of a frame: the peer has nothing more to
    /// send on it. Whether that is normal depends on the protocol.
    #[error("stream closed before a frame began")]
    Closed,
    /// The stream failed, or ended in the middle of a frame (`UnexpectedEof`); drop it.
    #[error("stream failed: {0}")]
    Io(#[from] io::Error),
}

impl From<FrameError> for io::Error {
    /// For codecs that must report in `io::Error`: a frame over the maximum becomes
    /// `InvalidData` carrying the [`FrameError`] (recover it with `get_ref` and `downcast_ref`),
    /// a clean close `UnexpectedEof`, and an I/O error stays itself.
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Io(error) => error,
            FrameError::Closed => io::Error::new(io::ErrorKind::UnexpectedEof, FrameError::Closed),
            too_large @ FrameError::TooLarge { .. } => {
                io::Error::new(io::ErrorKind::InvalidData, too_large)
            }
        }
    }
}

/// Reads one frame of at most `max` bytes and returns its body.
///
/// A prefix announcing more than `max` fails with [`FrameError::TooLarge`] before any byte of
/// the body is read or allocated. A stream that ends before the first prefix byte gives
/// [`FrameError::Closed`]; one that ends later, [`FrameError::Io`] of kind `UnexpectedEof`.
pub async fn read_frame<R>(io: &mut R, max: usize) -> Result<Vec<u8>, FrameError>
where
    R: AsyncRead + Unpin,
{
    let len = read_prefix(io).await?;
    if len > max as u64 {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = Vec::new();
    // `len <= max`, a `usize`, so the conversion is lossless.
    read_body(io, len as usize, &mut body).await?;
    Ok(body)
}

/// Writes one frame whose body is `parts` one after the other, then flushes.
///
/// A body over `max` (or over [`MAX_FRAME_LEN`]) fails with [`FrameError::TooLarge`] and
/// nothing is written.
pub async fn write_frame<W>(io: &mut W, parts: &[&[u8]], max: usize) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
{
    let len = parts
        .iter()
        .fold(0usize, |sum, part| sum.saturating_add(part.len()));
    let max = max.min(MAX_FRAME_LEN);
    let prefix = match u32::try_from(len) {
        Ok(prefix) if len <= max => prefix,
        _ => {
            return Err(FrameError::TooLarge {
                len: len as u64,
                max,
            })
        }
    };
    if len <= COALESCE_LIMIT {
        // One write for a small frame: each write below us becomes its own multiplexer frame and
        // TLS record, so prefix and parts written apart cost several syscalls per message.
        let mut frame = Vec::with_capacity(PREFIX_LEN + len);
        frame.extend_from_slice(&prefix.to_be_bytes());
        for part in parts {
            frame.extend_from_slice(part);
        }
        io.write_all(&frame).await?;
    } else {
        // A large payload is not copied: the prefix and each part go as they are.
        io.write_all(&prefix.to_be_bytes()).await?;
        for part in parts {
            io.write_all(part).await?;
        }
    }
    io.flush().await?;
    Ok(())
}

/// Frames up to this size are copied into one buffer and written at once.
const COALESCE_LIMIT: usize = 16 * 1024;

/// Reads the prefix, telling a clean end of stream apart from one cut inside the prefix.
async fn read_prefix<R: AsyncRead + Unpin>(io: &mut R) -> Result<u64, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        match io.read(&mut prefix[filled..]).await? {
            0 if filled == 0 => return Err(FrameError::Closed),
            0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            n => filled += n,
        }
    }
    Ok(u64::from(u32::from_be_bytes(prefix)))
}

/// Reads exactly `len` bytes into `body`, one chunk at a time. The buffer doubles when it must
/// grow, capped at `len`, so its capacity stays within about twice what was received plus one
/// chunk, however large `len` is.
async fn read_body<R: AsyncRead + Unpin>(
    io: &mut R,
    len: usize,
    body: &mut Vec<u8>,
) -> io::Result<()> {
    while body.len() < len {
        let start = body.len();
        let end = len.min(start + READ_CHUNK);
        if body.capacity() < end {
            let target = len.min(end.max(body.capacity() * 2));
            body.reserve_exact(target - start);
        }
        body.resize(end, 0);
        io.read_exact(&mut body[start..end]).await?;
    }
    Ok(())
}
