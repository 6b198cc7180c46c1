//! Why a handshake failed, in words both sides can act on.
//!
//! A refusal is decided by our certificate verifier and travels to the peer as a TLS alert. Each
//! [`RefusalReason`] maps to its own alert where rustls allows it, so the refused side can name
//! the reason too ("refused by peer: blacklisted") instead of a bare handshake failure.

use std::{error::Error, io, time::Duration};

use libp2p::{
    core::upgrade::{NegotiationError, ProtocolError},
    swarm::DialError,
};
use rustls::{AlertDescription, CertificateError, OtherError};

use fisco_p2p_identity::NodeId;

/// Why a TLS handshake between two nodes was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalReason {
    /// The certificate chain does not lead to a CA of `ca.crt`: the peer belongs to another chain,
    /// or its `node.crt` bundle lacks the agency certificate.
    UnknownCa,
    /// A certificate of the chain has expired: renew it.
    Expired,
    /// A certificate of the chain is not valid yet: check both clocks, or wait.
    NotYetValid,
    /// A signature in the certificate chain does not verify against its issuer's key.
    BadSignature,
    /// The handshake was signed by a key that does not match the certificate: the node's
    /// `node.key` and `node.crt` do not belong together.
    KeyMismatch,
    /// The node certificate is a CA certificate (`CA:TRUE`); a node needs a `CA:FALSE` one.
    LeafIsCa,
    /// The node certificate's key is neither secp256k1 nor RSA of 2048 to 4096 bits, so it
    /// names no node ID.
    LeafKeyUnsupported,
    /// The peer's node ID is on the blacklist (FISCO `crl`).
    Blacklisted,
    /// The whitelist (FISCO `cal`) is not empty and lacks the peer's node ID.
    NotWhitelisted,
    /// The peer presented no certificate; nodes must always authenticate.
    NoCertificate,
    /// A certificate is malformed or unfit for a node: bad encoding, an unknown critical
    /// extension, an extended key usage other than TLS authentication, a broken path length.
    BadCertificate,
    /// The peer does not speak this protocol: not multistream-select with `/fisco-tls`, or not TLS.
    NotTls,
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::UnknownCa => "certificate not issued by a trusted CA",
            Self::Expired => "certificate expired",
            Self::NotYetValid => "certificate not valid yet",
            Self::BadSignature => "bad signature in the certificate chain",
            Self::KeyMismatch => "handshake key does not match the certificate",
            Self::LeafIsCa => "node certificate is a CA certificate",
            Self::LeafKeyUnsupported => "node certificate key is neither secp256k1 nor RSA",
            Self::Blacklisted => "blacklisted",
            Self::NotWhitelisted => "not whitelisted",
            Self::NoCertificate => "no certificate presented",
            Self::BadCertificate => "malformed or unfit certificate",
            Self::NotTls => "not speaking fisco-tls",
        })
    }
}

impl RefusalReason {
    /// Every reason, in declaration order (for label series declared up front).
    pub const ALL: [RefusalReason; 12] = [
        RefusalReason::UnknownCa,
        RefusalReason::Expired,
        RefusalReason::NotYetValid,
        RefusalReason::BadSignature,
        RefusalReason::KeyMismatch,
        RefusalReason::LeafIsCa,
        RefusalReason::LeafKeyUnsupported,
        RefusalReason::Blacklisted,
        RefusalReason::NotWhitelisted,
        RefusalReason::NoCertificate,
        RefusalReason::BadCertificate,
        RefusalReason::NotTls,
    ];

