//! Untrusted text: anything that came from a store or a server (titles, rationales, controls,
//! ids, user names). It reaches a terminal only through [`line`] or [`block`], which replace
//! control, escape, bidirectional and zero-width characters with a visible U+FFFD, and reaches
//! JSON only through [`json`], which escapes the same characters as `\uXXXX`.

use std::borrow::Cow;

pub mod json;

/// Shown in place of a character that must not reach the terminal: visible, so a reviewer
/// notices that something was hidden in the text.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Characters that must never be written raw: C0 and C1 controls (escape sequences start with
/// them), bidirectional embeddings, overrides, isolates and marks, zero-width and other
/// invisible format characters, and the Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Text for one line of output: every unsafe character replaced, tabs and line breaks included.
pub fn line(text: &str) -> Cow<'_, str> {
    clean(text, false)
}

/// Text that may span lines: line breaks kept, tabs become spaces, every other unsafe character
/// replaced.
pub fn block(text: &str) -> Cow<'_, str> {
    clean(text, true)
}

fn clean(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\r' if keep_newlines && chars.peek() == Some(&'\n') => {}
            '\t' => out.push_str(if keep_newlines { "    " } else { " " }),
            '\n' | '\r' => out.push(' '),
            c if is_unsafe(c) => out.push(REPLACEMENT),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "ok\u{1b}[31mred\u{7}\u{202E}evil\u{200B}zw\u{2066}iso\u{9b}c1\u{FEFF}";

    #[test]
    fn line_replaces_escape_bidi_zero_width_and_c1_characters() {
        let cleaned = line(HOSTILE);
        assert!(!cleaned.chars().any(is_unsafe), "{cleaned:?}");
        assert!(cleaned.contains("red") && cleaned.contains("evil"));
        assert_eq!(cleaned.matches(REPLACEMENT).count(), 7);
    }

    #[test]
    fn line_turns_line_breaks_and_tabs_into_spaces() {
        assert_eq!(line("a\nb\tc\r\nd"), "a b c  d");
    }

    #[test]
    fn block_keeps_line_breaks_but_nothing_else_unsafe() {
        assert_eq!(block("one\r\ntwo\n\u{1b}three"), "one\ntwo\n\u{FFFD}three");
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        assert!(matches!(
            line("payments-api r4821 — ünïcode ✓"),
            Cow::Borrowed(_)
        ));
    }
}
