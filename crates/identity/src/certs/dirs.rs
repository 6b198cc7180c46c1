//! Certificate directories in FISCO's layout, as `fisco-p2p certs ca|agency|node` writes them.
//!
//! Key files are written with mode 0600 and never overwritten unless asked (`force`): losing a CA key
//! means reissuing every certificate of the chain.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use x509_cert::der::pem::{self, LineEnding};

use super::check::check_issued_by;
use super::issue::{issue, new_agency, new_ca, CertSpec, Issuer};
use super::CertsError;
use crate::{
    parse_pem_certificates, read_file, NodeId, NodeKey, Origin, CA_CERT_FILE, NODE_CERT_FILE,
    NODE_KEY_FILE,
};

/// File name of the chain CA's private key.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of an agency's certificate.
pub const AGENCY_CERT_FILE: &str = "agency.crt";
/// File name of an agency's private key.
pub const AGENCY_KEY_FILE: &str = "agency.key";
/// File name of the node ID written beside a node's key (128 hex characters and a newline).
pub const NODE_ID_FILE: &str = "node.nodeid";

/// Makes a chain CA in `out`: `ca.key` and the self-signed `ca.crt`.
pub fn write_ca_dir(out: &Path, spec: &CertSpec, force: bool) -> Result<Issuer, CertsError> {
    let key_path = out.join(CA_KEY_FILE);
    refuse_existing_keys(&[&key_path], force)?;
    let ca = new_ca(spec)?;
    create_dir(out)?;
    write_key(&key_path, ca.key())?;
    write_public(&out.join(CA_CERT_FILE), &certificate_pem(ca.certificate())?)?;
    Ok(ca)
}

/// Makes an agency in `out` (`agency.key`, `agency.crt`, and a copy of `ca.crt` as FISCO keeps one),
/// issued by the CA of `ca_dir` (`ca.key`, `ca.crt`).
pub fn write_agency_dir(
    ca_dir: &Path,
    out: &Path,
    spec: &CertSpec,
    force: bool,
) -> Result<Issuer, CertsError> {
    let key_path = out.join(AGENCY_KEY_FILE);
    refuse_existing_keys(&[&key_path], force)?;
    let ca = Issuer::load(
        ca_dir.join(CA_KEY_FILE),
        existing_dir(ca_dir, "CA")?.join(CA_CERT_FILE),
    )?;
    let agency = new_agency(spec, &ca)?;
    create_dir(out)?;
    write_key(&key_path, agency.key())?;
    write_public(
        &out.join(AGENCY_CERT_FILE),
        &certificate_pem(agency.certificate())?,
    )?;
    copy_public(&ca_dir.join(CA_CERT_FILE), &out.join(CA_CERT_FILE))?;
    Ok(agency)
}

/// Makes a node directory in `out`: `node.key` (PKCS#8), `node.crt` (node, agency if any, CA),
/// `ca.crt` and `node.nodeid`. The node is issued by the agency of `agency_dir` if given, else
/// directly by the CA of `ca_dir`.
pub fn write_node_dir(
    ca_dir: &Path,
    agency_dir: Option<&Path>,
    out: &Path,
    spec: &CertSpec,
    force: bool,
) -> Result<NodeId, CertsError> {
    let key_path = out.join(NODE_KEY_FILE);
    refuse_existing_keys(&[&key_path], force)?;
    let ca_cert_path = existing_dir(ca_dir, "CA")?.join(CA_CERT_FILE);
    let (issuer, mut bundle) = match agency_dir {
        Some(agency_dir) => {
            existing_dir(agency_dir, "agency")?;
            let cert_path = agency_dir.join(AGENCY_CERT_FILE);
            let agency = Issuer::load(agency_dir.join(AGENCY_KEY_FILE), &cert_path)?;
            let ca_cert = first_certificate(&ca_cert_path)?;
            check_issued_by(agency.certificate(), &ca_cert, &cert_path)?;
            let bundle = vec![agency.certificate().clone(), ca_cert];
            (agency, bundle)
        }
        None => {
            let ca = Issuer::load(ca_dir.join(CA_KEY_FILE), &ca_cert_path)?;
            let bundle = vec![ca.certificate().clone()];
            (ca, bundle)
        }
    };
    let key = NodeKey::generate();
    bundle.insert(0, issue(spec, &key.public_key(), &issuer)?);
    create_dir(out)?;
    write_key(&key_path, &key)?;
    let bundle_pem = bundle
        .iter()
        .map(certificate_pem)
        .collect::<Result<String, _>>()?;
    write_public(&out.join(NODE_CERT_FILE), &bundle_pem)?;
    copy_public(&ca_cert_path, &out.join(CA_CERT_FILE))?;
    write_public(&out.join(NODE_ID_FILE), &format!("{}\n", key.node_id()))?;
    Ok(key.node_id())
}

/// PEM text (`BEGIN CERTIFICATE`) of a DER certificate.
pub fn certificate_pem(der: &CertificateDer<'_>) -> Result<String, CertsError> {
    pem::encode_string("CERTIFICATE", LineEnding::LF, der)
        .map_err(|e| CertsError::Build(e.to_string()))
}

fn first_certificate(path: &Path) -> Result<CertificateDer<'static>, CertsError> {
    let origin = Origin::File(path.to_owned());
    let certs = parse_pem_certificates(&read_file(path)?, &origin)?;
    // parse_pem_certificates refuses a file without certificates, so there is a first one.
    certs
        .into_iter()
        .next()
        .ok_or_else(|| CertsError::NotAnIssuer {
            origin,
            reason: "it holds no certificate".into(),
        })
}

/// Refuses a CA or agency directory that is not there, before naming the files it lacks.
fn existing_dir<'a>(dir: &'a Path, what: &'static str) -> Result<&'a Path, CertsError> {
    if dir.is_dir() {
        return Ok(dir);
    }
    let command = if what == "CA" { "ca" } else { "agency" };
    Err(CertsError::NoSuchDir {
        path: dir.to_owned(),
        what,
        command,
    })
}

fn refuse_existing_keys(paths: &[&PathBuf], force: bool) -> Result<(), CertsError> {
    match paths.iter().find(|p| p.exists()) {
        Some(path) if !force => Err(CertsError::KeyExists(path.to_path_buf())),
        _ => Ok(()),
    }
}

fn create_dir(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|source| CertsError::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a private key as PKCS#8 PEM, readable by its owner only.
fn write_key(path: &Path, key: &NodeKey) -> Result<(), CertsError> {
    let pem = key.to_pkcs8_pem()?;
    let write_error = |source| CertsError::Write {
        path: path.to_owned(),
        source,
    };
    // Remove first, so the file is created anew with mode 0600 rather than keeping an old mode.
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_error(e)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(write_error)?;
    file.write_all(pem.as_bytes()).map_err(write_error)?;
    file.sync_all().map_err(write_error)
}

fn write_public(path: &Path, text: &str) -> Result<(), CertsError> {
    fs::write(path, text).map_err(|source| CertsError::Write {
        path: path.to_owned(),
        source,
    })
}

fn copy_public(from: &Path, to: &Path) -> Result<(), CertsError> {
    let text = read_file(from)?;
    fs::write(to, text).map_err(|source| CertsError::Write {
        path: to.to_owned(),
        source,
    })
}
