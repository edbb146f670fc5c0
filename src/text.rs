//! The crate's one sanitiser for text that others control (Wix's error messages, a webhook
//! sender's header fields): printed cut short and with control, format and separator characters
//! replaced, so that it cannot rewrite a terminal, reorder what is shown (U+202E) or forge log
//! lines (U+2028). Client errors and webhook errors both use it.

use std::fmt::{self, Write as _};

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Whether `c` may not be printed as it is: a control (Cc), format (Cf), line separator (Zl) or
/// paragraph separator (Zp) character.
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// `.0` printed with at most `.1` characters (then `…`), and control, format and separator
/// characters replaced by `U+FFFD`.
pub(crate) struct Printable<'a>(pub(crate) &'a str, pub(crate) usize);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(self.1) {
            f.write_char(if is_hidden(c) { '\u{fffd}' } else { c })?;
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

    #[test]
    fn replaces_format_and_separator_characters() {
        // Right-to-left override, line and paragraph separators, zero-width space, Arabic letter
        // mark; a byte order mark and a soft hyphen are format characters too.
        for c in [
            '\u{202E}', '\u{2028}', '\u{2029}', '\u{200B}', '\u{061C}', '\u{FEFF}', '\u{AD}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                Printable(&text, 100).to_string(),
                "a\u{fffd}b",
                "{:?}",
                c.escape_unicode().to_string()
            );
        }
        // Letters of any script, and spaces, stay.
        let kept = "Grüße, שלום, مرحبا, 你好 a\u{00A0}b";
        assert_eq!(Printable(kept, 100).to_string(), kept);
    }
}
