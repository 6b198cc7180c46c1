//! The cryptography rustls runs on: ring's TLS 1.3 suites plus ECDSA on secp256k1.
//!
//! Neither ring nor webpki knows secp256k1, the curve of every FISCO 2.x node key (FISCO 3.x RSA
//! node keys need nothing extra: ring signs and checks RSA-PSS). This file adds secp256k1
//! in the two places rustls needs it:
//! - [`NodeSigningKey`] signs the TLS `CertificateVerify` message with the node key, under a
//!   private-use signature scheme ([`SECP256K1_SHA256`]) that only our peers offer;
//! - [`Secp256k1Sha256`] verifies ECDSA/secp256k1/SHA-256 signatures, both in certificate chains
//!   (webpki calls it) and in the peer's `CertificateVerify` (our verifier calls it).

use std::sync::Arc;

use rustls::{
    crypto::{
        ring::{self as ring_provider, cipher_suite},
        CryptoProvider, WebPkiSupportedAlgorithms,
    },
    sign::{Signer, SigningKey},
    SignatureAlgorithm, SignatureScheme,
};
use secp256k1::{ecdsa, SecretKey};

// The signature algorithm lives with the identity, which checks its own chain at load time.
pub(crate) use fisco_p2p_identity::signature::{digest, Secp256k1Sha256, CHAIN_ALGORITHMS};

/// TLS signature scheme for ECDSA on secp256k1 with SHA-256, from the private-use range.
///
/// The low byte must not be 0x00-0x02: rustls treats those as the TLS 1.2 anonymous, RSA-PKCS1
/// and DSA algorithms and silently drops them from TLS 1.3 offers. 0x03 is "ECDSA".
pub(crate) const SECP256K1_SHA256: SignatureScheme = SignatureScheme::Unknown(0xFE03);

/// What the provider advertises for handshake signatures: secp256k1 (FISCO 2.x node keys) and
/// RSA-PSS (FISCO 3.x node keys; TLS 1.3 signs RSA handshakes with PSS only).
static HANDSHAKE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        &Secp256k1Sha256,
        webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    ],
    mapping: &[
        (SECP256K1_SHA256, &[&Secp256k1Sha256]),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
    ],
};

/// ring's provider cut down to TLS 1.3 cipher suites, with secp256k1 handshake signatures.
pub(crate) fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        ],
        signature_verification_algorithms: HANDSHAKE_ALGORITHMS,
        ..ring_provider::default_provider()
    })
}

/// The node's secp256k1 key as a rustls signing key.
pub(crate) struct NodeSigningKey {
    key: Arc<SecretKey>,
}

impl NodeSigningKey {
    /// Wraps the node key.
    pub(crate) fn new(key: SecretKey) -> Self {
        Self { key: Arc::new(key) }
    }
}

impl std::fmt::Debug for NodeSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, not even in debug logs.
        f.write_str("NodeSigningKey(secp256k1)")
    }
}

impl SigningKey for NodeSigningKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&SECP256K1_SHA256).then(|| {
            Box::new(NodeSigner {
                key: Arc::clone(&self.key),
            }) as Box<dyn Signer>
        })
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

/// Signs one handshake with the node key.
struct NodeSigner {
    key: Arc<SecretKey>,
}

impl std::fmt::Debug for NodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeSigner(secp256k1)")
    }
}

impl Signer for NodeSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        Ok(ecdsa::sign(digest(message), &self.key)
            .serialize_der()
            .to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SECP256K1_SHA256
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::SignatureVerificationAlgorithm as _;
    use secp256k1::PublicKey;

    use super::*;

    fn signing_key() -> (SecretKey, PublicKey) {
        let secret = SecretKey::from_secret_bytes([7; 32]).expect("valid scalar");
        (secret, PublicKey::from_secret_key(&secret))
    }

    fn sign(secret: SecretKey, message: &[u8]) -> Vec<u8> {
        let key = NodeSigningKey::new(secret);
        let signer = key
            .choose_scheme(&[SignatureScheme::ED25519, SECP256K1_SHA256])
            .expect("secp256k1 is offered");
        signer.sign(message).expect("signing cannot fail")
    }

    #[test]
    fn a_signature_made_by_the_node_key_verifies() {
        let (secret, public) = signing_key();
        let signature = sign(secret, b"handshake transcript");
        let verified = Secp256k1Sha256.verify_signature(
            &public.serialize_uncompressed(),
            b"handshake transcript",
            &signature,
        );
        assert!(verified.is_ok());
    }

    #[test]
    fn a_signature_over_another_message_is_rejected() {
        let (secret, public) = signing_key();
        let signature = sign(secret, b"one message");
        let verified = Secp256k1Sha256.verify_signature(
            &public.serialize_uncompressed(),
            b"another message",
            &signature,
        );
        assert!(verified.is_err());
    }

    #[test]
    fn a_high_s_signature_is_accepted_like_openssl_makes_them() {
        let (secret, public) = signing_key();
        let message = b"made by openssl";
        let low = ecdsa::sign(digest(message), &secret);
        // Negate S: (r, n - s) is the same signature in its high-S form.
        let mut compact = low.serialize_compact();
        let high_s = negate_scalar(&compact[32..]);
        compact[32..].copy_from_slice(&high_s);
        let high = der_signature(&compact[..32], &compact[32..]);
        assert!(
            ecdsa::verify(
                &ecdsa::Signature::from_der(&high).expect("valid DER"),
                digest(message),
                &public
            )
            .is_err(),
            "libsecp256k1 alone must refuse high S, or this test proves nothing"
        );
        let verified =
            Secp256k1Sha256.verify_signature(&public.serialize_uncompressed(), message, &high);
        assert!(verified.is_ok());
    }

    #[test]
    fn no_signer_is_chosen_when_the_peer_does_not_offer_secp256k1() {
        let (secret, _) = signing_key();
        let key = NodeSigningKey::new(secret);
        assert!(key
            .choose_scheme(&[SignatureScheme::ECDSA_NISTP256_SHA256])
            .is_none());
    }

    #[test]
    fn the_provider_offers_only_tls13_suites() {
        let provider = crypto_provider();
        assert!(!provider.cipher_suites.is_empty());
        assert!(provider
            .cipher_suites
            .iter()
            .all(|suite| suite.version() == &rustls::version::TLS13));
    }

    /// The secp256k1 group order n, big-endian.
    const ORDER: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36,
        0x41, 0x41,
    ];

    /// n - s for a 32-byte big-endian s < n.
    fn negate_scalar(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut digit = i16::from(ORDER[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(digit < 0);
            if digit < 0 {
                digit += 256;
            }
            out[i] = u8::try_from(digit).expect("a byte");
        }
        out
    }

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` from 32-byte big-endian r and s.
    fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
        fn integer(bytes: &[u8]) -> Vec<u8> {
            let start = bytes
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(bytes.len() - 1);
            let mut value = bytes[start..].to_vec();
            if value[0] & 0x80 != 0 {
                value.insert(0, 0);
            }
            let mut out = vec![0x02, u8::try_from(value.len()).expect("short")];
            out.extend(value);
            out
        }
        let body: Vec<u8> = [integer(r), integer(s)].concat();
        let mut out = vec![0x30, u8::try_from(body.len()).expect("short")];
        out.extend(body);
        out
    }
}
