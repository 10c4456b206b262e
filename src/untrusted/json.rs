//! JSON that is safe to print: like serde_json's output, but every character that
//! [`super::is_unsafe`] names is escaped as `\uXXXX` (serde_json escapes only C0 controls).
//! Everything cab writes as JSON goes through here: store lines, `--json` output, HTTP bodies.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

/// Wraps a serde_json formatter and escapes unsafe characters inside strings.
pub struct SafeFormatter<F>(pub F);

/// Whether every byte is printable ASCII (always safe): nearly every string a store holds.
/// Checked eight bytes at a time: in `x - 0x20` (where `x` has no high bit) a byte below 0x20
/// sets its high bit, in `x + 1` a byte above 0x7e does; the first such byte is found exactly.
pub(crate) fn printable_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().all(|word| {
        let x = u64::from_le_bytes(*word);
        let below = x.wrapping_sub(ONES * 0x20) & !x;
        let above = x.wrapping_add(ONES) | x;
        (below | above) & HIGH == 0
    }) && rest.iter().all(|&b| b.wrapping_sub(0x20) < 0x5f)
}

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        if printable_ascii(bytes) {
            return writer.write_all(bytes);
        }
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

/// Compact, safe JSON written to `out` (appended, for a `Vec`).
pub fn write_compact<W: io::Write, T: Serialize + ?Sized>(
    out: W,
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
    fn printable_ascii_is_told_from_every_other_byte_at_any_place_in_a_long_text() {
        for b in 0..=255u8 {
            for at in [0, 7, 15, 16, 31, 40] {
                let mut text = vec![b'a'; 41];
                text[at] = b;
                assert_eq!(
                    printable_ascii(&text),
                    (0x20..0x7f).contains(&b),
                    "{b:#x} at {at}"
                );
            }
        }
        assert!(printable_ascii(b""));
        // Texts mixing bytes near both edges, against the plain definition.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..200 {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    [0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xff, 0x00, b'a', b'a']
                        [(seed >> 60) as usize % 10]
                })
                .collect();
            let plain = text.iter().all(|b| (0x20..0x7f).contains(b));
            assert_eq!(printable_ascii(&text), plain, "{text:?}");
        }
    }

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
