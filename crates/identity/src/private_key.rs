//! [`PrivateKey`]: a node's private key of either kind, secp256k1 (FISCO 2.x `node.key`) or RSA
//! (FISCO 3.x `conf/ssl.key`), and [`RsaKey`].

use std::fmt;
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use super::algorithm::{self, EC_PUBLIC_KEY};
use super::error::{IdentityError, Origin};
use super::rsa_der::RSA_ENCRYPTION;
use super::{read_file, KeyKind, NodeId, NodeKey};

/// A node's private key: it names the node (its [`NodeId`]), signs its TLS handshakes, its
/// state-sync records and its envelopes.
///
/// [`PrivateKey::load`] reads either kind from PEM and tells them apart by the key's algorithm:
/// a secp256k1 key (PKCS#8 or SEC1, as [`NodeKey`] reads it) or an RSA key of 2048 to 4096 bits
/// (PKCS#8 `BEGIN PRIVATE KEY`, as openssl 3 writes FISCO 3.x's `ssl.key`, or PKCS#1
/// `BEGIN RSA PRIVATE KEY`, as openssl 1.1 wrote it). Other keys are refused by name.
#[derive(Clone, Debug)]
pub enum PrivateKey {
    /// secp256k1, FISCO 2.x.
    Secp256k1(NodeKey),
    /// RSA, FISCO 3.x (boxed: it is much larger than a secp256k1 key).
    Rsa(Box<RsaKey>),
}

impl PrivateKey {
    /// Reads a key from a PEM file such as FISCO's `node.key` or `conf/ssl.key`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(read_file(path)?);
        Self::from_pem_bytes(&bytes, Origin::File(path.to_owned()))
    }

    /// Reads a key from PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        Self::from_pem_bytes(pem.as_bytes(), Origin::Memory("node key PEM"))
    }

    pub(crate) fn from_pem_bytes(pem: &[u8], origin: Origin) -> Result<Self, IdentityError> {
        match PrivateKeyDer::from_pem_slice(pem) {
            Ok(PrivateKeyDer::Pkcs1(der)) => RsaKey::from_der(
                Zeroizing::new(der.secret_pkcs1_der().to_vec()),
                false,
                origin,
            )
            .map(|key| Self::Rsa(Box::new(key))),
            Ok(PrivateKeyDer::Pkcs8(der)) => {
                let (algorithm, curve) =
                    pkcs8_algorithm(der.secret_pkcs8_der()).map_err(|reason| {
                        IdentityError::BadKey {
                            origin: origin.clone(),
                            reason,
                        }
                    })?;
                match algorithm.as_str() {
                    RSA_ENCRYPTION => RsaKey::from_der(
                        Zeroizing::new(der.secret_pkcs8_der().to_vec()),
                        true,
                        origin,
                    )
                    .map(|key| Self::Rsa(Box::new(key))),
                    EC_PUBLIC_KEY if curve.as_deref() == Some(algorithm::SECP256K1) => {
                        NodeKey::from_pem_bytes(pem, origin).map(Self::Secp256k1)
                    }
                    _ => Err(IdentityError::UnsupportedKey {
                        origin,
                        found: algorithm::describe_key(&algorithm, curve.as_deref()),
                    }),
                }
            }
            // SEC1 and errors: the secp256k1 reader names what is wrong.
            _ => NodeKey::from_pem_bytes(pem, origin.clone())
                .map(Self::Secp256k1)
                .map_err(|error| match error {
                    IdentityError::KeyNotSecp256k1 { found, .. } => {
                        IdentityError::UnsupportedKey { origin, found }
                    }
                    other => other,
                }),
        }
    }

    /// The node ID: the public key.
    pub fn node_id(&self) -> NodeId {
        match self {
            Self::Secp256k1(key) => key.node_id(),
            Self::Rsa(key) => key.node_id().clone(),
        }
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Secp256k1(_) => KeyKind::Secp256k1,
            Self::Rsa(_) => KeyKind::Rsa,
        }
    }

    /// The same key as a libp2p keypair; its `PeerId` equals `node_id().to_peer_id()`.
    pub fn to_keypair(&self) -> libp2p::identity::Keypair {
        match self {
            Self::Secp256k1(key) => key.to_keypair(),
            Self::Rsa(key) => key.keypair.clone(),
        }
    }
}

