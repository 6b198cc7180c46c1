//! [`NodeId`]: the public key that names a node, its FISCO text forms and its libp2p [`PeerId`].

use std::fmt;
use std::sync::Arc;

use libp2p::identity::PublicKey as Libp2pPublicKey;
use libp2p::PeerId;

use super::rsa_der;

/// Length in bytes of a secp256k1 node ID: the X and Y coordinates of the public key.
pub const NODE_ID_LEN: usize = 64;

/// Smallest RSA key accepted as a node identity, in bits (FISCO 3.x makes 2048-bit keys).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA key accepted as a node identity, in bits.
pub const MAX_RSA_BITS: usize = 4096;

/// Multihash code of the identity hash, under which a secp256k1 [`PeerId`] inlines its key.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The kind of key a node is named by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// secp256k1, FISCO 2.x: `node.key`, `node.nodeid`.
    Secp256k1,
    /// RSA, FISCO 3.x: `conf/ssl.key`, `conf/ssl.nodeid`.
    Rsa,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyKind::Secp256k1 => "secp256k1",
            KeyKind::Rsa => "RSA",
        })
    }
}

/// The identity of a FISCO BCOS node: the public key it proves in the TLS handshake.
///
/// Two kinds exist:
/// - **secp256k1** (FISCO 2.x): 64 raw bytes X‖Y, the uncompressed point without its `04`
///   prefix, exactly what FISCO's tooling writes to `node.nodeid`. It displays as 128 lowercase
///   hex characters and parses from 128 hex characters in any case, or 130 with the `04` prefix.
/// - **RSA** (FISCO 3.x, 2048 to 4096 bits): the PKCS#1 `RSAPublicKey` DER that FISCO 3.x calls
///   the node's P2P ID (the content of the certificate's public-key BIT STRING). It displays as
///   that DER in lowercase hex (540 characters for RSA-2048; FISCO's logs print the same in
///   upper case), and parses from it in any case, from the hex of a whole
///   `SubjectPublicKeyInfo`, or from the hex modulus alone as `conf/ssl.nodeid` holds it (512
///   characters for RSA-2048), which stands for the key with exponent 65537 (the one openssl and
///   FISCO use).
///
/// A secp256k1 ID is stored inline and cheap to clone; an RSA one is shared (`Arc`). Equality,
/// order and hashing follow the kind and the key bytes. A `NodeId` always holds a valid key.
///
/// A libp2p [`PeerId`] of a secp256k1 key inlines the (compressed) key, so the two convert into
/// each other losslessly with [`NodeId::to_peer_id`] and [`NodeId::from_peer_id`]. An RSA PeerId
/// is a hash of the key: [`NodeId::to_peer_id`] works, the way back needs the key, which the
/// node learns from the peer's certificate, its signed state-sync record or its envelopes (see
/// [`Directory`](super::Directory)).
#[derive(Clone)]
pub struct NodeId(Repr);

#[derive(Clone)]
enum Repr {
    Secp256k1 {
        bytes: [u8; NODE_ID_LEN],
        // Kept beside the bytes so that `secp256k1_key` needs no re-validation (and no panic path).
        key: secp256k1::PublicKey,
    },
    Rsa(Arc<RsaId>),
}

/// An RSA node identity, parsed once.
struct RsaId {
    /// Canonical PKCS#1 `RSAPublicKey` DER.
    pkcs1: Vec<u8>,
    /// The modulus, without leading zero bytes.
    modulus: Vec<u8>,
    /// The libp2p form, and its PeerId (a hash, computed once).
    public: Libp2pPublicKey,
    peer: PeerId,
}

/// Why a text, byte string or [`PeerId`] is not a node ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The text has a length no node ID form has.
    #[error(
        "a node ID is 128 hex characters (secp256k1, FISCO 2.x node.nodeid; or 130 starting with \
         04), or for an RSA node (FISCO 3.x) its P2P ID (540 hex characters for RSA-2048) or the \
         modulus in conf/ssl.nodeid (512 hex characters); got {0} characters"
    )]
    Length(usize),
    /// The text holds a character that is not a hex digit.
    #[error("a node ID is hex, but character {position} is {character:?}")]
    NonHex {
        /// Zero-based position of the offending character.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// A 130-character node ID must start with `04` (the uncompressed point marker).
    #[error(
        "a 130-character node ID must start with 04 (uncompressed point), it starts with {0:?}"
    )]
    BadPrefix(String),
    /// The 64 bytes are not the coordinates of a point on secp256k1: the ID is corrupt or mistyped.
    #[error("the node ID is not a point on the secp256k1 curve; check it was copied whole from node.nodeid")]
    NotOnCurve,
    /// The RSA key does not decode, or is not usable as a node identity.
    #[error(
        "not a usable RSA node ID: {0}; copy it whole from conf/ssl.nodeid or from a peer list"
    )]
    BadRsaKey(String),
    /// The RSA key is shorter or longer than node identities may be.
    #[error("an RSA node key of {0} bits; node keys are RSA of 2048 to 4096 bits")]
    RsaKeySize(usize),
    /// The peer ID hashes its key instead of inlining it, so the key cannot be recovered from it.
    #[error("peer ID {0} does not inline its public key (an RSA node's PeerId is a hash of its key), so it names no node ID by itself")]
    PeerIdNotInline(PeerId),
    /// The peer ID inlines a key that does not decode as a libp2p public key.
    #[error("peer ID {0} holds a public key that does not decode: {1}")]
    PeerIdUndecodable(PeerId, String),
    /// The key is of another type; node IDs are secp256k1 or RSA keys.
    #[error("peer ID {peer} is a {key_type} key, but FISCO node IDs are secp256k1 or RSA keys")]
    PeerIdNotSecp256k1 {
        /// The peer ID at fault.
        peer: PeerId,
        /// Its key type.
        key_type: String,
    },
}

