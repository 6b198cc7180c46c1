//! The `node.toml` format: reading it into a [`NodeFile`], and writing one back with a comment
//! per key (as `fisco-p2p certs network` does).

use std::fmt::Write as _;
use std::path::Path;

use super::error::{ConfigError, Location};
use super::file::NodeFile;
use super::value::format_duration;

/// Reads `text`, the contents of the `node.toml` at `path`.
pub(crate) fn parse(text: &str, path: &Path) -> Result<NodeFile, ConfigError> {
    let location = |error: &toml::de::Error| match error.span() {
        Some(span) => Location::at_offset(path, text, span.start),
        None => Location::new(path, None),
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax {
        location: location(&e),
        format: "TOML",
        message: with_snippet(e.message(), text, e.span()),
    })?;
    let mut file: NodeFile = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| ConfigError::from_serde(location(e.inner()), e.path(), e.inner().message()))?;
    let base = path.parent().unwrap_or(Path::new(""));
    if file.dir().is_none() {
        // A node.toml kept in the node directory needs no `dir` key.
        file = file.with_dir(".");
    }
    file.resolve_dir(base);
    file.set_source(path);
    file.check(path)?;
    Ok(file)
}

/// The parser's message, followed by the text it points at when that is short (so "duplicate
/// key" names the key).
fn with_snippet(message: &str, text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let snippet = span
        .and_then(|span| text.get(span))
        .map(str::trim)
        .unwrap_or("");
    if snippet.is_empty() || snippet.len() > 40 || snippet.contains('\n') {
        message.to_owned()
    } else {
        format!("{message} `{snippet}`")
    }
}

/// A TOML string literal, escaped.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn list<T: ToString>(items: &[T]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(&i.to_string())).collect();
    if quoted.is_empty() {
        "[]".into()
    } else if quoted.iter().map(String::len).sum::<usize>() < 60 {
        format!("[{}]", quoted.join(", "))
    } else {
        format!("[\n    {},\n]", quoted.join(",\n    "))
    }
}

impl NodeFile {
    /// This configuration as `node.toml` text with a comment per key; reading it back gives the
    /// same configuration (a relative `dir` is written as it is, relative to the file's folder).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        self.write_toml(&mut out);
        out
    }

    // Writing into a String cannot fail, so the fmt::Results are ignored.
    fn write_toml(&self, out: &mut String) {
        let _ = writeln!(out, "# fisco-p2p node configuration; see docs/config.md.\n");
        let _ = writeln!(
            out,
            "# Node directory (node.key, node.crt, ca.crt), relative to this file."
        );
        let dir = self
            .dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into());
        let _ = writeln!(out, "dir = {}", quote(&dir));
        let _ = writeln!(
            out,
            "# Addresses to listen on: ip:port, [ipv6]:port, host:port or a multiaddr."
        );
        let _ = writeln!(out, "listen = {}", list(self.listen()));
        let _ = writeln!(
            out,
            "# Static peers, dialled at start and kept connected (FISCO [p2p] node.N)."
        );
        let _ = writeln!(out, "peers = {}", list(self.peers()));
        let _ = writeln!(
            out,
            "# Local admin API (HTTP); remove the key to run without it."
        );
        match self.admin() {
            Some(admin) => {
                let _ = writeln!(out, "admin = {}", quote(&admin.to_string()));
            }
            None => {
                let _ = writeln!(out, "# admin = \"127.0.0.1:31300\"");
            }
        }
        let _ = writeln!(out, "# Allow a non-loopback admin address.");
        let _ = writeln!(out, "admin_public = {}", self.admin_public());
        let _ = writeln!(
            out,
            "# File holding the admin API's bearer token (`openssl rand -hex 32`); needed with admin_public."
        );
        match self.admin_token_file() {
            Some(path) => {
                let _ = writeln!(out, "admin_token_file = {}", quote(&path.to_string_lossy()));
            }
            None => {
                let _ = writeln!(out, "# admin_token_file = \"admin.token\"");
            }
        }
        let _ = writeln!(
            out,
            "# Host names the admin API answers besides IP addresses and localhost."
        );
        let _ = writeln!(out, "admin_hosts = {}", list(self.admin_hosts()));
        let _ = writeln!(out, "# Topics followed from the start.");
        let _ = writeln!(out, "topics = {}", list(self.topics()));
        let _ = writeln!(
            out,
            "# Node IDs refused (FISCO crl.N) and, if not empty, the only ones allowed (cal.N)."
        );
        let _ = writeln!(out, "blacklist = {}", list(self.blacklist()));
        let _ = writeln!(out, "whitelist = {}", list(self.whitelist()));
        let _ = writeln!(
            out,
            "# Compress payloads over 1 KiB (zstd) on links whose other end does too (FISCO's default)."
        );
        let _ = writeln!(out, "enable_compression = {}", self.enable_compression());
        let limits = self.limits();
        let _ = writeln!(out, "\n[limits]");
        let _ = writeln!(out, "# Largest message, in bytes.");
        let _ = writeln!(out, "max_message_size = {}", limits.max_message_size());
        let _ = writeln!(out, "max_connections = {}", limits.max_connections());
        let _ = writeln!(
            out,
            "max_pending_incoming = {}",
            limits.max_pending_incoming()
        );
        let _ = writeln!(out, "max_pending_per_ip = {}", limits.max_pending_per_ip());
        let _ = writeln!(
            out,
            "max_concurrent_dials = {}",
            limits.max_concurrent_dials()
        );
        let intervals = self.intervals();
        let _ = writeln!(out, "\n[intervals]");
        for (key, value) in [
            ("heartbeat", intervals.heartbeat()),
            ("heartbeat_timeout", intervals.heartbeat_timeout()),
            ("redial_initial", intervals.redial_initial()),
            ("redial_max", intervals.redial_max()),
            ("announce", intervals.announce()),
            ("handshake_timeout", intervals.handshake_timeout()),
            ("first_bytes_timeout", intervals.first_bytes_timeout()),
        ] {
            let _ = writeln!(out, "{key} = {}", quote(&format_duration(value)));
        }
    }
}

#[cfg(test)]
#[path = "node_toml_tests.rs"]
mod tests;
