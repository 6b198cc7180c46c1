//! Loading the certificate fixtures of `certs/`: every good node directory loads with the node ID FISCO's
//! tooling wrote to `node.nodeid`, and every broken one fails with an error naming the file and reason.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use fisco_p2p::identity::{
    inspect_certificate, node_id_of_path, IdentityError, LeafKey, NodeId, NodeIdentity, NodeKey,
    Origin,
};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs")
        .join(rel)
}

fn nodeid_file(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("node.nodeid"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Node directories every other node of the same chain must accept, with their chain length.
const GOOD_NODES: &[(&str, usize)] = &[
    ("fisco-2.5/node0", 3),
    ("fisco-2.5/node1", 3),
    ("fisco-2.5/node2-sec1", 3),
    ("fisco-2.0-rsa/node0", 3),
    ("fisco-2.0-rsa/node1", 3),
    ("tool/node0", 3),
    ("tool/node1", 3),
    ("tool/node-direct", 2),
];

#[test]
fn every_good_node_dir_loads_with_the_node_id_of_its_nodeid_file() {
    for (rel, chain_len) in GOOD_NODES {
        let dir = fixture(rel);
        let identity = NodeIdentity::load_dir(&dir).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let expected = nodeid_file(&dir);
        assert_eq!(identity.node_id().to_string(), expected, "{rel}");
        assert_eq!(identity.chain().len(), *chain_len, "{rel}");
        assert_eq!(identity.trusted_cas().len(), 1, "{rel}");
        assert_eq!(
            identity.keypair().public().to_peer_id(),
            identity.node_id().to_peer_id(),
            "{rel}"
        );
        let leaf = inspect_certificate(&identity.chain()[0]).unwrap();
        assert_eq!(leaf.key, LeafKey::Secp256k1(identity.node_id()), "{rel}");
        assert!(!leaf.is_ca, "{rel}");
        assert!(
            leaf.subject.ends_with("O=fisco-bcos, OU=node"),
            "{rel}: {}",
            leaf.subject
        );
        let top = inspect_certificate(identity.chain().last().unwrap()).unwrap();
        assert!(top.is_ca, "{rel}");
        assert_eq!(top.subject, "CN=chain0, O=fisco-bcos, OU=chain", "{rel}");
        assert_eq!(
            identity.chain().last().unwrap(),
            &identity.trusted_cas()[0],
            "{rel}"
        );
    }
}

#[test]
fn pkcs8_and_sec1_keys_both_load() {
    let pkcs8 = fixture("fisco-2.5/node0/node.key");
    let sec1 = fixture("fisco-2.5/node2-sec1/node.key");
    assert!(std::fs::read_to_string(&pkcs8)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let sec1_text = std::fs::read_to_string(&sec1).unwrap();
    assert!(sec1_text.starts_with("-----BEGIN EC PARAMETERS-----"));
    assert!(sec1_text.contains("-----BEGIN EC PRIVATE KEY-----"));
    for path in [pkcs8, sec1] {
        let key = NodeKey::load(&path).unwrap();
        assert_eq!(
            key.node_id().to_string(),
            nodeid_file(path.parent().unwrap())
        );
        let again = NodeKey::from_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(again.node_id(), key.node_id());
    }
}

#[test]
fn the_legacy_chain_has_rsa_ca_and_agency_keys() {
    let identity = NodeIdentity::load_dir(fixture("fisco-2.0-rsa/node0")).unwrap();
    for cert in &identity.chain()[1..] {
        let info = inspect_certificate(cert).unwrap();
        assert!(matches!(info.key, LeafKey::Rsa(_)), "{}", info.subject);
    }
}

#[test]
fn a_node_id_from_a_nodeid_file_names_the_same_peer() {
    let dir = fixture("fisco-2.5/node1");
    let id: NodeId = nodeid_file(&dir).parse().unwrap();
    let upper: NodeId = nodeid_file(&dir).to_uppercase().parse().unwrap();
    assert_eq!(id, upper);
    assert_eq!(NodeId::from_peer_id(&id.to_peer_id()).unwrap(), id);
}

#[test]
fn refused_nodes_still_load_so_their_peers_can_refuse_them() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let leaf_of = |rel: &str| {
        let identity =
            NodeIdentity::load_dir(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(identity.node_id().to_string(), nodeid_file(&fixture(rel)));
        inspect_certificate(&identity.chain()[0]).unwrap()
    };
    let expired = leaf_of("bad/expired");
    assert!(expired.not_after < now && !expired.is_valid_at(now));
    let future = leaf_of("bad/not-yet-valid");
    assert!(future.not_before >= 4_102_444_800, "not before 2100-01-01");
    assert!(leaf_of("bad/ca-leaf").is_ca);
    let foreign = leaf_of("bad/foreign-ca");
    assert!(foreign.is_valid_at(now) && !foreign.is_ca);
    let foreign_ca = NodeIdentity::load_dir(fixture("bad/foreign-ca")).unwrap();
    let good_ca = NodeIdentity::load_dir(fixture("fisco-2.5/node0")).unwrap();
    assert_ne!(foreign_ca.trusted_cas(), good_ca.trusted_cas());
}

#[test]
fn a_p256_node_key_is_refused_naming_the_curve_and_file() {
    let err = NodeIdentity::load_dir(fixture("bad/p256-leaf")).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, IdentityError::UnsupportedKey { found, .. } if found == "EC prime256v1"),
        "{text}"
    );
    assert!(text.contains("p256-leaf/node.key"), "{text}");
}

#[test]
fn a_p256_node_certificate_is_refused_naming_the_curve_and_file() {
    let err = NodeIdentity::from_files(
        fixture("fisco-2.5/node0/node.key"),
        fixture("bad/p256-leaf/node.crt"),
        fixture("bad/p256-leaf/ca.crt"),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, IdentityError::LeafKeyUnsupported { found, .. } if found == "EC prime256v1"),
        "{text}"
    );
    assert!(text.contains("p256-leaf/node.crt"), "{text}");
}

