//! The envelope: what travels on the overlay, its signed body and its unsigned routing header.
//!
//! # Body (signed by the origin, forwarded byte for byte)
//! ```text
//! u8   version (1)
//! u8   kind     1 request, 2 reply, 3 error, 4 multicast, 5 broadcast
//! u8   flags    bit 0: signed
//! u16  module
//! [16] message ID (a reply or error carries the ID of the request it answers)
//! u8   origin length, origin PeerId bytes
//! u16  target length, target: destination PeerId (request, reply, error), topic UTF-8
//!      (multicast), empty (broadcast)
//! u32  payload length, payload
//! -- only when signed --
//! u16  key length, origin public key (libp2p protobuf; empty when the PeerId inlines it)
//! u16  signature length, signature
//! ```
//! All integers are big-endian. The signature covers a domain tag and every byte before the key
//! (`head` and `payload` below), so a relay can neither alter nor re-address an envelope. An
//! unsigned envelope is accepted only straight from its origin over the TLS link, which already
//! proves who sent it; relays never forward one.
//!
//! A body is kept in three zero-copy parts, `head`, `payload` and `tail` (key and signature), so
//! a large payload is neither copied to be sent nor copied to be forwarded.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use libp2p::{identity::PublicKey, PeerId};

use crate::{
    id::MessageId,
    seal::{Seal, SignatureError, Verifier},
};

/// Version byte of the body format.
const VERSION: u8 = 1;
/// `flags` bit: the body carries the origin's key and signature.
const FLAG_SIGNED: u8 = 1;
/// Longest PeerId accepted (a multihash of an inlined RSA-4096 key is about 550 bytes).
const MAX_PEER_ID_LEN: usize = 1024;
/// Longest topic accepted in a target.
pub(crate) const MAX_TOPIC_LEN: usize = 256;

/// What an envelope is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// A request to one node, answered by a reply or an error.
    Request,
    /// The reply to a request.
    Reply,
    /// Why a request got no reply (from its destination or from a relay).
    Error,
    /// A message to the followers of a topic.
    Multicast,
    /// A message to every node.
    Broadcast,
}

impl Kind {
    fn to_byte(self) -> u8 {
        match self {
            Kind::Request => 1,
            Kind::Reply => 2,
            Kind::Error => 3,
            Kind::Multicast => 4,
            Kind::Broadcast => 5,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Kind::Request,
            2 => Kind::Reply,
            3 => Kind::Error,
            4 => Kind::Multicast,
            5 => Kind::Broadcast,
            _ => return None,
        })
    }
}

/// Whom an envelope is for (signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// One node.
    Node(PeerId),
    /// The followers of a topic.
    Topic(String),
    /// Every node.
    All,
}

/// The signed fields of an envelope.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    pub(crate) module: u16,
    pub(crate) id: MessageId,
    pub(crate) origin: PeerId,
    pub(crate) target: Target,
}

/// A decoded envelope body.
#[derive(Clone)]
pub(crate) struct Envelope {
    pub(crate) header: Header,
    /// Everything before the payload (signed).
    pub(crate) head: Bytes,
    /// The application's bytes (signed).
    pub(crate) payload: Bytes,
    /// Key and signature; empty when unsigned.
    pub(crate) tail: Bytes,
    pub(crate) signed: bool,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .field("signed", &self.signed)
            .finish()
    }
}

