//! The rule for topic names, the same wherever a topic enters: `node.toml` and FISCO configs,
//! the admin API, [`Handle`](super::Handle) calls and `Config::with_topic`.
//!
//! A topic is 1 to [`MAX_TOPIC_LEN`] bytes of UTF-8, not only blanks, without control
//! characters (C0 such as tab, newline and ESC; DEL; C1). Topics travel in state records to every
//! node and are shown by `ctl` and in logs, so a name that could break a line or recolour a
//! terminal is refused where it enters rather than escaped everywhere it goes.

use super::SendError;

/// Longest topic name, in bytes of UTF-8.
pub const MAX_TOPIC_LEN: usize = 255;

/// Checks a topic name against the rule above; the error says in a few words what breaks it.
pub fn check_topic(topic: &str) -> Result<(), &'static str> {
    if topic.is_empty() {
        Err("empty; give a name like \"orders\"")
    } else if topic.len() > MAX_TOPIC_LEN {
        Err("longer than 255 bytes")
    } else if topic.chars().any(char::is_control) {
        Err("holds a control character (tab, newline, escape...); use printable characters")
    } else if topic.trim().is_empty() {
        Err("only blanks; give a name like \"orders\"")
    } else {
        Ok(())
    }
}

/// [`check_topic`] as the messaging calls report it.
pub(crate) fn check(topic: &str) -> Result<(), SendError> {
    check_topic(topic).map_err(|reason| SendError::InvalidTopic {
        topic: topic.chars().take(64).collect(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_names_up_to_255_bytes_pass() {
        assert_eq!(check_topic("orders"), Ok(()));
        assert_eq!(check_topic("订单/2024 q1"), Ok(()));
        assert_eq!(check_topic(&"x".repeat(MAX_TOPIC_LEN)), Ok(()));
    }

    #[test]
    fn empty_blank_long_and_control_names_are_refused() {
        for bad in [
            "",
            "   ",
            "a\tb",
            "a\nb",
            "\u{1b}[31mred",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(check_topic(bad).is_err(), "{bad:?}");
        }
        assert!(check_topic(&"x".repeat(MAX_TOPIC_LEN + 1)).is_err());
        // 255 bytes is the limit, not 255 characters.
        assert!(check_topic(&"订".repeat(86)).is_err());
    }

    #[test]
    fn the_send_error_names_the_topic_and_the_reason() {
        let error = check("a\tb").unwrap_err().to_string();
        assert!(
            error.contains("\"a\\tb\"") && error.contains("control"),
            "{error}"
        );
    }
}
