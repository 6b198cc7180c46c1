//! Text from the network on a terminal.
//!
//! Payloads, topics, state values and error messages come from other nodes. Written byte for
//! byte, an escape sequence in them recolours or rewrites the operator's terminal, and a newline
//! forges an extra line of output (an event that never happened). Everything `ctl` and `demo`
//! print that did not come from this program passes through [`escape`]: control characters are
//! shown as visible escapes, as are the Unicode controls that reorder text (bidi overrides), and
//! the backslash itself, so the output reads back unambiguously.

use std::{borrow::Cow, fmt::Write as _};

/// `text` with every control character escaped visibly: `\n`, `\r`, `\t`, `\\`, `\x1b` (ESC and
/// the other C0 controls, DEL), `\u{9b}` (C1 controls, bidi and other invisible format
/// controls). Plain text comes back as it is, without copying.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` must not reach a terminal as it is.
fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            // bidi embeddings, overrides and isolates; zero-width and other format controls
            '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_as_it_is() {
        assert!(matches!(escape("hello 世界"), Cow::Borrowed("hello 世界")));
    }

    #[test]
    fn escape_codes_and_newlines_become_visible() {
        let forged = "hi\u{1b}[31mred\u{1b}[0m\npeer_connected node_id=x\r\u{9b}2J";
        let shown = escape(forged);
        assert_eq!(
            shown,
            "hi\\x1b[31mred\\x1b[0m\\npeer_connected node_id=x\\r\\u{9b}2J"
        );
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn backslashes_and_bidi_overrides_are_escaped() {
        assert_eq!(escape("a\\nb"), "a\\\\nb");
        assert_eq!(escape("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(escape("del\u{7f}"), "del\\x7f");
    }
}