impl Envelope {
    /// Builds and (if `seal` is given) signs a body. Fails only if the fields cannot be encoded
    /// (a topic or PeerId too long) or signing fails.
    pub(crate) fn build(
        header: Header,
        payload: Bytes,
        seal: Option<&dyn Seal>,
    ) -> Result<Self, String> {
        let origin = header.origin.to_bytes();
        let target: Vec<u8> = match &header.target {
            Target::Node(peer) => peer.to_bytes(),
            Target::Topic(topic) => topic.as_bytes().to_vec(),
            Target::All => Vec::new(),
        };
        if origin.len() > usize::from(u8::MAX) || target.len() > MAX_PEER_ID_LEN {
            return Err("origin or target too long to encode".into());
        }
        let payload_len =
            u32::try_from(payload.len()).map_err(|_| "payload over 4 GiB".to_string())?;
        let mut head = BytesMut::with_capacity(28 + origin.len() + target.len());
        head.put_u8(VERSION);
        head.put_u8(header.kind.to_byte());
        head.put_u8(if seal.is_some() { FLAG_SIGNED } else { 0 });
        head.put_u16(header.module);
        head.put_slice(&header.id.to_bytes());
        head.put_u8(origin.len() as u8);
        head.put_slice(&origin);
        head.put_u16(target.len() as u16);
        head.put_slice(&target);
        head.put_u32(payload_len);
        let head = head.freeze();
        let tail = match seal {
            None => Bytes::new(),
            Some(seal) => {
                let (key, signature) = seal.seal(&head, &payload)?;
                let mut tail = BytesMut::with_capacity(4 + key.len() + signature.len());
                tail.put_u16(key.len() as u16);
                tail.put_slice(&key);
                tail.put_u16(signature.len() as u16);
                tail.put_slice(&signature);
                tail.freeze()
            }
        };
        Ok(Envelope {
            header,
            head,
            payload,
            tail,
            signed: seal.is_some(),
        })
    }

    /// Decodes a body (a slice of a received frame: nothing is copied). The signature is not
    /// checked here: see [`crate::seal::verify`].
    pub(crate) fn decode(body: Bytes) -> Result<Self, String> {
        let mut r = body.clone();
        let need = |r: &Bytes, n: usize, what: &str| {
            if r.remaining() < n {
                Err(format!("body ends inside the {what}"))
            } else {
                Ok(())
            }
        };
        need(&r, 5 + 16 + 1, "fixed header")?;
        let version = r.get_u8();
        if version != VERSION {
            return Err(format!("unknown envelope version {version}"));
        }
        let kind = r.get_u8();
        let kind = Kind::from_byte(kind).ok_or_else(|| format!("unknown kind {kind}"))?;
        let flags = r.get_u8();
        if flags & !FLAG_SIGNED != 0 {
            return Err(format!("unknown flags {flags:#04x}"));
        }
        let module = r.get_u16();
        let mut id = [0u8; 16];
        r.copy_to_slice(&mut id);
        let origin_len = usize::from(r.get_u8());
        need(&r, origin_len, "origin")?;
        let origin = PeerId::from_bytes(&r.split_to(origin_len))
            .map_err(|e| format!("origin is not a peer ID: {e}"))?;
        need(&r, 2, "target length")?;
        let target_len = usize::from(r.get_u16());
        need(&r, target_len, "target")?;
        let target = r.split_to(target_len);
        let target = match kind {
            Kind::Request | Kind::Reply | Kind::Error => Target::Node(
                PeerId::from_bytes(&target).map_err(|e| format!("target is not a peer ID: {e}"))?,
            ),
            Kind::Multicast => {
                if target.is_empty() || target.len() > MAX_TOPIC_LEN {
                    return Err(format!("topic of {} bytes", target.len()));
                }
                Target::Topic(
                    String::from_utf8(target.to_vec())
                        .map_err(|_| "topic is not UTF-8".to_string())?,
                )
            }
            Kind::Broadcast if target.is_empty() => Target::All,
            Kind::Broadcast => return Err("a broadcast names a target".into()),
        };
        need(&r, 4, "payload length")?;
        let payload_len = r.get_u32() as usize;
        need(&r, payload_len, "payload")?;
        let head_len = body.len() - r.remaining();
        let payload = r.split_to(payload_len);
        let signed = flags & FLAG_SIGNED != 0;
        if signed {
            let mut t = r.clone();
            need(&t, 2, "key length")?;
            let key_len = usize::from(t.get_u16());
            need(&t, key_len + 2, "key")?;
            t.advance(key_len);
            let sig_len = usize::from(t.get_u16());
            need(&t, sig_len, "signature")?;
            t.advance(sig_len);
            if t.has_remaining() {
                return Err(format!("{} bytes after the signature", t.remaining()));
            }
        } else if r.has_remaining() {
            return Err(format!("{} bytes after the payload", r.remaining()));
        }
        Ok(Envelope {
            header: Header {
                kind,
                module,
                id: MessageId::from_bytes(id),
                origin,
                target,
            },
            head: body.slice(..head_len),
            payload,
            tail: r,
            signed,
        })
    }

