//! Tests of [`NodeId`](super::NodeId): key kinds, text forms, PeerId round trips.

use super::*;
use proptest::prelude::*;

fn node_id_from_seed(seed: [u8; 32]) -> Option<NodeId> {
    let secret = secp256k1::SecretKey::from_secret_bytes(seed).ok()?;
    Some(NodeId::from_public_key(
        &secp256k1::PublicKey::from_secret_key(&secret),
    ))
}

proptest! {
    #[test]
    fn node_id_survives_the_peer_id_round_trip(seed in any::<[u8; 32]>()) {
        prop_assume!(node_id_from_seed(seed).is_some());
        let id = node_id_from_seed(seed).unwrap();
        let peer = id.to_peer_id();
        prop_assert_eq!(NodeId::from_peer_id(&peer).unwrap(), id.clone());
        prop_assert_eq!(NodeId::try_from(PeerId::from(&id)).unwrap(), id);
    }

    #[test]
    fn node_id_survives_the_text_round_trip(seed in any::<[u8; 32]>(), upper in any::<bool>(), prefixed in any::<bool>()) {
        prop_assume!(node_id_from_seed(seed).is_some());
        let id = node_id_from_seed(seed).unwrap();
        let mut text = id.to_string();
        prop_assert_eq!(text.len(), 128);
        prop_assert!(!text.chars().any(|c| c.is_ascii_uppercase()));
        if upper { text = text.to_uppercase(); }
        if prefixed { text = format!("04{text}"); }
        prop_assert_eq!(text.parse::<NodeId>().unwrap(), id);
    }
}

fn some_id() -> NodeId {
    node_id_from_seed([7u8; 32]).unwrap()
}

#[test]
fn parse_reports_wrong_length() {
    assert_eq!("abc".parse::<NodeId>(), Err(NodeIdError::Length(3)));
}

#[test]
fn parse_reports_the_position_of_a_non_hex_character() {
    let mut text = some_id().to_string();
    text.replace_range(10..11, "g");
    assert_eq!(
        text.parse::<NodeId>(),
        Err(NodeIdError::NonHex {
            position: 10,
            character: 'g'
        })
    );
    let text = format!("04{}z", &some_id().to_string()[..127]);
    assert_eq!(
        text.parse::<NodeId>(),
        Err(NodeIdError::NonHex {
            position: 129,
            character: 'z'
        })
    );
}

#[test]
fn parse_rejects_a_130_character_id_without_04() {
    let text = format!("05{}", some_id());
    assert_eq!(
        text.parse::<NodeId>(),
        Err(NodeIdError::BadPrefix("05".into()))
    );
}

#[test]
fn parse_rejects_a_point_off_the_curve() {
    let err = "11".repeat(64).parse::<NodeId>().unwrap_err();
    assert_eq!(err, NodeIdError::NotOnCurve);
    assert!(err.to_string().contains("not a point"));
}

#[test]
fn debug_is_short_and_display_is_full() {
    let id = some_id();
    let full = id.to_string();
    let debug = format!("{id:?}");
    assert_eq!(debug, format!("NodeId({}..{})", &full[..4], &full[124..]));
}

#[test]
fn a_peer_id_of_another_key_type_has_no_node_id() {
    let ed = libp2p::identity::Keypair::generate_ed25519();
    let err = NodeId::from_peer_id(&ed.public().to_peer_id()).unwrap_err();
    assert!(
        matches!(err, NodeIdError::PeerIdNotSecp256k1 { .. }),
        "{err}"
    );
    let hashed = PeerId::random();
    assert!(NodeId::from_peer_id(&hashed).is_err());
}

#[test]
fn serde_reads_the_hex_string_and_reports_bad_ones() {
    use serde::de::IntoDeserializer;
    use serde::Deserialize;
    let id = some_id();
    let text = id.to_string();
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.as_str().into_deserializer();
    assert_eq!(NodeId::deserialize(de).unwrap(), id);
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        "xyz".into_deserializer();
    assert!(NodeId::deserialize(de)
        .unwrap_err()
        .to_string()
        .contains("128 hex"));
}

/// The node of certs/fisco-3.x/node0: its key, and the modulus FISCO wrote to ssl.nodeid.
fn rsa_node() -> (NodeId, String, libp2p::identity::Keypair) {
    let key = crate::PrivateKey::from_pem(include_str!(
        "../../../../certs/fisco-3.x/node0/conf/ssl.key"
    ))
    .unwrap();
    let modulus = include_str!("../../../../certs/fisco-3.x/node0/conf/ssl.nodeid");
    (key.node_id(), modulus.trim().to_owned(), key.to_keypair())
}

#[test]
fn an_rsa_id_prints_as_the_fisco_p2p_id_and_parses_from_every_form() {
    let (id, modulus, keypair) = rsa_node();
    assert_eq!(id.kind(), KeyKind::Rsa);
    let text = id.to_string();
    assert_eq!(text.len(), 540);
    assert!(text.starts_with("3082010a02820101"), "{text}");
    assert_eq!(id.rsa_modulus_hex().unwrap(), modulus);
    assert_eq!(text.parse::<NodeId>().unwrap(), id);
    assert_eq!(text.to_uppercase().parse::<NodeId>().unwrap(), id);
    assert_eq!(modulus.parse::<NodeId>().unwrap(), id);
    let spki = hex::encode(keypair.public().try_into_rsa().unwrap().encode_x509());
    assert_eq!(spki.parse::<NodeId>().unwrap(), id);
    assert_eq!(id.to_peer_id(), keypair.public().to_peer_id());
    assert_eq!(
        NodeId::from_libp2p_public_key(&keypair.public()).unwrap(),
        id
    );
    assert!(format!("{id:?}").starts_with("NodeId(rsa:"), "{id:?}");
}

#[test]
fn a_secp256k1_peer_id_is_the_one_libp2p_derives() {
    let id = some_id();
    assert_eq!(id.to_peer_id(), id.to_libp2p_public_key().to_peer_id());
}

#[test]
fn an_rsa_peer_id_needs_the_key_to_be_named() {
    let (id, _, _) = rsa_node();
    assert_eq!(
        NodeId::from_peer_id(&id.to_peer_id()),
        Err(NodeIdError::PeerIdNotInline(id.to_peer_id()))
    );
}

#[test]
fn rsa_ids_of_unusable_keys_are_refused() {
    let short = format!("c{}1", "0".repeat(254));
    assert_eq!(short.parse::<NodeId>(), Err(NodeIdError::RsaKeySize(1024)));
    let even = format!("c{}2", "0".repeat(510));
    assert!(matches!(
        even.parse::<NodeId>(),
        Err(NodeIdError::BadRsaKey(_))
    ));
    // A modulus without its top bit set is not a whole key (a digit lost at the front).
    let cut = format!("7{}1", "0".repeat(510));
    assert_eq!(cut.parse::<NodeId>(), Err(NodeIdError::Length(512)));
    assert!(matches!(
        format!("30{}", "ff".repeat(269)).parse::<NodeId>(),
        Err(NodeIdError::BadRsaKey(_))
    ));
}

#[test]
fn secp256k1_and_rsa_ids_never_compare_equal() {
    let (rsa, _, _) = rsa_node();
    let secp = some_id();
    assert_ne!(rsa, secp);
    assert!(secp < rsa, "secp256k1 IDs sort first");
}
