//! The sync wire format written out independently of the crate: the attacker speaks it, and the
//! tests break if the format changes by accident.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// What an owner's signature covers: this prefix, then the CBOR body.
pub const SIGNING_DOMAIN: &[u8] = b"fisco-p2p/sync/record/1:";

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    Announce {
        full: bool,
        entries: Vec<DigestEntry>,
    },
    Fetch(Vec<Bytes>),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DigestEntry {
    pub owner: Bytes,
    pub seq: u64,
    pub age_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    Ack,
    Records(Vec<Envelope>),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub body: Bytes,
    pub signature: Bytes,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Body {
    pub owner: Bytes,
    pub seq: u64,
    pub addrs: Vec<Bytes>,
    pub topics: BTreeSet<String>,
    pub state: BTreeMap<String, Bytes>,
}

impl Body {
    /// A record of `owner` at `seq` following `topic`.
    pub fn new(owner: PeerId, seq: u64, topic: &str) -> Self {
        Body {
            owner: Bytes::from(owner.to_bytes()),
            seq,
            addrs: Vec::new(),
            topics: BTreeSet::from([topic.to_string()]),
            state: BTreeMap::new(),
        }
    }

    /// The envelope of this body signed by `signer` (the owner's key, or a forger's).
    pub fn signed_by(&self, signer: &Keypair) -> Envelope {
        let body = cbor4ii::serde::to_vec(Vec::new(), self).unwrap();
        let signature = signer.sign(&[SIGNING_DOMAIN, &body].concat()).unwrap();
        Envelope {
            body: Bytes::from(body),
            signature: Bytes::from(signature),
        }
    }
}

/// `message` as a frame: 4-byte big-endian length, then CBOR.
pub fn frame(message: &impl Serialize) -> Vec<u8> {
    let body = cbor4ii::serde::to_vec(Vec::new(), message).unwrap();
    let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

/// Decodes the CBOR of a frame's body.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> T {
    cbor4ii::serde::from_slice(body).unwrap()
}
