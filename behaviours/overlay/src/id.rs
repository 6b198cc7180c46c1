//! Identifiers of envelopes and requests.

use std::fmt;

/// Identifies one message network-wide together with its origin: the origin's random boot nonce,
/// then a counter.
///
/// The nonce is drawn afresh each time a [`Behaviour`](crate::Behaviour) starts, so IDs stay
/// unique across restarts without persisted state. A reply or error carries the ID of the request
/// it answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId([u8; 16]);

impl MessageId {
    /// The `counter`-th message sent under boot nonce `nonce`.
    pub fn new(nonce: u64, counter: u64) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&nonce.to_be_bytes());
        bytes[8..].copy_from_slice(&counter.to_be_bytes());
        MessageId(bytes)
    }

    /// The 16 bytes carried on the wire.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Reads an ID from its 16 wire bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        MessageId(bytes)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// Identifies a request this node sent; its [`Event::Response`](crate::Event::Response) carries
/// the same ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) MessageId);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies a multicast this node sent; its
/// [`Event::MulticastSent`](crate::Event::MulticastSent) carries the same ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MulticastId(pub(crate) MessageId);

impl fmt::Display for MulticastId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where the reply to a request that arrived here goes: pass it to
/// [`Behaviour::respond`](crate::Behaviour::respond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyTo {
    pub(crate) origin: libp2p::PeerId,
    pub(crate) id: MessageId,
}

impl ReplyTo {
    /// The node that sent the request.
    pub fn origin(&self) -> libp2p::PeerId {
        self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_display_as_32_hex_digits_and_round_trip() {
        let id = MessageId::new(0x0102, 3);
        assert_eq!(id.to_string(), "00000000000001020000000000000003");
        assert_eq!(MessageId::from_bytes(id.to_bytes()), id);
    }
}
