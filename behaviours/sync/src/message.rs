//! The messages of the sync protocol, as they are CBOR-encoded on the wire.
//!
//! Two exchanges share one protocol:
//! - `Announce { full, entries }` -> `Ack`: "here is `(owner, seq, age)` for every record I hold"
//!   (or, when not `full`, for those that changed since my last announcement). The ack is empty;
//!   it only tells the announcer the stream is done, so announcements never pile up.
//! - `Fetch(owners)` -> `Records(envelopes)`: "send me your records of these owners". The answer
//!   holds the signed envelopes the responder has, as many as fit the message size.
//!
//! These types are `pub` rather than `pub(crate)` only because `request_response` names them in
//! the connection handler's type, which the behaviour exposes; they are not reachable from the
//! crate root and not part of the API (hence `unreachable_pub` is allowed on this module).

use bytes::Bytes;
use libp2p::PeerId;
use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

use crate::record::Envelope;

/// A request on a sync stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The sender's digest: of every record it holds (`full`, sent periodically and to a new
    /// neighbour) or only of those that changed since its previous announcement.
    Announce {
        /// Whether `entries` lists every record the sender holds.
        full: bool,
        /// One line per record.
        entries: Vec<DigestEntry>,
    },
    /// The owners whose records the sender wants.
    Fetch(Vec<WirePeer>),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// An announcement was received.
    Ack,
    /// The records asked for that the responder holds.
    Records(Vec<Envelope>),
}

/// One line of a digest: the announcer holds `owner`'s record at `seq`, and last had fresh evidence
/// that `owner` is alive `age_ms` milliseconds ago (0 for itself and its direct neighbours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    pub(crate) owner: WirePeer,
    pub(crate) seq: u64,
    pub(crate) age_ms: u64,
}

/// A PeerId encoded as its bytes; a frame carrying an invalid one is refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WirePeer(pub(crate) PeerId);

impl Serialize for WirePeer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0.to_bytes())
    }
}

impl<'de> Deserialize<'de> for WirePeer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = Bytes::deserialize(deserializer)?;
        PeerId::from_bytes(&bytes)
            .map(WirePeer)
            .map_err(|e| D::Error::custom(format!("invalid PeerId: {e}")))
    }
}
