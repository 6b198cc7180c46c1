//! Framing and the `request_response` codec: each message is `[length: u32 big-endian][body]`.
//!
//! The frames are `fisco_p2p_framing`'s: the length is checked against the configured maximum
//! **before** anything is allocated; the body is then read in chunks, so memory follows the bytes
//! actually received. A frame over the maximum fails the read, `request_response` drops the
//! substream, and yamux resets it: the peer learns its message was refused, the connection and
//! the node carry on.

use std::io;

use bytes::Bytes;
use fisco_p2p_framing::{read_frame, write_frame, FrameError};
use futures::{AsyncRead, AsyncWrite};
use libp2p::{request_response, StreamProtocol};

use crate::protocol::{self, Encoded, Request, Response};

/// The unicast codec: CBOR bodies in length-prefixed frames of at most `max` bytes.
#[derive(Debug, Clone)]
pub struct Codec {
    max: usize,
}

impl Codec {
    pub(crate) fn new(max: usize) -> Self {
        Codec { max }
    }

    /// Reads a frame; one over the maximum is `InvalidData`, which the behaviour tells apart
    /// from a stream failure.
    async fn read<S: AsyncRead + Unpin>(&self, io: &mut S) -> io::Result<Bytes> {
        let frame = read_frame(io, self.max).await.inspect_err(|error| {
            if let FrameError::TooLarge { len, max } = error {
                tracing::warn!(
                    len,
                    max,
                    "unicast frame over the maximum size refused; substream reset"
                );
            }
        })?;
        Ok(Bytes::from(frame))
    }

    /// Writes a frame; one over the maximum is refused as `InvalidInput` (our own mistake, not
    /// the peer's), before anything is sent.
    async fn write<S: AsyncWrite + Unpin>(&self, io: &mut S, encoded: Encoded) -> io::Result<()> {
        let parts: [&[u8]; 2] = [&encoded.header, &encoded.payload];
        write_frame(io, &parts, self.max)
            .await
            .map_err(|error| match error {
                FrameError::Io(error) => error,
                refused => io::Error::new(io::ErrorKind::InvalidInput, refused),
            })
    }
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
    use futures::{executor::block_on, io::Cursor};
    use request_response::Codec as _;

    use super::*;

    const PROTOCOL: StreamProtocol = crate::PROTOCOL_NAME;

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
    fn a_forged_length_is_refused_as_invalid_data() {
        let mut codec = Codec::new(32 * 1024 * 1024);
        let mut reader = Cursor::new([0xff, 0xff, 0xff, 0xff, 0xa2, 0x01].to_vec());
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
