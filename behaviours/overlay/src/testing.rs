//! Hooks for other crates' tests (feature `test-utils`): frames a misbehaving node would send.

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};

use crate::{
    envelope::{Envelope, Header, Kind, Target},
    frame::{self, Frame},
    id::MessageId,
    seal::{KeySeal, Seal},
};

/// A whole frame, length prefix included, carrying a request for `dest` that claims to come
/// from `claimed_origin` but is signed with `signer`'s key: what a relay forging another node's
/// request would put on the wire.
pub fn forged_request(
    claimed_origin: PeerId,
    signer: &Keypair,
    dest: PeerId,
    module: u16,
    payload: &[u8],
) -> Vec<u8> {
    let seal = KeySeal::new(signer.clone());
    let header = Header {
        kind: Kind::Request,
        module,
        id: MessageId::new(rand::random(), 1),
        origin: claimed_origin,
        target: Target::Node(dest),
    };
    let envelope = Envelope::build(
        header,
        Bytes::copy_from_slice(payload),
        Some(&seal as &dyn Seal),
    )
    .expect("a small envelope encodes");
    let frame = Frame {
        hops: 2,
        ttl_ms: 5_000,
        dests: Vec::new(),
        envelope,
    };
    let mut wire = futures::io::Cursor::new(Vec::new());
    let codec = frame::Codec::Plain;
    futures::executor::block_on(frame::write_frames(
        &mut wire,
        std::slice::from_ref(&frame),
        codec,
    ))
    .expect("writes to memory");
    wire.into_inner()
}
