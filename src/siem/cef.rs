//! An audit record as one ArcSight Common Event Format line:
//! `CEF:0|cab|cab|VERSION|SIGNATURE|NAME|SEVERITY|EXTENSIONS`, escaped as CEF requires, with
//! no raw control character anywhere in the line (a SIEM splits on line breaks).

use std::fmt::Write as _;

use super::{PRODUCT_VERSION, Severity};
use crate::engine::audit::AuditRecord;
use crate::untrusted;

/// The record as one CEF line, `\n`-ended.
pub fn line(record: &AuditRecord) -> String {
    let severity = match Severity::of(record) {
        Severity::Informational => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
    };
    let mut out = String::with_capacity(400);
    out.push_str("CEF:0|cab|cab|");
    for field in [PRODUCT_VERSION, record.kind, super::title(record)] {
        out.push_str(&header(field));
        out.push('|');
    }
    let _ = write!(out, "{severity}|");
    let mut fields: Vec<(&str, String)> = vec![
        ("rt", record.time.timestamp_millis().to_string()),
        ("suser", record.actor.clone()),
        ("act", record.kind.to_string()),
        ("outcome", record.outcome.clone()),
        ("cs1Label", "request_id".into()),
        ("cs1", record.request_id.to_string()),
        ("cs2Label", "deployment_intent_id".into()),
        ("cs2", record.deployment_intent_id.clone()),
        ("cs3Label", "correlation_id".into()),
        ("cs3", record.correlation_id.clone()),
    ];
    if let Some(x) = record.exception_id {
        fields.push(("cs4Label", "exception_id".into()));
        fields.push(("cs4", x.to_string()));
    }
    fields.push(("cn1Label", "seq".into()));
    fields.push(("cn1", record.seq.to_string()));
    fields.push(("msg", record.rationale.clone()));
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&extension(value));
    }
    out.push('\n');
    out
}

/// A header field: `\` and `|` escaped with a backslash. A header cannot hold a line break, so
/// line breaks, like every other control, bidirectional or invisible character, become U+FFFD.
pub fn header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if untrusted::is_unsafe(c) => out.push(untrusted::REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

/// An extension value: `\` and `=` escaped with a backslash, a line feed written `\n` and a
/// carriage return `\r` (CEF's escapes); every other control, bidirectional or invisible
/// character becomes U+FFFD, since CEF has no escape for it.
pub fn extension(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if untrusted::is_unsafe(c) => out.push(untrusted::REPLACEMENT),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::siem::tests::{HOSTILE, record};

    #[test]
    fn header_escapes_pipe_and_backslash_and_keeps_no_line_break() {
        assert_eq!(header("a|b\\c=d"), "a\\|b\\\\c=d");
        assert_eq!(header("x\ny\r"), "x\u{FFFD}y\u{FFFD}");
    }

    #[test]
    fn extension_escapes_backslash_equals_and_line_breaks() {
        assert_eq!(extension("a|b\\c=d\ne\rf"), "a|b\\\\c\\=d\\ne\\rf");
        assert_eq!(
            extension("\u{1b}[31m\u{202e}\t"),
            "\u{FFFD}[31m\u{FFFD}\u{FFFD}"
        );
        assert_eq!(extension("ié ok"), "ié ok");
    }

    #[test]
    fn a_decision_line_has_the_header_and_the_named_extensions() {
        let r = record("decision", "approved", "fine");
        let text = line(&r);
        assert!(
            text.starts_with(&format!(
                "CEF:0|cab|cab|{PRODUCT_VERSION}|decision|Request decided|1|rt=1790000000123 suser=carol act=decision outcome=approved cs1Label=request_id cs1={} ",
                r.request_id
            )),
            "{text}"
        );
        assert!(text.ends_with(" msg=fine\n"), "{text}");
    }

    #[test]
    fn hostile_text_keeps_the_record_on_one_line_with_no_raw_control() {
        let mut r = record("exception_requested", "pending", HOSTILE);
        r.actor = HOSTILE.into();
        r.deployment_intent_id = HOSTILE.into();
        let text = line(&r);
        assert_eq!(text.matches('\n').count(), 1);
        let body = text.trim_end_matches('\n');
        assert!(!body.chars().any(untrusted::is_unsafe), "{body:?}");
        // Every `=` in a value is escaped: the unescaped ones are exactly the keys'.
        let unescaped = body
            .char_indices()
            .filter(|&(i, c)| c == '=' && !escaped(body, i))
            .count();
        assert_eq!(unescaped, 13, "{body}");
    }

    /// Whether the character at byte `i` follows an odd run of backslashes.
    fn escaped(text: &str, i: usize) -> bool {
        text[..i].chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
    }
}
