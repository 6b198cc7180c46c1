//! Certificate generation: FISCO's subjects and flags, validity windows, issuers, directory writing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_cert::certificate::Version;
use x509_cert::der::Decode;
use x509_cert::Certificate;

use super::*;
use crate::{inspect_certificate, LeafKey, NodeIdentity, NodeKey};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../certs")
        .join(rel)
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn a_generated_chain_has_fiscos_subjects_flags_and_version_3() {
    let ca = new_ca(&CertSpec::new(Role::Chain, "chain0")).unwrap();
    let agency = new_agency(&CertSpec::new(Role::Agency, "agency0"), &ca).unwrap();
    let (key, node) = new_node(&CertSpec::new(Role::Node, "node0"), &agency).unwrap();
    let expected = [
        (
            &node,
            "CN=node0, O=fisco-bcos, OU=node",
            "CN=agency0, O=fisco-bcos, OU=agency",
            false,
        ),
        (
            agency.certificate(),
            "CN=agency0, O=fisco-bcos, OU=agency",
            "CN=chain0, O=fisco-bcos, OU=chain",
            true,
        ),
        (
            ca.certificate(),
            "CN=chain0, O=fisco-bcos, OU=chain",
            "CN=chain0, O=fisco-bcos, OU=chain",
            true,
        ),
    ];
    for (der, subject, issuer, is_ca) in expected {
        let info = inspect_certificate(der).unwrap();
        assert_eq!(info.subject, subject);
        assert_eq!(info.issuer, issuer);
        assert_eq!(info.is_ca, is_ca, "{subject}");
        let days = (info.not_after - info.not_before) / 86_400;
        assert_eq!(days, i64::from(DEFAULT_DAYS), "{subject}");
        let parsed = Certificate::from_der(der).unwrap();
        assert_eq!(parsed.tbs_certificate().version(), Version::V3, "{subject}");
        assert_eq!(
            parsed.signature_algorithm().oid.to_string(),
            "1.2.840.10045.4.3.2",
            "ecdsa-with-SHA256"
        );
    }
    assert_eq!(
        inspect_certificate(&node).unwrap().key,
        LeafKey::Secp256k1(key.node_id())
    );
    let chain = vec![node, agency.certificate().clone(), ca.certificate().clone()];
    let identity =
        NodeIdentity::from_parts(key.clone(), chain, vec![ca.certificate().clone()]).unwrap();
    assert_eq!(identity.node_id(), key.node_id());
}

#[test]
fn explicit_windows_make_expired_and_not_yet_valid_certificates() {
    let ca = new_ca(&CertSpec::new(Role::Chain, "chain0")).unwrap();
    let start = UNIX_EPOCH + Duration::from_secs(946_684_800); // 2000-01-01
    let end = UNIX_EPOCH + Duration::from_secs(978_307_200); // 2001-01-01
    let expired = CertSpec::new(Role::Node, "old").with_validity(Validity::Window {
        not_before: start,
        not_after: end,
    });
    let (_, cert) = new_node(&expired, &ca).unwrap();
    let info = inspect_certificate(&cert).unwrap();
    assert_eq!((info.not_before, info.not_after), (unix(start), unix(end)));

    let future_start = UNIX_EPOCH + Duration::from_secs(4_102_444_800); // 2100-01-01
    let future = CertSpec::new(Role::Node, "future").with_validity(Validity::Window {
        not_before: future_start,
        not_after: future_start + Duration::from_secs(86_400),
    });
    let (_, cert) = new_node(&future, &ca).unwrap();
    assert_eq!(
        inspect_certificate(&cert).unwrap().not_before,
        unix(future_start)
    );
}

#[test]
fn a_window_that_ends_before_it_starts_is_refused() {
    let now = SystemTime::now();
    let spec = CertSpec::new(Role::Chain, "chain0").with_validity(Validity::Window {
        not_before: now,
        not_after: now,
    });
    assert!(matches!(new_ca(&spec), Err(CertsError::BadValidity(_))));
}

#[test]
fn a_node_certificate_can_be_made_a_ca_for_refusal_tests() {
    let ca = new_ca(&CertSpec::new(Role::Chain, "chain0")).unwrap();
    let (_, cert) = new_node(&CertSpec::new(Role::Node, "node0").with_ca(true), &ca).unwrap();
    assert!(inspect_certificate(&cert).unwrap().is_ca);
}

#[test]
fn names_that_need_escaping_are_refused() {
    for name in ["", "a,b", "node 0", "CN=x", &"n".repeat(65)] {
        let err = new_ca(&CertSpec::new(Role::Chain, name)).unwrap_err();
        assert!(matches!(err, CertsError::BadName { .. }), "{name:?}: {err}");
    }
}

#[test]
fn an_issuer_must_be_a_ca_holding_its_own_key() {
    let ca = new_ca(&CertSpec::new(Role::Chain, "chain0")).unwrap();
    let (node_key, node_cert) = new_node(&CertSpec::new(Role::Node, "node0"), &ca).unwrap();
    let err = Issuer::new(node_key, node_cert).unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");
    let err = Issuer::new(NodeKey::generate(), ca.certificate().clone()).unwrap_err();
    assert!(err.to_string().contains("not the issuer key"), "{err}");
}

#[test]
fn an_openssl_made_agency_issues_nodes_that_load() {
    let out = tempfile::tempdir().unwrap();
    let id = write_node_dir(
        &fixture("fisco-2.5/ca"),
        Some(&fixture("fisco-2.5/agency")),
        out.path(),
        &CertSpec::new(Role::Node, "node9"),
        false,
    )
    .unwrap();
    let identity = NodeIdentity::load_dir(out.path()).unwrap();
    assert_eq!(identity.node_id(), id);
    assert_eq!(identity.chain().len(), 3);
    let nodeid = std::fs::read_to_string(out.path().join(NODE_ID_FILE)).unwrap();
    assert_eq!(nodeid, format!("{id}\n"));
}

#[test]
fn an_agency_of_another_ca_with_the_same_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("ca");
    write_ca_dir(&other_ca, &CertSpec::new(Role::Chain, "chain0"), false).unwrap();
    let err = write_node_dir(
        &other_ca,
        Some(&fixture("fisco-2.5/agency")),
        &dir.path().join("node"),
        &CertSpec::new(Role::Node, "node0"),
        false,
    )
    .unwrap_err();
    assert!(matches!(err, CertsError::AgencyNotFromCa { .. }), "{err}");
    assert!(
        !dir.path().join("node").exists(),
        "nothing written on error"
    );
}

#[test]
fn key_files_are_kept_unless_forced_and_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CertSpec::new(Role::Chain, "chain0");
    let first = write_ca_dir(dir.path(), &spec, false).unwrap();
    let err = write_ca_dir(dir.path(), &spec, false).unwrap_err();
    assert!(
        matches!(&err, CertsError::KeyExists(p) if p.ends_with("ca.key")),
        "{err}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    let key_path = dir.path().join(CA_KEY_FILE);
    assert_eq!(
        NodeKey::load(&key_path).unwrap().node_id(),
        first.key().node_id()
    );
    let second = write_ca_dir(dir.path(), &spec, true).unwrap();
    assert_ne!(second.key().node_id(), first.key().node_id());
    assert_eq!(
        NodeKey::load(&key_path).unwrap().node_id(),
        second.key().node_id()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
