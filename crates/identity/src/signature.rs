//! ECDSA over secp256k1 with SHA-256 as a webpki signature algorithm, and the algorithms a FISCO
//! certificate chain may be signed with. The TLS verifier checks peers' chains with them; loading
//! a [`NodeIdentity`](super::NodeIdentity) checks the node's own chain with the same ones.

use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm,
};
use secp256k1::{ecdsa, Message, PublicKey};
use sha2::{Digest, Sha256};

/// Signature algorithms accepted in certificate chains.
///
/// secp256k1 for FISCO >= 2.5 chains; RSA PKCS#1 for the RSA-2048 chain and agency keys of FISCO
/// 2.0-2.4; the common NIST curves and RSA-PSS so a third-party CA does not fail for want of an
/// algorithm (the leaf key itself must still be secp256k1).
pub static CHAIN_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    &Secp256k1Sha256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
];

/// ECDSA over secp256k1 with SHA-256, verified by libsecp256k1.
#[derive(Debug)]
pub struct Secp256k1Sha256;

impl SignatureVerificationAlgorithm for Secp256k1Sha256 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = PublicKey::from_slice(public_key).map_err(|_| InvalidSignature)?;
        let mut signature = ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        // libsecp256k1 accepts only low-S signatures; OpenSSL emits high S half of the time and
        // ECDSA itself accepts both, so fold S into the lower half before checking.
        signature.normalize_s();
        ecdsa::verify(&signature, digest(message), &key).map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P256K1
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA256
    }
}

/// SHA-256 of `message` as a secp256k1 message digest.
pub fn digest(message: &[u8]) -> Message {
    Message::from_digest(Sha256::digest(message).into())
}
