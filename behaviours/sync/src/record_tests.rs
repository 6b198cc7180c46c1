use super::*;

fn signed(keypair: &Keypair) -> SignedRecord {
    let mut record = Record::new(keypair.public().to_peer_id(), 7);
    record.topics_mut().insert("blocks".into());
    record
        .state_mut()
        .insert("height".into(), Bytes::from_static(b"42"));
    record
        .addrs_mut()
        .push("/ip4/127.0.0.1/tcp/30300".parse().unwrap());
    SignedRecord::sign(record, keypair, 4096).unwrap()
}

#[test]
fn a_signed_record_verifies_and_round_trips() {
    for keypair in [Keypair::generate_secp256k1(), Keypair::generate_ed25519()] {
        let signed = signed(&keypair);
        let back = SignedRecord::verify(signed.envelope.clone(), 4096).unwrap();
        assert_eq!(back.record, signed.record);
    }
}

#[test]
fn an_rsa_owner_carries_its_key_and_its_record_verifies() {
    let keypair = rsa_keypair();
    let signed = signed(&keypair);
    let back = SignedRecord::verify(signed.envelope.clone(), 4096).unwrap();
    assert_eq!(back.record.public_key(), Some(keypair.public()));
    assert_eq!(back.record, signed.record);
    // An inlined key is not repeated in the record.
    let secp = signed_with(&Keypair::generate_secp256k1(), 4096);
    let body: Body = cbor4ii::serde::from_slice(&secp.envelope.body).unwrap();
    assert!(body.key.is_none());
}

#[test]
fn a_carried_key_that_is_not_the_owners_is_refused() {
    let owner = rsa_keypair();
    let mallory = Keypair::generate_ed25519();
    let mut record = Record::new(owner.public().to_peer_id(), 3);
    record.key = Some(Box::new(mallory.public()));
    let mut body = record.to_body();
    body.key = Some(Bytes::from(mallory.public().encode_protobuf()));
    let bytes = cbor4ii::serde::to_vec(Vec::new(), &body).unwrap();
    let envelope = Envelope {
        signature: Bytes::from(mallory.sign(&signed_bytes(&bytes)).unwrap()),
        body: Bytes::from(bytes),
    };
    assert!(matches!(
        SignedRecord::verify(envelope, 4096),
        Err(RecordError::Malformed(reason)) if reason.contains("owner key")
    ));
}

#[test]
fn an_rsa_owner_record_without_its_key_is_refused() {
    let owner = rsa_keypair();
    let record = Record::new(owner.public().to_peer_id(), 3);
    let bytes = cbor4ii::serde::to_vec(Vec::new(), &record.to_body()).unwrap();
    let envelope = Envelope {
        signature: Bytes::from(owner.sign(&signed_bytes(&bytes)).unwrap()),
        body: Bytes::from(bytes),
    };
    assert!(matches!(
        SignedRecord::verify(envelope, 4096),
        Err(RecordError::KeyNotInlined(_))
    ));
}

/// A fixed RSA-2048 test key (generating one takes seconds in a debug build).
fn rsa_keypair() -> Keypair {
    let pem = include_str!("../tests/rsa-2048.pk8.pem");
    let der: Vec<u8> = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .into_bytes();
    let mut der = base64_decode(&der);
    Keypair::rsa_from_pkcs8(&mut der).unwrap()
}

fn base64_decode(text: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.iter().filter(|c| **c != b'=') {
        let v = ALPHABET.iter().position(|a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn signed_with(keypair: &Keypair, max: usize) -> SignedRecord {
    SignedRecord::sign(Record::new(keypair.public().to_peer_id(), 1), keypair, max).unwrap()
}

#[test]
fn an_altered_body_fails_the_signature_check() {
    let keypair = Keypair::generate_secp256k1();
    let mut record = signed(&keypair).record;
    record.set_seq(8);
    let honest = SignedRecord::sign(record, &keypair, 1024).unwrap();
    let mut forged = signed(&keypair).envelope;
    forged.body = honest.envelope.body;
    assert!(matches!(
        SignedRecord::verify(forged, 1024),
        Err(RecordError::BadSignature { seq: 8, .. })
    ));
}

#[test]
fn a_record_signed_by_another_key_is_refused() {
    let owner = Keypair::generate_secp256k1();
    let mallory = Keypair::generate_secp256k1();
    let claimed = Record::new(owner.public().to_peer_id(), 9);
    let forged = SignedRecord::sign(claimed, &mallory, 1024).unwrap();
    assert!(matches!(
        SignedRecord::verify(forged.envelope, 1024),
        Err(RecordError::BadSignature { .. })
    ));
}

#[test]
fn an_oversize_record_is_refused_both_ways() {
    let keypair = Keypair::generate_ed25519();
    let mut record = Record::new(keypair.public().to_peer_id(), 1);
    record
        .state_mut()
        .insert("blob".into(), Bytes::from(vec![0u8; 2048]));
    assert!(matches!(
        SignedRecord::sign(record.clone(), &keypair, 1024),
        Err(Error::RecordTooLarge { max: 1024, .. })
    ));
    let big = SignedRecord::sign(record, &keypair, 4096).unwrap();
    assert!(matches!(
        SignedRecord::verify(big.envelope, 1024),
        Err(RecordError::TooLarge { max: 1024, .. })
    ));
}

#[test]
fn garbage_bytes_are_malformed_not_a_panic() {
    let envelope = Envelope {
        body: Bytes::from_static(&[0xff, 0x00, 0x13]),
        signature: Bytes::new(),
    };
    assert!(matches!(
        SignedRecord::verify(envelope, 1024),
        Err(RecordError::Malformed(_))
    ));
}
