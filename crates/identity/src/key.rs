//! [`NodeKey`]: the node's secp256k1 private key, read from FISCO's `node.key`.

use std::fmt;
use std::path::Path;

use pkcs8::EncodePrivateKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use zeroize::Zeroizing;

use super::algorithm::{self, EC_PUBLIC_KEY, SECP256K1};
use super::error::{IdentityError, Origin};
use super::{read_file, NodeId};

/// Length in bytes of a secp256k1 private scalar.
const SECRET_LEN: usize = 32;

/// A node's secp256k1 private key: it names the node (its [`NodeId`]) and signs its TLS handshakes.
///
/// Reads the PEM `node.key` files FISCO's tooling writes: PKCS#8 (`BEGIN PRIVATE KEY`, FISCO >= 2.5)
/// and SEC1 (`BEGIN EC PRIVATE KEY`, possibly after a `BEGIN EC PARAMETERS` block as
/// `openssl ecparam -genkey` writes it). Keys on other curves are refused by name. `Debug` never shows
/// the secret, and the secret is erased when the key is dropped.
#[derive(Clone)]
pub struct NodeKey {
    secret: secp256k1::SecretKey,
    public: secp256k1::PublicKey,
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_secret_key(secp256k1::SecretKey::new(&mut secp256k1::rand::rng()))
    }

    /// Wraps an existing secp256k1 secret key.
    pub fn from_secret_key(secret: secp256k1::SecretKey) -> Self {
        let public = secp256k1::PublicKey::from_secret_key(&secret);
        Self { secret, public }
    }

    /// Reads a key from PEM text (PKCS#8 or SEC1).
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        Self::from_pem_bytes(pem.as_bytes(), Origin::Memory("node key PEM"))
    }

    /// Reads a key from a PEM file such as FISCO's `node.key`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(read_file(path)?);
        Self::from_pem_bytes(&bytes, Origin::File(path.to_owned()))
    }

    pub(crate) fn from_pem_bytes(pem: &[u8], origin: Origin) -> Result<Self, IdentityError> {
        let der = match PrivateKeyDer::from_pem_slice(pem) {
            Ok(der) => der,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                return Err(IdentityError::NoPem {
                    origin,
                    expected: "PRIVATE KEY or EC PRIVATE KEY (unencrypted)",
                })
            }
            Err(e) => {
                return Err(IdentityError::BadPem {
                    origin,
                    reason: super::pem_error_text(&e),
                })
            }
        };
        match der {
            PrivateKeyDer::Pkcs8(der) => decode_pkcs8(der.secret_pkcs8_der(), origin),
            PrivateKeyDer::Sec1(der) => decode_sec1(der.secret_sec1_der(), None, origin),
            PrivateKeyDer::Pkcs1(_) => Err(IdentityError::KeyNotSecp256k1 {
                origin,
                found: "RSA".to_owned(),
            }),
            _ => Err(IdentityError::NoPem {
                origin,
                expected: "PRIVATE KEY or EC PRIVATE KEY",
            }),
        }
    }

    /// The key as PKCS#8 PEM (`BEGIN PRIVATE KEY`), the form FISCO >= 2.5 writes to `node.key`.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, IdentityError> {
        let secret = self.to_k256();
        secret
            .to_pkcs8_pem(pkcs8::LineEnding::LF)
            .map_err(|e| IdentityError::Encode(e.to_string()))
    }

    /// The public key.
    pub fn public_key(&self) -> secp256k1::PublicKey {
        self.public
    }

    /// The node ID: the public key's 64 bytes X‖Y.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_public_key(&self.public)
    }

    /// The secret key, for signing (TLS handshakes).
    pub fn secret_key(&self) -> &secp256k1::SecretKey {
        &self.secret
    }

    /// The same key as a libp2p keypair; its `PeerId` equals `node_id().to_peer_id()`.
    pub fn to_keypair(&self) -> libp2p::identity::Keypair {
        let secret =
            libp2p::identity::secp256k1::SecretKey::try_from_bytes(self.secret.to_secret_bytes())
                // Infallible: the bytes are a scalar libsecp256k1 already accepted.
                .expect("a valid secp256k1 secret key is accepted by libp2p");
        libp2p::identity::secp256k1::Keypair::from(secret).into()
    }

    /// The same key as a RustCrypto `k256` signing key (certificate generation signs with it).
    pub fn to_k256(&self) -> k256::SecretKey {
        let bytes = Zeroizing::new(self.secret.to_secret_bytes());
        k256::SecretKey::from_slice(bytes.as_slice())
            // Infallible: both libraries accept exactly the scalars in [1, n).
            .expect("a valid secp256k1 secret key is accepted by k256")
    }
}

