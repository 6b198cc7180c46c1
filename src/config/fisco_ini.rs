//! FISCO BCOS 2.x `config.ini`, as `build_chain.sh` writes it.
//!
//! Only four sections matter to the network: `[p2p]` (`listen_ip`, `listen_port`, `node.N`),
//! `[certificate_blacklist]` (`crl.N`), `[certificate_whitelist]` (`cal.N`) and
//! `[network_security]` (`data_path`). A real file has many more (rpc, chain, tx_pool, log...):
//! they are skipped, as are other keys of the four (FISCO's `sm_ssl`, `key`, `cert`...). Lines
//! that are not INI, and bad values or repeated keys among the ones read, are errors.
//!
//! The INI dialect is that of FISCO's reader (Boost property_tree): `[section]`, `key=value`,
//! whole-line comments starting with `;` (or `#`); values are not unquoted and have no inline
//! comments.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use super::error::{ConfigError, Location};
use super::file::NodeFile;
use super::value::{parse_node_id, Address};

/// FISCO's defaults when `[p2p]` leaves out a listen key: every interface, port 30300.
const DEFAULT_LISTEN_IP: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
const DEFAULT_LISTEN_PORT: u16 = 30300;
/// FISCO's default `[network_security] data_path`, relative to the node's folder.
const DEFAULT_DATA_PATH: &str = "conf/";

/// The sections read; keys of every other section are skipped.
const SECTIONS: [&str; 4] = [
    "p2p",
    "certificate_blacklist",
    "certificate_whitelist",
    "network_security",
];

/// One `key=value` line.
struct Entry<'t> {
    section: &'t str,
    key: &'t str,
    value: &'t str,
    line: usize,
}

impl Entry<'_> {
    fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// Reads `text`, the contents of the `config.ini` at `path`.
pub(crate) fn parse(text: &str, path: &Path) -> Result<NodeFile, ConfigError> {
    let entries = entries(text, path)?;
    let mut reader = Reader::new(path);
    for entry in &entries {
        reader.read(entry)?;
    }
    let base = path.parent().unwrap_or(Path::new(""));
    let listen = Address::from(SocketAddr::new(reader.listen_ip, reader.listen_port));
    let mut file = NodeFile::default()
        .with_dir(reader.data_path)
        .with_listen(vec![listen])
        .with_peers(reader.peers)
        .with_blacklist(reader.blacklist)
        .with_whitelist(reader.whitelist);
    file.resolve_dir(base);
    file.set_source(path);
    file.check(path)?;
    Ok(file)
}

/// The `key=value` lines of the sections read, checking that every line of the file is INI.
fn entries<'t>(text: &'t str, path: &Path) -> Result<Vec<Entry<'t>>, ConfigError> {
    let syntax = |line: usize, message: String| ConfigError::Syntax {
        location: Location::new(path, Some(line)),
        format: "INI",
        message,
    };
    let mut section = "";
    let mut entries = Vec::new();
    for (index, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    syntax(
                        line,
                        format!("{trimmed:?} is not a section header; write [name]"),
                    )
                })?;
            section = name;
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                syntax(
                    line,
                    format!("{trimmed:?} is neither [section], key=value nor a ; comment"),
                )
            })?;
        if SECTIONS.contains(&section) {
            entries.push(Entry {
                section,
                key,
                value,
                line,
            });
        }
    }
    Ok(entries)
}

/// What the read sections say, gathered key by key.
struct Reader<'p> {
    path: &'p Path,
    seen: HashSet<String>,
    listen_ip: IpAddr,
    listen_port: u16,
    peers: Vec<Address>,
    blacklist: Vec<crate::identity::NodeId>,
    whitelist: Vec<crate::identity::NodeId>,
    data_path: String,
}

impl<'p> Reader<'p> {
    fn new(path: &'p Path) -> Self {
        Self {
            path,
            seen: HashSet::new(),
            listen_ip: DEFAULT_LISTEN_IP,
            listen_port: DEFAULT_LISTEN_PORT,
            peers: Vec::new(),
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            data_path: DEFAULT_DATA_PATH.into(),
        }
    }

    fn read(&mut self, entry: &Entry<'_>) -> Result<(), ConfigError> {
        let bad = |message: String| {
            ConfigError::bad_value(
                Location::new(self.path, Some(entry.line)),
                entry.name(),
                message,
            )
        };
        let used = matches!(
            (entry.section, entry.key),
            ("p2p", "listen_ip" | "listen_port") | ("network_security", "data_path")
        ) || indexed(entry, "p2p", "node.")
            || indexed(entry, "certificate_blacklist", "crl.")
            || indexed(entry, "certificate_whitelist", "cal.");
        if !used {
            return Ok(());
        }
        // FISCO's reader refuses a repeated key too; silently keeping one would hide a mistake.
        if !self.seen.insert(entry.name()) {
            return Err(bad("this key appears twice; keep one".into()));
        }
        if entry.value.is_empty() {
            return Err(bad(
                "the value is empty; give one or comment the line out with ;".into(),
            ));
        }
        match (entry.section, entry.key) {
            ("p2p", "listen_ip") => self.listen_ip = listen_ip(entry.value).map_err(bad)?,
            ("p2p", "listen_port") => self.listen_port = port(entry.value).map_err(bad)?,
            ("network_security", "data_path") => self.data_path = entry.value.to_owned(),
            ("p2p", _) => self
                .peers
                .push(entry.value.parse().map_err(|e| bad(format!("{e}")))?),
            ("certificate_blacklist", _) => self
                .blacklist
                .push(parse_node_id(entry.value).map_err(bad)?),
            _ => self
                .whitelist
                .push(parse_node_id(entry.value).map_err(bad)?),
        }
        Ok(())
    }
}

/// Whether the entry is `<prefix>N` in `section`, the numbered keys FISCO lists values with.
fn indexed(entry: &Entry<'_>, section: &str, prefix: &str) -> bool {
    entry.section == section
        && entry
            .key
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty())
}

fn listen_ip(text: &str) -> Result<IpAddr, String> {
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    bare.parse().map_err(|_| {
        format!(
            "{text:?} is not an IP address; write one like 0.0.0.0 (every interface) or 127.0.0.1"
        )
    })
}

fn port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "{text:?} is not a port; write a number from 1 to 65535 such as 30300"
        )),
    }
}

#[cfg(test)]
#[path = "fisco_ini_tests.rs"]
mod tests;
