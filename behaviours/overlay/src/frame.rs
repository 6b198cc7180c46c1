//! Frames on a link's stream: `[u32 length][u8 hops][u32 time left ms][u16 n][n x (u8 len,
//! PeerId)][body]`.
//!
//! The routing header before the body is what relays change (hops, and the followers a
//! multicast copy is for); the body is the origin's signed envelope. Lengths come from the
//! shared framing crate: checked against the maximum before anything is allocated.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{AsyncWrite, AsyncWriteExt};
use libp2p::PeerId;

use crate::{
    core::Received,
    envelope::{Envelope, Kind, Target},
    seal::{SignatureError, Verifier},
    Refusal,
};

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
}

/// Writes `frames` (each already checked against the maximum) and flushes once.
pub(crate) async fn write_frames<W>(io: &mut W, frames: &[Frame]) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::new();
    for frame in frames {
        let len = frame.len();
        let mut routing = frame.routing();
        let envelope = &frame.envelope;
        if len <= COALESCE {
            buffer.reserve(4 + len);
            buffer.put_u32(len as u32);
            buffer.put(routing);
            buffer.put_slice(&envelope.head);
            buffer.put_slice(&envelope.payload);
            buffer.put_slice(&envelope.tail);
            continue;
        }
        let mut header = BytesMut::with_capacity(4 + routing.len() + envelope.head.len());
        header.put_u32(len as u32);
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
pub(crate) fn check(
    decoded: Decoded,
    local: PeerId,
    remote: PeerId,
    verifier: &mut Verifier,
) -> Result<Received, (Option<PeerId>, Refusal)> {
    let envelope = &decoded.envelope;
    let origin = envelope.header.origin;
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
            verifier
                .verify(envelope)
                .map_err(|error| (Some(origin), Refusal::Signature(error)))?;
        }
    }
    Ok(Received {
        hops: decoded.hops,
        ttl_ms: decoded.ttl_ms,
        dests: decoded.dests,
        envelope: decoded.envelope,
    })
}
