//! What both forms of FISCO's `config.ini` share: the INI lines themselves, the keys read the
//! same way in 2.x and 3.x (listen address, the certificate lists, compression, SM crypto),
//! FISCO's defaults and its way of joining paths. `fisco_ini.rs` reads the 2.x form and
//! `fisco_ini3.rs` the 3.x one on top of this.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Location};
use super::value::{parse_node_id, Address};
use crate::identity::NodeId;

/// FISCO's defaults when `[p2p]` leaves out a listen key: every interface, port 30300.
pub(super) const DEFAULT_LISTEN_IP: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
pub(super) const DEFAULT_LISTEN_PORT: u16 = 30300;

/// The message for SM (guomi) TLS, asked for by either form.
pub(super) const SM_REFUSED: &str =
    "true asks for SM (guomi) TLS: SM (guomi) TLS is not supported yet; run this chain's nodes \
     with FISCO's own binary, or make a chain without SM crypto (build_chain.sh without -g/-s)";

/// One `key=value` line.
pub(super) struct Entry<'t> {
    pub(super) section: &'t str,
    pub(super) key: &'t str,
    pub(super) value: &'t str,
    pub(super) line: usize,
}

impl Entry<'_> {
    pub(super) fn name(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }

    /// Whether the entry is `<prefix>N` in `section`, the numbered keys FISCO lists values with.
    pub(super) fn indexed(&self, section: &str, prefix: &str) -> bool {
        self.section == section && self.key.strip_prefix(prefix).is_some_and(|n| !n.is_empty())
    }
}

/// Every `key=value` line, checking that every line of the file is INI.
pub(super) fn entries<'t>(text: &'t str, path: &Path) -> Result<Vec<Entry<'t>>, ConfigError> {
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
        entries.push(Entry {
            section,
            key,
            value,
            line,
        });
    }
    Ok(entries)
}

/// What both forms share: the keys seen (FISCO's reader refuses a repeated key too), the
/// values read, and the keys left aside.
pub(super) struct Common<'p> {
    path: &'p Path,
    seen: HashSet<String>,
    pub(super) listen_ip: IpAddr,
    pub(super) listen_port: u16,
    pub(super) blacklist: Vec<NodeId>,
    pub(super) whitelist: Vec<NodeId>,
    pub(super) compression: bool,
    /// Sections with none of their keys used, and keys used sections leave aside with why.
    unused_sections: BTreeMap<&'p str, ()>,
    unused_keys: Vec<String>,
    used_sections: HashSet<String>,
}

impl<'p> Common<'p> {
    pub(super) fn new(path: &'p Path) -> Self {
        Self {
            path,
            seen: HashSet::new(),
            listen_ip: DEFAULT_LISTEN_IP,
            listen_port: DEFAULT_LISTEN_PORT,
            blacklist: Vec::new(),
            whitelist: Vec::new(),
            compression: true,
            unused_sections: BTreeMap::new(),
            unused_keys: Vec::new(),
            used_sections: HashSet::new(),
        }
    }

    /// An error about `entry`'s value.
    pub(super) fn bad(&self, entry: &Entry<'_>, message: impl Into<String>) -> ConfigError {
        ConfigError::bad_value(
            Location::new(self.path, Some(entry.line)),
            entry.name(),
            message,
        )
    }

    /// Marks `entry` as read: refuses it when repeated or empty.
    pub(super) fn take(&mut self, entry: &Entry<'_>) -> Result<(), ConfigError> {
        if !self.seen.insert(entry.name()) {
            return Err(self.bad(entry, "this key appears twice; keep one"));
        }
        if entry.value.is_empty() {
            return Err(self.bad(
                entry,
                "the value is empty; give one or comment the line out with ;",
            ));
        }
        self.used_sections.insert(entry.section.to_owned());
        Ok(())
    }

    /// Reads the keys both forms share; false if `entry` is not one of them.
    pub(super) fn read_shared(&mut self, entry: &Entry<'_>) -> Result<bool, ConfigError> {
        let shared = matches!(
            (entry.section, entry.key),
            ("p2p", "listen_ip" | "listen_port")
        ) || entry.indexed("certificate_blacklist", "crl.")
            || entry.indexed("certificate_whitelist", "cal.");
        if !shared {
            return Ok(false);
        }
        self.take(entry)?;
        let bad = |message: String| self.bad(entry, message);
        match (entry.section, entry.key) {
            ("p2p", "listen_ip") => self.listen_ip = listen_ip(entry.value).map_err(bad)?,
            ("p2p", "listen_port") => self.listen_port = port(entry.value).map_err(bad)?,
            ("certificate_blacklist", _) => {
                let node = parse_node_id(entry.value).map_err(bad)?;
                self.blacklist.push(node)
            }
            _ => {
                let node = parse_node_id(entry.value).map_err(bad)?;
                self.whitelist.push(node)
            }
        }
        Ok(true)
    }

    /// Reads a boolean as Boost's reader does: `true`, `false`, `1` or `0`.
    pub(super) fn boolean(&self, entry: &Entry<'_>) -> Result<bool, ConfigError> {
        match entry.value.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(self.bad(
                entry,
                format!("{:?} is not a boolean; write true or false", entry.value),
            )),
        }
    }

    /// Notes a key this crate does not use; `why` says why when it bears on the network.
    pub(super) fn leave(&mut self, entry: &Entry<'p>, why: Option<&str>) {
        match why {
            Some(why) => self.unused_keys.push(format!("{} ({why})", entry.name())),
            None => {
                self.unused_sections.insert(entry.section, ());
            }
        }
    }

    /// The keys left aside, for [`NodeFile::unused`]: whole sections as `[name]`, and keys of the
    /// sections read as `section.key`.
    pub(super) fn unused(&self, entries: &[Entry<'_>]) -> Vec<String> {
        let mut unused: Vec<String> = Vec::new();
        for section in self.unused_sections.keys() {
            if self.used_sections.contains(*section) {
                unused.extend(
                    entries
                        .iter()
                        .filter(|e| e.section == *section && !self.seen.contains(&e.name()))
                        .map(|e| e.name())
                        .filter(|name| !self.unused_keys.iter().any(|k| k.starts_with(name))),
                );
            } else if section.is_empty() {
                // Keys before the first section header.
                unused.extend(
                    entries
                        .iter()
                        .filter(|e| e.section.is_empty())
                        .map(|e| e.key.to_owned()),
                );
            } else {
                unused.push(format!("[{section}]"));
            }
        }
        unused.extend(self.unused_keys.iter().cloned());
        unused
    }

    /// The listen address read.
    pub(super) fn listen(&self) -> Address {
        Address::from(SocketAddr::new(self.listen_ip, self.listen_port))
    }
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

/// `base` joined with `relative`, as FISCO concatenates its paths (an absolute one stands alone).
pub(super) fn resolve(base: &Path, relative: &str) -> PathBuf {
    base.join(relative)
}