    /// The reason as one short, stable snake_case word (`unknown_ca`, `expired`,
    /// `blacklisted`...), for metric labels and machine-readable reports. Beside the enum, so a
    /// new reason cannot compile without its code.
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::UnknownCa => "unknown_ca",
            RefusalReason::Expired => "expired",
            RefusalReason::NotYetValid => "not_yet_valid",
            RefusalReason::BadSignature => "bad_signature",
            RefusalReason::KeyMismatch => "key_mismatch",
            RefusalReason::LeafIsCa => "leaf_is_ca",
            RefusalReason::LeafKeyUnsupported => "leaf_key_unsupported",
            RefusalReason::Blacklisted => "blacklisted",
            RefusalReason::NotWhitelisted => "not_whitelisted",
            RefusalReason::NoCertificate => "no_certificate",
            RefusalReason::BadCertificate => "bad_certificate",
            RefusalReason::NotTls => "not_tls",
        }
    }

    /// The rustls error our verifier returns for this reason; rustls turns it into the alert
    /// the peer receives. Distinct reasons get distinct alerts where rustls offers one.
    pub(crate) fn to_rustls_error(self) -> rustls::Error {
        let certificate_error = match self {
            Self::UnknownCa => CertificateError::UnknownIssuer, // unknown_ca
            Self::Expired => CertificateError::Expired,         // certificate_expired
            Self::NotYetValid => CertificateError::NotValidYet, // certificate_expired
            Self::BadSignature => CertificateError::BadEncoding, // bad_certificate
            Self::KeyMismatch => CertificateError::BadSignature, // decrypt_error
            Self::LeafKeyUnsupported => CertificateError::InvalidPurpose, // unsupported_certificate
            Self::LeafIsCa => {
                CertificateError::Other(OtherError(std::sync::Arc::new(Refused(self))))
            } // certificate_unknown
            Self::Blacklisted => CertificateError::Revoked,     // certificate_revoked
            Self::NotWhitelisted => CertificateError::ApplicationVerificationFailure, // access_denied
            // handshake_failure: generic, the peer learns no reason.
            Self::BadCertificate | Self::NoCertificate | Self::NotTls => {
                return rustls::Error::General(self.to_string())
            }
        };
        rustls::Error::InvalidCertificate(certificate_error)
    }

    /// The reason a peer's alert stands for, inverting [`Self::to_rustls_error`].
    ///
    /// `certificate_expired` covers both ends of the validity window; `our_validity` (our own
    /// certificate's not-before and not-after, Unix seconds) and `now` tell which end we are at.
    pub(crate) fn from_alert(
        alert: AlertDescription,
        our_validity: (i64, i64),
        now: i64,
    ) -> Option<Self> {
        Some(match alert {
            AlertDescription::UnknownCA => Self::UnknownCa,
            AlertDescription::CertificateExpired if now < our_validity.0 => Self::NotYetValid,
            AlertDescription::CertificateExpired => Self::Expired,
            AlertDescription::BadCertificate => Self::BadSignature,
            AlertDescription::DecryptError => Self::KeyMismatch,
            AlertDescription::UnsupportedCertificate => Self::LeafKeyUnsupported,
            AlertDescription::CertificateUnknown => Self::LeafIsCa,
            AlertDescription::CertificateRevoked => Self::Blacklisted,
            AlertDescription::AccessDenied => Self::NotWhitelisted,
            AlertDescription::CertificateRequired => Self::NoCertificate,
            _ => return None,
        })
    }
}

/// Carries a reason through rustls where no dedicated certificate error exists.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(RefusalReason);

