//! A node's record, its signed envelope, and the checks every received record goes through.
//!
//! The owner signs the exact bytes that travel: `signature = sign(DOMAIN || body)`, where `body` is
//! the CBOR encoding of the record. Relays pass the envelope on untouched and every receiver
//! verifies it again with the owner's public key, so no relay can forge or alter a record. The
//! key is the one inlined in the owner's PeerId (secp256k1, ed25519); an RSA PeerId is only a
//! hash of its key, so an RSA owner's record carries the key itself (signed with the rest), and
//! a receiver accepts it only if it hashes to the owner's PeerId. Because the signature covers the bytes as sent, receivers never re-encode, and
//! the encoding only needs to be deterministic for the owner (it is: sorted maps and sets).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use libp2p::{identity::Keypair, identity::PublicKey, Multiaddr, PeerId};
use serde::{Deserialize, Serialize};

use crate::error::{Error, RecordError};

/// Separates record signatures from anything else the node key signs (TLS, gossipsub).
const DOMAIN: &[u8] = b"fisco-p2p/sync/record/1:";

/// Multihash code of the identity hash: the PeerId holds the public key itself.
const IDENTITY_MULTIHASH: u64 = 0;

/// One node's published state: where to reach it, what it follows, and application key/values.
///
/// `seq` grows with every change the owner makes; a higher seq replaces a lower one everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    owner: PeerId,
    seq: u64,
    addrs: Vec<Multiaddr>,
    topics: BTreeSet<String>,
    state: BTreeMap<String, Bytes>,
    neighbours: BTreeSet<PeerId>,
    /// The owner's public key, when its PeerId does not inline it (RSA); boxed, as a key is
    /// large and most records have none.
    key: Option<Box<PublicKey>>,
}

impl Record {
    /// An empty record of `owner` at `seq`.
    pub(crate) fn new(owner: PeerId, seq: u64) -> Self {
        Self {
            owner,
            seq,
            addrs: Vec::new(),
            topics: BTreeSet::new(),
            state: BTreeMap::new(),
            neighbours: BTreeSet::new(),
            key: None,
        }
    }

    /// The owner's public key: inlined in its PeerId (secp256k1, ed25519), or carried in the
    /// record (RSA, whose PeerId is a hash of the key). Always present in a verified record.
    pub fn public_key(&self) -> Option<PublicKey> {
        self.key
            .as_deref()
            .cloned()
            .or_else(|| public_key_of(&self.owner))
    }

    /// The node this record describes (and whose key signed it).
    pub fn owner(&self) -> PeerId {
        self.owner
    }

    /// Version of the record: higher is newer.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Addresses the owner listens on, as it published them.
    pub fn addrs(&self) -> &[Multiaddr] {
        &self.addrs
    }

    /// Topics the owner follows.
    pub fn topics(&self) -> &BTreeSet<String> {
        &self.topics
    }

    /// Whether the owner follows `topic`.
    pub fn follows(&self, topic: &str) -> bool {
        self.topics.contains(topic)
    }

    /// The owner's application key/value state.
    pub fn state(&self) -> &BTreeMap<String, Bytes> {
        &self.state
    }

    /// The nodes the owner had an established connection with when it signed this record (at
    /// most `max_neighbours` of them). Routing counts a link only when both ends list each other.
    pub fn neighbours(&self) -> &BTreeSet<PeerId> {
        &self.neighbours
    }

    pub(crate) fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    pub(crate) fn addrs_mut(&mut self) -> &mut Vec<Multiaddr> {
        &mut self.addrs
    }

    pub(crate) fn topics_mut(&mut self) -> &mut BTreeSet<String> {
        &mut self.topics
    }

    pub(crate) fn state_mut(&mut self) -> &mut BTreeMap<String, Bytes> {
        &mut self.state
    }

    pub(crate) fn neighbours_mut(&mut self) -> &mut BTreeSet<PeerId> {
        &mut self.neighbours
    }

    fn to_body(&self) -> Body {
        Body {
            owner: Bytes::from(self.owner.to_bytes()),
            seq: self.seq,
            addrs: self.addrs.iter().map(|a| Bytes::from(a.to_vec())).collect(),
            topics: self.topics.clone(),
            state: self.state.clone(),
            neighbours: self
                .neighbours
                .iter()
                .map(|p| Bytes::from(p.to_bytes()))
                .collect(),
            key: self.key.as_ref().map(|k| Bytes::from(k.encode_protobuf())),
        }
    }
}

