//! Framing and the `request_response` codec: each message is `[length: u32 big-endian][body]`.
//!
//! The length is checked against the configured maximum **before** anything is allocated; the
//! body is then read in chunks, so memory follows the bytes actually received. A frame over
//! the maximum fails the read, `request_response` drops the substream, and yamux resets it: the
//! peer learns its message was refused, the connection and the node carry on.

use std::io;

use bytes::Bytes;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{request_response, StreamProtocol};

use crate::protocol::{self, Encoded, Request, Response};

/// Bytes read at a time while a frame arrives.
const READ_CHUNK: usize = 64 * 1024;

/// The unicast codec: CBOR bodies in length-prefixed frames of at most `max` bytes.
#[derive(Debug, Clone)]
pub struct Codec {
    max: usize,
}

impl Codec {
    pub(crate) fn new(max: usize) -> Self {
        Codec { max }
    }

    async fn read<S: AsyncRead + Unpin>(&self, io: &mut S) -> io::Result<Bytes> {
        let mut prefix = [0u8; 4];
        io.read_exact(&mut prefix).await?;
        let len = u32::from_be_bytes(prefix) as usize;
        if len > self.max {
            tracing::warn!(
                len,
                max = self.max,
                "unicast frame over the maximum size refused; substream reset"
            );
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "frame of {len} bytes announced, the maximum is {}",
                    self.max
                ),
            ));
        }
        read_exact_growing(io, len).await
    }

    async fn write<S: AsyncWrite + Unpin>(&self, io: &mut S, encoded: Encoded) -> io::Result<()> {
        let len = encoded.len();
        if len > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frame of {len} bytes exceeds the maximum of {}", self.max),
            ));
        }
        let prefix = u32::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
        io.write_all(&prefix.to_be_bytes()).await?;
        io.write_all(&encoded.header).await?;
        io.write_all(&encoded.payload).await?;
        io.flush().await
    }
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

fn invalid(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        protocol::decode_request(self.read(io).await?).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        protocol::decode_response(self.read(io).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, protocol::encode_request(&request)).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, protocol::encode_response(&response)).await
    }
}

#[cfg(test)]
mod tests {
    use std::{
        pin::Pin,
        task::{Context, Poll},
    };

    use futures::{executor::block_on, io::Cursor};
    use request_response::Codec as _;

    use super::*;

    const PROTOCOL: StreamProtocol = crate::PROTOCOL_NAME;

    /// Serves `data`, and fails the test if asked for anything past it.
    struct NoMoreThan(Cursor<Vec<u8>>);

    impl AsyncRead for NoMoreThan {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let cursor = &self.0;
            assert!(
                (cursor.position() as usize) < cursor.get_ref().len(),
                "read past the length prefix"
            );
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    fn request(payload: &'static [u8]) -> Request {
        Request {
            module: 5,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn a_request_and_a_response_read_back_as_written() {
        let mut codec = Codec::new(1024);
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_request(&PROTOCOL, &mut wire, request(b"hi"))).expect("writes");
        block_on(codec.write_response(&PROTOCOL, &mut wire, Ok(Bytes::from_static(b"ho"))))
            .expect("writes");
        let mut wire = Cursor::new(wire.into_inner());
        let read = block_on(codec.read_request(&PROTOCOL, &mut wire)).expect("reads");
        assert_eq!((read.module, &read.payload[..]), (5, &b"hi"[..]));
        let read = block_on(codec.read_response(&PROTOCOL, &mut wire)).expect("reads");
        assert_eq!(read, Ok(Bytes::from_static(b"ho")));
    }

    #[test]
    fn a_forged_length_is_refused_without_reading_past_the_prefix() {
        let mut codec = Codec::new(32 * 1024 * 1024);
        let mut reader = NoMoreThan(Cursor::new(u32::MAX.to_be_bytes().to_vec()));
        let err = block_on(codec.read_request(&PROTOCOL, &mut reader)).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("4294967295"), "{err}");
    }

    #[test]
    fn a_message_over_the_maximum_is_not_written() {
        let mut codec = Codec::new(8);
        let mut wire = Cursor::new(Vec::new());
        let err = block_on(codec.write_request(&PROTOCOL, &mut wire, request(b"too long")))
            .expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(wire.into_inner().is_empty());
    }

    #[test]
    fn a_frame_cut_short_is_an_error() {
        let mut codec = Codec::new(1 << 20);
        let mut wire = Cursor::new(Vec::new());
        let big = Request {
            module: 1,
            payload: Bytes::from(vec![1u8; 200_000]),
        };
        block_on(codec.write_request(&PROTOCOL, &mut wire, big)).expect("writes");
        let mut bytes = wire.into_inner();
        bytes.truncate(100_000);
        let err =
            block_on(codec.read_request(&PROTOCOL, &mut Cursor::new(bytes))).expect_err("cut");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
