//! [`NodeIdentity`]: a node's key, its certificate chain and the CAs it trusts, loaded and cross-checked.

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use tracing::warn;

use super::certificate::{inspect, parse_pem_certificates, LeafKey};
use super::error::{IdentityError, Origin};
use super::own_chain::untrusted_reason;
use super::{read_file, KeyKind, NodeId, PrivateKey};

/// File name of the node's private key in a FISCO 2.x node directory.
pub const NODE_KEY_FILE: &str = "node.key";
/// File name of the node's certificate bundle in a FISCO 2.x node directory.
pub const NODE_CERT_FILE: &str = "node.crt";
/// File name of the trusted CA certificate(s) in a FISCO node directory (2.x and 3.x).
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of the node's RSA private key in a FISCO 3.x `conf/` folder.
pub const SSL_KEY_FILE: &str = "ssl.key";
/// File name of the node's RSA certificate in a FISCO 3.x `conf/` folder.
pub const SSL_CERT_FILE: &str = "ssl.crt";

/// Most certificate files read from a folder of extra trusted CAs.
const MAX_CA_FILES: usize = 1000;

/// The two layouts of a node's certificate folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// FISCO 2.x: `node.key` (secp256k1), `node.crt`, `ca.crt`.
    Fisco2,
    /// FISCO 3.x: `ssl.key` (RSA), `ssl.crt`, `ca.crt`.
    Fisco3,
}

impl Layout {
    /// The layout of `dir`, by the key file it holds; `None` if it holds neither.
    pub fn of(dir: &Path) -> Option<Layout> {
        if dir.join(NODE_KEY_FILE).exists() {
            Some(Layout::Fisco2)
        } else if dir.join(SSL_KEY_FILE).exists() {
            Some(Layout::Fisco3)
        } else {
            None
        }
    }

    /// The key and certificate file names of this layout.
    pub fn files(self) -> (&'static str, &'static str) {
        match self {
            Layout::Fisco2 => (NODE_KEY_FILE, NODE_CERT_FILE),
            Layout::Fisco3 => (SSL_KEY_FILE, SSL_CERT_FILE),
        }
    }
}

/// The folder holding a node's certificates: `dir` itself, or its `conf/` (a FISCO node
/// folder), with the layout found there. A folder of SM (guomi) certificates is refused by name.
pub fn certificate_folder(dir: &Path) -> Result<(PathBuf, Layout), IdentityError> {
    for candidate in [dir.to_owned(), dir.join("conf")] {
        if let Some(layout) = Layout::of(&candidate) {
            return Ok((candidate, layout));
        }
    }
    for candidate in [dir.to_owned(), dir.join("conf")] {
        for found in ["sm_ssl.key", "sm_ca.crt", "gmnode.key", "gmca.crt"] {
            if candidate.join(found).exists() {
                return Err(IdentityError::SmNotSupported {
                    dir: candidate,
                    found,
                });
            }
        }
    }
    Err(IdentityError::MissingFile {
        path: dir.join(NODE_KEY_FILE),
    })
}

/// Everything a node presents and checks in a TLS handshake: key, certificate chain, trusted CAs.
///
/// Loading checks that the chain's first (leaf) certificate carries the node key's public key
/// (secp256k1 or RSA), and that the chain leads to one of the trusted CAs (a node whose `ca.crt`
/// does not vouch for its own certificate would be refused by every peer). It does not judge
/// validity dates or flags: the TLS verifier does that on every handshake (a leaf that is
/// expired or a CA only earns a warning here).
#[derive(Clone)]
pub struct NodeIdentity {
    key: PrivateKey,
    keypair: libp2p::identity::Keypair,
    chain: Vec<CertificateDer<'static>>,
    trusted_cas: Vec<CertificateDer<'static>>,
}

