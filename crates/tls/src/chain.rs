//! The certificate chain check: is this a node of our chain, and which node?
//!
//! The checks, in order:
//! 1. the node certificate's key is secp256k1 or RSA of 2048 to 4096 bits (it names the node ID);
//! 2. webpki builds a path to a CA of `ca.crt` and checks validity, CA flags and signatures;
//! 3. the node ID passes the access lists (blacklist, whitelist).
//!
//! Each failure becomes a [`Refusal`] naming its [`RefusalReason`] and what exactly was wrong.

use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use super::{provider::CHAIN_ALGORITHMS, AccessList, RefusalReason, TlsError};
use fisco_p2p_identity::{inspect_certificate, Directory, LeafKey, NodeId};

/// What every connection trusts: the CAs of `ca.crt` (parsed once) and the access lists; and
/// where verified peers are filed.
#[derive(Debug)]
pub(crate) struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    access: AccessList,
    directory: Directory,
}

/// A refusal, with what the checks found.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) reason: RefusalReason,
    pub(crate) peer: Option<Box<NodeId>>,
    pub(crate) detail: String,
}

impl Trust {
    /// Parses the trusted CA certificates into webpki trust anchors.
    pub(crate) fn new(cas: &[CertificateDer<'_>], access: AccessList) -> Result<Self, TlsError> {
        if cas.is_empty() {
            return Err(TlsError::NoTrustedCa);
        }
        let anchors = cas
            .iter()
            .enumerate()
            .map(|(i, ca)| {
                webpki::anchor_from_trusted_cert(ca)
                    .map(|anchor| anchor.to_owned())
                    .map_err(|e| TlsError::BadTrustedCa {
                        index: i + 1,
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            anchors,
            access,
            directory: Directory::new(),
        })
    }

    /// The same trust, filing verified peers in `directory`.
    pub(crate) fn clone_with_directory(&self, directory: Directory) -> Self {
        Self {
            anchors: self.anchors.clone(),
            access: self.access.clone(),
            directory,
        }
    }

    pub(crate) fn access(&self) -> &AccessList {
        &self.access
    }

    pub(crate) fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Checks a presented chain (node certificate first) at time `now`; returns the node ID.
    pub(crate) fn verify_chain(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<NodeId, Refusal> {
        let refuse = |reason, peer: Option<NodeId>, detail: String| Refusal {
            reason,
            peer: peer.map(Box::new),
            detail,
        };
        let info = inspect_certificate(leaf)
            .map_err(|e| refuse(RefusalReason::BadCertificate, None, e.to_string()))?;
        let node = match info.key {
            LeafKey::Secp256k1(node) | LeafKey::Rsa(node) => node,
            LeafKey::Other(kind) => {
                let detail = format!("node certificate {} has a {kind} key", info.subject);
                return Err(refuse(RefusalReason::LeafKeyUnsupported, None, detail));
            }
        };
        let cert = EndEntityCert::try_from(leaf).map_err(|e| {
            refuse(
                RefusalReason::BadCertificate,
                Some(node.clone()),
                format!("{e}"),
            )
        })?;
        cert.verify_for_usage(
            CHAIN_ALGORITHMS,
            &self.anchors,
            intermediates,
            now,
            TlsAuthentication,
            None,
            None,
        )
        .map_err(|e| {
            let reason = self.chain_reason(&e, leaf, intermediates);
            refuse(reason, Some(node.clone()), chain_detail(&e, &info.subject))
        })?;
        self.access.check(&node).map_err(|reason| {
            let detail = format!("node ID {node} by the access lists");
            refuse(reason, Some(node.clone()), detail)
        })?;
        self.directory.learn(&node);
        Ok(node)
    }

    /// Names a webpki failure.
    fn chain_reason(
        &self,
        err: &webpki::Error,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> RefusalReason {
        match err {
            webpki::Error::UnknownIssuer => RefusalReason::UnknownCa,
            webpki::Error::CertExpired { .. } => RefusalReason::Expired,
            webpki::Error::CertNotValidYet { .. } => RefusalReason::NotYetValid,
            webpki::Error::CaUsedAsEndEntity => RefusalReason::LeafIsCa,
            // FISCO's tools name every chain CA "chain0" or alike, so a node of another chain
            // has an issuer with a trusted name but a different key: the signature fails. If the
            // peer's bundle ends in a root we do not trust, that is an unknown CA, not tampering.
            webpki::Error::InvalidSignatureForPublicKey
                if self.ends_in_untrusted_root(leaf, intermediates) =>
            {
                RefusalReason::UnknownCa
            }
            webpki::Error::InvalidSignatureForPublicKey => RefusalReason::BadSignature,
            _ => RefusalReason::BadCertificate,
        }
    }

    /// Whether the last certificate the peer sent is a self-issued CA that is not ours.
    fn ends_in_untrusted_root(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> bool {
        let root = intermediates.last().unwrap_or(leaf);
        let self_issued = inspect_certificate(root).is_ok_and(|info| info.subject == info.issuer);
        let trusted = webpki::anchor_from_trusted_cert(root).is_ok_and(|anchor| {
            self.anchors
                .iter()
                .any(|ours| ours.subject_public_key_info == anchor.subject_public_key_info)
        });
        self_issued && !trusted
    }
}

/// What went wrong in the chain, with dates where they matter.
fn chain_detail(err: &webpki::Error, subject: &str) -> String {
    match err {
        webpki::Error::CertExpired { time, not_after } => format!(
            "a certificate of the chain of {subject} expired on {}, it is now {}",
            date(*not_after),
            date(*time)
        ),
        webpki::Error::CertNotValidYet { time, not_before } => format!(
            "a certificate of the chain of {subject} is valid from {}, it is now {}",
            date(*not_before),
            date(*time)
        ),
        other => format!("chain of {subject}: {other}"),
    }
}

fn date(time: UnixTime) -> String {
    i64::try_from(time.as_secs())
        .ok()
        .and_then(|secs| x509_parser::time::ASN1Time::from_timestamp(secs).ok())
        .map_or_else(
            || format!("{}s after 1970", time.as_secs()),
            |t| t.to_string(),
        )
}

/// The extended key usage a node certificate may carry.
///
/// FISCO certificates have no EKU extension, and webpki's stock `KeyUsage::client_auth()` /
/// `server_auth()` pass those. But a node is TLS client on connections it dials and TLS server on
/// those it accepts, with one certificate: a certificate listing only `serverAuth` would work in
/// one direction and fail in the other. So: no EKU, or an EKU naming either TLS role.
struct TlsAuthentication;

impl ExtendedKeyUsageValidator for TlsAuthentication {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        const SERVER_AUTH: &[usize] = webpki::KeyUsage::SERVER_AUTH_REPR;
        const CLIENT_AUTH: &[usize] = webpki::KeyUsage::CLIENT_AUTH_REPR;
        let mut any = false;
        for purpose in iter {
            any = true;
            let oid: Vec<usize> = purpose?.to_decoded_oid();
            if oid == SERVER_AUTH || oid == CLIENT_AUTH {
                return Ok(());
            }
        }
        if any {
            // The context variant that replaced this one cannot be built outside webpki.
            #[allow(deprecated)]
            Err(webpki::Error::RequiredEkuNotFound)
        } else {
            Ok(())
        }
    }
}
