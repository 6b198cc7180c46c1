//! Short, stable names for what the node reports, used as metric label values and as the
//! machine-readable `reason` of the admin API's events.

use crate::node::{DisconnectReason, Refusal};
use crate::tls::RefusalReason;

/// The kind of a message, as metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request to one node, or its reply.
    Unicast,
    /// A message to the followers of a topic.
    Multicast,
    /// A message to every node.
    Broadcast,
}

impl MessageKind {
    /// `unicast`, `multicast` or `broadcast`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unicast => "unicast",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
        }
    }
}

/// What a request was addressed to, as the latency histogram labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// A request to one node by its ID.
    Node,
    /// A request to one follower of a topic, with failover.
    Topic,
}

impl RequestKind {
    /// `node` or `topic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Topic => "topic",
        }
    }
}

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

/// A TLS refusal reason as one snake_case word.
pub fn tls_code(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::UnknownCa => "unknown_ca",
        RefusalReason::Expired => "expired",
        RefusalReason::NotYetValid => "not_yet_valid",
        RefusalReason::BadSignature => "bad_signature",
        RefusalReason::KeyMismatch => "key_mismatch",
        RefusalReason::LeafIsCa => "leaf_is_ca",
        RefusalReason::LeafKeyNotSecp256k1 => "leaf_key_not_secp256k1",
        RefusalReason::Blacklisted => "blacklisted",
        RefusalReason::NotWhitelisted => "not_whitelisted",
        RefusalReason::NoCertificate => "no_certificate",
        RefusalReason::BadCertificate => "bad_certificate",
        RefusalReason::NotTls => "not_tls",
    }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_snake_case_words() {
        let refusals = [
            Refusal::Tls(RefusalReason::LeafKeyNotSecp256k1),
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
        assert_eq!(refusal_code(&refusals[0]), "leaf_key_not_secp256k1");
    }
}
