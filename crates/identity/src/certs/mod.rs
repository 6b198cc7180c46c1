//! Making FISCO-style certificates: a chain CA, agencies and nodes, as FISCO's `build_chain` does.
//!
//! rcgen cannot put a secp256k1 key in a certificate, so certificates are built with RustCrypto's
//! `x509-cert` and signed with `k256` (ecdsa-with-SHA256). They are X.509 v3 with FISCO's subjects
//! (`CN=<name>,O=fisco-bcos,OU=chain|agency|node`) and extensions, valid for 36500 days by default.
//!
//! - [`new_ca`], [`new_agency`], [`new_node`], [`issue`], [`self_signed`]: certificates in memory,
//!   described by a [`CertSpec`] (tests use its explicit validity window and CA flag to make
//!   certificates peers must refuse);
//! - [`write_ca_dir`], [`write_agency_dir`], [`write_node_dir`]: the directories of
//!   `fisco-p2p certs ca|agency|node`, in FISCO's layout.
//!
//! ```
//! use fisco_p2p_identity::certs::{new_agency, new_ca, new_node, CertSpec, Role};
//! use fisco_p2p_identity::NodeIdentity;
//!
//! let ca = new_ca(&CertSpec::new(Role::Chain, "chain0"))?;
//! let agency = new_agency(&CertSpec::new(Role::Agency, "agency0"), &ca)?;
//! let (key, cert) = new_node(&CertSpec::new(Role::Node, "node0"), &agency)?;
//! let chain = vec![cert, agency.certificate().clone(), ca.certificate().clone()];
//! let node = NodeIdentity::from_parts(key, chain, vec![ca.certificate().clone()])?;
//! println!("node ID {}", node.node_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod check;
mod dirs;
mod issue;
mod profile;

use std::path::PathBuf;

pub use dirs::{
    certificate_pem, write_agency_dir, write_ca_dir, write_node_dir, AGENCY_CERT_FILE,
    AGENCY_KEY_FILE, CA_KEY_FILE, NODE_ID_FILE,
};
pub use issue::{
    issue, new_agency, new_ca, new_node, self_signed, CertSpec, Issuer, Role, Validity,
    DEFAULT_DAYS,
};

use crate::{IdentityError, Origin};

/// Why a certificate or certificate directory could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertsError {
    /// Reading an existing key or certificate failed.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The subject name cannot be used.
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The validity window cannot be used.
    #[error("bad validity: {0}")]
    BadValidity(String),
    /// The certificate given as issuer cannot issue certificates.
    #[error("{origin}: cannot issue certificates with this certificate: {reason}")]
    NotAnIssuer {
        /// The issuer certificate at fault.
        origin: Origin,
        /// Why (not a CA, not secp256k1, key not its own...).
        reason: String,
    },
    /// The agency was not issued by the CA it is used with.
    #[error(
        "{agency}: the agency was not issued by the CA given: {reason}; \
         pass the CA directory the agency was made with"
    )]
    AgencyNotFromCa {
        /// The agency certificate file.
        agency: Origin,
        /// How it differs from the CA.
        reason: String,
    },
    /// A CA or agency directory given does not exist.
    #[error("{path}: no such {what} directory (make one with `fisco-p2p certs {command}`)")]
    NoSuchDir {
        /// The directory given.
        path: PathBuf,
        /// "CA" or "agency".
        what: &'static str,
        /// The `certs` subcommand that makes one.
        command: &'static str,
    },
    /// A key file is already there; overwriting it would lose a key.
    #[error(
        "{0}: a key file is already there; refusing to overwrite it (use --force to replace it)"
    )]
    KeyExists(PathBuf),
    /// Writing a file or creating a directory failed.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate could not be built or encoded (a bug, or an unusable key).
    #[error("cannot build the certificate: {0}")]
    Build(String),
}

#[cfg(test)]
mod tests;
