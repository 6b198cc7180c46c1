//! Frames on a link's stream: `[u32 length][u8 hops][u32 time left ms][u16 n][n x (u8 len,
//! PeerId)][body]`.
//!
//! The routing header before the body is what relays change (hops, and the followers a
//! multicast copy is for); the body is the origin's signed envelope. Lengths come from the
//! shared framing crate: checked against the maximum before anything is allocated. On a stream
//! that negotiated compression a codec byte follows the length prefix (see `compress.rs`).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{AsyncWrite, AsyncWriteExt};
use libp2p::{identity::PublicKey, PeerId};

use crate::{
    compress,
    envelope::{Envelope, Kind, Target},
    seal::{SignatureError, Verifier},
    Refusal,
};

/// An envelope that arrived from a link, decoded, with its signature (or, unsigned, its origin
/// being the sending neighbour) checked wherever this node is a destination.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) hops: u8,
    pub(crate) ttl_ms: u32,
    pub(crate) dests: Vec<PeerId>,
    pub(crate) envelope: Envelope,
}

/// Most followers one multicast copy may list (about 40 KiB of PeerIds, within
/// [`ENVELOPE_OVERHEAD`](crate::ENVELOPE_OVERHEAD)); more go in several copies.
pub(crate) const MAX_DESTS: usize = 1024;

/// Frames up to this size are copied into one write buffer with their neighbours in the queue;
/// larger ones are written part by part, so a big payload is never copied.
const COALESCE: usize = 16 * 1024;

/// A frame to send on one link.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    /// Links crossed on arrival (1 for the first link).
    pub(crate) hops: u8,
    /// How long the origin still waits, for requests (0 otherwise).
    pub(crate) ttl_ms: u32,
    /// For a multicast copy: the followers behind this link.
    pub(crate) dests: Vec<PeerId>,
    pub(crate) envelope: Envelope,
}

impl Frame {
    fn routing(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(7 + self.dests.len() * 40);
        out.put_u8(self.hops);
        out.put_u32(self.ttl_ms);
        out.put_u16(self.dests.len() as u16);
        for dest in &self.dests {
            let bytes = dest.to_bytes();
            out.put_u8(bytes.len() as u8);
            out.put_slice(&bytes);
        }
        out
    }

    /// The length prefix's value: routing header and body.
    pub(crate) fn len(&self) -> usize {
        7 + self
            .dests
            .iter()
            .map(|d| 1 + d.to_bytes().len())
            .sum::<usize>()
            + self.envelope.len()
    }

    /// The frame's bytes (without length prefix) in one buffer.
    fn to_bytes(&self) -> Vec<u8> {
        let envelope = &self.envelope;
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(&self.routing());
        out.extend_from_slice(&envelope.head);
        out.extend_from_slice(&envelope.payload);
        out.extend_from_slice(&envelope.tail);
        out
    }
}

/// How frames are written on a stream: as they are, or with a codec byte and compressed when
/// their payload is larger than [`compress::THRESHOLD`] (the stream negotiated compression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Plain,
    Zstd,
}

/// Writes `frames` (each already checked against the maximum) and flushes once.
pub(crate) async fn write_frames<W>(
    io: &mut W,
    frames: &[Frame],
    codec: Codec,
) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::new();
    for frame in frames {
        let len = frame.len();
        if codec == Codec::Zstd && frame.envelope.payload.len() > compress::THRESHOLD {
            let plain = frame.to_bytes();
            if let Some(compressed) = compress::compress(&plain) {
                // [u32 length][codec 1][u32 plain length][zstd frame]
                buffer.reserve(9);
                buffer.put_u32((5 + compressed.len()) as u32);
                buffer.put_u8(compress::ZSTD);
                buffer.put_u32(plain.len() as u32);
                if compressed.len() <= COALESCE {
                    buffer.put_slice(&compressed);
                } else {
                    io.write_all(&buffer).await?;
                    buffer.clear();
                    io.write_all(&compressed).await?;
                }
                continue;
            }
        }
        // A plain frame; on a zstd stream the length counts the codec byte that leads it.
        let codec_byte = usize::from(codec == Codec::Zstd);
        let mut routing = frame.routing();
        let envelope = &frame.envelope;
        if len <= COALESCE {
            buffer.reserve(4 + codec_byte + len);
            buffer.put_u32((codec_byte + len) as u32);
            if codec == Codec::Zstd {
                buffer.put_u8(compress::PLAIN);
            }
            buffer.put(routing);
            buffer.put_slice(&envelope.head);
            buffer.put_slice(&envelope.payload);
            buffer.put_slice(&envelope.tail);
            continue;
        }
        let mut header = BytesMut::with_capacity(5 + routing.len() + envelope.head.len());
        header.put_u32((codec_byte + len) as u32);
        if codec == Codec::Zstd {
            header.put_u8(compress::PLAIN);
        }
        header.put(&mut routing);
        header.put_slice(&envelope.head);
        if !buffer.is_empty() {
            io.write_all(&buffer).await?;
            buffer.clear();
        }
        io.write_all(&header).await?;
        io.write_all(&envelope.payload).await?;
        io.write_all(&envelope.tail).await?;
    }
    if !buffer.is_empty() {
        io.write_all(&buffer).await?;
    }
    io.flush().await
}

