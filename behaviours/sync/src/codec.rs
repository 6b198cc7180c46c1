//! Framing of sync messages for libp2p `request_response`: a 4-byte big-endian length, then that
//! many bytes of CBOR.
//!
//! The frames are `fisco_p2p_framing`'s: the length is checked against the configured maximum
//! **before** anything is allocated, and the body is read incrementally, so a forged length costs
//! the reader nothing beyond the bytes the peer really sends.
//!
//! A refused response becomes an `io::Error` of kind `InvalidData` carrying a [`CodecError`],
//! which `request_response` reports with the peer. A refused *request* cannot go that way:
//! `request_response` swallows `read_request` errors (it only logs them at debug level, without
//! the peer). So an inbound request is read as an [`Inbound`], `Err(CodecError)` for a refused
//! frame; the behaviour reports the sender and drops the request unanswered, which resets the
//! stream. Either way the connection lives on.

use std::io;

use fisco_p2p_framing::{read_frame, write_frame, FrameError};
use futures::{AsyncRead, AsyncWrite};
use libp2p::{request_response, StreamProtocol};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    error::CodecError,
    message::{Request, Response},
};

/// A request as read off a stream: the message, or why its frame was refused.
pub(crate) type Inbound = Result<Request, CodecError>;

/// The sync protocol's `request_response` codec.
#[derive(Debug, Clone)]
// `pub` only because the connection handler's type names it; not part of the API.
#[allow(unreachable_pub)]
pub struct Codec {
    max_message_size: usize,
}

impl Codec {
    pub(crate) fn new(max_message_size: usize) -> Self {
        Self { max_message_size }
    }
}

impl request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Inbound;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Inbound>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_message(io, self.max_message_size).await {
            Ok(request) => Ok(Ok(request)),
            Err(error) => match codec_error(&error) {
                Some(refused) => Ok(Err(refused.clone())),
                None => Err(error),
            },
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io, self.max_message_size).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Inbound,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let request = request.map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        write_message(io, &request, self.max_message_size).await
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
        write_message(io, &response, self.max_message_size).await
    }
}

/// The [`CodecError`] inside an `io::Error` produced by this codec, if it is one.
pub(crate) fn codec_error(error: &io::Error) -> Option<&CodecError> {
    error.get_ref()?.downcast_ref::<CodecError>()
}

fn invalid(error: CodecError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// A refused frame as a [`CodecError`] reported against our configured `max`.
fn refused(error: FrameError, max: usize) -> io::Error {
    match error {
        FrameError::TooLarge { len, .. } => invalid(CodecError::TooLarge { size: len, max }),
        other => other.into(),
    }
}

async fn read_message<T, M>(io: &mut T, max: usize) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: DeserializeOwned,
{
    let body = read_frame(io, max).await.map_err(|e| refused(e, max))?;
    cbor4ii::serde::from_slice(&body).map_err(|e| invalid(CodecError::Malformed(e.to_string())))
}

async fn write_message<T, M>(io: &mut T, message: &M, max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: Serialize,
{
    let body = cbor4ii::serde::to_vec(Vec::new(), message)
        .map_err(|e| invalid(CodecError::Malformed(e.to_string())))?;
    write_frame(io, &[&body], max)
        .await
        .map_err(|e| refused(e, max))
}

#[cfg(test)]
mod tests {
    use futures::{executor::block_on, io::Cursor};
    use libp2p::PeerId;

    use super::*;
    use crate::message::{DigestEntry, WirePeer};

    fn protocol() -> StreamProtocol {
        StreamProtocol::new(crate::PROTOCOL_NAME)
    }

    #[test]
    fn a_request_round_trips() {
        let request = Request::Announce {
            full: true,
            entries: vec![DigestEntry {
                owner: WirePeer(PeerId::random()),
                seq: 3,
                age_ms: 40,
            }],
        };
        let mut codec = Codec::new(1024);
        let mut wire = Cursor::new(Vec::new());
        block_on(codec.write_request_to(&mut wire, request.clone())).unwrap();
        wire.set_position(0);
        let read = block_on(request_response::Codec::read_request(
            &mut codec,
            &protocol(),
            &mut wire,
        ));
        assert_eq!(read.unwrap(), Ok(request));
    }

    #[test]
    fn a_forged_length_is_refused_before_reading_the_body() {
        // Claims 4 GiB but sends nothing more: must fail on the prefix alone.
        let mut wire = Cursor::new(u32::MAX.to_be_bytes().to_vec());
        let read = block_on(request_response::Codec::read_request(
            &mut Codec::new(1024),
            &protocol(),
            &mut wire,
        ));
        assert_eq!(
            read.unwrap(),
            Err(CodecError::TooLarge {
                size: u64::from(u32::MAX),
                max: 1024
            })
        );
    }

    #[test]
    fn a_truncated_frame_is_an_eof_and_garbage_is_malformed() {
        let mut truncated = Cursor::new([0, 0, 0, 10, 1, 2].to_vec());
        let error = block_on(request_response::Codec::read_response(
            &mut Codec::new(1024),
            &protocol(),
            &mut truncated,
        ))
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);

        let mut garbage = Cursor::new([0, 0, 0, 2, 0xff, 0xff].to_vec());
        let error = block_on(request_response::Codec::read_response(
            &mut Codec::new(1024),
            &protocol(),
            &mut garbage,
        ))
        .unwrap_err();
        assert!(matches!(
            codec_error(&error),
            Some(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn writing_an_oversize_message_fails_without_sending() {
        let request = Request::Fetch(vec![WirePeer(PeerId::random()); 64]);
        let mut wire = Cursor::new(Vec::new());
        let error = block_on(Codec::new(16).write_request_to(&mut wire, request)).unwrap_err();
        assert!(matches!(
            codec_error(&error),
            Some(CodecError::TooLarge { max: 16, .. })
        ));
        assert!(wire.get_ref().is_empty());
    }

    #[test]
    fn a_full_digest_of_max_records_fits_the_message_size() {
        let config = crate::Config::default().with_max_message_size(64 * 1024);
        let owner = libp2p::identity::Keypair::generate_secp256k1()
            .public()
            .to_peer_id();
        let entry = DigestEntry {
            owner: WirePeer(owner),
            seq: u64::MAX,
            age_ms: u64::MAX,
        };
        let request = Request::Announce {
            full: true,
            entries: vec![entry; config.max_records()],
        };
        assert!(config.max_records() >= 400, "{}", config.max_records());
        let mut wire = Cursor::new(Vec::new());
        let max = config.max_message_size();
        block_on(Codec::new(max).write_request_to(&mut wire, request)).unwrap();
        assert!(wire.get_ref().len() <= max);
    }

    impl Codec {
        async fn write_request_to(
            &mut self,
            io: &mut Cursor<Vec<u8>>,
            request: Request,
        ) -> io::Result<()> {
            request_response::Codec::write_request(self, &protocol(), io, Ok(request)).await
        }
    }
}
