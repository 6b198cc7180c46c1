//! The FISCO 3.x form of `config.ini` (FISCO 3.0 to 3.16, `BcosAirBuilder/build_chain.sh`).
//!
//! Read: `[p2p]` `listen_ip`, `listen_port`, `nodes_path` and `nodes_file` (the `nodes.json` of
//! peers), `enable_compression`; `[cert]` `ca_path` (default `./conf`, relative to the node's
//! folder, where FISCO runs), and relative to it `ca_cert`, `node_key`, `node_cert` and
//! `multi_ca_path` (a folder of further trusted CAs); the two certificate lists (whose node IDs
//! are the 512-hex moduli of `ssl.nodeid`). Refused: `sm_ssl=true` (SM TLS) and
//! `enable_ssl_verify=false` (this crate always checks certificates). Left aside with the
//! reason: `enable_rip_protocol` (routing over every link is always on).

use std::path::Path;

use super::error::{ConfigError, Location};
use super::ini::{resolve, Common, Entry, SM_REFUSED};
use super::nodes_json;
use super::{credentials::Credentials, file::NodeFile};
use crate::identity::{CA_CERT_FILE, SSL_CERT_FILE, SSL_KEY_FILE};

/// FISCO 3.x's defaults.
const DEFAULT_NODES_PATH: &str = "./";
const DEFAULT_NODES_FILE: &str = "nodes.json";
const DEFAULT_CA_PATH: &str = "./conf";
const DEFAULT_MULTI_CA_PATH: &str = "multiCaPath";

/// Reads a FISCO 3.x file at `path`, whose folder is `base`; the peers come from its nodes.json.
pub(super) fn read(
    entries: &[Entry<'_>],
    path: &Path,
    base: &Path,
) -> Result<NodeFile, ConfigError> {
    let mut common = Common::new(path);
    let mut nodes_path = DEFAULT_NODES_PATH;
    let mut nodes_file = DEFAULT_NODES_FILE;
    let mut nodes_line = None;
    let mut ca_path = DEFAULT_CA_PATH;
    let (mut key, mut cert, mut ca) = (SSL_KEY_FILE, SSL_CERT_FILE, CA_CERT_FILE);
    let mut multi_ca: Option<&str> = None;
    for entry in entries {
        if common.read_shared(entry)? {
            continue;
        }
        match (entry.section, entry.key) {
            ("p2p", "nodes_path" | "nodes_file") => {
                common.take(entry)?;
                nodes_line = Some(entry.line);
                if entry.key == "nodes_path" {
                    nodes_path = entry.value;
                } else {
                    nodes_file = entry.value;
                }
            }
            ("p2p", "enable_compression") => {
                common.take(entry)?;
                common.compression = common.boolean(entry)?;
            }
            ("p2p", "sm_ssl") => {
                common.take(entry)?;
                if common.boolean(entry)? {
                    return Err(common.bad(entry, SM_REFUSED));
                }
            }
            ("p2p", "enable_ssl_verify") => {
                common.take(entry)?;
                if !common.boolean(entry)? {
                    return Err(common.bad(
                        entry,
                        "false would accept peers without checking their certificates; this \
                         node always checks them against the trusted CAs: remove the key or set \
                         it to true",
                    ));
                }
            }
            ("p2p", "enable_rip_protocol") => common.leave(
                entry,
                Some("routing over every link is always on: every node reaches every other"),
            ),
            ("cert", "ca_path" | "ca_cert" | "node_key" | "node_cert" | "multi_ca_path") => {
                common.take(entry)?;
                match entry.key {
                    "ca_path" => ca_path = entry.value,
                    "ca_cert" => ca = entry.value,
                    "node_key" => key = entry.value,
                    "node_cert" => cert = entry.value,
                    _ => multi_ca = Some(entry.value),
                }
            }
            _ => common.leave(entry, None),
        }
    }
    let conf = resolve(base, ca_path);
    let extra = multi_ca.unwrap_or(DEFAULT_MULTI_CA_PATH);
    // build_chain names the default folder without making it, and FISCO skips a missing one; a
    // folder the operator named otherwise must exist.
    let required = multi_ca.is_some_and(|dir| dir != DEFAULT_MULTI_CA_PATH);
    let credentials = Credentials::new(conf.join(key), conf.join(cert), conf.join(ca))
        .with_extra_cas(conf.join(extra), required);
    let nodes = resolve(base, nodes_path).join(nodes_file);
    let peers = nodes_json::load(&nodes).map_err(|error| {
        ConfigError::bad_value(
            Location::new(path, nodes_line),
            "p2p.nodes_path/nodes_file",
            format!(
                "the peers file {} cannot be used ({error}); FISCO 3.x keeps the peers there as \
                 {{\"nodes\":[\"ip:port\",...]}}",
                nodes.display()
            ),
        )
    })?;
    Ok(NodeFile::default()
        .with_dir(conf)
        .with_credentials(credentials)
        .with_listen(vec![common.listen()])
        .with_peers(peers.peers().to_vec())
        .with_peers_file(nodes)
        .with_blacklist(common.blacklist.clone())
        .with_whitelist(common.whitelist.clone())
        .with_enable_compression(common.compression)
        .with_unused(common.unused(entries)))
}
