//! Neutralizes attacker-controlled text before it reaches a terminal.
//!
//! Everything in an alert or a log entry is attacker-controlled: control
//! characters, ANSI escape sequences and Unicode bidi overrides could forge
//! report lines or hide text. They are shown as visible escapes instead.

use std::borrow::Cow;

fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// One line of safe text: dangerous characters as `\u{..}`, bounded length.
pub fn text(s: &str) -> Cow<'_, str> {
    const MAX: usize = 512;
    if !s.chars().any(is_dangerous) && s.len() <= MAX {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(MAX) + 16);
    for (n, c) in s.chars().enumerate() {
        if n >= MAX {
            out.push('…');
            break;
        }
        if is_dangerous(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
}
