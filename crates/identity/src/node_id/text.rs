//! [`NodeId`]'s text forms: FISCO's hex (128 characters for secp256k1; for RSA the 540-hex P2P ID,
//! also read from an SPKI or from the 512-hex modulus of `ssl.nodeid`), and serde as that text.

use std::{fmt, str::FromStr};

use super::{rsa_der, NodeId, NodeIdError, Repr, NODE_ID_LEN};

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
