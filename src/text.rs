//! The crate's one sanitiser for text that others control (Wix's error messages, a webhook
//! sender's header fields): printed cut short and with control characters replaced, so that it
//! cannot rewrite a terminal or forge log lines. Client errors and webhook errors both use it.

use std::fmt::{self, Write as _};

/// `.0` printed with at most `.1` characters (then `…`) and control characters replaced by
/// `U+FFFD`.
pub(crate) struct Printable<'a>(pub(crate) &'a str, pub(crate) usize);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(self.1) {
            f.write_char(if c.is_control() { '\u{fffd}' } else { c })?;
        }
        if chars.next().is_some() {
            f.write_char('…')?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Printable;

    #[test]
    fn cuts_and_replaces_control_characters() {
        assert_eq!(
            Printable("a\nb\u{1b}[2J", 100).to_string(),
            "a\u{fffd}b\u{fffd}[2J"
        );
        assert_eq!(Printable("abcdef", 3).to_string(), "abc…");
        assert_eq!(Printable("abc", 3).to_string(), "abc");
    }
}
