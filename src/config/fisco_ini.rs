//! FISCO BCOS `config.ini`, as `build_chain.sh` writes it, in both of its forms.
//!
//! The form is told by the keys, not the file name: FISCO 2.x lists its peers as `[p2p] node.N`
//! and names its certificates in `[network_security]`; FISCO 3.x keeps its peers in a
//! `nodes.json` named by `[p2p] nodes_path`/`nodes_file` and names its certificates in `[cert]`.
//! A file with keys of both forms is refused. `fisco_ini3.rs` reads the 3.x keys.
//!
//! What each form says about the network is read and checked (see `docs/config.md` for the key
//! by key list): listen address, peers, certificate files, black and white lists, compression.
//! What would change the network in a way this crate does not do is refused with the reason (SM
//! TLS, switching certificate checks off). Every other key (RPC, consensus, storage, logs...) is
//! listed in [`NodeFile::unused`] so that `run` can say once what it leaves aside. Lines that are
//! not INI, and bad values or repeated keys among the ones read, are errors.
//!
//! The INI dialect is that of FISCO's reader (Boost property_tree): `[section]`, `key=value`,
//! whole-line comments starting with `;` (or `#`); values are not unquoted and have no inline
//! comments.

use std::path::Path;

use super::error::{ConfigError, Location};
use super::fisco_ini3;
use super::ini::{entries, Common, Entry, SM_REFUSED};
use super::value::Address;
use super::{credentials::Credentials, file::NodeFile};
use crate::identity::{CA_CERT_FILE, NODE_CERT_FILE, NODE_KEY_FILE};

/// FISCO 2.x's default `[network_security] data_path`, relative to the node's folder.
const DEFAULT_DATA_PATH: &str = "conf/";

/// Reads `text`, the contents of the `config.ini` at `path`.
pub(crate) fn parse(text: &str, path: &Path) -> Result<NodeFile, ConfigError> {
    let entries = entries(text, path)?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut file = if is_fisco3(&entries, path)? {
        fisco_ini3::read(&entries, path, base)?
    } else {
        read2(&entries, path, base)?
    };
    file.set_source(path);
    file.check(path)?;
    Ok(file)
}

/// Whether the file is of FISCO 3.x's form; an error if it mixes both forms.
fn is_fisco3(entries: &[Entry<'_>], path: &Path) -> Result<bool, ConfigError> {
    let three = entries.iter().find(|e| {
        e.section == "cert"
            || (e.section == "p2p" && matches!(e.key, "nodes_path" | "nodes_file" | "sm_ssl"))
    });
    let two = entries
        .iter()
        .find(|e| e.section == "network_security" || e.indexed("p2p", "node."));
    match (two, three) {
        (Some(two), Some(three)) => Err(ConfigError::bad_value(
            Location::new(path, Some(three.line)),
            three.name(),
            format!(
                "this is a FISCO 3.x key, but line {} holds the FISCO 2.x key {}; a config.ini is \
                 of one form: keep the keys of the FISCO version the node folder was made for",
                two.line,
                two.name()
            ),
        )),
        (_, three) => Ok(three.is_some()),
    }
}

/// Reads a FISCO 2.x file: `[p2p]` (`listen_ip`, `listen_port`, `node.N`, `enable_compress`),
/// the two certificate lists, `[network_security]` (`data_path`, `key`, `cert`, `ca_cert`), and
/// `[chain] sm_crypto` (SM TLS, refused).
fn read2(entries: &[Entry<'_>], path: &Path, base: &Path) -> Result<NodeFile, ConfigError> {
    let mut common = Common::new(path);
    let mut peers = Vec::new();
    let mut data_path = DEFAULT_DATA_PATH.to_owned();
    let (mut key, mut cert, mut ca) = (NODE_KEY_FILE, NODE_CERT_FILE, CA_CERT_FILE);
    for entry in entries {
        if common.read_shared(entry)? {
            continue;
        }
        match (entry.section, entry.key) {
            ("p2p", _) if entry.indexed("p2p", "node.") => {
                common.take(entry)?;
                peers.push(
                    entry
                        .value
                        .parse::<Address>()
                        .map_err(|e| common.bad(entry, e.to_string()))?,
                );
            }
            ("p2p", "enable_compress") => {
                common.take(entry)?;
                common.compression = common.boolean(entry)?;
            }
            ("network_security", "data_path" | "key" | "cert" | "ca_cert") => {
                common.take(entry)?;
                match entry.key {
                    "data_path" => data_path = entry.value.to_owned(),
                    "key" => key = entry.value,
                    "cert" => cert = entry.value,
                    _ => ca = entry.value,
                }
            }
            ("chain", "sm_crypto") => {
                common.take(entry)?;
                if common.boolean(entry)? {
                    return Err(common.bad(entry, SM_REFUSED));
                }
            }
            ("chain", "sm_crypto_channel") => common.leave(entry, Some("SDK channel, not P2P")),
            _ => common.leave(entry, None),
        }
    }
    // FISCO runs in the node's folder: data_path is relative to it, the files to data_path.
    let data_path = base.join(&data_path);
    let credentials = Credentials::new(
        data_path.join(key),
        data_path.join(cert),
        data_path.join(ca),
    );
    Ok(NodeFile::default()
        .with_dir(data_path)
        .with_credentials(credentials)
        .with_listen(vec![common.listen()])
        .with_peers(peers)
        .with_blacklist(common.blacklist.clone())
        .with_whitelist(common.whitelist.clone())
        .with_enable_compression(common.compression)
        .with_unused(common.unused(entries)))
}

#[cfg(test)]
#[path = "fisco_ini_tests.rs"]
mod tests;