    /// Checks with `verifier` that the body is signed by its origin (see
    /// [`Verifier::verify`]).
    pub(crate) fn verify(
        &self,
        verifier: &mut Verifier,
    ) -> Result<Option<PublicKey>, SignatureError> {
        let (key, signature) = self.key_and_signature().ok_or(SignatureError::Unsigned)?;
        let signed = (&self.head[..], &self.payload[..]);
        verifier.verify(self.header.origin, (&key, &signature), signed)
    }

    /// The key and signature of a signed body.
    pub(crate) fn key_and_signature(&self) -> Option<(Bytes, Bytes)> {
        if !self.signed {
            return None;
        }
        let mut t = self.tail.clone();
        let key_len = usize::from(t.get_u16());
        let key = t.split_to(key_len);
        let sig_len = usize::from(t.get_u16());
        Some((key, t.split_to(sig_len)))
    }

    /// Encoded body size.
    pub(crate) fn len(&self) -> usize {
        self.head.len() + self.payload.len() + self.tail.len()
    }

    /// The destination of a unicast kind.
    pub(crate) fn destination(&self) -> Option<PeerId> {
        match self.header.target {
            Target::Node(peer) => Some(peer),
            _ => None,
        }
    }
}

/// Why a request ended without a reply, as an error envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    NoRoute,
    RelayFailed,
    HopLimit,
    UnknownModule(u16),
    TooLarge { size: u64, max: u64 },
    Application(String),
    Refused(String),
    Busy(String),
}

impl ErrorCode {
    /// `[code u8][a u64][b u64][message UTF-8]`.
    pub(crate) fn encode(&self) -> Bytes {
        let (code, a, b, message): (u8, u64, u64, &str) = match self {
            ErrorCode::NoRoute => (1, 0, 0, ""),
            ErrorCode::RelayFailed => (2, 0, 0, ""),
            ErrorCode::HopLimit => (3, 0, 0, ""),
            ErrorCode::UnknownModule(module) => (4, u64::from(*module), 0, ""),
            ErrorCode::TooLarge { size, max } => (5, *size, *max, ""),
            ErrorCode::Application(m) => (6, 0, 0, m),
            ErrorCode::Refused(m) => (7, 0, 0, m),
            ErrorCode::Busy(m) => (8, 0, 0, m),
        };
        let message = truncate(message, 1024);
        let mut out = BytesMut::with_capacity(17 + message.len());
        out.put_u8(code);
        out.put_u64(a);
        out.put_u64(b);
        out.put_slice(message.as_bytes());
        out.freeze()
    }

    pub(crate) fn decode(mut bytes: Bytes) -> Result<Self, String> {
        if bytes.len() < 17 {
            return Err(format!("error payload of {} bytes", bytes.len()));
        }
        let code = bytes.get_u8();
        let a = bytes.get_u64();
        let b = bytes.get_u64();
        let message = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).into_owned();
        Ok(match code {
            1 => ErrorCode::NoRoute,
            2 => ErrorCode::RelayFailed,
            3 => ErrorCode::HopLimit,
            4 => ErrorCode::UnknownModule(u16::try_from(a).map_err(|_| "module over u16")?),
            5 => ErrorCode::TooLarge { size: a, max: b },
            6 => ErrorCode::Application(message),
            7 => ErrorCode::Refused(message),
            8 => ErrorCode::Busy(message),
            other => return Err(format!("unknown error code {other}")),
        })
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
#[path = "envelope_tests.rs"]
mod tests;
