//! JSON that cannot rearrange a terminal or a log viewer: every string keeps its exact value,
//! but the characters that act on display instead of showing are written as `\uXXXX` escapes.
//!
//! serde_json escapes only `"`, `\` and the C0 controls. A report or journal quotes alert
//! fields, log entries and principals verbatim, so a bidi override (U+202E) in a user agent
//! would reorder the line for whoever `cat`s or `less`es the file. Escaped, the JSON parses to
//! the same strings; only the bytes on screen differ. Every JSON writer of the tool that can
//! carry attacker-controlled strings uses these functions.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Whether `c` is written as a `\uXXXX` escape: DEL and the C1 controls (U+007F–U+009F), the
/// zero-width and directional marks (U+200B–U+200F), the line and paragraph separators
/// (U+2028, U+2029), the bidi embeddings and overrides (U+202A–U+202E), the bidi isolates
/// (U+2066–U+2069), and the byte-order mark / zero-width no-break space (U+FEFF). All are in
/// the Basic Multilingual Plane, so one escape each.
pub fn escaped(c: char) -> bool {
    matches!(
        c,
        '\u{7f}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// A [`Formatter`] that writes [`escaped`] characters as `\uXXXX` and leaves everything else
/// to the formatter it wraps.
#[derive(Debug, Clone)]
pub struct SafeFormatter<F>(pub F);

impl<F: Formatter> Formatter for SafeFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Every escaped character is DEL or beyond ASCII; most fragments are plain ASCII, and
        // this check (vectorized) spares them the per-character walk.
        if fragment.bytes().all(|b| b < 0x7f) {
            return self.0.write_string_fragment(writer, fragment);
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if escaped(c) {
                if start < i {
                    self.0.write_string_fragment(writer, &fragment[start..i])?;
                }
                write!(writer, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        if start < fragment.len() {
            self.0.write_string_fragment(writer, &fragment[start..])?;
        }
        Ok(())
    }

    // Everything else is the wrapped formatter's (the pretty one indents in these).
    fn write_null<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.write_null(w)
    }
    fn write_bool<W: ?Sized + Write>(&mut self, w: &mut W, v: bool) -> io::Result<()> {
        self.0.write_bool(w, v)
    }
    fn write_i64<W: ?Sized + Write>(&mut self, w: &mut W, v: i64) -> io::Result<()> {
        self.0.write_i64(w, v)
    }
    fn write_i128<W: ?Sized + Write>(&mut self, w: &mut W, v: i128) -> io::Result<()> {
        self.0.write_i128(w, v)
    }
    fn write_u64<W: ?Sized + Write>(&mut self, w: &mut W, v: u64) -> io::Result<()> {
        self.0.write_u64(w, v)
    }
    fn write_u128<W: ?Sized + Write>(&mut self, w: &mut W, v: u128) -> io::Result<()> {
        self.0.write_u128(w, v)
    }
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        self.0.write_f64(w, v)
    }
    fn write_number_str<W: ?Sized + Write>(&mut self, w: &mut W, v: &str) -> io::Result<()> {
        self.0.write_number_str(w, v)
    }
    fn begin_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_string(w)
    }
    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_string(w)
    }
    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        self.0.write_char_escape(w, escape)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
    fn write_raw_fragment<W: ?Sized + Write>(&mut self, w: &mut W, f: &str) -> io::Result<()> {
        self.0.write_raw_fragment(w, f)
    }
}

/// Like `serde_json::to_writer_pretty`, with [`SafeFormatter`].
pub fn to_writer_pretty<W: Write, T: ?Sized + Serialize>(
    writer: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(writer, SafeFormatter(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// Like `serde_json::to_string_pretty`, with [`SafeFormatter`].
pub fn to_string_pretty<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    to_writer_pretty(&mut out, value)?;
    // Only valid UTF-8 is written: the input strings and ASCII escapes.
    String::from_utf8(out).map_err(|e| serde_json::Error::io(io::Error::other(e)))
}

/// Like `serde_json::to_vec` (compact, one line: JSON Lines), with [`SafeFormatter`].
pub fn to_vec<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter(CompactFormatter));
    value.serialize(&mut ser)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{202e}b\u{2066}c\u{2069}\u{200b}\u{200f}\u{2028}\u{2029}\u{feff}\u{7f}\u{85}\u{9b}\u{9f}é中😀\n\"\\";

    #[test]
    fn display_acting_characters_are_escaped_and_the_value_is_unchanged() {
        for text in [
            to_string_pretty(&serde_json::json!({ HOSTILE: [HOSTILE] }))
                .unwrap_or_else(|e| panic!("{e}")),
            String::from_utf8(
                to_vec(&serde_json::json!({ HOSTILE: HOSTILE })).unwrap_or_else(|e| panic!("{e}")),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        ] {
            assert!(
                text.contains(
                    r"a\u202eb\u2066c\u2069\u200b\u200f\u2028\u2029\ufeff\u007f\u0085\u009b\u009f"
                ),
                "{text}"
            );
            assert!(!text.chars().any(escaped), "{text:?}");
            // Other non-ASCII text stays readable; serde_json's own escapes are kept.
            assert!(text.contains("é中😀\\n\\\"\\\\"), "{text}");
            let back: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            let (key, value) = back
                .as_object()
                .and_then(|o| o.iter().next())
                .unwrap_or_else(|| panic!("{back}"));
            assert_eq!(key, HOSTILE);
            assert_eq!(value.as_str().or(value[0].as_str()), Some(HOSTILE));
        }
    }

    #[test]
    fn pretty_output_is_serde_jsons_when_nothing_needs_escaping() {
        let v = serde_json::json!({"a": [1, 2.5, null, true], "b": {"c": "d é"}, "e": []});
        assert_eq!(
            to_string_pretty(&v).unwrap_or_else(|e| panic!("{e}")),
            serde_json::to_string_pretty(&v).unwrap_or_else(|e| panic!("{e}"))
        );
        assert_eq!(
            to_vec(&v).unwrap_or_else(|e| panic!("{e}")),
            serde_json::to_vec(&v).unwrap_or_else(|e| panic!("{e}"))
        );
    }
}
