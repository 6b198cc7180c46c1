//! Configuration files: the operator's `node.toml`, and what FISCO BCOS operators already have,
//! a FISCO 2.x `config.ini` or a FISCO 3.x `nodes.json`.
//!
//! [`load`] reads any of them into a [`NodeFile`], choosing the format by the file name:
//!
//! | file | format | gives |
//! |---|---|---|
//! | `*.toml` | `node.toml` ([`NodeFile`]'s keys, see `docs/config.md`) | everything |
//! | `config.ini`, `*.ini` | FISCO 2.x: `[p2p]`, `[certificate_blacklist]`, `[certificate_whitelist]`, `[network_security]` | dir, listen, peers, lists |
//! | `nodes.json`, `*.json` | FISCO 3.x: `{"nodes": ["ip:port", ...]}` | peers |
//!
//! Unknown keys (in `node.toml` and `nodes.json`; `config.ini` has many sections this crate does
//! not use and only the ones read are checked) and bad values are [`ConfigError`]s naming the
//! file, the line when known and the key. [`NodeFile::merge_peers_from`] adds the peers of a
//! `nodes.json` to a `node.toml`, and [`NodeFile::to_node_config`] gives the
//! [`node::Config`](crate::node::Config) to start the node with. [`write_network`] makes the
//! certificates and `node.toml` files of a whole local network (`fisco-p2p certs network`).
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("node.toml");
//! std::fs::write(&path, "listen = [\"127.0.0.1:30300\"]\npeers = [\"127.0.0.1:30301\"]\n\
//!                        [intervals]\nheartbeat = \"2s\"\n")?;
//! let file = fisco_p2p::config::load(&path)?;
//! assert_eq!(file.dir(), Some(dir.path().join(".").as_path()));
//! assert_eq!(file.peers()[0].multiaddr().to_string(), "/ip4/127.0.0.1/tcp/30301");
//! assert_eq!(file.intervals().heartbeat(), std::time::Duration::from_secs(2));
//! let config = file.to_node_config();
//! # let _ = config;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod credentials;
mod error;
mod file;
mod fisco_ini;
mod fisco_ini3;
mod ini;
mod network;
mod node_toml;
mod nodes_json;
mod sections;
mod value;

#[cfg(test)]
mod proptests;

use std::path::Path;

pub use credentials::Credentials;
pub use error::{ConfigError, Location};
pub use file::NodeFile;
pub use network::{
    write_network, NetworkError, NetworkNode, NetworkSpec, ADMIN_PORT_OFFSET, MAX_NETWORK_NODES,
    NODE_TOML_FILE,
};
pub use sections::{
    Intervals, Limits, DEFAULT_ANNOUNCE, DEFAULT_MAX_MESSAGE_SIZE, INTERVAL_RANGES,
    MAX_CONCURRENT_DIALS, MAX_CONNECTIONS, MAX_MESSAGE_SIZE, MAX_PENDING_INCOMING,
    MAX_PENDING_PER_IP, MIN_MESSAGE_SIZE,
};
pub use value::{Address, DurationRange, MAX_TOPIC_LEN};

/// Largest configuration file read: 1 MiB (a `nodes.json` of a thousand peers is about 25 KiB).
pub const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Reads a configuration file: a regular file of at most [`MAX_CONFIG_FILE`] bytes of UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    use crate::files::FileError;
    let bytes = crate::files::read(path, MAX_CONFIG_FILE).map_err(|error| match error {
        FileError::Io(source) => ConfigError::Read {
            path: path.to_owned(),
            source,
        },
        FileError::NotFound => ConfigError::Read {
            path: path.to_owned(),
            source: std::io::ErrorKind::NotFound.into(),
        },
        other => ConfigError::Unusable {
            path: path.to_owned(),
            reason: other.to_string(),
        },
    })?;
    String::from_utf8(bytes).map_err(|error| ConfigError::Unusable {
        path: path.to_owned(),
        reason: format!(
            "not UTF-8 text (byte {} is not); save it as UTF-8",
            error.utf8_error().valid_up_to()
        ),
    })
}

/// The formats [`load`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `node.toml`, this crate's own format.
    NodeToml,
    /// FISCO BCOS 2.x `config.ini`.
    FiscoIni,
    /// FISCO BCOS 3.x `nodes.json`.
    NodesJson,
}

impl Format {
    /// The format a file name tells: `*.toml`; `config.ini` or `*.ini`; `nodes.json` or `*.json`.
    pub fn of(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "toml" => Some(Format::NodeToml),
            "ini" => Some(Format::FiscoIni),
            "json" => Some(Format::NodesJson),
            _ => None,
        }
    }
}

/// Reads a configuration file, choosing the format by its name (see [`Format::of`]).
pub fn load(path: impl AsRef<Path>) -> Result<NodeFile, ConfigError> {
    let path = path.as_ref();
    let format = Format::of(path).ok_or_else(|| ConfigError::UnknownFormat {
        path: path.to_owned(),
    })?;
    let text = read_text(path)?;
    let file = match format {
        Format::NodeToml => node_toml::parse(&text, path)?,
        Format::FiscoIni => fisco_ini::parse(&text, path)?,
        Format::NodesJson => nodes_json::parse(&text, path)?,
    };
    tracing::debug!(path = %path.display(), ?format, peers = file.peers().len(), "configuration read");
    Ok(file)
}
