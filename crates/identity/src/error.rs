//! [`IdentityError`]: everything that can be wrong with a node's key and certificate files.

use std::fmt;
use std::path::PathBuf;

use super::NodeId;

/// Where a key or certificate came from, so that errors name the file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from this file.
    File(PathBuf),
    /// Given in memory (no file); the text says what it was.
    Memory(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Memory(what) => write!(f, "<{what}>"),
        }
    }
}

/// Which directory layout a missing file belongs to, and how to make it.
fn layout_hint(path: &std::path::Path) -> &'static str {
    match path.file_name().and_then(|name| name.to_str()) {
        Some("ca.key") => "a CA directory holds ca.crt and ca.key (make one with `fisco-p2p certs ca`)",
        Some("ssl.key" | "ssl.crt") => {
            "a FISCO 3.x node's conf/ folder holds ssl.key, ssl.crt and ca.crt (made by FISCO's \
             build_chain.sh)"
        }
        Some("agency.key" | "agency.crt") => {
            "an agency directory holds agency.crt and agency.key (make one with `fisco-p2p certs agency`)"
        }
        _ => {
            "a FISCO 2.x node directory holds node.key, node.crt and ca.crt (make one with \
             `fisco-p2p certs node` or FISCO's build_chain), a FISCO 3.x conf/ folder ssl.key, \
             ssl.crt and ca.crt"
        }
    }
}

/// Why a node's identity (key, certificate chain, trusted CAs) could not be loaded or used.
///
/// Every message starts with the file (or in-memory input) at fault and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A file of the node directory does not exist.
    #[error("{path}: no such file; {}", layout_hint(.path))]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A file exists but could not be read (permissions, I/O error).
    #[error("{path}: cannot read: {source}; check the file's permissions")]
    Read {
        /// The unreadable file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input holds no PEM block of the kind expected (empty file, garbage, wrong file).
    #[error("{origin}: no {expected} PEM block found; is this the right file?")]
    NoPem {
        /// The input at fault.
        origin: Origin,
        /// The PEM label(s) looked for.
        expected: &'static str,
    },
    /// The input looks like PEM but is malformed (bad base64, missing END line...).
    #[error("{origin}: malformed PEM: {reason}; regenerate or re-copy the file")]
    BadPem {
        /// The input at fault.
        origin: Origin,
        /// What the PEM parser said.
        reason: String,
    },
    /// The private key does not decode.
    #[error(
        "{origin}: the private key does not decode ({reason}); a FISCO 2.x node.key is an \
         unencrypted PEM secp256k1 key, PKCS#8 (BEGIN PRIVATE KEY) or SEC1 (BEGIN EC PRIVATE \
         KEY), a FISCO 3.x conf/ssl.key an unencrypted PEM RSA key of 2048 to 4096 bits"
    )]
    BadKey {
        /// The input at fault.
        origin: Origin,
        /// What is wrong with it.
        reason: String,
    },
    /// The private key is valid but not a secp256k1 key.
    #[error(
        "{origin}: the private key is {found}, but a FISCO node key must be secp256k1; \
         generate one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1`"
    )]
    KeyNotSecp256k1 {
        /// The input at fault.
        origin: Origin,
        /// The algorithm or curve found, e.g. "EC prime256v1" or "RSA".
        found: String,
    },
    /// The private key is valid but of a kind no node key has (neither secp256k1 nor RSA).
    #[error(
        "{origin}: the private key is {found}, but a node key is secp256k1 (FISCO 2.x node.key) \
         or RSA of 2048 to 4096 bits (FISCO 3.x conf/ssl.key); SM2 (guomi) keys are not \
         supported yet"
    )]
    UnsupportedKey {
        /// The input at fault.
        origin: Origin,
        /// The algorithm or curve found, e.g. "EC prime256v1".
        found: String,
    },
    /// A certificate does not parse as X.509.
    #[error("{origin}: certificate #{index} does not parse as X.509: {reason}")]
    BadCertificate {
        /// The input at fault.
        origin: Origin,
        /// Position of the certificate in the file, counting from 1.
        index: usize,
        /// What the parser said.
        reason: String,
    },
    /// The node (leaf) certificate carries a key that is neither secp256k1 nor RSA.
    #[error(
        "{origin}: the node certificate's key is {found}, but FISCO node certificates carry a \
         secp256k1 key (2.x node.crt) or an RSA key of 2048 to 4096 bits (3.x conf/ssl.crt); \
         issue it for the node's key"
    )]
    LeafKeyUnsupported {
        /// The certificate file at fault.
        origin: Origin,
        /// The algorithm or curve found.
        found: String,
    },
    /// The private key is not the one the node certificate was issued for.
    #[error(
        "{key}: this key (node ID {key_id:?}) is not the key of the node certificate in {cert} \
         (node ID {cert_id:?}); use the node.key and node.crt issued together"
    )]
    KeyMismatch {
        /// The key file.
        key: Origin,
        /// The certificate file.
        cert: Origin,
        /// The node ID of the key (boxed to keep the error small).
        key_id: Box<NodeId>,
        /// The node ID of the certificate.
        cert_id: Box<NodeId>,
    },
    /// The node certificate does not lead to any CA of the trusted CA file: every peer of the
    /// chain would refuse it as `unknown_ca`.
    #[error(
        "{cert}: the node certificate does not chain to a CA trusted in {cas}: {detail}; use \
         the ca.crt of the chain that issued node.crt, or reissue node.crt from that CA \
         (`fisco-p2p certs node`)"
    )]
    UntrustedChain {
        /// The certificate chain (node.crt).
        cert: Origin,
        /// The trusted CA file (ca.crt).
        cas: Origin,
        /// The certificate's subject and issuer, the trusted CAs' subjects, and what the path
        /// check found.
        detail: String,
    },
    /// A file is a directory, FIFO, socket or device rather than a regular file.
    #[error("{path}: a {kind}, not a regular file; point at the file itself")]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file is far larger than any key or certificate file.
    #[error("{path}: larger than {max} bytes, far more than a key or certificate file holds; is this the right file?")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        max: u64,
    },
    /// A key could not be encoded (should not happen with a valid key).
    #[error("cannot encode the node key: {0}")]
    Encode(String),
    /// The folder holds the SM (guomi) certificates of a FISCO SM chain, and no secp256k1 or RSA
    /// ones.
    #[error(
        "{}: this is a FISCO SM (guomi) node folder ({found}); SM (guomi) TLS is not supported \
         yet: use a chain made without SM crypto (build_chain.sh without -g/-s)",
        dir.display()
    )]
    SmNotSupported {
        /// The folder.
        dir: PathBuf,
        /// The SM file found there.
        found: &'static str,
    },
    /// A folder of extra trusted CAs (FISCO 3.x `multi_ca_path`) could not be read.
    #[error("{}: cannot read the folder of trusted CAs: {reason}", dir.display())]
    CaFolder {
        /// The folder.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
}
