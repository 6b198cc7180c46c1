//! [`NodeId`]: the public key that names a node, its FISCO text forms and its libp2p [`PeerId`].

use std::fmt;
use std::str::FromStr;
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

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (bytes, kind) = match &self.0 {
            Repr::Secp256k1 { bytes, .. } => (&bytes[..], ""),
            // The modulus's ends tell RSA keys apart; the DER's start is the same for all.
            Repr::Rsa(rsa) => (&rsa.modulus[..], "rsa:"),
        };
        let head = hex::encode(&bytes[..2]);
        let tail = hex::encode(&bytes[bytes.len() - 2..]);
        write!(f, "NodeId({kind}{head}..{tail})")
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > 128 + 2 {
            return parse_rsa(text);
        }
        let digits = match text.len() {
            128 => text,
            130 => {
                let prefix = text.get(..2).unwrap_or(text);
                if prefix != "04" {
                    return Err(NodeIdError::BadPrefix(prefix.to_owned()));
                }
                &text[2..]
            }
            _ => return Err(NodeIdError::Length(text.chars().count())),
        };
        // Find the first non-hex character ourselves: `hex` reports byte offsets without the prefix.
        let offset = text.len() - digits.len();
        check_hex(text, offset)?;
        let mut bytes = [0u8; NODE_ID_LEN];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| NodeIdError::Length(text.len()))?;
        Self::from_bytes(&bytes)
    }
}

/// The first character at or after `offset` that is not a hex digit, as an error.
fn check_hex(text: &str, offset: usize) -> Result<(), NodeIdError> {
    match text
        .char_indices()
        .skip_while(|(i, _)| *i < offset)
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        Some((index, character)) => Err(NodeIdError::NonHex {
            position: text[..index].chars().count(),
            character,
        }),
        None => Ok(()),
    }
}

