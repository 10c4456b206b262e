//! Untrusted text: anything that came from a store or a server (titles, rationales, controls,
//! ids, user names). It reaches a terminal only through [`line`] or [`block`], which replace
//! control, escape, bidirectional and zero-width characters with a visible U+FFFD (except a
//! zero-width joiner inside an emoji sequence, which only draws the emoji as one), and reaches
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

const ZERO_WIDTH_JOINER: char = '\u{200D}';

fn clean(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut chars = text.chars().peekable();
    // Whether the last character ends an emoji (the emoji itself, or a skin tone or U+FE0F
    // after one): a joiner there may pass when an emoji follows it.
    let mut after_emoji = false;
    while let Some(c) = chars.next() {
        let joins_emoji = c == ZERO_WIDTH_JOINER
            && after_emoji
            && chars.peek().is_some_and(|next| is_pictographic(*next));
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\r' if keep_newlines && chars.peek() == Some(&'\n') => changed = true,
            '\t' => {
                out.push_str(if keep_newlines { "    " } else { " " });
                changed = true;
            }
            '\n' | '\r' => {
                out.push(' ');
                changed = true;
            }
            _ if joins_emoji => out.push(c),
            c if is_unsafe(c) => {
                out.push(REPLACEMENT);
                changed = true;
            }
            c => out.push(c),
        }
        after_emoji = !joins_emoji
            && (is_pictographic(c) || (after_emoji && (is_emoji_modifier(c) || c == '\u{FE0F}')));
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Skin-tone modifiers, which may sit between an emoji and the joiner after it.
fn is_emoji_modifier(c: char) -> bool {
    matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

/// Emoji that may be joined into one picture (Unicode's Extended_Pictographic, in the blocks
/// where joined sequences are drawn from: people, professions, hearts, objects, symbols).
fn is_pictographic(c: char) -> bool {
    matches!(
        c,
        '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{2194}'..='\u{21FF}'
            | '\u{2300}'..='\u{23FF}'
            | '\u{24C2}'
            | '\u{25A0}'..='\u{27BF}'
            | '\u{2900}'..='\u{297F}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{1F000}'..='\u{1F1E5}'
            | '\u{1F200}'..='\u{1F3FA}'
            | '\u{1F400}'..='\u{1FAFF}'
    ) && !is_unsafe(c)
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
    fn a_joiner_between_two_emoji_passes_so_family_and_profession_emoji_draw_whole() {
        for emoji in [
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", // family
            "\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB}",         // technologist, skin tone
            "\u{1F468}\u{200D}\u{2695}\u{FE0F}",           // health worker
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",          // rainbow flag
            "\u{1F469}\u{200D}\u{2764}\u{FE0F}\u{200D}\u{1F468}", // couple with heart
        ] {
            let text = format!("on call: {emoji} ok");
            assert_eq!(line(&text), text.as_str(), "{emoji:?}");
            assert_eq!(block(&text), text.as_str(), "{emoji:?}");
            assert!(matches!(line(&text), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn a_joiner_anywhere_else_is_still_replaced() {
        // Between letters, at either end, doubled, before or after a lone emoji, and next to
        // other hostile characters.
        for (text, want) in [
            ("a\u{200D}b", "a\u{FFFD}b"),
            ("\u{200D}\u{1F469}", "\u{FFFD}\u{1F469}"),
            ("\u{1F469}\u{200D}", "\u{1F469}\u{FFFD}"),
            ("\u{1F469}\u{200D}x", "\u{1F469}\u{FFFD}x"),
            ("x\u{200D}\u{1F469}", "x\u{FFFD}\u{1F469}"),
            (
                "\u{1F469}\u{200D}\u{200D}\u{1F469}",
                "\u{1F469}\u{FFFD}\u{FFFD}\u{1F469}",
            ),
            (
                "\u{1F469}\u{200D}\u{202E}\u{1F469}",
                "\u{1F469}\u{FFFD}\u{FFFD}\u{1F469}",
            ),
            (
                "\u{1F469}\u{200B}\u{200D}\u{1F469}",
                "\u{1F469}\u{FFFD}\u{FFFD}\u{1F469}",
            ),
            ("1\u{20E3}\u{200D}\u{1F469}", "1\u{20E3}\u{FFFD}\u{1F469}"),
        ] {
            assert_eq!(line(text), want, "{text:?}");
            assert_eq!(block(text), want, "{text:?}");
        }
    }

    #[test]
    fn emoji_sequences_do_not_let_other_unsafe_characters_through() {
        let text = "\u{1F468}\u{200D}\u{1F469}\u{1b}[2J\u{1F468}\u{200D}\u{1F467}\u{2066}";
        let cleaned = line(text);
        assert!(
            cleaned
                .chars()
                .all(|c| c == ZERO_WIDTH_JOINER || !is_unsafe(c)),
            "{cleaned:?}"
        );
        assert_eq!(cleaned.matches(REPLACEMENT).count(), 2);
        assert_eq!(cleaned.matches(ZERO_WIDTH_JOINER).count(), 2);
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        assert!(matches!(
            line("payments-api r4821 — ünïcode ✓"),
            Cow::Borrowed(_)
        ));
    }
}