/// A decoded frame: its routing header and envelope (signature not checked yet).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) hops: u8,
    pub(crate) ttl_ms: u32,
    pub(crate) dests: Vec<PeerId>,
    pub(crate) envelope: Envelope,
}

/// Why a frame read from a zstd stream cannot be decoded.
#[derive(Debug)]
pub(crate) enum Unpacked {
    /// Its declared decompressed size is over the maximum (nothing was inflated).
    TooLarge(u64),
    /// The codec byte or the compressed data is broken.
    Malformed(String),
}

/// The plain frame bytes of a frame read from a stream using `codec`, inflated into at most
/// `max` bytes.
pub(crate) fn unpack(frame: Bytes, codec: Codec, max: usize) -> Result<Bytes, Unpacked> {
    if codec == Codec::Plain {
        return Ok(frame);
    }
    match frame.first() {
        Some(&compress::PLAIN) if frame.len() - 1 <= max => Ok(frame.slice(1..)),
        Some(&compress::PLAIN) => Err(Unpacked::TooLarge(frame.len() as u64 - 1)),
        Some(&compress::ZSTD) => match compress::decompress(&frame[1..], max) {
            Ok(plain) => Ok(Bytes::from(plain)),
            Err(compress::InflateError::TooLarge { len }) => Err(Unpacked::TooLarge(len)),
            Err(compress::InflateError::Corrupt(reason)) => Err(Unpacked::Malformed(reason)),
        },
        Some(other) => Err(Unpacked::Malformed(format!("unknown codec {other}"))),
        None => Err(Unpacked::Malformed("empty frame".into())),
    }
}

/// Decodes a frame's bytes (without the length prefix).
pub(crate) fn decode(mut frame: Bytes) -> Result<Decoded, String> {
    if frame.len() < 7 {
        return Err(format!(
            "frame of {} bytes has no routing header",
            frame.len()
        ));
    }
    let hops = frame.get_u8();
    let ttl_ms = frame.get_u32();
    let count = usize::from(frame.get_u16());
    if count > MAX_DESTS {
        return Err(format!("{count} followers listed, over {MAX_DESTS}"));
    }
    let mut dests = Vec::with_capacity(count);
    for _ in 0..count {
        if !frame.has_remaining() {
            return Err("frame ends inside the follower list".into());
        }
        let len = usize::from(frame.get_u8());
        if frame.remaining() < len {
            return Err("frame ends inside the follower list".into());
        }
        let peer = PeerId::from_bytes(&frame.split_to(len))
            .map_err(|e| format!("a listed follower is not a peer ID: {e}"))?;
        dests.push(peer);
    }
    if hops == 0 {
        return Err("hop count 0".into());
    }
    let envelope = Envelope::decode(frame)?;
    Ok(Decoded {
        hops,
        ttl_ms,
        dests,
        envelope,
    })
}

