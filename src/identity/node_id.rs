//! [`NodeId`]: the 64-byte secp256k1 public key that names a node, and its libp2p [`PeerId`] form.

use std::fmt;
use std::str::FromStr;

use libp2p::identity::PublicKey as Libp2pPublicKey;
use libp2p::PeerId;

/// Length in bytes of a node ID: the X and Y coordinates of the public key.
pub const NODE_ID_LEN: usize = 64;

/// Multihash code of the identity hash, under which a secp256k1 [`PeerId`] inlines its key.
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The identity of a FISCO BCOS node: its secp256k1 public key as 64 raw bytes X‖Y.
///
/// This is the uncompressed SEC1 point without its `04` prefix, exactly what FISCO's tooling writes to
/// `node.nodeid`. It displays as 128 lowercase hex characters and parses from 128 hex characters in any
/// case, or from 130 with the `04` prefix. A `NodeId` always holds a point on the curve.
///
/// A libp2p [`PeerId`] of a secp256k1 key inlines the (compressed) key, so the two convert into each
/// other losslessly with [`NodeId::to_peer_id`] and [`NodeId::from_peer_id`].
#[derive(Clone, Copy)]
pub struct NodeId {
    bytes: [u8; NODE_ID_LEN],
    // Kept beside the bytes so that `to_public_key` needs no re-validation (and no panic path).
    key: secp256k1::PublicKey,
}

/// Why a text, byte string or [`PeerId`] is not a node ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeIdError {
    /// The text has the wrong length; a node ID is 128 hex characters, or 130 with a `04` prefix.
    #[error("a node ID is 128 hex characters (or 130 starting with 04), got {0} characters")]
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
    /// The peer ID hashes its key instead of inlining it, so the key cannot be recovered from it.
    #[error("peer ID {0} does not inline its public key (not an identity multihash), so it has no node ID")]
    PeerIdNotInline(PeerId),
    /// The peer ID inlines a key that does not decode as a libp2p public key.
    #[error("peer ID {0} holds a public key that does not decode: {1}")]
    PeerIdUndecodable(PeerId, String),
    /// The peer ID is of another key type; only secp256k1 peers have node IDs.
    #[error("peer ID {peer} is a {key_type} key, but FISCO node IDs are secp256k1 keys")]
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
        Self { bytes, key: *key }
    }

    /// Parses 64 raw bytes X‖Y, checking that they are a point on the curve.
    pub fn from_bytes(bytes: &[u8; NODE_ID_LEN]) -> Result<Self, NodeIdError> {
        let mut uncompressed = [0u8; NODE_ID_LEN + 1];
        uncompressed[0] = 0x04;
        uncompressed[1..].copy_from_slice(bytes);
        let key = secp256k1::PublicKey::from_byte_array_uncompressed(uncompressed)
            .map_err(|_| NodeIdError::NotOnCurve)?;
        Ok(Self { bytes: *bytes, key })
    }

    /// The 64 raw bytes X‖Y.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_LEN] {
        &self.bytes
    }

    /// The secp256k1 public key this ID stands for.
    pub fn to_public_key(&self) -> secp256k1::PublicKey {
        self.key
    }

    /// The libp2p peer ID of this node: its compressed key inlined as an identity multihash.
    pub fn to_peer_id(&self) -> PeerId {
        self.to_libp2p_public_key().to_peer_id()
    }

    /// The libp2p form of this node's public key.
    pub fn to_libp2p_public_key(&self) -> Libp2pPublicKey {
        let compressed = self.key.serialize();
        // Infallible: `compressed` is the encoding of a point libsecp256k1 already validated.
        let key = libp2p::identity::secp256k1::PublicKey::try_from_bytes(&compressed)
            .expect("a validated secp256k1 point always decodes");
        Libp2pPublicKey::from(key)
    }

    /// Recovers the node ID from a secp256k1 peer ID, which inlines the public key.
    pub fn from_peer_id(peer: &PeerId) -> Result<Self, NodeIdError> {
        let multihash = peer.as_ref();
        if multihash.code() != IDENTITY_MULTIHASH {
            return Err(NodeIdError::PeerIdNotInline(*peer));
        }
        let key = Libp2pPublicKey::try_decode_protobuf(multihash.digest())
            .map_err(|e| NodeIdError::PeerIdUndecodable(*peer, e.to_string()))?;
        let key_type = key.key_type();
        let key = key
            .try_into_secp256k1()
            .map_err(|_| NodeIdError::PeerIdNotSecp256k1 {
                peer: *peer,
                key_type: key_type.to_string(),
            })?;
        let point = secp256k1::PublicKey::from_slice(&key.to_bytes_uncompressed())
            .map_err(|_| NodeIdError::NotOnCurve)?;
        Ok(Self::from_public_key(&point))
    }
}

impl PartialEq for NodeId {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
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
        self.bytes.cmp(&other.bytes)
    }
}

impl std::hash::Hash for NodeId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.bytes))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = hex::encode(&self.bytes[..2]);
        let tail = hex::encode(&self.bytes[NODE_ID_LEN - 2..]);
        write!(f, "NodeId({head}..{tail})")
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
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
        if let Some((index, character)) = text
            .char_indices()
            .skip_while(|(i, _)| *i < offset)
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(NodeIdError::NonHex {
                position: text[..index].chars().count(),
                character,
            });
        }
        let mut bytes = [0u8; NODE_ID_LEN];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| NodeIdError::Length(text.len()))?;
        Self::from_bytes(&bytes)
    }
}

impl From<NodeId> for PeerId {
    fn from(id: NodeId) -> Self {
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
                f.write_str("a node ID of 128 hex characters")
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
            prop_assert_eq!(NodeId::from_peer_id(&peer).unwrap(), id);
            prop_assert_eq!(NodeId::try_from(PeerId::from(id)).unwrap(), id);
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
}