/// A failed `/fisco-tls` upgrade of one connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// We refused the peer. `detail` says exactly what was wrong (which certificate, which date);
    /// fix the peer's certificate files, or the access lists if the refusal is unwanted.
    #[error("refused peer {}: {reason} ({detail})", node_label(.peer))]
    Refused {
        /// Why.
        reason: RefusalReason,
        /// The peer's node ID, if its certificate names one.
        peer: Option<Box<NodeId>>,
        /// What the check found, for the log.
        detail: String,
    },
    /// The peer refused us, and its TLS alert says why: fix our certificate files, or ask the
    /// peer's operator to change its access lists.
    #[error("refused by peer {}: {reason}", node_label(.peer))]
    RefusedByPeer {
        /// Why, as the peer's alert says.
        reason: RefusalReason,
        /// The peer's node ID, if we got as far as checking its certificate.
        peer: Option<Box<NodeId>>,
    },
    /// The peer aborted the handshake with an alert that names no reason we know: it is probably
    /// not a fisco-p2p node; see its logs.
    #[error("peer {} aborted the TLS handshake: {alert}", node_label(.peer))]
    Aborted {
        /// The TLS alert the peer sent.
        alert: String,
        /// The peer's node ID, if known.
        peer: Option<Box<NodeId>>,
    },
    /// The handshake did not finish in time: the peer or the network is stalled.
    #[error("TLS handshake with {} timed out after {after:?}", node_label(.peer))]
    Timeout {
        /// The configured handshake timeout.
        after: Duration,
        /// The peer's node ID, if its certificate had been checked.
        peer: Option<Box<NodeId>>,
    },
    /// The connection failed during the handshake (reset, closed, TLS protocol error): retry;
    /// the source says what happened.
    #[error("TLS handshake failed")]
    Io(#[source] io::Error),
    /// Our own rustls configuration could not be built for this connection; this is a bug.
    #[error("building the TLS configuration failed")]
    Config(#[source] rustls::Error),
}

impl UpgradeError {
    /// The refusal reason, whichever side refused.
    pub fn reason(&self) -> Option<RefusalReason> {
        match self {
            Self::Refused { reason, .. } | Self::RefusedByPeer { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// Whether the peer refused us (rather than we it).
    pub fn is_refused_by_peer(&self) -> bool {
        matches!(self, Self::RefusedByPeer { .. })
    }

    /// The peer's node ID, if the handshake got far enough to learn it.
    pub fn peer(&self) -> Option<&NodeId> {
        match self {
            Self::Refused { peer, .. }
            | Self::RefusedByPeer { peer, .. }
            | Self::Aborted { peer, .. }
            | Self::Timeout { peer, .. } => peer.as_deref(),
            Self::Io(_) | Self::Config(_) => None,
        }
    }
}

fn node_label(peer: &Option<Box<NodeId>>) -> String {
    peer.as_ref()
        .map_or_else(|| "(unknown node)".to_owned(), |id| id.to_string())
}

/// Finds why a connection was refused, in an error from the swarm.
///
/// Give it the error of `SwarmEvent::OutgoingConnectionError` (a [`DialError`]) or
/// `SwarmEvent::IncomingConnectionError` (a `ListenError`). It looks for an [`UpgradeError`]
/// carrying a reason (see [`find_upgrade_error`]), and reports a failed multistream-select
/// negotiation (garbage bytes, a plain TCP client, a stock libp2p node offering noise) as
/// [`RefusalReason::NotTls`]; a link that broke (reset, broken pipe) during it is no refusal.
pub fn refusal_reason(err: &(dyn Error + 'static)) -> Option<RefusalReason> {
    walk(err, |e| {
        if let Some(reason) = e
            .downcast_ref::<UpgradeError>()
            .and_then(UpgradeError::reason)
        {
            return Some(reason);
        }
        e.downcast_ref::<NegotiationError>()
            .and_then(negotiation_refusal)
    })
}

/// A failed protocol negotiation means the peer does not speak our protocol: no common protocol,
/// a malformed message, or a hang-up before a complete one. Except when the link broke under our
/// own write (a broken pipe, a reset): that is how a peer closing a duplicate connection while we
/// still negotiate it looks, and no protocol violation.
fn negotiation_refusal(error: &NegotiationError) -> Option<RefusalReason> {
    match error {
        NegotiationError::ProtocolError(ProtocolError::IoError(e))
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            ) =>
        {
            None
        }
        _ => Some(RefusalReason::NotTls),
    }
}

/// Finds our [`UpgradeError`] in an error from the swarm (a [`DialError`] or a `ListenError`),
/// for the details [`refusal_reason`] leaves out: which side refused, the peer's node ID, the
/// check's findings, a timeout.
///
/// It walks the source chain, looking inside `io::Error`s and into every address of a dial.
pub fn find_upgrade_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a UpgradeError> {
    walk(err, |e| e.downcast_ref::<UpgradeError>())
}

/// Visits `err` and everything it wraps until `found` returns something.
fn walk<'a, T>(
    err: &'a (dyn Error + 'static),
    found: impl Fn(&'a (dyn Error + 'static)) -> Option<T>,
) -> Option<T> {
    // The chain is a tree (a dial has one error per address); bound the walk anyway.
    const MAX_NODES: usize = 64;
    let mut pending: Vec<&'a (dyn Error + 'static)> = vec![err];
    let mut visited = 0;
    while let Some(err) = pending.pop() {
        visited += 1;
        if visited > MAX_NODES {
            break;
        }
        if let Some(hit) = found(err) {
            return Some(hit);
        }
        if let Some(DialError::Transport(attempts)) = err.downcast_ref::<DialError>() {
            pending.extend(attempts.iter().map(|(_, e)| e as &(dyn Error + 'static)));
        }
        // `io::Error::source` skips the wrapped error itself and returns *its* source.
        if let Some(inner) = err.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            pending.push(inner);
        }
        if let Some(source) = err.source() {
            pending.push(source);
        }
    }
    None
}

/// Errors building a [`Config`](super::Config).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The node trusts no CA: `ca.crt` holds no certificate.
    #[error("no trusted CA certificate: ca.crt is empty")]
    NoTrustedCa,
    /// A certificate of `ca.crt` cannot serve as a trust anchor: replace it.
    #[error("trusted CA certificate #{index} of ca.crt is unusable: {reason}")]
    BadTrustedCa {
        /// Its position in `ca.crt`, from 1.
        index: usize,
        /// What webpki said.
        reason: String,
    },
    /// Our own node key cannot sign TLS handshakes; check `node.key` or `ssl.key`.
    #[error("our node key cannot sign TLS handshakes: {0}")]
    BadOwnKey(String),
    /// Our own node certificate cannot be read; check `node.crt`.
    #[error("our node certificate is unreadable: {0}")]
    BadOwnCertificate(String),
    /// The swarm was built with a libp2p keypair other than the node key, so peers would see a
    /// PeerId different from the node ID in our certificate: build the swarm with
    /// `NodeIdentity::keypair()`.
    #[error("the swarm keypair (peer {swarm}) is not the node key (peer {node})")]
    KeypairMismatch {
        /// The PeerId of the swarm's keypair.
        swarm: Box<libp2p::PeerId>,
        /// The PeerId of the node key.
        node: Box<libp2p::PeerId>,
    },
    /// rustls refused our configuration; this is a bug.
    #[error("rustls refused the TLS configuration")]
    Rustls(#[from] rustls::Error),
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
