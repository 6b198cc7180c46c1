//! Naming why a connection attempt failed, from the error the transport or swarm reports: for
//! events, metrics and log lines, in either direction.

use std::error::Error;

use libp2p::{core::transport::timeout::TransportTimeoutError, swarm::DialError};

use super::turned_away::TurnedAway;
use crate::{
    node::Refusal,
    tls::{self, UpgradeError},
};

/// The reason of a failed connection attempt.
pub(crate) fn classify(error: &(dyn Error + 'static)) -> Refusal {
    if let Some(reason) = tls::refusal_reason(error) {
        return Refusal::Tls(reason);
    }
    let chain = error_chain(error);
    for e in &chain {
        if let Some(turned) = e.downcast_ref::<TurnedAway>() {
            return match turned {
                TurnedAway::Silent(_) => Refusal::Timeout,
                other => Refusal::ConnectionLimit(other.to_string()),
            };
        }
        // A TLS handshake that timed out, or the swarm's bound on the whole attempt.
        if matches!(
            e.downcast_ref::<UpgradeError>(),
            Some(UpgradeError::Timeout { .. })
        ) || e
            .downcast_ref::<TransportTimeoutError<std::io::Error>>()
            .is_some_and(|t| matches!(t, TransportTimeoutError::Timeout))
        {
            return Refusal::Timeout;
        }
    }
    // The root cause says it best ("Connection refused (os error 111)"); the layers above it
    // repeat it in multi-line wrappers.
    let message = chain
        .iter()
        .rev()
        .map(|e| e.to_string())
        .find(|m| !m.trim().is_empty())
        .map_or_else(
            || "connection failed".to_owned(),
            |m| m.split_whitespace().collect::<Vec<_>>().join(" "),
        );
    Refusal::Unreachable(message)
}

/// Whether a failed attempt is a refusal worth a warning (a certificate, access-list, protocol,
/// limit or timeout problem), rather than a peer or network that went away.
pub(crate) fn is_refusal(refusal: &Refusal) -> bool {
    !matches!(refusal, Refusal::Unreachable(_))
}

/// Describes a failed dial in one line: per address, the named reason.
pub(crate) fn describe_dial_error(error: &DialError) -> String {
    match error {
        DialError::Transport(attempts) => attempts
            .iter()
            .map(|(address, error)| format!("{address}: {}", classify(error)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// An error and its sources, looking inside `io::Error`s (whose `source` skips the error they wrap).
fn error_chain<'a>(error: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(error) = next {
        if chain.len() >= 16 {
            break;
        }
        chain.push(error);
        next = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn Error + 'static)),
            None => error.source(),
        };
    }
    chain
}

#[cfg(test)]
mod tests {
    use std::{io, time::Duration};

    use libp2p::core::upgrade::{NegotiationError, ProtocolError};

    use super::*;
    use crate::tls::RefusalReason;

    fn wrapped(e: impl Error + Send + Sync + 'static) -> io::Error {
        io::Error::other(io::Error::other(e))
    }

    #[test]
    fn a_peer_closing_during_negotiation_is_no_protocol_violation() {
        let closed = NegotiationError::ProtocolError(ProtocolError::IoError(
            io::ErrorKind::BrokenPipe.into(),
        ));
        assert!(matches!(
            classify(&wrapped(closed)),
            Refusal::Unreachable(_)
        ));
        let hung_up = NegotiationError::ProtocolError(ProtocolError::IoError(
            io::ErrorKind::UnexpectedEof.into(),
        ));
        assert_eq!(
            classify(&wrapped(hung_up)),
            Refusal::Tls(RefusalReason::NotTls)
        );
        let garbage = NegotiationError::ProtocolError(ProtocolError::InvalidMessage);
        assert_eq!(
            classify(&wrapped(garbage)),
            Refusal::Tls(RefusalReason::NotTls)
        );
        assert_eq!(
            classify(&wrapped(NegotiationError::Failed)),
            Refusal::Tls(RefusalReason::NotTls)
        );
    }

    #[test]
    fn an_unreachable_address_is_named_by_its_root_cause_on_one_line() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let nested = io::Error::other(io::Error::other(refused));
        match classify(&nested) {
            Refusal::Unreachable(text) => {
                assert_eq!(
                    text,
                    io::Error::from(io::ErrorKind::ConnectionRefused).to_string()
                );
                assert!(!text.contains('\n'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn handshake_timeouts_are_timeouts() {
        let tls = UpgradeError::Timeout {
            after: Duration::from_secs(10),
            peer: None,
        };
        assert_eq!(classify(&wrapped(tls)), Refusal::Timeout);
        let silent = TurnedAway::Silent(Duration::from_secs(3));
        assert_eq!(classify(&wrapped(silent)), Refusal::Timeout);
    }

    #[test]
    fn admission_refusals_name_the_limit() {
        let evicted = TurnedAway::Refused(super::super::turned_away::Refused::PerIp);
        match classify(&wrapped(evicted)) {
            Refusal::ConnectionLimit(text) => {
                assert!(text.contains("max_pending_per_ip"), "{text}")
            }
            other => panic!("{other:?}"),
        }
    }
}
