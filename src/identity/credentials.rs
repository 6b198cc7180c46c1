//! [`NodeIdentity`]: a node's key, its certificate chain and the CAs it trusts, loaded and cross-checked.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use tracing::warn;

use super::certificate::{inspect, parse_pem_certificates, LeafKey};
use super::error::{IdentityError, Origin};
use super::own_chain::untrusted_reason;
use super::{read_file, NodeId, NodeKey};

/// File name of the node's private key in a FISCO node directory.
pub const NODE_KEY_FILE: &str = "node.key";
/// File name of the node's certificate bundle in a FISCO node directory.
pub const NODE_CERT_FILE: &str = "node.crt";
/// File name of the trusted CA certificate(s) in a FISCO node directory.
pub const CA_CERT_FILE: &str = "ca.crt";

/// Everything a node presents and checks in a TLS handshake: key, certificate chain, trusted CAs.
///
/// Loading checks that the chain's first (leaf) certificate carries a secp256k1 key, that it is the
/// node key's own, and that the chain leads to one of the trusted CAs (a node whose `ca.crt` does
/// not vouch for its own certificate would be refused by every peer). It does not judge validity
/// dates or flags: the TLS verifier does that on every handshake (a leaf that is expired or a CA
/// only earns a warning here).
#[derive(Clone)]
pub struct NodeIdentity {
    key: NodeKey,
    keypair: libp2p::identity::Keypair,
    chain: Vec<CertificateDer<'static>>,
    trusted_cas: Vec<CertificateDer<'static>>,
}

impl NodeIdentity {
    /// Loads a node directory laid out as FISCO does: `node.key`, `node.crt`, `ca.crt`.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let dir = dir.as_ref();
        Self::from_files(
            dir.join(NODE_KEY_FILE),
            dir.join(NODE_CERT_FILE),
            dir.join(CA_CERT_FILE),
        )
    }

    /// Loads a PEM key, a PEM certificate bundle (leaf first) and a PEM file of trusted CAs.
    pub fn from_files(
        key: impl AsRef<Path>,
        chain: impl AsRef<Path>,
        trusted_cas: impl AsRef<Path>,
    ) -> Result<Self, IdentityError> {
        let (key, chain_path, ca_path) = (key.as_ref(), chain.as_ref(), trusted_cas.as_ref());
        let node_key = NodeKey::load(key)?;
        let chain_origin = Origin::File(chain_path.to_owned());
        let chain = parse_pem_certificates(&read_file(chain_path)?, &chain_origin)?;
        let ca_origin = Origin::File(ca_path.to_owned());
        let cas = parse_pem_certificates(&read_file(ca_path)?, &ca_origin)?;
        Self::checked(
            node_key,
            Origin::File(key.to_owned()),
            (chain, chain_origin),
            (cas, ca_origin),
        )
    }

    /// Assembles an identity from parts, with the same checks as loading from files.
    pub fn from_parts(
        key: NodeKey,
        chain: Vec<CertificateDer<'static>>,
        trusted_cas: Vec<CertificateDer<'static>>,
    ) -> Result<Self, IdentityError> {
        let ca_origin = Origin::Memory("trusted CA certificates");
        for (index, ca) in trusted_cas.iter().enumerate() {
            inspect(ca, &ca_origin, index + 1)?;
        }
        if trusted_cas.is_empty() {
            return Err(IdentityError::NoPem {
                origin: ca_origin,
                expected: "CERTIFICATE",
            });
        }
        let chain_origin = Origin::Memory("certificate chain");
        Self::checked(
            key,
            Origin::Memory("node key"),
            (chain, chain_origin),
            (trusted_cas, ca_origin),
        )
    }

    /// Assembles an identity without any check: for tests that make a node present a certificate whose
    /// key it does not own, or a leaf with a key of another type. Never use it for a real node.
    #[doc(hidden)]
    pub fn from_parts_unchecked(
        key: NodeKey,
        chain: Vec<CertificateDer<'static>>,
        trusted_cas: Vec<CertificateDer<'static>>,
    ) -> Self {
        let keypair = key.to_keypair();
        Self {
            key,
            keypair,
            chain,
            trusted_cas,
        }
    }

    fn checked(
        key: NodeKey,
        key_origin: Origin,
        (chain, chain_origin): (Vec<CertificateDer<'static>>, Origin),
        (trusted_cas, ca_origin): (Vec<CertificateDer<'static>>, Origin),
    ) -> Result<Self, IdentityError> {
        let Some(leaf) = chain.first() else {
            return Err(IdentityError::NoPem {
                origin: chain_origin,
                expected: "CERTIFICATE",
            });
        };
        for (index, cert) in chain.iter().enumerate().skip(1) {
            inspect(cert, &chain_origin, index + 1)?;
        }
        let info = inspect(leaf, &chain_origin, 1)?;
        let cert_id = match info.key {
            LeafKey::Secp256k1(id) => id,
            LeafKey::Other(found) => {
                return Err(IdentityError::LeafKeyNotSecp256k1 {
                    origin: chain_origin,
                    found,
                })
            }
        };
        if cert_id != key.node_id() {
            return Err(IdentityError::KeyMismatch {
                key: key_origin,
                cert: chain_origin,
                key_id: Box::new(key.node_id()),
                cert_id: Box::new(cert_id),
            });
        }
        if let Some(reason) = untrusted_reason(leaf, &info, &chain[1..], &trusted_cas) {
            let detail = format!(
                "{} is issued by {}, the CA file holds {}; {reason}",
                info.subject,
                info.issuer,
                ca_subjects(&trusted_cas)
            );
            return Err(IdentityError::UntrustedChain {
                cert: chain_origin,
                cas: ca_origin,
                detail,
            });
        }
        warn_about_leaf(&chain_origin, &info);
        Ok(Self::from_parts_unchecked(key, chain, trusted_cas))
    }

    /// The node's private key.
    pub fn key(&self) -> &NodeKey {
        &self.key
    }

    /// The node's ID (from its key).
    pub fn node_id(&self) -> NodeId {
        self.key.node_id()
    }

    /// The node key as a libp2p keypair (secp256k1).
    pub fn keypair(&self) -> &libp2p::identity::Keypair {
        &self.keypair
    }

    /// The certificate chain the node presents, leaf first (node, then agency if any, then CA).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The CA certificates the node trusts (all of `ca.crt`).
    pub fn trusted_cas(&self) -> &[CertificateDer<'static>] {
        &self.trusted_cas
    }
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("node_id", &self.node_id())
            .field("chain_len", &self.chain.len())
            .field("trusted_cas", &self.trusted_cas.len())
            .finish_non_exhaustive()
    }
}

/// The subjects of the trusted CAs, for an error message: `CN=chain0, O=fisco-bcos; ...`.
fn ca_subjects(cas: &[CertificateDer<'_>]) -> String {
    let subjects: Vec<String> = cas
        .iter()
        .map(|ca| {
            inspect(ca, &Origin::Memory("CA"), 1)
                .map_or_else(|_| "(unreadable)".to_owned(), |info| info.subject)
        })
        .collect();
    subjects.join("; ")
}

/// Peers will refuse a leaf that is a CA or out of its validity window: say so at load time.
fn warn_about_leaf(origin: &Origin, info: &super::CertificateInfo) {
    if info.is_ca {
        warn!(file = %origin, "the node certificate is a CA (CA:TRUE); peers will refuse it");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if !info.is_valid_at(now) {
        warn!(
            file = %origin,
            not_before = info.not_before,
            not_after = info.not_after,
            "the node certificate is not valid now; peers will refuse it"
        );
    }
}