impl From<NodeKey> for PrivateKey {
    fn from(key: NodeKey) -> Self {
        Self::Secp256k1(key)
    }
}

impl From<RsaKey> for PrivateKey {
    fn from(key: RsaKey) -> Self {
        Self::Rsa(Box::new(key))
    }
}

/// An RSA private key of 2048 to 4096 bits: a FISCO 3.x node's `conf/ssl.key`. `Debug` never
/// shows the secret, and its bytes are erased when the key is dropped.
#[derive(Clone)]
pub struct RsaKey {
    der: Zeroizing<Vec<u8>>,
    pkcs8: bool,
    keypair: libp2p::identity::Keypair,
    node_id: NodeId,
}

impl RsaKey {
    fn from_der(
        der: Zeroizing<Vec<u8>>,
        pkcs8: bool,
        origin: Origin,
    ) -> Result<Self, IdentityError> {
        let bad = |reason: String| IdentityError::BadKey {
            origin: origin.clone(),
            reason,
        };
        // libp2p (ring) erases the buffer it decodes from: give it a copy.
        let mut copy = Zeroizing::new(der.to_vec());
        let keypair = if pkcs8 {
            libp2p::identity::Keypair::rsa_from_pkcs8(&mut copy)
        } else {
            libp2p::identity::rsa::Keypair::try_decode_pkcs1(&mut copy).map(Into::into)
        }
        .map_err(|e| {
            bad(format!(
                "an RSA key ring cannot use ({e}); node keys are RSA of 2048 to 4096 bits"
            ))
        })?;
        let node_id =
            NodeId::from_libp2p_public_key(&keypair.public()).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            der,
            pkcs8,
            keypair,
            node_id,
        })
    }

    /// Reads an RSA key from PEM (PKCS#8 or PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        match PrivateKey::from_pem(pem)? {
            PrivateKey::Rsa(key) => Ok(*key),
            PrivateKey::Secp256k1(_) => Err(IdentityError::UnsupportedKey {
                origin: Origin::Memory("RSA key PEM"),
                found: "EC secp256k1".into(),
            }),
        }
    }

    /// The node ID: the public key (FISCO 3.x's P2P ID).
    pub fn node_id(&self) -> &NodeId {
        &self.node_id
    }

    /// The key as rustls takes it, for signing TLS handshakes.
    pub fn to_der(&self) -> PrivateKeyDer<'static> {
        if self.pkcs8 {
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.der.to_vec()))
        } else {
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(self.der.to_vec()))
        }
    }
}

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaKey")
            .field("node_id", &self.node_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The algorithm OID and, for EC keys, the curve OID of a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_algorithm(der: &[u8]) -> Result<(String, Option<String>), String> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|e| e.to_string())?;
    let curve = info
        .algorithm
        .parameters_oid()
        .ok()
        .map(|oid| oid.to_string());
    Ok((info.algorithm.oid.to_string(), curve))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const RSA_PKCS8: &str = include_str!("../../../certs/fisco-3.x/node0/conf/ssl.key");

    #[test]
    fn an_rsa_key_is_read_and_named_by_its_public_key() {
        let key = PrivateKey::from_pem(RSA_PKCS8).unwrap();
        assert_eq!(key.kind(), KeyKind::Rsa);
        let id = key.node_id();
        assert_eq!(id.to_string().len(), 540);
        assert_eq!(key.to_keypair().public().to_peer_id(), id.to_peer_id());
        let debug = format!("{key:?}");
        assert!(
            debug.contains("redacted") && !debug.contains("MII"),
            "{debug}"
        );
    }

    #[test]
    fn a_secp256k1_key_is_read_as_before() {
        let node = NodeKey::generate();
        let key = PrivateKey::from_pem(&node.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(key.node_id(), node.node_id());
        assert_eq!(key.kind(), KeyKind::Secp256k1);
    }
}
