//! The malicious node of the simulator: it lies in its digests and forges what it serves.

use bytes::Bytes;
use libp2p::identity::Keypair;

use super::Sim;
use crate::{
    message::{Request, Response},
    record::{Envelope, SignedRecord},
};

impl Sim {
    /// A malicious node announces every record at a much higher seq, to be asked for it.
    pub(super) fn maybe_inflate(&self, i: usize, request: Request) -> Request {
        match request {
            Request::Announce { full, mut entries } if self.nodes[i].malicious => {
                for entry in &mut entries {
                    entry.seq = entry.seq.saturating_add(1000);
                    entry.age_ms = 0;
                }
                Request::Announce { full, entries }
            }
            other => other,
        }
    }

    /// A malicious node serves forgeries: alternately an altered body under the owner's old
    /// signature, and an altered record signed with its own key.
    pub(super) fn maybe_forge_response(&mut self, i: usize, response: Response) -> Response {
        let Response::Records(envelopes) = response else {
            return response;
        };
        if !self.nodes[i].malicious {
            return Response::Records(envelopes);
        }
        let forged = envelopes
            .into_iter()
            .filter_map(|envelope| {
                self.forged_served += 1;
                forge(
                    &self.nodes[i].keypair,
                    envelope,
                    self.forged_served.is_multiple_of(2),
                )
            })
            .collect();
        Response::Records(forged)
    }
}

/// An altered copy of `envelope` (of another owner) claiming a much higher seq; `resign` signs it
/// with the forger's key instead of keeping the owner's signature.
fn forge(forger: &Keypair, envelope: Envelope, resign: bool) -> Option<Envelope> {
    let mut record = SignedRecord::verify(envelope.clone(), usize::MAX)
        .ok()?
        .record;
    if record.owner() == forger.public().to_peer_id() {
        // Its own record it may sign at any seq: that is not a forgery.
        return Some(envelope);
    }
    record.set_seq(record.seq().saturating_add(1000));
    record
        .state_mut()
        .insert("forged".into(), Bytes::from_static(b"yes"));
    let forged = SignedRecord::sign(record, forger, usize::MAX)
        .ok()?
        .envelope;
    if resign {
        return Some(forged);
    }
    Some(Envelope {
        body: forged.body,
        signature: envelope.signature,
    })
}