impl NodeId {
    /// The node ID of a secp256k1 public key.
    pub fn from_public_key(key: &secp256k1::PublicKey) -> Self {
        let uncompressed = key.serialize_uncompressed();
        let mut bytes = [0u8; NODE_ID_LEN];
        bytes.copy_from_slice(&uncompressed[1..]);
        Self(Repr::Secp256k1 { bytes, key: *key })
    }

    /// Parses 64 raw bytes X‖Y, checking that they are a point on the curve.
    pub fn from_bytes(bytes: &[u8; NODE_ID_LEN]) -> Result<Self, NodeIdError> {
        let mut uncompressed = [0u8; NODE_ID_LEN + 1];
        uncompressed[0] = 0x04;
        uncompressed[1..].copy_from_slice(bytes);
        let key = secp256k1::PublicKey::from_byte_array_uncompressed(uncompressed)
            .map_err(|_| NodeIdError::NotOnCurve)?;
        Ok(Self(Repr::Secp256k1 { bytes: *bytes, key }))
    }

    /// The node ID of an RSA public key given as PKCS#1 `RSAPublicKey` DER (FISCO 3.x's P2P ID).
    pub fn from_rsa_pkcs1(der: &[u8]) -> Result<Self, NodeIdError> {
        let (modulus, exponent) = rsa_der::parse_pkcs1(der).map_err(NodeIdError::BadRsaKey)?;
        Self::from_rsa_parts(modulus, exponent)
    }

    /// The node ID of an RSA public key given as X.509 `SubjectPublicKeyInfo` DER.
    pub fn from_rsa_spki(der: &[u8]) -> Result<Self, NodeIdError> {
        let pkcs1 = rsa_der::pkcs1_of_spki(der).map_err(NodeIdError::BadRsaKey)?;
        Self::from_rsa_pkcs1(pkcs1)
    }

