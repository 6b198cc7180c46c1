//! Checking a peer's certificate chain and handshake signature, for both TLS roles.
//!
//! Mutual authentication is mandatory and symmetric: the dialer checks the listener exactly as the
//! listener checks the dialer. The checks, in order:
//! 1. the node certificate's key is secp256k1 (it names the node ID);
//! 2. webpki builds a path to a CA of `ca.crt` and checks validity, CA flags and signatures;
//! 3. the node ID passes the access lists (blacklist, whitelist);
//! 4. the handshake signature (`CertificateVerify`) verifies with the certificate's key.
//!
//! A verifier serves one connection and writes what it found into a [`Verdict`], which the
//! upgrade reads to name the peer and the reason of a refusal: rustls itself only passes an
//! error code on, which is what it sends to the peer as an alert.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    DigitallySignedStruct, DistinguishedName, SignatureScheme,
};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};

use super::{
    provider::{Secp256k1Sha256, CHAIN_ALGORITHMS, SECP256K1_SHA256},
    AccessList, RefusalReason, TlsError,
};
use crate::identity::{inspect_certificate, LeafKey, NodeId};

/// What every connection trusts: the CAs of `ca.crt` (parsed once) and the access lists.
#[derive(Debug)]
pub(crate) struct Trust {
    anchors: Vec<TrustAnchor<'static>>,
    access: AccessList,
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
        Ok(Self { anchors, access })
    }

    pub(crate) fn access(&self) -> &AccessList {
        &self.access
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
            LeafKey::Secp256k1(node) => node,
            LeafKey::Other(kind) => {
                let detail = format!("node certificate {} has a {kind} key", info.subject);
                return Err(refuse(RefusalReason::LeafKeyNotSecp256k1, None, detail));
            }
        };
        let cert = EndEntityCert::try_from(leaf)
            .map_err(|e| refuse(RefusalReason::BadCertificate, Some(node), format!("{e}")))?;
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
            refuse(reason, Some(node), chain_detail(&e, &info.subject))
        })?;
        self.access.check(&node).map_err(|reason| {
            refuse(
                reason,
                Some(node),
                format!("node ID {node} by the access lists"),
            )
        })?;
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

/// Where one connection's verifier leaves its findings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verdict(Arc<Mutex<Findings>>);

#[derive(Debug, Clone, Default)]
pub(crate) struct Findings {
    /// The node ID of a peer whose chain passed.
    pub(crate) peer: Option<NodeId>,
    /// Why we refused the peer, if we did.
    pub(crate) refusal: Option<Refusal>,
}

impl Verdict {
    pub(crate) fn findings(&self) -> Findings {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, update: impl FnOnce(&mut Findings)) {
        update(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// The rustls verifier of one connection, in either role.
#[derive(Debug)]
pub(crate) struct PeerVerifier {
    trust: Arc<Trust>,
    verdict: Verdict,
}

impl PeerVerifier {
    pub(crate) fn new(trust: Arc<Trust>, verdict: Verdict) -> Self {
        Self { trust, verdict }
    }

    fn verify_certificate(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        match self.trust.verify_chain(leaf, intermediates, now) {
            Ok(node) => {
                self.verdict.record(|f| f.peer = Some(node));
                Ok(())
            }
            Err(refusal) => Err(self.refuse(refusal)),
        }
    }

    /// Checks the peer's handshake signature with its certificate's secp256k1 key.
    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let peer = self.verdict.findings().peer.map(Box::new);
        if dss.scheme != SECP256K1_SHA256 {
            // Unreachable in practice: the chain check already refused non-secp256k1 keys.
            return Err(self.refuse(Refusal {
                reason: RefusalReason::LeafKeyNotSecp256k1,
                peer: peer.clone(),
                detail: format!("handshake signed with {:?}", dss.scheme),
            }));
        }
        EndEntityCert::try_from(cert)
            .and_then(|cert| cert.verify_signature(&Secp256k1Sha256, message, dss.signature()))
            .map(|()| HandshakeSignatureValid::assertion())
            .map_err(|e| {
                self.refuse(Refusal {
                    reason: RefusalReason::KeyMismatch,
                    peer: peer.clone(),
                    detail: format!("the handshake signature does not verify with the key of the certificate ({e}): node.key and node.crt do not match"),
                })
            })
    }

    fn refuse(&self, refusal: Refusal) -> rustls::Error {
        let error = refusal.reason.to_rustls_error();
        self.verdict.record(|f| f.refusal = Some(refusal));
        error
    }
}

/// The schemes we let a peer sign its handshake with: secp256k1 first; the rest only so that a
/// peer with a wrong key type gets far enough to be refused with a precise reason, instead of
/// "no signature schemes in common".
fn verify_schemes() -> Vec<SignatureScheme> {
    vec![
        SECP256K1_SHA256,
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::ED25519,
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PSS_SHA384,
        SignatureScheme::RSA_PSS_SHA512,
    ]
}

fn tls12_refused() -> rustls::Error {
    rustls::Error::General("TLS 1.2 is not supported".to_owned())
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_certificate(end_entity, intermediates, now)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        verify_schemes()
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify_certificate(end_entity, intermediates, now)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(tls12_refused())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        verify_schemes()
    }
}
