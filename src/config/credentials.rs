//! [`Credentials`]: the key and certificate files a FISCO `config.ini` names, and loading the
//! node identity they make up.

use std::path::{Path, PathBuf};

/// The certificate files of a node as a FISCO `config.ini` names them (2.x `[network_security]`,
/// 3.x `[cert]`), paths resolved as FISCO resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    key: PathBuf,
    cert: PathBuf,
    ca: PathBuf,
    extra_cas: Option<(PathBuf, bool)>,
}

impl Credentials {
    pub(crate) fn new(key: PathBuf, cert: PathBuf, ca: PathBuf) -> Self {
        Self {
            key,
            cert,
            ca,
            extra_cas: None,
        }
    }

    /// Also trusts the CAs of the folder `dir` (FISCO 3.x `multi_ca_path`); `required` when the
    /// file names it explicitly, so that a missing folder is an error rather than skipped.
    pub(crate) fn with_extra_cas(mut self, dir: PathBuf, required: bool) -> Self {
        self.extra_cas = Some((dir, required));
        self
    }

    /// The private key file (`node.key`, `conf/ssl.key`).
    pub fn key(&self) -> &Path {
        &self.key
    }

    /// The certificate file (`node.crt`, `conf/ssl.crt`).
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// The trusted CA file (`ca.crt`).
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// A folder of further trusted CAs (FISCO 3.x `multi_ca_path`), and whether the file named it
    /// (a folder only defaulted to may be missing).
    pub fn extra_cas(&self) -> Option<(&Path, bool)> {
        self.extra_cas
            .as_ref()
            .map(|(dir, required)| (dir.as_path(), *required))
    }

    /// Loads the node identity these files make up.
    pub fn load(&self) -> Result<crate::identity::NodeIdentity, crate::identity::IdentityError> {
        let mut identity =
            crate::identity::NodeIdentity::from_files(&self.key, &self.cert, &self.ca)?;
        if let Some((dir, required)) = &self.extra_cas {
            if *required || dir.is_dir() {
                let added = identity.trust_cas_in(dir)?;
                tracing::info!(dir = %dir.display(), added, "extra trusted CAs");
            } else {
                tracing::info!(dir = %dir.display(), "no folder of extra trusted CAs (multi_ca_path); only ca.crt is trusted");
            }
        }
        Ok(identity)
    }
}
