//! Reading X.509 certificates: PEM bundles, and the facts about a certificate that matter to a node.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

use super::algorithm::{self, EC_PUBLIC_KEY, SECP256K1};
use super::error::{IdentityError, Origin};
use super::rsa_der::RSA_ENCRYPTION;
use super::{NodeId, NodeIdError};

/// The public key a certificate carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafKey {
    /// A secp256k1 key (FISCO 2.x): the node ID of its owner.
    Secp256k1(NodeId),
    /// An RSA key of 2048 to 4096 bits (FISCO 3.x): the node ID of its owner.
    Rsa(NodeId),
    /// Any other key; the text names it as OpenSSL does, e.g. "EC prime256v1", or "RSA-1024"
    /// for an RSA key of a size no node may have.
    Other(String),
}

impl LeafKey {
    /// The node ID, if the key can name a node (secp256k1 or RSA).
    pub fn node_id(&self) -> Option<NodeId> {
        match self {
            LeafKey::Secp256k1(id) | LeafKey::Rsa(id) => Some(id.clone()),
            LeafKey::Other(_) => None,
        }
    }
}

/// What a node needs to know about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// The subject, OpenSSL style: `CN=node0, O=fisco-bcos, OU=node`.
    pub subject: String,
    /// The issuer, in the same style.
    pub issuer: String,
    /// Whether basicConstraints says `CA:TRUE`.
    pub is_ca: bool,
    /// The subject's public key.
    pub key: LeafKey,
    /// Start of validity, in seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, in seconds since the Unix epoch.
    pub not_after: i64,
}

impl CertificateInfo {
    /// Whether `unix_seconds` lies within the validity window (both ends included).
    pub fn is_valid_at(&self, unix_seconds: i64) -> bool {
        self.not_before <= unix_seconds && unix_seconds <= self.not_after
    }
}

/// Reads the facts a node needs from a DER certificate: subject, CA flag, key (and node ID), validity.
///
/// This does not verify anything; the TLS verifier checks the chain and uses this to name the reason of
/// a refusal and to take the peer's node ID.
pub fn inspect_certificate(der: &[u8]) -> Result<CertificateInfo, IdentityError> {
    inspect(der, &Origin::Memory("DER certificate"), 1)
}

/// [`inspect_certificate`], with the input named in errors.
pub(crate) fn inspect(
    der: &[u8],
    origin: &Origin,
    index: usize,
) -> Result<CertificateInfo, IdentityError> {
    let bad = |reason: String| IdentityError::BadCertificate {
        origin: origin.clone(),
        index,
        reason,
    };
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    let validity = cert.validity();
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        is_ca: cert.is_ca(),
        key: leaf_key(&cert).map_err(bad)?,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

fn leaf_key(cert: &X509Certificate<'_>) -> Result<LeafKey, String> {
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    if algorithm == RSA_ENCRYPTION {
        return match NodeId::from_rsa_spki(spki.raw) {
            Ok(id) => Ok(LeafKey::Rsa(id)),
            Err(NodeIdError::RsaKeySize(bits)) => Ok(LeafKey::Other(format!("RSA-{bits}"))),
            Err(error) => Err(format!("the RSA public key does not decode: {error}")),
        };
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    if algorithm != EC_PUBLIC_KEY || curve.as_deref() != Some(SECP256K1) {
        return Ok(LeafKey::Other(algorithm::describe_key(
            &algorithm,
            curve.as_deref(),
        )));
    }
    let point = match spki.parsed() {
        Ok(PublicKey::EC(point)) => point,
        _ => return Err("the secp256k1 public key does not decode".to_owned()),
    };
    let key = secp256k1::PublicKey::from_slice(point.data())
        .map_err(|_| "the secp256k1 public key is not a point on the curve".to_owned())?;
    Ok(LeafKey::Secp256k1(NodeId::from_public_key(&key)))
}

/// Reads every `CERTIFICATE` block of a PEM file, in order, checking each parses as X.509.
pub(crate) fn parse_pem_certificates(
    pem: &[u8],
    origin: &Origin,
) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
    let mut certs = Vec::new();
    for (index, item) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let der = item.map_err(|e| IdentityError::BadPem {
            origin: origin.clone(),
            reason: super::pem_error_text(&e),
        })?;
        inspect(&der, origin, index + 1)?;
        certs.push(der);
    }
    if certs.is_empty() {
        return Err(IdentityError::NoPem {
            origin: origin.clone(),
            expected: "CERTIFICATE",
        });
    }
    Ok(certs)
}