/// The checks a link applies to a decoded frame from neighbour `remote` before the core sees it.
///
/// An unsigned envelope must come from its origin itself (the TLS link proves who that is). A
/// signed one relayed by another node is verified where this node is a destination: the
/// destination of a request, reply or error, a listed follower of a multicast, any node for a
/// broadcast. A relay passes it on unchecked; the destination checks it.
///
/// Also returns the origin's public key when the envelope carried it (an RSA origin) and the
/// verifier met it for the first time: the node learns the origin's node ID from it.
pub(crate) fn check(
    decoded: Decoded,
    local: PeerId,
    remote: PeerId,
    verifier: &mut Verifier,
) -> Result<(Received, Option<PublicKey>), (Option<PeerId>, Refusal)> {
    let envelope = &decoded.envelope;
    let origin = envelope.header.origin;
    let mut learned = None;
    if origin != remote {
        if !envelope.signed {
            return Err((Some(origin), Refusal::Signature(SignatureError::Unsigned)));
        }
        let for_me = match &envelope.header.target {
            Target::Node(dest) => *dest == local,
            Target::Topic(_) => decoded.dests.contains(&local),
            Target::All => envelope.header.kind == Kind::Broadcast,
        };
        if for_me {
            learned = envelope
                .verify(verifier)
                .map_err(|error| (Some(origin), Refusal::Signature(error)))?;
        }
    }
    let received = Received {
        hops: decoded.hops,
        ttl_ms: decoded.ttl_ms,
        dests: decoded.dests,
        envelope: decoded.envelope,
    };
    Ok((received, learned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        envelope::{Header, Kind},
        id::MessageId,
    };

    fn frame(payload: Bytes) -> Frame {
        let origin = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let header = Header {
            kind: Kind::Broadcast,
            module: 7,
            id: MessageId::new(1, 1),
            origin,
            target: Target::All,
        };
        Frame {
            hops: 1,
            ttl_ms: 0,
            dests: Vec::new(),
            envelope: Envelope::build(header, payload, None).unwrap(),
        }
    }

    /// Writes `frames` with `codec` and reads them back as a receiver would.
    fn round_trip(frames: &[Frame], codec: Codec) -> (usize, Vec<Decoded>) {
        let mut wire = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(write_frames(&mut wire, frames, codec)).unwrap();
        let wire = wire.into_inner();
        let mut rest = Bytes::from(wire.clone());
        let mut decoded = Vec::new();
        while rest.has_remaining() {
            let len = rest.get_u32() as usize;
            let bytes = unpack(rest.split_to(len), codec, 4 << 20).unwrap();
            decoded.push(decode(bytes).unwrap());
        }
        (wire.len(), decoded)
    }

    #[test]
    fn large_frames_are_compressed_on_a_zstd_stream_and_read_back_whole() {
        let text: Bytes = b"transaction receipt; "
            .iter()
            .copied()
            .cycle()
            .take(1 << 20)
            .collect::<Vec<u8>>()
            .into();
        let frames = [
            frame(Bytes::from_static(b"small")),
            frame(text.clone()),
            frame(Bytes::from_static(b"small again")),
        ];
        let (plain_len, plain) = round_trip(&frames, Codec::Plain);
        let (zstd_len, zstd) = round_trip(&frames, Codec::Zstd);
        assert!(plain_len > 1 << 20);
        assert!(zstd_len < plain_len / 20, "{zstd_len} of {plain_len}");
        for decoded in [plain, zstd] {
            let payloads: Vec<&Bytes> = decoded.iter().map(|d| &d.envelope.payload).collect();
            assert_eq!(
                payloads,
                [
                    &frames[0].envelope.payload,
                    &text,
                    &frames[2].envelope.payload
                ]
            );
        }
    }

    #[test]
    fn incompressible_and_small_frames_go_plain_with_one_codec_byte() {
        let noise: Vec<u8> = (0..8192).map(|_| rand::random::<u8>()).collect();
        let frames = [
            frame(Bytes::from(noise)),
            frame(Bytes::from_static(b"tiny")),
        ];
        let (plain_len, _) = round_trip(&frames, Codec::Plain);
        let (zstd_len, decoded) = round_trip(&frames, Codec::Zstd);
        assert_eq!(zstd_len, plain_len + 2, "one codec byte per frame");
        assert_eq!(decoded.len(), 2);
    }

    #[test]
    fn a_plain_frame_over_the_maximum_on_a_zstd_stream_is_too_large() {
        let bytes = Bytes::from([&[compress::PLAIN][..], &[0u8; 100]].concat());
        assert!(matches!(
            unpack(bytes, Codec::Zstd, 99),
            Err(Unpacked::TooLarge(100))
        ));
        assert!(matches!(
            unpack(Bytes::from_static(&[7, 0]), Codec::Zstd, 99),
            Err(Unpacked::Malformed(_))
        ));
    }
}
