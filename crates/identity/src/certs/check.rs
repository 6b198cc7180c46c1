//! Checking that a certificate was issued by a given CA before bundling them together.

use std::path::Path;

use k256::ecdsa::signature::Verifier;
use rustls::pki_types::CertificateDer;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

use super::CertsError;
use crate::{inspect_certificate, LeafKey, Origin};

/// `ecdsa-with-SHA256`.
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// Checks that `cert` (read from `cert_path`) was issued by `ca`: by signature when the CA key is
/// secp256k1, else by issuer name (an RSA CA of FISCO 2.0-2.4: its signatures are left to the TLS
/// verifier). Two chains may well share the CA name `chain0`, hence the signature check.
pub(crate) fn check_issued_by(
    cert: &CertificateDer<'_>,
    ca: &CertificateDer<'_>,
    cert_path: &Path,
) -> Result<(), CertsError> {
    let parse = |der: &CertificateDer<'_>| {
        Certificate::from_der(der).map_err(|e| CertsError::Build(e.to_string()))
    };
    let (parsed, ca_parsed) = (parse(cert)?, parse(ca)?);
    let (info, ca_info) = (inspect_certificate(cert)?, inspect_certificate(ca)?);
    let not_from_ca = |reason: String| CertsError::AgencyNotFromCa {
        agency: Origin::File(cert_path.to_owned()),
        reason,
    };
    if parsed.tbs_certificate().issuer() != ca_parsed.tbs_certificate().subject() {
        return Err(not_from_ca(format!(
            "its issuer is \"{}\" but the CA is \"{}\"",
            info.issuer, ca_info.subject
        )));
    }
    let LeafKey::Secp256k1(ca_id) = ca_info.key else {
        return Ok(());
    };
    let Some(ca_key) = ca_id.secp256k1_key() else {
        return Ok(());
    };
    if !signed_by(&parsed, &ca_key) {
        return Err(not_from_ca(format!(
            "it names \"{}\" as issuer but was not signed by this CA's key (another CA of the same name?)",
            info.issuer
        )));
    }
    Ok(())
}

/// Whether `cert` carries a valid ecdsa-with-SHA256 signature by `key`.
fn signed_by(cert: &Certificate, key: &secp256k1::PublicKey) -> bool {
    if cert.signature_algorithm().oid.to_string() != ECDSA_WITH_SHA256 {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig_der) = cert.signature().as_bytes() else {
        return false;
    };
    let Ok(signature) = k256::ecdsa::Signature::from_der(sig_der) else {
        return false;
    };
    let Ok(verifying_key) =
        k256::ecdsa::VerifyingKey::from_sec1_bytes(&key.serialize_uncompressed())
    else {
        return false;
    };
    // OpenSSL does not normalise S; k256 only accepts low-S signatures.
    verifying_key.verify(&tbs, &signature.normalize_s()).is_ok()
}