/// The CBOR shape of a record.
#[derive(Serialize, Deserialize)]
struct Body {
    owner: Bytes,
    seq: u64,
    addrs: Vec<Bytes>,
    topics: BTreeSet<String>,
    state: BTreeMap<String, Bytes>,
    /// Added after the first release: records without it decode with no neighbours.
    #[serde(default)]
    neighbours: Vec<Bytes>,
    /// The owner's public key (libp2p protobuf encoding) when its PeerId does not inline it.
    /// Added after the first release: older records have none, and older nodes skip it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<Bytes>,
}

impl Body {
    fn into_record(self) -> Result<Record, RecordError> {
        let owner = PeerId::from_bytes(&self.owner)
            .map_err(|e| RecordError::Malformed(format!("owner: {e}")))?;
        let addrs = self
            .addrs
            .into_iter()
            .map(|a| Multiaddr::try_from(a.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| RecordError::Malformed(format!("address: {e}")))?;
        let neighbours = self
            .neighbours
            .iter()
            .map(|p| PeerId::from_bytes(p))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|e| RecordError::Malformed(format!("neighbour: {e}")))?;
        let key = match self.key {
            None => None,
            Some(bytes) => {
                let key = PublicKey::try_decode_protobuf(&bytes)
                    .map_err(|e| RecordError::Malformed(format!("owner key: {e}")))?;
                if key.to_peer_id() != owner {
                    return Err(RecordError::Malformed(
                        "the owner key carried does not hash to the owner's PeerId".into(),
                    ));
                }
                Some(Box::new(key))
            }
        };
        Ok(Record {
            owner,
            seq: self.seq,
            addrs,
            topics: self.topics,
            state: self.state,
            neighbours,
            key,
        })
    }
}

/// A record as it travels: the owner's encoded bytes and its signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// `pub` only because the connection handler's type names it; not part of the API.
#[allow(unreachable_pub)]
pub struct Envelope {
    pub(crate) body: Bytes,
    pub(crate) signature: Bytes,
}

impl Envelope {
    /// Bytes this envelope takes in memory and (give or take a few header bytes) on the wire.
    pub(crate) fn size(&self) -> usize {
        self.body.len() + self.signature.len()
    }
}

/// A record together with the envelope that proves it.
#[derive(Debug, Clone)]
pub(crate) struct SignedRecord {
    pub(crate) record: Record,
    pub(crate) envelope: Envelope,
}

impl SignedRecord {
    /// Encodes and signs `record` with the owner's `keypair`, refusing it over `max_size`.
    pub(crate) fn sign(
        mut record: Record,
        keypair: &Keypair,
        max_size: usize,
    ) -> Result<Self, Error> {
        let public = keypair.public();
        record.key = public_key_of(&record.owner)
            .is_none()
            .then(|| Box::new(public));
        let body = cbor4ii::serde::to_vec(Vec::new(), &record.to_body())
            .map_err(|e| Error::Signing(format!("encoding the record: {e}")))?;
        let signature = keypair
            .sign(&signed_bytes(&body))
            .map_err(|e| Error::Signing(e.to_string()))?;
        let envelope = Envelope {
            body: Bytes::from(body),
            signature: Bytes::from(signature),
        };
        if envelope.size() > max_size {
            return Err(Error::RecordTooLarge {
                size: envelope.size(),
                max: max_size,
            });
        }
        Ok(Self { record, envelope })
    }

    /// Checks a received envelope: size, shape, and the owner's signature.
    pub(crate) fn verify(envelope: Envelope, max_size: usize) -> Result<Self, RecordError> {
        if envelope.size() > max_size {
            return Err(RecordError::TooLarge {
                size: envelope.size(),
                max: max_size,
            });
        }
        let body: Body = cbor4ii::serde::from_slice(&envelope.body)
            .map_err(|e| RecordError::Malformed(e.to_string()))?;
        let record = body.into_record()?;
        let key = record
            .public_key()
            .ok_or(RecordError::KeyNotInlined(record.owner))?;
        if !key.verify(&signed_bytes(&envelope.body), &envelope.signature) {
            return Err(RecordError::BadSignature {
                owner: record.owner,
                seq: record.seq,
            });
        }
        Ok(Self { record, envelope })
    }
}

/// The public key a PeerId inlines (secp256k1, ed25519 and ECDSA keys do; RSA keys are hashed).
pub(crate) fn public_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    (key.to_peer_id() == *peer).then_some(key)
}

fn signed_bytes(body: &[u8]) -> Vec<u8> {
    [DOMAIN, body].concat()
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