impl NodeIdentity {
    /// Loads a node's certificate folder laid out as FISCO does: 2.x `node.key`, `node.crt`,
    /// `ca.crt`, or 3.x `ssl.key`, `ssl.crt`, `ca.crt`. `dir` may also be the node folder whose
    /// `conf/` holds them.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let (dir, layout) = certificate_folder(dir.as_ref())?;
        let (key, cert) = layout.files();
        Self::from_files(dir.join(key), dir.join(cert), dir.join(CA_CERT_FILE))
    }

    /// Loads a PEM key (secp256k1 or RSA), a PEM certificate bundle (leaf first) and a PEM file
    /// of trusted CAs.
    pub fn from_files(
        key: impl AsRef<Path>,
        chain: impl AsRef<Path>,
        trusted_cas: impl AsRef<Path>,
    ) -> Result<Self, IdentityError> {
        let (key, chain_path, ca_path) = (key.as_ref(), chain.as_ref(), trusted_cas.as_ref());
        let node_key = PrivateKey::load(key)?;
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
        key: impl Into<PrivateKey>,
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
            key.into(),
            Origin::Memory("node key"),
            (chain, chain_origin),
            (trusted_cas, ca_origin),
        )
    }

    /// Assembles an identity without any check: for tests that make a node present a certificate whose
    /// key it does not own, or a leaf with a key of another type. Never use it for a real node;
    /// it exists only with the `test-utils` feature.
    #[cfg(feature = "test-utils")]
    pub fn from_parts_unchecked(
        key: impl Into<PrivateKey>,
        chain: Vec<CertificateDer<'static>>,
        trusted_cas: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self::assemble(key.into(), chain, trusted_cas)
    }

    /// An identity of these parts, as they are: the checks are the callers'.
    fn assemble(
        key: PrivateKey,
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

    /// Trusts the CAs of every certificate file in `dir` as well (FISCO 3.x `multi_ca_path`, a
    /// folder of CA certificates, possibly named by OpenSSL subject hash as `c_rehash` makes
    /// them). Files that hold no certificate are skipped; a certificate that does not parse is an
    /// error naming its file. Returns how many CAs were added.
    pub fn trust_cas_in(&mut self, dir: &Path) -> Result<usize, IdentityError> {
        let folder_error = |reason: String| IdentityError::CaFolder {
            dir: dir.to_owned(),
            reason,
        };
        let entries = std::fs::read_dir(dir).map_err(|e| folder_error(e.to_string()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .take(MAX_CA_FILES + 1)
            .collect();
        if files.len() > MAX_CA_FILES {
            return Err(folder_error(format!(
                "more than {MAX_CA_FILES} files; keep only the CA certificates there"
            )));
        }
        files.sort();
        let mut added = 0;
        for file in files {
            let bytes = read_file(&file)?;
            let origin = Origin::File(file.clone());
            match parse_pem_certificates(&bytes, &origin) {
                Ok(certs) => {
                    added += certs.len();
                    self.trusted_cas.extend(certs);
                }
                Err(IdentityError::NoPem { .. }) => {
                    tracing::debug!(file = %file.display(), "no certificate in the file; skipped");
                }
                Err(other) => return Err(other),
            }
        }
        Ok(added)
    }

    fn checked(
        key: PrivateKey,
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
        let cert_id = match &info.key {
            LeafKey::Secp256k1(id) | LeafKey::Rsa(id) => id.clone(),
            LeafKey::Other(found) => {
                return Err(IdentityError::LeafKeyUnsupported {
                    origin: chain_origin,
                    found: found.clone(),
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
        Ok(Self::assemble(key, chain, trusted_cas))
    }

    /// The node's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The kind of the node's key: secp256k1 (FISCO 2.x) or RSA (FISCO 3.x).
    pub fn kind(&self) -> KeyKind {
        self.key.kind()
    }

    /// The node's ID (from its key).
    pub fn node_id(&self) -> NodeId {
        self.key.node_id()
    }

    /// The node key as a libp2p keypair (secp256k1 or RSA).
    pub fn keypair(&self) -> &libp2p::identity::Keypair {
        &self.keypair
    }

    /// The certificate chain the node presents, leaf first (node, then agency if any, then CA).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The CA certificates the node trusts (all of `ca.crt`, and of the extra CA folder).
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