/// An RSA node ID in hex: PKCS#1 or SubjectPublicKeyInfo DER (both start with a SEQUENCE, `30`),
/// or a bare modulus (whose first digit is 8 or more: a full-length modulus has its top bit set).
fn parse_rsa(text: &str) -> Result<NodeId, NodeIdError> {
    // Longest form: the SubjectPublicKeyInfo of a 4096-bit key, about 1100 hex characters.
    if text.len() > 1200 || !text.len().is_multiple_of(2) {
        return Err(NodeIdError::Length(text.chars().count()));
    }
    check_hex(text, 0)?;
    let bytes = hex::decode(text).map_err(|_| NodeIdError::Length(text.len()))?;
    if bytes.first() == Some(&0x30) {
        if let Ok(id) = NodeId::from_rsa_pkcs1(&bytes) {
            return Ok(id);
        }
        return NodeId::from_rsa_spki(&bytes);
    }
    let bits = rsa_der::bit_len(&bytes);
    if bits != bytes.len() * 8 {
        return Err(NodeIdError::Length(text.len()));
    }
    NodeId::from_rsa_parts(&bytes, &[0x01, 0x00, 0x01])
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

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NodeId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node ID of 128 hex characters, or an RSA node ID in hex")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeId, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn node_id_from_seed(seed: [u8; 32]) -> Option<NodeId> {
        let secret = secp256k1::SecretKey::from_secret_bytes(seed).ok()?;
        Some(NodeId::from_public_key(
            &secp256k1::PublicKey::from_secret_key(&secret),
        ))
    }

    proptest! {
        #[test]
        fn node_id_survives_the_peer_id_round_trip(seed in any::<[u8; 32]>()) {
            prop_assume!(node_id_from_seed(seed).is_some());
            let id = node_id_from_seed(seed).unwrap();
            let peer = id.to_peer_id();
            prop_assert_eq!(NodeId::from_peer_id(&peer).unwrap(), id.clone());
            prop_assert_eq!(NodeId::try_from(PeerId::from(&id)).unwrap(), id);
        }

        #[test]
        fn node_id_survives_the_text_round_trip(seed in any::<[u8; 32]>(), upper in any::<bool>(), prefixed in any::<bool>()) {
            prop_assume!(node_id_from_seed(seed).is_some());
            let id = node_id_from_seed(seed).unwrap();
            let mut text = id.to_string();
            prop_assert_eq!(text.len(), 128);
            prop_assert!(!text.chars().any(|c| c.is_ascii_uppercase()));
            if upper { text = text.to_uppercase(); }
            if prefixed { text = format!("04{text}"); }
            prop_assert_eq!(text.parse::<NodeId>().unwrap(), id);
        }
    }

    fn some_id() -> NodeId {
        node_id_from_seed([7u8; 32]).unwrap()
    }

    #[test]
    fn parse_reports_wrong_length() {
        assert_eq!("abc".parse::<NodeId>(), Err(NodeIdError::Length(3)));
    }

    #[test]
    fn parse_reports_the_position_of_a_non_hex_character() {
        let mut text = some_id().to_string();
        text.replace_range(10..11, "g");
        assert_eq!(
            text.parse::<NodeId>(),
            Err(NodeIdError::NonHex {
                position: 10,
                character: 'g'
            })
        );
        let text = format!("04{}z", &some_id().to_string()[..127]);
        assert_eq!(
            text.parse::<NodeId>(),
            Err(NodeIdError::NonHex {
                position: 129,
                character: 'z'
            })
        );
    }

    #[test]
    fn parse_rejects_a_130_character_id_without_04() {
        let text = format!("05{}", some_id());
        assert_eq!(
            text.parse::<NodeId>(),
            Err(NodeIdError::BadPrefix("05".into()))
        );
    }

    #[test]
    fn parse_rejects_a_point_off_the_curve() {
        let err = "11".repeat(64).parse::<NodeId>().unwrap_err();
        assert_eq!(err, NodeIdError::NotOnCurve);
        assert!(err.to_string().contains("not a point"));
    }

    #[test]
    fn debug_is_short_and_display_is_full() {
        let id = some_id();
        let full = id.to_string();
        let debug = format!("{id:?}");
        assert_eq!(debug, format!("NodeId({}..{})", &full[..4], &full[124..]));
    }

    #[test]
    fn a_peer_id_of_another_key_type_has_no_node_id() {
        let ed = libp2p::identity::Keypair::generate_ed25519();
        let err = NodeId::from_peer_id(&ed.public().to_peer_id()).unwrap_err();
        assert!(
            matches!(err, NodeIdError::PeerIdNotSecp256k1 { .. }),
            "{err}"
        );
        let hashed = PeerId::random();
        assert!(NodeId::from_peer_id(&hashed).is_err());
    }

    #[test]
    fn serde_reads_the_hex_string_and_reports_bad_ones() {
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        let id = some_id();
        let text = id.to_string();
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            text.as_str().into_deserializer();
        assert_eq!(NodeId::deserialize(de).unwrap(), id);
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            "xyz".into_deserializer();
        assert!(NodeId::deserialize(de)
            .unwrap_err()
            .to_string()
            .contains("128 hex"));
    }

    /// The node of certs/fisco-3.x/node0: its key, and the modulus FISCO wrote to ssl.nodeid.
    fn rsa_node() -> (NodeId, String, libp2p::identity::Keypair) {
        let key = crate::identity::PrivateKey::from_pem(include_str!(
            "../../certs/fisco-3.x/node0/conf/ssl.key"
        ))
        .unwrap();
        let modulus = include_str!("../../certs/fisco-3.x/node0/conf/ssl.nodeid");
        (key.node_id(), modulus.trim().to_owned(), key.to_keypair())
    }

    #[test]
    fn an_rsa_id_prints_as_the_fisco_p2p_id_and_parses_from_every_form() {
        let (id, modulus, keypair) = rsa_node();
        assert_eq!(id.kind(), KeyKind::Rsa);
        let text = id.to_string();
        assert_eq!(text.len(), 540);
        assert!(text.starts_with("3082010a02820101"), "{text}");
        assert_eq!(id.rsa_modulus_hex().unwrap(), modulus);
        assert_eq!(text.parse::<NodeId>().unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<NodeId>().unwrap(), id);
        assert_eq!(modulus.parse::<NodeId>().unwrap(), id);
        let spki = hex::encode(keypair.public().try_into_rsa().unwrap().encode_x509());
        assert_eq!(spki.parse::<NodeId>().unwrap(), id);
        assert_eq!(id.to_peer_id(), keypair.public().to_peer_id());
        assert_eq!(
            NodeId::from_libp2p_public_key(&keypair.public()).unwrap(),
            id
        );
        assert!(format!("{id:?}").starts_with("NodeId(rsa:"), "{id:?}");
    }

    #[test]
    fn a_secp256k1_peer_id_is_the_one_libp2p_derives() {
        let id = some_id();
        assert_eq!(id.to_peer_id(), id.to_libp2p_public_key().to_peer_id());
    }

    #[test]
    fn an_rsa_peer_id_needs_the_key_to_be_named() {
        let (id, _, _) = rsa_node();
        assert_eq!(
            NodeId::from_peer_id(&id.to_peer_id()),
            Err(NodeIdError::PeerIdNotInline(id.to_peer_id()))
        );
    }

    #[test]
    fn rsa_ids_of_unusable_keys_are_refused() {
        let short = format!("c{}1", "0".repeat(254));
        assert_eq!(short.parse::<NodeId>(), Err(NodeIdError::RsaKeySize(1024)));
        let even = format!("c{}2", "0".repeat(510));
        assert!(matches!(
            even.parse::<NodeId>(),
            Err(NodeIdError::BadRsaKey(_))
        ));
        // A modulus without its top bit set is not a whole key (a digit lost at the front).
        let cut = format!("7{}1", "0".repeat(510));
        assert_eq!(cut.parse::<NodeId>(), Err(NodeIdError::Length(512)));
        assert!(matches!(
            format!("30{}", "ff".repeat(269)).parse::<NodeId>(),
            Err(NodeIdError::BadRsaKey(_))
        ));
    }

    #[test]
    fn secp256k1_and_rsa_ids_never_compare_equal() {
        let (rsa, _, _) = rsa_node();
        let secp = some_id();
        assert_ne!(rsa, secp);
        assert!(secp < rsa, "secp256k1 IDs sort first");
    }
}
