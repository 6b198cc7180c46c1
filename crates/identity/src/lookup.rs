//! Finding the node ID of whatever the user points at: a node directory, a key or a certificate.

use std::path::Path;

use super::certificate::{inspect, parse_pem_certificates, LeafKey};
use super::credentials::certificate_folder;
use super::error::{IdentityError, Origin};
use super::{read_file, NodeId, PrivateKey};

/// The node ID of a node's certificate folder (FISCO 2.x `node.key`, else `node.crt`; FISCO 3.x
/// `ssl.key`, else `ssl.crt`; or a node folder whose `conf/` holds them), of a PEM private key,
/// or of a PEM certificate file (its first certificate, i.e. the node's in a `node.crt`
/// bundle). It is the ID peers see in the TLS handshake.
pub fn node_id_of_path(path: impl AsRef<Path>) -> Result<NodeId, IdentityError> {
    let path = path.as_ref();
    if path.is_dir() {
        let (dir, layout) = certificate_folder(path)?;
        let (key, cert) = layout.files();
        let key = dir.join(key);
        let file = if key.exists() { key } else { dir.join(cert) };
        return node_id_of_file(&file);
    }
    node_id_of_file(path)
}

fn node_id_of_file(path: &Path) -> Result<NodeId, IdentityError> {
    let bytes = read_file(path)?;
    let origin = Origin::File(path.to_owned());
    // A key file has a "PRIVATE KEY" label (PKCS#8, SEC1 or PKCS#1); anything else is read as certificates.
    if bytes
        .windows(b"PRIVATE KEY-----".len())
        .any(|w| w == b"PRIVATE KEY-----")
    {
        return PrivateKey::from_pem_bytes(&bytes, origin).map(|key| key.node_id());
    }
    let no_pem = || IdentityError::NoPem {
        origin: origin.clone(),
        expected: "PRIVATE KEY, EC PRIVATE KEY, RSA PRIVATE KEY or CERTIFICATE",
    };
    let certs = parse_pem_certificates(&bytes, &origin).map_err(|e| match e {
        IdentityError::NoPem { .. } => no_pem(),
        other => other,
    })?;
    let first = certs.first().ok_or_else(no_pem)?;
    match inspect(first, &origin, 1)?.key {
        LeafKey::Secp256k1(id) | LeafKey::Rsa(id) => Ok(id),
        LeafKey::Other(found) => Err(IdentityError::LeafKeyUnsupported { origin, found }),
    }
}