#[test]
fn a_certificate_with_a_key_that_is_not_its_own_is_refused_naming_both_files() {
    let err = NodeIdentity::load_dir(fixture("bad/wrong-key")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{text}");
    assert!(text.contains("wrong-key/node.key"), "{text}");
    assert!(text.contains("wrong-key/node.crt"), "{text}");
}

#[test]
fn from_parts_checks_the_key_and_from_parts_unchecked_does_not() {
    let good = NodeIdentity::load_dir(fixture("fisco-2.5/node0")).unwrap();
    let other_key = NodeKey::load(fixture("fisco-2.5/node1/node.key")).unwrap();
    let chain = good.chain().to_vec();
    let cas = good.trusted_cas().to_vec();
    let rebuilt = NodeIdentity::from_parts(good.key().clone(), chain.clone(), cas.clone()).unwrap();
    assert_eq!(rebuilt.node_id(), good.node_id());
    let err = NodeIdentity::from_parts(other_key.clone(), chain.clone(), cas.clone()).unwrap_err();
    assert!(matches!(err, IdentityError::KeyMismatch { .. }), "{err}");
    let liar = NodeIdentity::from_parts_unchecked(other_key.clone(), chain, cas);
    assert_eq!(liar.node_id(), other_key.node_id());
    assert_eq!(liar.chain()[0], good.chain()[0]);
}

#[test]
fn from_parts_refuses_an_empty_chain_or_no_trusted_ca() {
    let good = NodeIdentity::load_dir(fixture("fisco-2.5/node0")).unwrap();
    let err = NodeIdentity::from_parts(good.key().clone(), vec![], good.trusted_cas().to_vec())
        .unwrap_err();
    assert!(matches!(err, IdentityError::NoPem { .. }), "{err}");
    let err =
        NodeIdentity::from_parts(good.key().clone(), good.chain().to_vec(), vec![]).unwrap_err();
    assert!(err.to_string().contains("trusted CA"), "{err}");
}

#[test]
fn a_missing_file_is_named_with_fiscos_layout() {
    let dir = tempfile::tempdir().unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, IdentityError::MissingFile { path } if path == &dir.path().join("node.key")),
        "{text}"
    );
    assert!(text.contains("node.key, node.crt and ca.crt"), "{text}");

    std::fs::copy(
        fixture("fisco-2.5/node0/node.key"),
        dir.path().join("node.key"),
    )
    .unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(&err, IdentityError::MissingFile { path } if path.ends_with("node.crt")),
        "{err}"
    );
}

#[test]
fn empty_and_garbage_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["node.key", "node.crt", "ca.crt"] {
        std::fs::copy(fixture("fisco-2.5/node0").join(name), dir.path().join(name)).unwrap();
    }
    let cases: &[(&str, &[u8])] = &[
        ("node.key", b""),
        ("node.key", b"not a key at all\n"),
        ("node.crt", b""),
        ("ca.crt", b"\x00\x01garbage"),
    ];
    for (name, content) in cases {
        let original = std::fs::read(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name), content).unwrap();
        let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
        assert!(
            matches!(&err, IdentityError::NoPem { origin: Origin::File(p), .. } if p.ends_with(name)),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
        std::fs::write(dir.path().join(name), original).unwrap();
    }
}

#[test]
fn a_corrupt_certificate_is_refused_with_its_position_in_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["node.key", "ca.crt"] {
        std::fs::copy(fixture("fisco-2.5/node0").join(name), dir.path().join(name)).unwrap();
    }
    let bundle = std::fs::read_to_string(fixture("fisco-2.5/node0/node.crt")).unwrap();
    // A well-formed PEM block whose content is not a certificate, as the second of the bundle.
    let first_end = bundle.find("-----END CERTIFICATE-----").unwrap() + 26;
    let corrupt = format!(
        "{}-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
        &bundle[..first_end]
    );
    std::fs::write(dir.path().join("node.crt"), corrupt).unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(err, IdentityError::BadCertificate { index: 2, .. }),
        "{err}"
    );
}

