//! Signing envelopes with the node key, and checking the origin's signature.
//!
//! The origin signs `SHA-256(DOMAIN || head || payload)`. For secp256k1 node keys (FISCO 2.x)
//! the signature is a 64-byte compact ECDSA signature made and checked with libsecp256k1, about
//! ten times faster than the pure-Rust path libp2p's identity types take; any other key type
//! (RSA for FISCO 3.x, ed25519 in tests) signs and verifies through libp2p's `Keypair` and
//! `PublicKey`, over `DOMAIN || head || payload`.
//!
//! The key travels in the envelope only when the origin's PeerId does not inline it (RSA keys
//! are hashed into their PeerId); it must then hash to that PeerId.

use std::collections::HashMap;

use bytes::Bytes;
use libp2p::{
    identity::{Keypair, PublicKey},
    PeerId,
};
use sha2::{Digest, Sha256};

/// Prefix of every signed byte string, so an envelope signature cannot be replayed as a
/// signature of any other protocol that signs with the node key (TLS, sync records).
const DOMAIN: &[u8] = b"/fisco/overlay/1.0.0 envelope\0";

/// Multihash code of the identity hash: the PeerId holds the public key itself.
const IDENTITY_MULTIHASH: u64 = 0;

/// Most origins whose parsed key a verifier remembers.
const KEY_CACHE: usize = 1024;

/// Signs envelope bodies. The core is given one, so tests can run it with any key.
pub(crate) trait Seal: Send {
    /// Returns the key field (empty if the PeerId inlines the key) and the signature over
    /// `head` and `payload`.
    fn seal(&self, head: &[u8], payload: &[u8]) -> Result<(Bytes, Bytes), String>;
}

/// Signs with a node key.
pub(crate) struct KeySeal {
    keypair: Keypair,
    fast: Option<secp256k1::SecretKey>,
    key_field: Bytes,
}

impl KeySeal {
    pub(crate) fn new(keypair: Keypair) -> Self {
        let public = keypair.public();
        let key_field = if inlined_key(&public.to_peer_id()).is_some() {
            Bytes::new()
        } else {
            Bytes::from(public.encode_protobuf())
        };
        let fast = keypair
            .clone()
            .try_into_secp256k1()
            .ok()
            .and_then(|k| secp256k1::SecretKey::from_secret_bytes(k.secret().to_bytes()).ok());
        KeySeal {
            keypair,
            fast,
            key_field,
        }
    }
}

impl Seal for KeySeal {
    fn seal(&self, head: &[u8], payload: &[u8]) -> Result<(Bytes, Bytes), String> {
        let signature = match &self.fast {
            Some(secret) => {
                let message = secp256k1::Message::from_digest(digest(head, payload));
                Bytes::copy_from_slice(&secp256k1::ecdsa::sign(message, secret).serialize_compact())
            }
            None => Bytes::from(
                self.keypair
                    .sign(&[DOMAIN, head, payload].concat())
                    .map_err(|e| format!("cannot sign: {e}"))?,
            ),
        };
        Ok((self.key_field.clone(), signature))
    }
}

fn digest(head: &[u8], payload: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(head);
    hasher.update(payload);
    hasher.finalize().into()
}

/// Why an envelope's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The envelope is not signed, and did not come straight from its origin.
    #[error("not signed, and not sent by its origin")]
    Unsigned,
    /// The origin's key is neither inlined in its PeerId nor carried in the envelope, or does
    /// not decode.
    #[error("the origin's public key is missing or malformed")]
    NoKey,
    /// The carried key does not hash to the origin's PeerId.
    #[error("the carried key is not the origin's")]
    WrongKey,
    /// The signature does not verify: forged, or altered on the way.
    #[error("the signature does not verify")]
    BadSignature,
}

enum Key {
    Fast(secp256k1::PublicKey),
    Other(PublicKey),
}

/// Checks origins' signatures, remembering the parsed keys of recent origins.
#[derive(Default)]
pub(crate) struct Verifier {
    keys: HashMap<PeerId, Key>,
}

impl Verifier {
    /// Checks that `signature` over `head` and `payload` is `origin`'s (`key_field`: the key
    /// the envelope carried, empty when the PeerId inlines it). Returns the origin's key when
    /// the envelope carried it and this verifier had not seen it yet, so that the node can map
    /// the origin's PeerId back to its key.
    pub(crate) fn verify(
        &mut self,
        origin: PeerId,
        (key_field, signature): (&[u8], &[u8]),
        (head, payload): (&[u8], &[u8]),
    ) -> Result<Option<PublicKey>, SignatureError> {
        let mut learned = None;
        if !self.keys.contains_key(&origin) {
            let key = parse_key(&origin, key_field)?;
            if let (false, Key::Other(public)) = (key_field.is_empty(), &key) {
                learned = Some(public.clone());
            }
            if self.keys.len() >= KEY_CACHE {
                self.keys.clear();
            }
            self.keys.insert(origin, key);
        }
        let valid = match self.keys.get(&origin) {
            Some(Key::Fast(key)) => secp256k1::ecdsa::Signature::from_compact(signature)
                .map(|mut sig| {
                    sig.normalize_s();
                    let message = secp256k1::Message::from_digest(digest(head, payload));
                    secp256k1::ecdsa::verify(&sig, message, key).is_ok()
                })
                .unwrap_or(false),
            Some(Key::Other(key)) => key.verify(&[DOMAIN, head, payload].concat(), signature),
            None => false,
        };
        if valid {
            Ok(learned)
        } else {
            Err(SignatureError::BadSignature)
        }
    }
}

fn parse_key(origin: &PeerId, key_field: &[u8]) -> Result<Key, SignatureError> {
    let key = if key_field.is_empty() {
        inlined_key(origin).ok_or(SignatureError::NoKey)?
    } else {
        let key = PublicKey::try_decode_protobuf(key_field).map_err(|_| SignatureError::NoKey)?;
        if key.to_peer_id() != *origin {
            return Err(SignatureError::WrongKey);
        }
        key
    };
    Ok(match key.clone().try_into_secp256k1() {
        Ok(secp) => secp256k1::PublicKey::from_slice(&secp.to_bytes())
            .map(Key::Fast)
            .map_err(|_| SignatureError::NoKey)?,
        Err(_) => Key::Other(key),
    })
}

/// The public key a PeerId inlines (secp256k1 and ed25519 keys are inlined; RSA keys hashed).
pub(crate) fn inlined_key(peer: &PeerId) -> Option<PublicKey> {
    let multihash = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    (key.to_peer_id() == *peer).then_some(key)
}
