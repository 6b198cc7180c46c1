//! Node identity: node IDs, node keys, and the certificate files of a FISCO BCOS node.
//!
//! A FISCO node is named by its public key, the [`NodeId`]: a secp256k1 key in FISCO 2.x, an RSA
//! key in FISCO 3.x. It proves that name in the TLS handshake with a certificate for that key,
//! issued by the chain's CA (optionally through an agency), and accepts peers whose
//! certificates chain to a CA it trusts. On disk a node's certificate folder holds, in 2.x:
//!
//! - `node.key`: the secp256k1 private key, PEM, PKCS#8 or SEC1 ([`NodeKey`]);
//! - `node.crt`: the node certificate, then the agency certificate, then (usually) the CA's;
//! - `ca.crt`: one or more trusted CA certificates;
//!
//! and in 3.x (`conf/`): `ssl.key` (RSA-2048, PKCS#8), `ssl.crt` (the node certificate alone),
//! `ca.crt`, besides `ssl.nodeid` (the RSA modulus) and `node.pem`/`node.nodeid` (a secp256k1
//! consensus key the network does not use).
//!
//! [`NodeIdentity`] loads and cross-checks them ([`PrivateKey`] is either kind of key);
//! [`inspect_certificate`] reads the facts a TLS verifier needs from a peer's certificate. A
//! libp2p secp256k1 `PeerId` inlines its public key, so a secp256k1 [`NodeId`] and its `PeerId`
//! convert into each other with no lookup table; an RSA `PeerId` is a hash of the key, and a
//! [`Directory`] fed by handshakes and signed records maps it back.
//!
//! ```
//! use fisco_p2p_identity::{NodeId, NodeIdentity};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../certs/fisco-2.5/node0");
//! let identity = NodeIdentity::load_dir(dir)?;
//! // The ID FISCO's tooling wrote beside the key.
//! let written: NodeId = std::fs::read_to_string(format!("{dir}/node.nodeid"))?.trim().parse()?;
//! assert_eq!(identity.node_id(), written);
//! // The libp2p PeerId carries the same key, so it converts back without a table.
//! let peer = identity.keypair().public().to_peer_id();
//! assert_eq!(NodeId::from_peer_id(&peer)?, written);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod certs;
pub mod files;

mod algorithm;
mod certificate;
mod credentials;
mod directory;
mod error;
mod key;
mod lookup;
mod node_id;
mod own_chain;
mod private_key;
mod rsa_der;
pub mod signature;

pub use certificate::{inspect_certificate, CertificateInfo, LeafKey};
pub use credentials::{
    certificate_folder, Layout, NodeIdentity, CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE,
    SSL_CERT_FILE, SSL_KEY_FILE,
};
pub use directory::{Directory, DEFAULT_DIRECTORY_CAPACITY};
pub use error::{IdentityError, Origin};
pub use key::NodeKey;
pub use lookup::node_id_of_path;
pub use node_id::{KeyKind, NodeId, NodeIdError, MAX_RSA_BITS, MIN_RSA_BITS, NODE_ID_LEN};
pub use private_key::{PrivateKey, RsaKey};

pub(crate) use certificate::parse_pem_certificates;

use std::path::Path;

/// Largest key or certificate file read: 1 MiB (a certificate is about 1 KiB; a CA file of a
/// thousand CAs still fits).
pub const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Reads a whole key or certificate file: a regular file of at most [`MAX_PEM_FILE`] bytes,
/// telling a missing file (FISCO layout hint) from other errors.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, IdentityError> {
    use crate::files::FileError;
    files::read(path, MAX_PEM_FILE).map_err(|error| match error {
        FileError::NotFound => IdentityError::MissingFile {
            path: path.to_owned(),
        },
        FileError::NotRegular(kind) => IdentityError::NotRegularFile {
            path: path.to_owned(),
            kind,
        },
        FileError::TooLarge { max } => IdentityError::TooLarge {
            path: path.to_owned(),
            max,
        },
        FileError::Io(source) => IdentityError::Read {
            path: path.to_owned(),
            source,
        },
    })
}

/// A PEM parser's error in words: rustls prints the offending line as a list of bytes.
pub(crate) fn pem_error_text(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    let quoted = |bytes: &[u8]| {
        let text: String = String::from_utf8_lossy(bytes)
            .chars()
            .take(80)
            .flat_map(char::escape_debug)
            .collect();
        format!("\"{text}\"")
    };
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "the \"-----END {}-----\" line is missing (is the file cut short?)",
            String::from_utf8_lossy(end_marker)
                .chars()
                .take(40)
                .flat_map(char::escape_debug)
                .collect::<String>()
        ),
        Error::IllegalSectionStart { line } => {
            format!("malformed BEGIN line {}", quoted(line))
        }
        Error::Base64Decode(reason) => format!("bad base64 between BEGIN and END: {reason}"),
        other => other.to_string(),
    }
}
