//! The rustls verifiers of one connection, for both TLS roles.
//!
//! Mutual authentication is mandatory and symmetric: the dialer checks the listener exactly as the
//! listener checks the dialer, with the chain check of [`Trust`], then the handshake signature
//! (`CertificateVerify`) with the certificate's key: ECDSA under our private-use secp256k1
//! scheme for a FISCO 2.x node, RSA-PSS (the RSA scheme of TLS 1.3) for a FISCO 3.x node.
//!
//! A verifier serves one connection and writes what it found into a [`Verdict`], which the
//! upgrade reads to name the peer and the reason of a refusal: rustls itself only passes an
//! error code on, which is what it sends to the peer as an alert.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    DigitallySignedStruct, DistinguishedName, SignatureScheme,
};
use webpki::EndEntityCert;

use super::{
    chain::{Refusal, Trust},
    provider::{Secp256k1Sha256, SECP256K1_SHA256},
    RefusalReason,
};
use fisco_p2p_identity::NodeId;

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

    /// Checks the peer's handshake signature with its certificate's key (secp256k1 or RSA).
    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let peer = self.verdict.findings().peer.map(Box::new);
        let algorithm: &dyn SignatureVerificationAlgorithm = match dss.scheme {
            SECP256K1_SHA256 => &Secp256k1Sha256,
            SignatureScheme::RSA_PSS_SHA256 => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            SignatureScheme::RSA_PSS_SHA384 => webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            SignatureScheme::RSA_PSS_SHA512 => webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
            other => {
                // Unreachable in practice: the chain check already refused other key types.
                return Err(self.refuse(Refusal {
                    reason: RefusalReason::LeafKeyUnsupported,
                    peer: peer.clone(),
                    detail: format!("handshake signed with {other:?}"),
                }));
            }
        };
        // webpki also checks that the scheme fits the certificate's key type.
        EndEntityCert::try_from(cert)
            .and_then(|cert| cert.verify_signature(algorithm, message, dss.signature()))
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

/// The schemes we let a peer sign its handshake with: secp256k1 (FISCO 2.x nodes) and RSA-PSS
/// (FISCO 3.x nodes); the rest only so that a peer with a wrong key type gets far enough to be
/// refused with a precise reason, instead of "no signature schemes in common".
fn verify_schemes() -> Vec<SignatureScheme> {
    vec![
        SECP256K1_SHA256,
        SignatureScheme::RSA_PSS_SHA256,
        SignatureScheme::RSA_PSS_SHA384,
        SignatureScheme::RSA_PSS_SHA512,
        SignatureScheme::ECDSA_NISTP256_SHA256,
        SignatureScheme::ECDSA_NISTP384_SHA384,
        SignatureScheme::ED25519,
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