impl Drop for NodeKey {
    fn drop(&mut self) {
        self.secret.non_secure_erase();
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("node_id", &self.node_id())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Decodes a PKCS#8 `PrivateKeyInfo`, refusing anything but an EC key on secp256k1.
fn decode_pkcs8(der: &[u8], origin: Origin) -> Result<NodeKey, IdentityError> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|e| bad_key(&origin, e))?;
    let algorithm_oid = info.algorithm.oid.to_string();
    let curve = info
        .algorithm
        .parameters_oid()
        .ok()
        .map(|oid| oid.to_string());
    if algorithm_oid != EC_PUBLIC_KEY || curve.as_deref() != Some(SECP256K1) {
        return Err(IdentityError::KeyNotSecp256k1 {
            origin,
            found: algorithm::describe_key(&algorithm_oid, curve.as_deref()),
        });
    }
    decode_sec1(info.private_key.as_bytes(), Some(SECP256K1), origin)
}

/// Decodes a SEC1 `ECPrivateKey`. `outer_curve` is the curve named by an enclosing PKCS#8 structure.
fn decode_sec1(
    der: &[u8],
    outer_curve: Option<&str>,
    origin: Origin,
) -> Result<NodeKey, IdentityError> {
    let key = sec1::EcPrivateKey::try_from(der).map_err(|e| bad_key(&origin, e))?;
    let curve = key
        .parameters
        .and_then(|p| p.named_curve())
        .map(|oid| oid.to_string());
    match (curve.as_deref(), outer_curve) {
        (Some(SECP256K1), _) | (None, Some(SECP256K1)) => {}
        (Some(other), _) => {
            return Err(IdentityError::KeyNotSecp256k1 {
                origin,
                found: format!("EC {}", algorithm::curve_name(other)),
            })
        }
        // No curve named anywhere: accept, but the embedded public key (if any) must agree below.
        (None, _) => {}
    }
    if key.private_key.len() > SECRET_LEN {
        return Err(bad_key(&origin, "private scalar longer than 32 bytes"));
    }
    // SEC1 scalars are fixed-length, but tolerate a writer that dropped leading zero bytes.
    let mut scalar = Zeroizing::new([0u8; SECRET_LEN]);
    scalar[SECRET_LEN - key.private_key.len()..].copy_from_slice(key.private_key);
    let secret = secp256k1::SecretKey::from_secret_bytes(*scalar)
        .map_err(|_| bad_key(&origin, "the private scalar is out of range for secp256k1"))?;
    let node_key = NodeKey::from_secret_key(secret);
    if let Some(embedded) = key.public_key {
        if embedded != node_key.public.serialize_uncompressed().as_slice()
            && embedded != node_key.public.serialize().as_slice()
        {
            return Err(bad_key(
                &origin,
                "the public key stored in the file does not belong to its private key",
            ));
        }
    }
    Ok(node_key)
}

fn bad_key(origin: &Origin, reason: impl fmt::Display) -> IdentityError {
    IdentityError::BadKey {
        origin: origin.clone(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_pem_round_trips() {
        let key = NodeKey::generate();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = NodeKey::from_pem(&pem).unwrap();
        assert_eq!(again.node_id(), key.node_id());
    }

    #[test]
    fn keypair_peer_id_matches_node_id() {
        let key = NodeKey::generate();
        assert_eq!(
            key.to_keypair().public().to_peer_id(),
            key.node_id().to_peer_id()
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let key = NodeKey::generate();
        let hex_secret = hex::encode(key.secret_key().to_secret_bytes());
        let debug = format!("{key:?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains(&hex_secret));
    }

    #[test]
    fn garbage_and_empty_input_are_refused_as_no_pem() {
        for text in [
            "",
            "hello world",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let err = NodeKey::from_pem(text).unwrap_err();
            assert!(
                matches!(err, IdentityError::NoPem { .. }),
                "{text:?}: {err}"
            );
        }
    }
}
