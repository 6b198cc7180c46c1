//! Short, stable names for what the node reports, used as metric label values and as the
//! machine-readable `reason` of the admin API's events. They live beside the enums they name
//! (the TLS reasons' in the `fisco-p2p-tls` crate), so a new variant cannot compile without its
//! code.

use super::{DisconnectReason, Refusal};
use crate::tls::RefusalReason;

/// Every refusal code [`refusal_code`] gives, for declaring the label series up front.
pub const REFUSAL_CODES: [&str; 15] = [
    "unknown_ca",
    "expired",
    "not_yet_valid",
    "bad_signature",
    "key_mismatch",
    "leaf_is_ca",
    "leaf_key_unsupported",
    "blacklisted",
    "not_whitelisted",
    "no_certificate",
    "bad_certificate",
    "not_tls",
    "connection_limit",
    "timeout",
    "unreachable",
];

/// Every disconnection code [`disconnect_code`] gives.
pub const DISCONNECT_CODES: [&str; 7] = [
    "connection_lost",
    "heartbeat_timeout",
    "blacklisted",
    "not_whitelisted",
    "requested",
    "shutdown",
    "misbehaving",
];

/// A refusal as one snake_case word: the TLS reason (`unknown_ca`, `expired`, `blacklisted`, ...)
/// or `connection_limit`, `timeout`, `unreachable`.
pub fn refusal_code(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Tls(reason) => tls_code(*reason),
        Refusal::ConnectionLimit(_) => "connection_limit",
        Refusal::Timeout => "timeout",
        Refusal::Unreachable(_) => "unreachable",
    }
}

/// A TLS refusal reason as one snake_case word ([`RefusalReason::code`]).
pub fn tls_code(reason: RefusalReason) -> &'static str {
    reason.code()
}

/// A disconnection reason as one snake_case word.
pub fn disconnect_code(reason: &DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::ConnectionLost(_) => "connection_lost",
        DisconnectReason::HeartbeatTimeout => "heartbeat_timeout",
        DisconnectReason::Blacklisted => "blacklisted",
        DisconnectReason::NotWhitelisted => "not_whitelisted",
        DisconnectReason::Requested => "requested",
        DisconnectReason::Shutdown => "shutdown",
        DisconnectReason::Misbehaving(_) => "misbehaving",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_snake_case_words() {
        let refusals = [
            Refusal::Tls(RefusalReason::LeafKeyUnsupported),
            Refusal::ConnectionLimit("max 1".into()),
            Refusal::Timeout,
            Refusal::Unreachable("refused".into()),
        ];
        for code in refusals.iter().map(refusal_code).chain([
            disconnect_code(&DisconnectReason::ConnectionLost("eof".into())),
            disconnect_code(&DisconnectReason::HeartbeatTimeout),
        ]) {
            assert!(
                code.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
                "{code}"
            );
        }
        assert_eq!(refusal_code(&refusals[0]), "leaf_key_unsupported");
    }

    #[test]
    fn the_declared_code_lists_hold_every_code() {
        // Every TLS reason (the tls crate checks that `ALL` lists each of them).
        let tls = RefusalReason::ALL;
        let refusals = tls.into_iter().map(Refusal::Tls).chain([
            Refusal::ConnectionLimit(String::new()),
            Refusal::Timeout,
            Refusal::Unreachable(String::new()),
        ]);
        let codes: Vec<&str> = refusals.map(|r| refusal_code(&r)).collect();
        assert_eq!(codes, REFUSAL_CODES);
        let disconnects = [
            DisconnectReason::ConnectionLost(String::new()),
            DisconnectReason::HeartbeatTimeout,
            DisconnectReason::Blacklisted,
            DisconnectReason::NotWhitelisted,
            DisconnectReason::Requested,
            DisconnectReason::Shutdown,
            DisconnectReason::Misbehaving(String::new()),
        ];
        let codes: Vec<&str> = disconnects.iter().map(disconnect_code).collect();
        assert_eq!(codes, DISCONNECT_CODES);
    }
}
