//! Errors of the sync protocol: local API misuse, invalid remote records, malformed frames.

use libp2p::PeerId;

/// A local change to the node's own record was refused; the record is left as it was.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record would exceed the configured maximum record size: store less state, fewer topics
    /// or addresses, or raise `Config::with_max_record_size` on every node.
    #[error("the local record would be {size} bytes, over the limit of {max} bytes")]
    RecordTooLarge {
        /// Encoded size the change would produce.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The node key cannot sign records (libp2p refused to sign); use a secp256k1, ed25519 or
    /// RSA key.
    #[error("the node key failed to sign the record: {0}")]
    Signing(String),
}

/// Why a record received from the network was dropped. The sender is reported with it in
/// [`Event::InvalidRecord`](crate::Event); a sender that keeps sending these is misbehaving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The encoded record is over the configured maximum record size.
    #[error("record of {size} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Encoded size of the record.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The record's bytes are not a valid CBOR record (bad owner id, bad address, wrong shape).
    #[error("malformed record: {0}")]
    Malformed(String),
    /// The owner's PeerId does not embed a public key (RSA) and the record does not carry it,
    /// so the signature cannot be checked.
    #[error("owner {0} does not inline its public key and the record does not carry it")]
    KeyNotInlined(PeerId),
    /// The signature does not verify under the owner's public key: forged or altered in transit.
    #[error("bad signature on the record of {owner} seq {seq}")]
    BadSignature {
        /// The owner the record claims.
        owner: PeerId,
        /// The seq the record claims.
        seq: u64,
    },
    /// The record's owner is not one we asked this peer for.
    #[error("received a record of {got}, which was not requested")]
    Unrequested {
        /// The owner the record claims.
        got: PeerId,
    },
}

/// A sync frame could not be read or written. The stream is reset and the peer reported with it in
/// [`Event::InvalidMessage`](crate::Event); the connection and the node keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The length prefix announces a frame over the configured maximum message size; nothing was
    /// allocated for it. Raise `Config::with_max_message_size` if the peer is honest.
    #[error("frame of {size} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// The announced (or, when writing, the encoded) frame size.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// The frame is not a valid CBOR sync message (a different protocol version or garbage).
    #[error("malformed sync message: {0}")]
    Malformed(String),
}
