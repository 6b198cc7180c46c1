//! The chain check of [`Trust::verify_chain`] on every fixture, with the reason and detail it names.

use std::{str::FromStr, time::Duration};

use rustls::pki_types::{CertificateDer, UnixTime};
use x509_cert::{
    builder::{profile::BuilderProfile, Builder, CertificateBuilder},
    certificate::TbsCertificate,
    der::{asn1::OctetString, oid::ObjectIdentifier, Encode},
    ext::{
        pkix::{BasicConstraints, ExtendedKeyUsage},
        Extension,
    },
    name::Name,
    serial_number::SerialNumber,
    spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef},
    time::Validity,
};

use super::certificates;
use crate::{
    chain::{Refusal, Trust},
    AccessList, RefusalReason, TlsError,
};
use fisco_p2p_identity::{NodeId, NodeKey};

fn trust(ca_file: &str) -> Trust {
    Trust::new(&certificates(ca_file), AccessList::new()).expect("trust anchors")
}

fn verify(trust: &Trust, chain: &[CertificateDer<'static>]) -> Result<NodeId, Refusal> {
    trust.verify_chain(&chain[0], &chain[1..], UnixTime::now())
}

fn verify_node(trust: &Trust, node_dir: &str) -> Result<NodeId, Refusal> {
    verify(trust, &certificates(&format!("{node_dir}/node.crt")))
}

#[track_caller]
fn refusal(result: Result<NodeId, Refusal>) -> Refusal {
    result.expect_err("the chain must be refused")
}

fn node_id_file(node_dir: &str) -> NodeId {
    let text = std::fs::read_to_string(super::fixture(&format!("{node_dir}/node.nodeid")))
        .expect("node.nodeid");
    NodeId::from_str(text.trim()).expect("node ID")
}

#[test]
fn good_chains_yield_the_node_id_fisco_tooling_wrote() {
    for (ca, node) in [
        ("fisco-2.5/ca/ca.crt", "fisco-2.5/node0"),
        ("fisco-2.0-rsa/ca/ca.crt", "fisco-2.0-rsa/node1"),
        ("tool/ca/ca.crt", "tool/node0"),
        ("tool/ca/ca.crt", "tool/node-direct"),
    ] {
        let found = verify_node(&trust(ca), node).unwrap_or_else(|r| panic!("{node}: {r:?}"));
        assert_eq!(found, node_id_file(node), "{node}");
    }
}

#[test]
fn each_bad_node_is_refused_with_its_reason() {
    let ours = trust("fisco-2.5/ca/ca.crt");
    for (node, reason) in [
        ("bad/foreign-ca", RefusalReason::UnknownCa),
        ("bad/expired", RefusalReason::Expired),
        ("bad/not-yet-valid", RefusalReason::NotYetValid),
        ("bad/ca-leaf", RefusalReason::LeafIsCa),
        ("bad/p256-leaf", RefusalReason::LeafKeyUnsupported),
    ] {
        assert_eq!(refusal(verify_node(&ours, node)).reason, reason, "{node}");
    }
}

#[test]
fn an_expired_chain_is_refused_with_the_dates() {
    let refused = refusal(verify_node(&trust("fisco-2.5/ca/ca.crt"), "bad/expired"));
    assert!(
        refused.detail.contains("expired on Jan  1 00:00:00 2001"),
        "{}",
        refused.detail
    );
    assert!(
        refused.peer.is_some(),
        "the key is secp256k1, so the peer is named"
    );
}

#[test]
fn another_chain_whose_ca_has_our_ca_name_is_an_unknown_ca() {
    // FISCO's tools call every chain CA "chain0": tool/ and fisco-2.5/ share the name, not the key.
    let refused = refusal(verify_node(
        &trust("fisco-2.5/ca/ca.crt"),
        "tool/node-direct",
    ));
    assert_eq!(
        refused.reason,
        RefusalReason::UnknownCa,
        "{}",
        refused.detail
    );
}

#[test]
fn a_chain_ending_in_our_ca_with_a_signature_it_did_not_make_has_a_bad_signature() {
    // tool/node-direct's certificate, claiming our fisco-2.5 CA (same name) as issuer and root.
    let mut forged = certificates("tool/node-direct/node.crt");
    forged.truncate(1);
    forged.extend(certificates("fisco-2.5/ca/ca.crt"));
    let refused = refusal(verify(&trust("fisco-2.5/ca/ca.crt"), &forged));
    assert_eq!(
        refused.reason,
        RefusalReason::BadSignature,
        "{}",
        refused.detail
    );
}

#[test]
fn a_node_certificate_naming_either_tls_role_in_its_extended_key_usage_passes() {
    let ours = trust("tool/ca/ca.crt");
    for usage in [SERVER_AUTH, CLIENT_AUTH] {
        let chain = [node_with_extended_key_usage(usage)];
        assert!(verify(&ours, &chain).is_ok(), "{usage}");
    }
}

#[test]
fn a_node_certificate_for_another_purpose_is_a_bad_certificate() {
    let chain = [node_with_extended_key_usage(CODE_SIGNING)];
    let refused = refusal(verify(&trust("tool/ca/ca.crt"), &chain));
    assert_eq!(
        refused.reason,
        RefusalReason::BadCertificate,
        "{}",
        refused.detail
    );
}

#[test]
fn the_access_lists_are_checked_after_the_chain() {
    let access = AccessList::new();
    let node = node_id_file("fisco-2.5/node1");
    access.add_to_blacklist(node.clone());
    let ours = Trust::new(&certificates("fisco-2.5/ca/ca.crt"), access).expect("trust");
    let refused = refusal(verify_node(&ours, "fisco-2.5/node1"));
    assert_eq!(
        (refused.reason, refused.peer),
        (RefusalReason::Blacklisted, Some(Box::new(node)))
    );
    assert!(verify_node(&ours, "fisco-2.5/node0").is_ok());
}

#[test]
fn a_node_trusting_no_ca_is_a_configuration_error() {
    assert!(matches!(
        Trust::new(&[], AccessList::new()),
        Err(TlsError::NoTrustedCa)
    ));
}

const SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

/// A node certificate issued by tool/'s CA, with an extendedKeyUsage naming `purpose`.
fn node_with_extended_key_usage(purpose: &str) -> CertificateDer<'static> {
    let ca_key = NodeKey::load(super::fixture("tool/ca/ca.key")).expect("CA key");
    let profile = EkuProfile {
        subject: Name::from_str("OU=node,O=fisco-bcos,CN=eku").expect("name"),
        issuer: Name::from_str("OU=chain,O=fisco-bcos,CN=chain0").expect("name"),
        purpose: ObjectIdentifier::new(purpose).expect("OID"),
    };
    let node_key = NodeKey::generate().to_k256().public_key();
    let spki = SubjectPublicKeyInfoOwned::from_key(&node_key).expect("SPKI");
    let serial = SerialNumber::new(&[0x42]).expect("serial");
    let validity = Validity::from_now(Duration::from_secs(86_400)).expect("validity");
    let signer = k256::ecdsa::SigningKey::from(ca_key.to_k256());
    let certificate = CertificateBuilder::new(profile, serial, validity, spki)
        .expect("builder")
        .build::<_, k256::ecdsa::DerSignature>(&signer)
        .expect("certificate");
    CertificateDer::from(certificate.to_der().expect("DER"))
}

struct EkuProfile {
    subject: Name,
    issuer: Name,
    purpose: ObjectIdentifier,
}

impl BuilderProfile for EkuProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let extension = |id, value: Vec<u8>| -> x509_cert::builder::Result<Extension> {
            Ok(Extension {
                extn_id: id,
                critical: false,
                extn_value: OctetString::new(value)?,
            })
        };
        let basic = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        Ok(vec![
            extension(ObjectIdentifier::new_unwrap("2.5.29.19"), basic.to_der()?)?,
            extension(
                ObjectIdentifier::new_unwrap("2.5.29.37"),
                ExtendedKeyUsage(vec![self.purpose]).to_der()?,
            )?,
        ])
    }
}
