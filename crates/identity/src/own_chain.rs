//! The start-up check that the node's own certificate chains to one of the CAs it trusts.
//!
//! Peers of the same chain trust the same `ca.crt`, so a node whose `ca.crt` does not vouch for
//! its own `node.crt` (a file copied from another chain, a CA renewed without reissuing the node
//! certificate) would start, listen and dial, and then be refused by every peer as `unknown_ca`.
//! Loading the identity refuses it instead, naming both files.
//!
//! The check builds the same path a peer builds (webpki, the same signature algorithms). It is
//! about who signed what, not about dates or flags: a certificate that is expired, not yet valid,
//! or marked as a CA still loads with a warning (peers refuse it with a reason both sides log,
//! and the operator may be replacing it), so the path is checked at a moment when the node
//! certificate is valid.

use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use super::signature::CHAIN_ALGORITHMS;
use super::CertificateInfo;

/// Why the chain does not lead to a trusted CA, in words; `None` when it does.
///
/// `leaf` is the node certificate and `info` what [`inspect`](super::certificate::inspect) read
/// from it; `intermediates` the rest of `node.crt`; `cas` the certificates of `ca.crt`.
pub(crate) fn untrusted_reason(
    leaf: &CertificateDer<'_>,
    info: &CertificateInfo,
    intermediates: &[CertificateDer<'_>],
    cas: &[CertificateDer<'_>],
) -> Option<String> {
    let anchors: Vec<TrustAnchor<'_>> = match cas
        .iter()
        .map(webpki::anchor_from_trusted_cert)
        .collect::<Result<_, _>>()
    {
        Ok(anchors) => anchors,
        Err(error) => return Some(format!("a CA certificate is not usable: {error}")),
    };
    let cert = match EndEntityCert::try_from(leaf) {
        Ok(cert) => cert,
        Err(error) => return Some(format!("the node certificate is not usable: {error}")),
    };
    let verify = |at: UnixTime| {
        cert.verify_for_usage(
            CHAIN_ALGORITHMS,
            &anchors,
            intermediates,
            at,
            AnyUsage,
            None,
            None,
        )
        .map(|_| ())
    };
    let now = UnixTime::now();
    let outcome = match verify(now) {
        // Dates are not this check's business: look again inside the node certificate's window.
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }) => {
            verify(inside_validity(info))
        }
        other => other,
    };
    match outcome {
        Ok(()) => None,
        // Peers refuse these with their own reasons; the loader already warns about them.
        Err(
            webpki::Error::CaUsedAsEndEntity
            | webpki::Error::CertExpired { .. }
            | webpki::Error::CertNotValidYet { .. },
        ) => None,
        Err(webpki::Error::UnknownIssuer) => Some(
            "no certificate of the CA file issued it, directly or through the agency \
             certificates that follow it in node.crt"
                .to_owned(),
        ),
        Err(webpki::Error::InvalidSignatureForPublicKey) => Some(
            "a CA of that name is trusted, but its key did not sign this chain (a CA of \
             another chain with the same name?)"
                .to_owned(),
        ),
        Err(other) => Some(format!("the chain does not verify: {other}")),
    }
}

/// A moment when the node certificate is valid: one second after its start (its start itself
/// when that is the last second it is valid).
fn inside_validity(info: &CertificateInfo) -> UnixTime {
    let start = info.not_before.max(0);
    let moment = if start < info.not_after {
        start + 1
    } else {
        start
    };
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(moment).unwrap_or(0),
    ))
}

/// Any extended key usage: the TLS verifier judges usage on every handshake, with a reason
/// both sides log; this check is only about the issuer.
struct AnyUsage;

impl ExtendedKeyUsageValidator for AnyUsage {
    fn validate(&self, _: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}