#[test]
fn several_trusted_cas_load_from_one_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["node.key", "node.crt"] {
        std::fs::copy(fixture("fisco-2.5/node0").join(name), dir.path().join(name)).unwrap();
    }
    let cas = [
        std::fs::read_to_string(fixture("fisco-2.5/ca/ca.crt")).unwrap(),
        std::fs::read_to_string(fixture("fisco-2.0-rsa/ca/ca.crt")).unwrap(),
        std::fs::read_to_string(fixture("bad/foreign-ca/ca.crt")).unwrap(),
        std::fs::read_to_string(fixture("tool/ca/ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.path().join("ca.crt"), cas).unwrap();
    let identity = NodeIdentity::load_dir(dir.path()).unwrap();
    assert_eq!(identity.trusted_cas().len(), 4);
}

#[test]
fn non_secp256k1_private_keys_are_refused_by_name() {
    let rsa = NodeKey::load(fixture("fisco-2.0-rsa/ca/ca.key")).unwrap_err();
    assert!(
        matches!(&rsa, IdentityError::KeyNotSecp256k1 { found, .. } if found == "RSA"),
        "{rsa}"
    );
    assert!(rsa.to_string().contains("ca.key"), "{rsa}");
}

#[test]
fn inspect_certificate_refuses_garbage() {
    let err = inspect_certificate(b"\x30\x03\x02\x01\x01").unwrap_err();
    assert!(matches!(err, IdentityError::BadCertificate { .. }), "{err}");
}

#[test]
fn node_id_of_path_reads_a_node_dir_a_key_or_a_certificate_bundle() {
    for rel in [
        "fisco-2.5/node0",
        "fisco-2.5/node2-sec1",
        "fisco-2.0-rsa/node1",
        "tool/node-direct",
    ] {
        let dir = fixture(rel);
        let expected = nodeid_file(&dir);
        for path in [dir.clone(), dir.join("node.key"), dir.join("node.crt")] {
            let id = node_id_of_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(id.to_string(), expected, "{}", path.display());
        }
    }
    let err = node_id_of_path(fixture("bad/p256-leaf/node.crt")).unwrap_err();
    assert!(
        matches!(&err, IdentityError::LeafKeyUnsupported { found, .. } if found == "EC prime256v1"),
        "{err}"
    );
}

/// A copy of `fisco-2.5/node0` in a temporary directory, its `ca.crt` replaced by `ca`.
fn node0_trusting(ca: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["node.key", "node.crt"] {
        std::fs::copy(fixture("fisco-2.5/node0").join(name), dir.path().join(name)).unwrap();
    }
    std::fs::copy(fixture(ca), dir.path().join("ca.crt")).unwrap();
    dir
}

#[test]
fn a_ca_file_that_does_not_vouch_for_the_node_certificate_is_refused_naming_both() {
    // A CA of a whole other chain, and one of another chain with the same name ("chain0").
    for ca in ["bad/foreign-ca/ca.crt", "tool/ca/ca.crt"] {
        let dir = node0_trusting(ca);
        let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(&err, IdentityError::UntrustedChain { .. }),
            "{ca}: {message}"
        );
        assert!(
            message.contains("node.crt") && message.contains("ca.crt"),
            "{message}"
        );
        assert!(
            message.contains("CN=node0") && message.contains("does not chain"),
            "{message}"
        );
    }
}

#[test]
fn a_node_of_an_rsa_chain_loads_and_is_checked_against_its_rsa_ca() {
    // FISCO 2.0-2.4: RSA chain and agency keys, secp256k1 node key.
    NodeIdentity::load_dir(fixture("fisco-2.0-rsa/node0")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["node.key", "node.crt"] {
        std::fs::copy(
            fixture("fisco-2.0-rsa/node0").join(name),
            dir.path().join(name),
        )
        .unwrap();
    }
    std::fs::copy(fixture("fisco-2.5/ca/ca.crt"), dir.path().join("ca.crt")).unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, IdentityError::UntrustedChain { .. }), "{err}");
}

#[test]
fn a_pem_file_cut_short_is_named_in_words_not_bytes() {
    let dir = node0_trusting("fisco-2.5/ca/ca.crt");
    let bundle = std::fs::read_to_string(dir.path().join("node.crt")).unwrap();
    let cut = &bundle[..bundle.find("-----END CERTIFICATE-----").unwrap()];
    std::fs::write(dir.path().join("node.crt"), cut).unwrap();
    let message = NodeIdentity::load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("\"-----END CERTIFICATE-----\" line is missing"),
        "{message}"
    );
    assert!(!message.contains("[45, 45"), "{message}");
}

#[cfg(unix)]
#[test]
fn key_files_that_are_devices_or_huge_are_refused_without_reading_them() {
    let dir = node0_trusting("fisco-2.5/ca/ca.crt");
    let key = dir.path().join("node.key");
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &key).unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            &err,
            IdentityError::NotRegularFile {
                kind: "character device",
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, vec![b'A'; 2 << 20]).unwrap();
    let err = NodeIdentity::load_dir(dir.path()).unwrap_err();
    assert!(matches!(&err, IdentityError::TooLarge { .. }), "{err}");
}
