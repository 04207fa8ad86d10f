//! Neutralizes attacker-controlled text before it reaches a terminal.
//!
//! Everything in an alert or a log entry is attacker-controlled: control
//! characters (ANSI escape sequences, newlines that forge report lines,
//! carriage returns that overwrite them), Unicode bidi overrides and isolates,
//! zero-width and other invisible format characters, line and paragraph
//! separators, and "tag" characters that smuggle invisible text could forge
//! report lines or hide text. They are shown as visible escapes instead, and
//! long values are cut.

use std::borrow::Cow;

/// Longest external value shown, in characters (then `…`).
pub const MAX_CHARS: usize = 512;

/// Whether `c` must not reach a terminal or a Markdown document as itself: every control
/// character (C0, DEL, C1), and the invisible or reordering format characters (Unicode
/// category Cf that matter in text, plus the line and paragraph separators).
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen (invisible)
            | '\u{061C}'                    // Arabic letter mark (bidi)
            | '\u{180E}'                    // Mongolian vowel separator (invisible)
            | '\u{200B}'..='\u{200F}'       // zero-width space/joiners, LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators, bidi embeddings/overrides
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{FEFF}'                    // zero-width no-break space (BOM)
            | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotations
            | '\u{E0000}'..='\u{E007F}' // tag characters (invisible "ASCII smuggling")
        )
}

/// One line of safe text: dangerous characters as `\u{..}`, at most [`MAX_CHARS`] characters
/// of the value (then `…`).
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dangerous) && s.len() <= MAX_CHARS {
        return Cow::Borrowed(s);
    }
    Cow::Owned(bounded(s, MAX_CHARS))
}

/// A short, safe excerpt of a hostile value for an error message: like [`text`] but at most
/// `max` characters of the value.
pub fn excerpt(s: &str, max: usize) -> String {
    bounded(s, max)
}

fn bounded(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max) + 16);
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_ansi_newlines_and_bidi() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(text("a\nVerdict: benign"), "a\\u{a}Verdict: benign");
        assert_eq!(text("x\u{202E}y"), "x\\u{202e}y");
        assert!(text(&"a".repeat(2000)).chars().count() <= 513);
    }

    #[test]
    fn escapes_invisible_and_separator_characters() {
        for (raw, shown) in [
            ("a\u{2028}b", "a\\u{2028}b"),
            ("a\u{2029}b", "a\\u{2029}b"),
            ("a\u{2066}b\u{2069}", "a\\u{2066}b\\u{2069}"),
            ("a\u{061C}b", "a\\u{61c}b"),
            ("\u{E0041}\u{E0042}", "\\u{e0041}\\u{e0042}"),
            ("a\u{9b}31m", "a\\u{9b}31m"),
            ("a\rb", "a\\u{d}b"),
            ("soft\u{AD}hyphen", "soft\\u{ad}hyphen"),
        ] {
            assert_eq!(text(raw), shown, "{raw:?}");
        }
        // Ordinary non-ASCII text is left alone.
        for ok in ["Zoë", "日本語", "Ελληνικά", "عربى", "emoji 🙂"] {
            assert_eq!(text(ok), ok);
        }
    }

    #[test]
    fn excerpts_are_short_and_safe() {
        let e = excerpt(&format!("\u{1b}[2J{}", "x".repeat(500)), 20);
        assert_eq!(e.chars().count(), 26, "{e}");
        assert!(e.starts_with("\\u{1b}[2J") && e.ends_with('…'));
    }
}
