//! [`Token`]: the bearer token the admin API can require (`Authorization: Bearer <token>`).
//!
//! The token is a secret shared by the node and its operators' tools, kept in a file readable
//! only by them (`admin_token_file` in `node.toml`, `ctl --token-file`). Make one with
//! `openssl rand -hex 32 > admin.token && chmod 600 admin.token`.

use std::{fmt, path::Path};

use sha2::{Digest, Sha256};

/// Largest token file read: 4 KiB.
pub const MAX_TOKEN_FILE: u64 = 4096;
/// Shortest token accepted, in characters: 16 (use 32 random bytes in hex, 64 characters).
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token file could not be read.
    #[error("{path}: cannot read the admin token file: {reason}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The token is too short, or holds blanks or control characters.
    #[error("{origin}: {problem}; make a token with `openssl rand -hex 32 > admin.token`")]
    Weak {
        /// Where the token came from.
        origin: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A bearer token. `Debug` never shows it; comparing two tokens takes the same time wherever they
/// differ.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token from its text: at least [`MIN_TOKEN_LEN`] visible ASCII characters.
    pub fn new(text: &str) -> Result<Self, TokenError> {
        Self::checked(text, "admin token")
    }

    /// Reads a token file: its first line, blanks around it ignored. The file must be a regular
    /// file of at most [`MAX_TOKEN_FILE`] bytes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenError> {
        let path = path.as_ref();
        let text = read_token_text(path)?;
        warn_if_others_can_read(path);
        Self::checked(&text, &path.display().to_string())
    }

    fn checked(text: &str, origin: &str) -> Result<Self, TokenError> {
        let weak = |problem: String| TokenError::Weak {
            origin: origin.to_owned(),
            problem,
        };
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(weak(
                "the token holds blanks, control or non-ASCII characters".into(),
            ));
        }
        if text.len() < MIN_TOKEN_LEN {
            return Err(weak(format!(
                "the token has {} characters; use at least {MIN_TOKEN_LEN}",
                text.len()
            )));
        }
        Ok(Self {
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// Whether `presented` is this token. Both sides are hashed first, so the time taken does
    /// not tell how much of a guess was right.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

/// The token text of a token file (its first line, trimmed), checked as [`Token::new`] checks it.
pub(super) fn read_token_text(path: &Path) -> Result<String, TokenError> {
    let shown = path.display().to_string();
    let bytes = fisco_p2p::files::read(path, MAX_TOKEN_FILE).map_err(|error| TokenError::Read {
        path: shown.clone(),
        reason: error.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| TokenError::Weak {
        origin: shown.clone(),
        problem: "the token is not text".into(),
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    Token::checked(&token, &shown)?;
    Ok(token)
}

/// A token file others can read is a token others can use: say so (but start: the operator may
/// have reasons, such as a group of operators).
fn warn_if_others_can_read(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            if metadata.permissions().mode() & 0o004 != 0 {
                tracing::warn!(
                    file = %path.display(),
                    "the admin token file is readable by every user; chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_itself_only() {
        let token = Token::new("0123456789abcdef0123").unwrap();
        assert!(token.matches("0123456789abcdef0123"));
        assert!(!token.matches("0123456789abcdef0124"));
        assert!(!token.matches(""));
    }

    #[test]
    fn short_or_blank_tokens_are_refused() {
        assert!(Token::new("short").is_err());
        assert!(Token::new("0123456789 abcdef0123").is_err());
        assert!(Token::new("0123456789abcdef\u{1b}").is_err());
    }

    #[test]
    fn a_token_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        std::fs::write(&path, "  0123456789abcdef0123  \nignored\n").unwrap();
        assert!(Token::from_file(&path)
            .unwrap()
            .matches("0123456789abcdef0123"));
        let missing = Token::from_file(dir.path().join("nothing")).unwrap_err();
        assert!(missing.to_string().contains("no such file"), "{missing}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::new("0123456789abcdef0123").unwrap();
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
