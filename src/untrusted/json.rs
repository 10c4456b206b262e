//! JSON that is safe to print: like serde_json's output, but every character that
//! [`super::is_unsafe`] names is escaped as `\uXXXX` (serde_json escapes only C0 controls).
//! Everything cab writes as JSON goes through here: store lines, `--json` output, HTTP bodies.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

/// Wraps a serde_json formatter and escapes unsafe characters inside strings.
pub struct SafeFormatter<F>(pub F);

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Printable ASCII is always safe: only controls and non-ASCII need the full check
            // (which, per character, was most of the time of a large JSON answer).
            if (0x20..0x7f).contains(&bytes[i]) {
                i += 1;
                continue;
            }
            // `i` is on a character boundary: it only ever moves past whole characters.
            let Some(c) = fragment[i..].chars().next() else {
                break;
            };
            if super::is_unsafe(c) {
                writer.write_all(&bytes[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
            i += c.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Compact, safe JSON appended to `out`.
pub fn write_compact<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = Serializer::with_formatter(out, SafeFormatter(CompactFormatter));
    value.serialize(&mut ser)
}

/// Compact, safe JSON as a string.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(256);
    write_compact(&mut out, value)?;
    // The serializer writes UTF-8 only, and escapes are ASCII.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// Indented, safe JSON as a string, for people reading `--json` output.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(1024);
    write_pretty(&mut out, value)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// [`to_string_pretty`], written as it is made: a long answer is never held whole in memory.
pub fn write_pretty<W: io::Write, T: Serialize + ?Sized>(
    out: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser = Serializer::with_formatter(out, SafeFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_zero_width_del_and_c1_are_escaped_and_round_trip() {
        let hostile = "a\u{202E}b\u{200B}c\u{7f}d\u{9b}e\u{1b}f\u{E0041}g";
        let json = to_string(hostile).unwrap();
        assert!(json.is_ascii(), "{json}");
        assert!(json.contains("\\u202e") && json.contains("\\u200b") && json.contains("\\u007f"));
        assert!(
            json.contains("\\udb40\\udc41"),
            "supplementary characters use surrogate pairs: {json}"
        );
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn every_character_is_escaped_exactly_when_it_is_unsafe() {
        // Around ASCII, in runs and alone: the ASCII fast path must not skip a neighbour.
        for c in (0u32..0x3000)
            .chain(0xFEF0..0x10000)
            .chain(0xE0000..0xE0080)
        {
            let Some(c) = char::from_u32(c) else { continue };
            for text in [c.to_string(), format!("ab{c}cd{c}{c}é")] {
                let json = to_string(&text).unwrap();
                let back: String = serde_json::from_str(&json).unwrap();
                assert_eq!(back, text);
                let raw = json[1..json.len() - 1].contains(c);
                if c == '"' || c == '\\' {
                    // serde_json's own escapes, which contain the character itself.
                } else if super::super::is_unsafe(c) {
                    assert!(!raw, "{c:?} written raw: {json}");
                } else {
                    assert!(raw, "{c:?} escaped needlessly: {json}");
                }
            }
        }
    }

    #[test]
    fn ordinary_unicode_is_written_as_is() {
        assert_eq!(to_string("Zoë → ✓").unwrap(), "\"Zoë → ✓\"");
    }

    #[test]
    fn pretty_output_is_indented_and_escaped() {
        let value = serde_json::json!({"title": "x\u{202E}"});
        assert_eq!(
            to_string_pretty(&value).unwrap(),
            "{\n  \"title\": \"x\\u202e\"\n}"
        );
    }
}
