//! The signed broadcast message: its ID, its CBOR body, and the origin's signature over it.
//!
//! A body is a CBOR array of five items:
//! `[origin public key (protobuf bytes), message ID (16 bytes), module (u16), payload (bytes),
//! signature (bytes)]`. The origin signs, with its libp2p key, the domain tag [`SIGNING_DOMAIN`]
//! followed by its public key, the message ID, the module (big-endian) and the SHA-256 of the
//! payload. Signing the payload's digest rather than the payload lets the receiving connection
//! task hash a large payload once while the behaviour only checks a short signature.
//!
//! The hop count is deliberately **not** in the body: relays change it, so it travels in the
//! frame header (see `codec.rs`) and the signed body is forwarded byte for byte.

use std::fmt;

use bytes::Bytes;
use cbor4ii::core::{
    dec::{Decode, Read},
    enc::Encode,
    types,
    utils::{BufWriter, SliceReader},
};
use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;
use sha2::{Digest, Sha256};

/// Prefix of every signed byte string, so a broadcast signature cannot be replayed as a
/// signature of any other protocol that signs with the same node key.
const SIGNING_DOMAIN: &[u8] = b"/fisco/broadcast/1.0.0 signed message\0";

/// Number of items in the CBOR array of a body.
const BODY_ITEMS: usize = 5;

/// Identifies one broadcast network-wide: the origin's random boot nonce, then a counter.
///
/// The nonce is drawn afresh each time a [`Behaviour`](crate::Behaviour) is created, so IDs
/// stay unique across restarts of the origin without any persisted state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId([u8; 16]);

impl MessageId {
    /// Builds the ID of the `counter`-th message sent under boot nonce `nonce`.
    pub fn new(nonce: u64, counter: u64) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&nonce.to_be_bytes());
        bytes[8..].copy_from_slice(&counter.to_be_bytes());
        MessageId(bytes)
    }

    /// The 16 bytes of the ID as carried on the wire.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Reads an ID from its 16 wire bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        MessageId(bytes)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// A decoded body whose signature has not been checked yet.
#[derive(Clone)]
pub(crate) struct SignedMessage {
    pub(crate) origin: PeerId,
    origin_key: PublicKey,
    pub(crate) id: MessageId,
    pub(crate) module: u16,
    pub(crate) payload: Bytes,
    signature: Bytes,
    /// SHA-256 of `payload`, computed where the body was decoded.
    payload_digest: [u8; 32],
    /// The encoded body, kept to forward it unchanged.
    pub(crate) body: Bytes,
}

impl fmt::Debug for SignedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedMessage")
            .field("origin", &self.origin)
            .field("id", &self.id)
            .field("module", &self.module)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

impl SignedMessage {
    /// Whether the signature was made by the origin's key over this exact content.
    pub(crate) fn verify(&self) -> bool {
        let signed = signed_bytes(&self.origin_key, self.id, self.module, &self.payload_digest);
        self.origin_key.verify(&signed, &self.signature)
    }
}

/// Encodes and signs a body. Fails only if the key cannot sign or memory runs out.
pub(crate) fn encode_signed(
    keypair: &Keypair,
    id: MessageId,
    module: u16,
    payload: &[u8],
) -> Result<Bytes, String> {
    let public = keypair.public();
    let digest: [u8; 32] = Sha256::digest(payload).into();
    let signature = keypair
        .sign(&signed_bytes(&public, id, module, &digest))
        .map_err(|e| format!("signing failed: {e}"))?;
    let key_bytes = public.encode_protobuf();
    let id_bytes = id.to_bytes();

    let mut w = BufWriter::new(Vec::with_capacity(payload.len() + 256));
    let encoded = (|| {
        types::Array::bounded(BODY_ITEMS, &mut w)?;
        types::Bytes(key_bytes.as_slice()).encode(&mut w)?;
        types::Bytes(&id_bytes[..]).encode(&mut w)?;
        module.encode(&mut w)?;
        types::Bytes(payload).encode(&mut w)?;
        types::Bytes(signature.as_slice()).encode(&mut w)
    })();
    encoded.map_err(|e| format!("encoding failed: {e}"))?;
    Ok(Bytes::from(w.into_inner()))
}

