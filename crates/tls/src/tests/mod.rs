//! Tests of the TLS pieces together, on the fixtures in `certs/`, without sockets.

mod resumption;
mod verify;

use rustls::pki_types::{pem::PemObject, CertificateDer};

use super::{AccessList, Config};
use fisco_p2p_identity::NodeIdentity;

/// The path of a fixture under `certs/`.
fn fixture(path: &str) -> String {
    format!("{}/../../certs/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// The TLS configuration of a fixture node directory.
fn fixture_config(node: &str) -> Config {
    let identity = NodeIdentity::load_dir(fixture(node)).expect("fixture");
    Config::new(&identity, AccessList::new()).expect("config")
}

/// Every certificate of a fixture PEM file.
fn certificates(path: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(fixture(path))
        .and_then(|certs| certs.collect())
        .expect("fixture certificates")
}
