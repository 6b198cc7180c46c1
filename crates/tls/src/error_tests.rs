use libp2p::{core::transport::TransportError, Multiaddr};

use super::*;

const ALL: [RefusalReason; 12] = [
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

/// The alert rustls sends for the error our verifier returns.
fn alert_for(reason: RefusalReason) -> AlertDescription {
    match reason.to_rustls_error() {
        rustls::Error::InvalidCertificate(e) => e.into(),
        _ => AlertDescription::HandshakeFailure,
    }
}

#[test]
fn the_refused_side_reads_each_specific_reason_back_from_the_alert() {
    let our_validity = (1_000, 2_000);
    for reason in ALL {
        // Before our validity window for "not yet valid", inside it otherwise.
        let now = if reason == RefusalReason::NotYetValid {
            500
        } else {
            1_500
        };
        let read_back = RefusalReason::from_alert(alert_for(reason), our_validity, now);
        match reason {
            // No dedicated alert: the peer only learns the handshake failed.
            RefusalReason::BadCertificate | RefusalReason::NotTls => {
                assert_eq!(read_back, None, "{reason:?}")
            }
            // rustls sends certificate_required itself when no certificate comes.
            RefusalReason::NoCertificate => assert_eq!(
                RefusalReason::from_alert(AlertDescription::CertificateRequired, our_validity, now),
                Some(reason)
            ),
            _ => assert_eq!(read_back, Some(reason), "{reason:?}"),
        }
    }
}

#[test]
fn reasons_with_an_alert_have_distinct_alerts_but_the_two_validity_ends() {
    let mut seen = std::collections::HashMap::new();
    for reason in ALL {
        let alert = alert_for(reason);
        if alert == AlertDescription::HandshakeFailure {
            continue;
        }
        if let Some(other) = seen.insert(format!("{alert:?}"), reason) {
            let pair = [other, reason];
            assert!(
                pair.contains(&RefusalReason::Expired)
                    && pair.contains(&RefusalReason::NotYetValid),
                "{other:?} and {reason:?} share {alert:?}"
            );
        }
    }
}

#[test]
fn the_reason_is_found_behind_io_errors_and_in_any_address_of_a_dial() {
    let refused = UpgradeError::RefusedByPeer {
        reason: RefusalReason::Blacklisted,
        peer: None,
    };
    let address: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().expect("multiaddr");
    let dial = DialError::Transport(vec![
        (
            address.clone(),
            TransportError::Other(io::Error::other("connection refused")),
        ),
        (
            address,
            TransportError::Other(io::Error::other(io::Error::other(refused))),
        ),
    ]);
    assert_eq!(refusal_reason(&dial), Some(RefusalReason::Blacklisted));
    assert!(find_upgrade_error(&dial).is_some_and(UpgradeError::is_refused_by_peer));
}

#[test]
fn a_failed_protocol_negotiation_means_not_tls() {
    let err = io::Error::other(NegotiationError::Failed);
    assert_eq!(refusal_reason(&err), Some(RefusalReason::NotTls));
    assert_eq!(refusal_reason(&io::Error::other("reset")), None);
    let closed =
        NegotiationError::ProtocolError(ProtocolError::IoError(io::ErrorKind::BrokenPipe.into()));
    assert_eq!(refusal_reason(&io::Error::other(closed)), None);
}

#[test]
fn every_reason_is_listed_once_with_its_own_code() {
    // A new reason makes this match fail to compile: add it to `RefusalReason::ALL`.
    for reason in RefusalReason::ALL {
        match reason {
            RefusalReason::UnknownCa
            | RefusalReason::Expired
            | RefusalReason::NotYetValid
            | RefusalReason::BadSignature
            | RefusalReason::KeyMismatch
            | RefusalReason::LeafIsCa
            | RefusalReason::LeafKeyUnsupported
            | RefusalReason::Blacklisted
            | RefusalReason::NotWhitelisted
            | RefusalReason::NoCertificate
            | RefusalReason::BadCertificate
            | RefusalReason::NotTls => {}
        }
    }
    let codes: std::collections::HashSet<&str> =
        RefusalReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), RefusalReason::ALL.len(), "codes are distinct");
}