    /// The node ID of the RSA key with this modulus (big-endian) and public exponent.
    pub fn from_rsa_parts(modulus: &[u8], exponent: &[u8]) -> Result<Self, NodeIdError> {
        let modulus = rsa_der::strip_zeros(modulus);
        let exponent = rsa_der::strip_zeros(exponent);
        let bits = rsa_der::bit_len(modulus);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(NodeIdError::RsaKeySize(bits));
        }
        if modulus.last().is_some_and(|b| b & 1 == 0) {
            return Err(NodeIdError::BadRsaKey("the modulus is even".into()));
        }
        // ring accepts odd exponents from 3 to 2^33 - 1; FISCO and openssl use 65537.
        if !rsa_der::small_uint(exponent).is_some_and(|e| (3..(1 << 33)).contains(&e) && e % 2 == 1)
        {
            return Err(NodeIdError::BadRsaKey(
                "the public exponent is out of range".into(),
            ));
        }
        let pkcs1 = rsa_der::encode_pkcs1(modulus, exponent);
        let spki = rsa_der::encode_spki(&pkcs1);
        let rsa = libp2p::identity::rsa::PublicKey::try_decode_x509(&spki)
            .map_err(|e| NodeIdError::BadRsaKey(e.to_string()))?;
        let public = Libp2pPublicKey::from(rsa);
        let peer = public.to_peer_id();
        Ok(Self(Repr::Rsa(Arc::new(RsaId {
            pkcs1,
            modulus: modulus.to_vec(),
            public,
            peer,
        }))))
    }

    /// The node ID of a libp2p public key: secp256k1 or RSA.
    pub fn from_libp2p_public_key(key: &Libp2pPublicKey) -> Result<Self, NodeIdError> {
        let peer = key.to_peer_id();
        let key_type = key.key_type();
        if let Ok(secp) = key.clone().try_into_secp256k1() {
            let point = secp256k1::PublicKey::from_slice(&secp.to_bytes_uncompressed())
                .map_err(|_| NodeIdError::NotOnCurve)?;
            return Ok(Self::from_public_key(&point));
        }
        if let Ok(rsa) = key.clone().try_into_rsa() {
            return Self::from_rsa_pkcs1(&rsa.encode_pkcs1());
        }
        Err(NodeIdError::PeerIdNotSecp256k1 {
            peer,
            key_type: key_type.to_string(),
        })
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            Repr::Secp256k1 { .. } => KeyKind::Secp256k1,
            Repr::Rsa(_) => KeyKind::Rsa,
        }
    }

    /// The key bytes the ID stands for: X‖Y (64 bytes) for secp256k1, the PKCS#1
    /// `RSAPublicKey` DER for RSA. [`Display`](fmt::Display) prints them in hex.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Secp256k1 { bytes, .. } => bytes,
            Repr::Rsa(rsa) => &rsa.pkcs1,
        }
    }

    /// The secp256k1 public key this ID stands for; none for an RSA node.
    pub fn secp256k1_key(&self) -> Option<secp256k1::PublicKey> {
        match &self.0 {
            Repr::Secp256k1 { key, .. } => Some(*key),
            Repr::Rsa(_) => None,
        }
    }

    /// For an RSA node, its modulus in lowercase hex: what FISCO 3.x writes to `conf/ssl.nodeid`
    /// and what its black and white lists hold. None for a secp256k1 node.
    pub fn rsa_modulus_hex(&self) -> Option<String> {
        match &self.0 {
            Repr::Secp256k1 { .. } => None,
            Repr::Rsa(rsa) => Some(hex::encode(&rsa.modulus)),
        }
    }

    /// The libp2p peer ID of this node: for secp256k1 its compressed key inlined as an identity
    /// multihash, for RSA the SHA-256 multihash of its key.
    pub fn to_peer_id(&self) -> PeerId {
        match &self.0 {
            Repr::Secp256k1 { key, .. } => {
                // The identity multihash of libp2p's protobuf key encoding, written out: going
                // through libp2p's key type would decompress the point again (a field square
                // root per message on the hot path).
                let mut bytes = [0u8; 6 + 33];
                bytes[..6].copy_from_slice(&[0x00, 37, 0x08, 0x02, 0x12, 33]);
                bytes[6..].copy_from_slice(&key.serialize());
                PeerId::from_bytes(&bytes)
                    .unwrap_or_else(|_| self.to_libp2p_public_key().to_peer_id())
            }
            Repr::Rsa(rsa) => rsa.peer,
        }
    }

    /// The libp2p form of this node's public key.
    pub fn to_libp2p_public_key(&self) -> Libp2pPublicKey {
        match &self.0 {
            Repr::Secp256k1 { key, .. } => {
                let compressed = key.serialize();
                // Infallible: `compressed` is the encoding of a point libsecp256k1 already validated.
                let key = libp2p::identity::secp256k1::PublicKey::try_from_bytes(&compressed)
                    .expect("a validated secp256k1 point always decodes");
                Libp2pPublicKey::from(key)
            }
            Repr::Rsa(rsa) => rsa.public.clone(),
        }
    }

    /// Recovers the node ID from a peer ID that inlines its key (secp256k1). An RSA PeerId is a
    /// hash and names no key by itself: look it up in a [`Directory`](super::Directory).
    pub fn from_peer_id(peer: &PeerId) -> Result<Self, NodeIdError> {
        let multihash = peer.as_ref();
        if multihash.code() != IDENTITY_MULTIHASH {
            return Err(NodeIdError::PeerIdNotInline(*peer));
        }
        let key = Libp2pPublicKey::try_decode_protobuf(multihash.digest())
            .map_err(|e| NodeIdError::PeerIdUndecodable(*peer, e.to_string()))?;
        if key.clone().try_into_secp256k1().is_err() {
            return Err(NodeIdError::PeerIdNotSecp256k1 {
                peer: *peer,
                key_type: key.key_type().to_string(),
            });
        }
        Self::from_libp2p_public_key(&key)
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NodeId {}

impl PartialOrd for NodeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NodeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.kind(), self.as_bytes()).cmp(&(other.kind(), other.as_bytes()))
    }
}

impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl From<NodeId> for PeerId {
    fn from(id: NodeId) -> Self {
        id.to_peer_id()
    }
}

impl From<&NodeId> for PeerId {
    fn from(id: &NodeId) -> Self {
        id.to_peer_id()
    }
}

impl TryFrom<PeerId> for NodeId {
    type Error = NodeIdError;

    fn try_from(peer: PeerId) -> Result<Self, Self::Error> {
        Self::from_peer_id(&peer)
    }
}

impl TryFrom<&PeerId> for NodeId {
    type Error = NodeIdError;

    fn try_from(peer: &PeerId) -> Result<Self, Self::Error> {
        Self::from_peer_id(peer)
    }
}

impl From<secp256k1::PublicKey> for NodeId {
    fn from(key: secp256k1::PublicKey) -> Self {
        Self::from_public_key(&key)
    }
}

mod text;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