/// Decodes a body without checking its signature (see [`SignedMessage::verify`]).
///
/// The payload and signature are slices of `body`: nothing is copied.
pub(crate) fn decode(body: Bytes) -> Result<SignedMessage, String> {
    let mut reader = SliceReader::new(&body);
    let r = &mut reader;
    let fields = (|| {
        let items = types::Array::len(r)?;
        let key = <types::Bytes<&[u8]>>::decode(r)?.0;
        let id = <types::Bytes<&[u8]>>::decode(r)?.0;
        let module = u16::decode(r)?;
        let payload = <types::Bytes<&[u8]>>::decode(r)?.0;
        let signature = <types::Bytes<&[u8]>>::decode(r)?.0;
        let trailing = r.fill(1)?.as_ref().len();
        Ok::<_, cbor4ii::core::error::DecodeError<_>>((
            items, key, id, module, payload, signature, trailing,
        ))
    })();
    let (items, key, id, module, payload, signature, trailing) =
        fields.map_err(|e| format!("not a broadcast body: {e}"))?;
    if items != Some(BODY_ITEMS) || trailing != 0 {
        return Err(format!(
            "body has {items:?} items and trailing bytes: {}, expected {BODY_ITEMS} items and none",
            trailing != 0
        ));
    }
    let id: [u8; 16] = id
        .try_into()
        .map_err(|_| format!("message ID has {} bytes, expected 16", id.len()))?;
    let origin_key = PublicKey::try_decode_protobuf(key)
        .map_err(|e| format!("origin public key does not decode: {e}"))?;
    Ok(SignedMessage {
        origin: origin_key.to_peer_id(),
        origin_key,
        id: MessageId::from_bytes(id),
        module,
        payload: body.slice_ref(payload),
        signature: body.slice_ref(signature),
        payload_digest: Sha256::digest(payload).into(),
        body: body.clone(),
    })
}

fn signed_bytes(key: &PublicKey, id: MessageId, module: u16, digest: &[u8; 32]) -> Vec<u8> {
    let key = key.encode_protobuf();
    let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + key.len() + 16 + 2 + 32);
    out.extend_from_slice(SIGNING_DOMAIN);
    out.extend_from_slice(&key);
    out.extend_from_slice(&id.to_bytes());
    out.extend_from_slice(&module.to_be_bytes());
    out.extend_from_slice(digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(keypair: &Keypair, payload: &[u8]) -> Bytes {
        encode_signed(keypair, MessageId::new(7, 1), 42, payload).expect("encodes")
    }

    #[test]
    fn a_signed_body_decodes_to_what_was_sent_and_verifies() {
        let keypair = Keypair::generate_secp256k1();
        let message = decode(signed(&keypair, b"hello")).expect("decodes");
        assert_eq!(message.origin, keypair.public().to_peer_id());
        assert_eq!(message.id, MessageId::new(7, 1));
        assert_eq!(message.module, 42);
        assert_eq!(&message.payload[..], b"hello");
        assert!(message.verify());
    }

    #[test]
    fn a_body_with_an_altered_payload_fails_verification() {
        let keypair = Keypair::generate_secp256k1();
        let body = signed(&keypair, b"hello");
        let mut altered = body.to_vec();
        let at = altered
            .windows(5)
            .position(|w| w == b"hello")
            .expect("payload is in the body");
        altered[at] = b'j';
        let message = decode(Bytes::from(altered)).expect("still decodes");
        assert!(!message.verify());
    }

    #[test]
    fn a_body_resigned_by_another_key_names_that_key_as_origin() {
        let origin = Keypair::generate_secp256k1();
        let relay = Keypair::generate_secp256k1();
        let message = decode(signed(&relay, b"x")).expect("decodes");
        assert_ne!(message.origin, origin.public().to_peer_id());
        assert_eq!(message.origin, relay.public().to_peer_id());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let err = decode(Bytes::from_static(&[0xff, 0x00, 0x13])).expect_err("garbage");
        assert!(err.contains("not a broadcast body"), "{err}");
    }

    #[test]
    fn message_ids_display_as_32_hex_digits() {
        let id = MessageId::new(0x0102, 3);
        assert_eq!(id.to_string(), "00000000000001020000000000000003");
    }
}
