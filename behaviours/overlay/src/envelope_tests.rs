//! The envelope format: round trips, signatures, and hostile bytes.

use bytes::Bytes;
use libp2p::{identity::Keypair, PeerId};
use proptest::prelude::*;

use super::*;
use crate::seal::{KeySeal, SignatureError, Verifier};

fn header(origin: PeerId, kind: Kind, target: Target) -> Header {
    Header {
        kind,
        module: 9,
        id: MessageId::new(7, 42),
        origin,
        target,
    }
}

fn body(envelope: &Envelope) -> Bytes {
    [
        &envelope.head[..],
        &envelope.payload[..],
        &envelope.tail[..],
    ]
    .concat()
    .into()
}

#[test]
fn signed_envelopes_of_every_key_type_round_trip_and_verify() {
    for keypair in [Keypair::generate_secp256k1(), Keypair::generate_ed25519()] {
        let origin = keypair.public().to_peer_id();
        let seal = KeySeal::new(keypair);
        for target in [
            Target::Node(PeerId::random()),
            Target::Topic("blocks".into()),
            Target::All,
        ] {
            let kind = match target {
                Target::Node(_) => Kind::Request,
                Target::Topic(_) => Kind::Multicast,
                Target::All => Kind::Broadcast,
            };
            let built = Envelope::build(
                header(origin, kind, target.clone()),
                Bytes::from_static(b"payload"),
                Some(&seal as &dyn Seal),
            )
            .unwrap();
            let decoded = Envelope::decode(body(&built)).unwrap();
            assert_eq!(decoded.header.target, target);
            assert_eq!(decoded.header.origin, origin);
            assert_eq!(&decoded.payload[..], b"payload");
            assert!(decoded.signed);
            // An inlined key is not handed out: the PeerId already names it.
            assert_eq!(decoded.verify(&mut Verifier::default()), Ok(None));
        }
    }
}

#[test]
fn an_altered_payload_or_target_fails_verification() {
    let keypair = Keypair::generate_secp256k1();
    let seal = KeySeal::new(keypair.clone());
    let dest = PeerId::random();
    let built = Envelope::build(
        header(
            keypair.public().to_peer_id(),
            Kind::Request,
            Target::Node(dest),
        ),
        Bytes::from_static(b"transfer 10"),
        Some(&seal as &dyn Seal),
    )
    .unwrap();
    let mut bytes = body(&built).to_vec();
    let at = bytes.windows(2).position(|w| w == b"10").unwrap();
    bytes[at] = b'9';
    let altered = Envelope::decode(Bytes::from(bytes)).unwrap();
    assert_eq!(
        altered.verify(&mut Verifier::default()),
        Err(SignatureError::BadSignature)
    );
}

/// A fixed RSA-2048 key (generating one is slow in a debug build).
fn rsa_keypair() -> Keypair {
    let mut der = include_bytes!("../tests/rsa-2048.pk8.der").to_vec();
    Keypair::rsa_from_pkcs8(&mut der).unwrap()
}

#[test]
fn an_rsa_origin_carries_its_key_and_the_verifier_hands_it_out_once() {
    let keypair = rsa_keypair();
    let origin = keypair.public().to_peer_id();
    let seal = KeySeal::new(keypair.clone());
    let built = Envelope::build(
        header(origin, Kind::Broadcast, Target::All),
        Bytes::from_static(b"payload"),
        Some(&seal as &dyn Seal),
    )
    .unwrap();
    let decoded = Envelope::decode(body(&built)).unwrap();
    let mut verifier = Verifier::default();
    assert_eq!(decoded.verify(&mut verifier), Ok(Some(keypair.public())));
    assert_eq!(decoded.verify(&mut verifier), Ok(None), "known by now");
    // The same envelope claiming another origin: the carried key does not hash to it.
    let other = Keypair::generate_ed25519().public().to_peer_id();
    let claimed = Envelope::build(
        header(other, Kind::Broadcast, Target::All),
        Bytes::from_static(b"payload"),
        Some(&seal as &dyn Seal),
    )
    .unwrap();
    let decoded = Envelope::decode(body(&claimed)).unwrap();
    assert_eq!(
        decoded.verify(&mut Verifier::default()),
        Err(SignatureError::WrongKey)
    );
}

#[test]
fn an_unsigned_envelope_has_no_signature_to_verify() {
    let built = Envelope::build(
        header(
            PeerId::random(),
            Kind::Reply,
            Target::Node(PeerId::random()),
        ),
        Bytes::from_static(b"ok"),
        None,
    )
    .unwrap();
    let decoded = Envelope::decode(body(&built)).unwrap();
    assert!(!decoded.signed);
    assert_eq!(
        decoded.verify(&mut Verifier::default()),
        Err(SignatureError::Unsigned)
    );
}

#[test]
fn error_codes_round_trip() {
    for code in [
        ErrorCode::NoRoute,
        ErrorCode::RelayFailed,
        ErrorCode::HopLimit,
        ErrorCode::UnknownModule(7),
        ErrorCode::TooLarge { size: 10, max: 5 },
        ErrorCode::Application("no".into()),
        ErrorCode::Refused("blacklisted".into()),
        ErrorCode::Busy("full".into()),
    ] {
        assert_eq!(ErrorCode::decode(code.encode()), Ok(code));
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::decode(Bytes::from(bytes.clone()));
        let _ = crate::frame::decode(Bytes::from(bytes.clone()));
        let _ = ErrorCode::decode(Bytes::from(bytes));
    }

    #[test]
    fn a_truncated_body_is_refused_not_misread(cut in 1usize..60) {
        let keypair = Keypair::generate_secp256k1();
        let seal = KeySeal::new(keypair.clone());
        let built = Envelope::build(
            header(keypair.public().to_peer_id(), Kind::Broadcast, Target::All),
            Bytes::from_static(b"some payload"),
            Some(&seal as &dyn Seal),
        ).unwrap();
        let full = body(&built);
        let cut = cut.min(full.len() - 1);
        prop_assert!(Envelope::decode(full.slice(..full.len() - cut)).is_err());
    }
}
