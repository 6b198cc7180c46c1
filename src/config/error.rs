//! [`ConfigError`]: why a configuration file could not be used, naming the file, the line when
//! known, and the key at fault.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in a configuration file a problem is: the file, and the line (1-based) when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    path: PathBuf,
    line: Option<usize>,
}

impl Location {
    pub(crate) fn new(path: &Path, line: Option<usize>) -> Self {
        Self {
            path: path.to_owned(),
            line,
        }
    }

    /// The line (1-based) of `offset`, a byte offset into `text`.
    pub(crate) fn at_offset(path: &Path, text: &str, offset: usize) -> Self {
        let before = text.get(..offset).unwrap_or(text);
        Self::new(path, Some(before.matches('\n').count() + 1))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line, 1-based, when the parser knows it.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Why a configuration file (`node.toml`, FISCO `config.ini`, FISCO `nodes.json`) could not be
/// used. Every variant names the file; those about one key name the key as written in the file
/// (`limits.max_connections`, `listen[1]`, `p2p.node.3`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (missing, unreadable, not UTF-8); check the path given.
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file of a sensible size, or not UTF-8 text (a FIFO, a device,
    /// a directory, a huge file); the reason says which.
    #[error("{}: cannot use this configuration file: {reason}", path.display())]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file name tells none of the known formats.
    #[error(
        "{}: unknown configuration format; name the file *.toml (node.toml), config.ini or \
         *.ini (FISCO 2.x), or nodes.json or *.json (FISCO 3.x)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not well-formed TOML, INI or JSON; fix the line named.
    #[error("{location}: not valid {format}: {message}")]
    Syntax {
        /// The file and line.
        location: Location,
        /// "TOML", "INI" or "JSON".
        format: &'static str,
        /// What the parser said.
        message: String,
    },
    /// The file has a key this format does not know: a typo, or a key of another version.
    #[error("{location}: unknown key `{key}`{}", expected_hint(.expected))]
    UnknownKey {
        /// The file and line.
        location: Location,
        /// The key, with the table it is in (`limits.max_conections`).
        key: String,
        /// The keys allowed there, when known.
        expected: String,
    },
    /// A key has a value that cannot be used; the message says what to write instead.
    #[error("{location}: key `{key}`: {message}")]
    BadValue {
        /// The file and line.
        location: Location,
        /// The key, with its table and index (`intervals.heartbeat`, `peers[2]`).
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

fn expected_hint(expected: &str) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!("; expected one of {expected}")
    }
}

impl ConfigError {
    /// The file at fault.
    pub fn path(&self) -> &Path {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Unusable { path, .. }
            | ConfigError::UnknownFormat { path } => path,
            ConfigError::Syntax { location, .. }
            | ConfigError::UnknownKey { location, .. }
            | ConfigError::BadValue { location, .. } => location.path(),
        }
    }

    /// The line at fault, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Read { .. }
            | ConfigError::Unusable { .. }
            | ConfigError::UnknownFormat { .. } => None,
            ConfigError::Syntax { location, .. }
            | ConfigError::UnknownKey { location, .. }
            | ConfigError::BadValue { location, .. } => location.line(),
        }
    }

    /// The key at fault, for errors about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::BadValue { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn bad_value(
        location: Location,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::BadValue {
            location,
            key: key.into(),
            message: message.into(),
        }
    }

    /// Turns a serde error at `path` (as `serde_path_to_error` tracked it) into an error naming
    /// the key: an unknown field becomes [`ConfigError::UnknownKey`], a missing one or a bad
    /// value [`ConfigError::BadValue`].
    pub(crate) fn from_serde(
        location: Location,
        path: &serde_path_to_error::Path,
        message: &str,
    ) -> Self {
        let parent = path.to_string();
        // serde_path_to_error already ends the path with an unknown key, not with a missing one.
        let join = |name: &str| {
            if parent == "." {
                name.to_owned()
            } else if parent == name || parent.ends_with(&format!(".{name}")) {
                parent.clone()
            } else {
                format!("{parent}.{name}")
            }
        };
        // serde's derive words these two messages the same way whatever the format.
        if let Some((name, rest)) = quoted_after(message, "unknown field `") {
            let expected = rest
                .trim_start_matches(", ")
                .trim_start_matches("expected one of ")
                .trim_start_matches("expected ")
                .to_owned();
            return ConfigError::UnknownKey {
                location,
                key: join(name),
                expected,
            };
        }
        if let Some((name, _)) = quoted_after(message, "missing field `") {
            return ConfigError::bad_value(location, join(name), "missing; this key is required");
        }
        let key = if parent == "." {
            "(top level)".to_owned()
        } else {
            parent
        };
        ConfigError::bad_value(location, key, message)
    }
}

/// For `unknown field `foo`, expected ...`: the quoted name and what follows it.
fn quoted_after<'m>(message: &'m str, prefix: &str) -> Option<(&'m str, &'m str)> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`')
}
