//! Reading one frame from a link's inbound substream: the length prefix checked before anything
//! is allocated, the frame inflated if compressed (its declared size checked first), decoded,
//! and its origin's signature checked where this node is the destination.

use bytes::Bytes;
use fisco_p2p_framing::FrameError;
use libp2p::{swarm::Stream, PeerId};

use super::FromHandler;
use crate::{
    frame::{self, Codec},
    seal::Verifier,
    Refusal,
};

/// What reading one frame gave: something to report, nothing, or the end of the substream.
pub(super) type ReadResult = Result<Option<FromHandler>, ReadEnd>;

/// Why the inbound substream stops being read.
pub(super) enum ReadEnd {
    /// The peer closed it cleanly.
    Closed,
    /// It failed, or the peer broke the framing (reported; the substream is dropped, i.e. reset).
    Failed(Option<FromHandler>),
}

/// What reading a stream needs to know.
pub(super) struct Reading {
    pub(super) max: usize,
    pub(super) codec: Codec,
    pub(super) local: PeerId,
    pub(super) remote: PeerId,
}

/// Reads one frame, inflates it if compressed, and checks it.
pub(super) async fn read_one(
    stream: &mut Stream,
    reading: &Reading,
    verifier: &mut Verifier,
) -> ReadResult {
    let Reading {
        max,
        codec,
        local,
        remote,
    } = *reading;
    // A zstd stream's frames carry a codec byte, and a compressed one a u32 length, more.
    let room = if codec == Codec::Zstd { 5 } else { 0 };
    let bytes = match fisco_p2p_framing::read_frame(stream, max + room).await {
        Ok(bytes) => Bytes::from(bytes),
        Err(FrameError::Closed) => return Err(ReadEnd::Closed),
        Err(FrameError::TooLarge { len, max }) => {
            return Err(ReadEnd::Failed(Some(FromHandler::Refused {
                origin: None,
                reason: Refusal::TooLarge { len, max },
            })))
        }
        Err(FrameError::Io(error)) => {
            tracing::debug!(peer = %remote, %error, "overlay inbound substream ended");
            return Err(ReadEnd::Failed(None));
        }
    };
    let bytes = match frame::unpack(bytes, codec, max) {
        Ok(bytes) => bytes,
        // A size over the maximum, declared or compressed: refused before inflating, and the
        // stream reset as for an oversize length prefix.
        Err(frame::Unpacked::TooLarge(len)) => {
            return Err(ReadEnd::Failed(Some(FromHandler::Refused {
                origin: None,
                reason: Refusal::TooLarge { len, max },
            })))
        }
        Err(frame::Unpacked::Malformed(reason)) => {
            return Ok(Some(FromHandler::Refused {
                origin: None,
                reason: Refusal::Malformed(reason),
            }))
        }
    };
    let decoded = match frame::decode(bytes) {
        Ok(decoded) => decoded,
        Err(reason) => {
            return Ok(Some(FromHandler::Refused {
                origin: None,
                reason: Refusal::Malformed(reason),
            }))
        }
    };
    Ok(Some(match frame::check(decoded, local, remote, verifier) {
        Ok((received, key)) => FromHandler::Received(Box::new(received), key.map(Box::new)),
        Err((origin, reason)) => FromHandler::Refused { origin, reason },
    }))
}
