//! The incident-ticket report: GitHub-flavoured Markdown with the same
//! content as the terminal report.
//!
//! External text goes through [`escape_markdown`], so a principal such as
//! `[click](http://evil)`, `<img src=x>` or `| fake | row |` shows as the
//! literal text it is and cannot add links, HTML, emphasis, headings or
//! table cells to the ticket.

use std::io::{self, Write};

use super::doc::{Block, Doc, Line, Span, Table};
use crate::sanitize;

/// Characters with a meaning somewhere in CommonMark or GitHub Markdown.
/// Backslash-escaping any ASCII punctuation is always valid CommonMark, so
/// escaping a few more than strictly needed costs nothing.
const SPECIAL: &[char] = &[
    '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '-', '.', '!', '|', '<', '>', '~',
    '&', '$', ':', '"', '\'', '=',
];

/// Makes untrusted text literal inside a Markdown paragraph, list item,
/// heading or table cell: control characters, line breaks and bidi
/// overrides become visible `\u{..}` escapes (via [`crate::sanitize::text`],
/// which also bounds the length), and every Markdown-significant
/// character is backslash-escaped.
///
/// Escaping `:` and `.` as well keeps bare URLs from being auto-linked by
/// most renderers; where one still is, the link shows its own target, so no
/// text can hide where it points.
pub fn escape_markdown(s: &str) -> String {
    let safe = sanitize::text(s);
    let mut out = String::with_capacity(safe.len() + 8);
    for c in safe.chars() {
        if SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn render(line: &Line) -> String {
    let mut out = String::new();
    for span in &line.0 {
        match span {
            Span::Own(s) => out.push_str(s),
            Span::Ext(s) => out.push_str(&escape_markdown(s)),
            Span::Mark(s, _) => {
                out.push_str("**");
                out.push_str(s);
                out.push_str("**");
            }
        }
    }
    out
}

/// `caller IPs` -> `Caller IPs`.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `WHO CREATED IT` -> `Who created it`.
fn sentence_case(title: &str) -> String {
    capitalize(&title.to_lowercase())
}

fn table(out: &mut dyn Write, t: &Table) -> io::Result<()> {
    let head: Vec<String> = t.head.iter().map(|h| capitalize(h)).collect();
    writeln!(out, "| {} |", head.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(t.head.len()))?;
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(render).collect();
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    Ok(())
}

#[derive(PartialEq, Eq)]
enum Last {
    Start,
    ListLike,
    Other,
}

/// Writes one case (or unresolved alert).
fn write_doc(out: &mut dyn Write, doc: &Doc) -> io::Result<()> {
    let mut last = Last::Start;
    for block in doc {
        // Lists and tables need a blank line before them, except within a list.
        let list_like = matches!(
            block,
            Block::Field(..) | Block::Item(_) | Block::SubItem(_) | Block::Note(_)
        );
        if last != Last::Start && !(list_like && last == Last::ListLike) {
            writeln!(out)?;
        }
        match block {
            Block::Headline(line) => writeln!(out, "## {}", render(line))?,
            Block::Section(title) => writeln!(out, "### {}", sentence_case(title))?,
            Block::Field(label, line) => writeln!(out, "- **{label}:** {}", render(line))?,
            Block::Note(line) => writeln!(out, "- {}", render(line))?,
            Block::Item(line) => writeln!(out, "- {}", render(line))?,
            Block::SubItem(line) => writeln!(out, "  - {}", render(line))?,
            Block::Table(t) => table(out, t)?,
        }
        last = if list_like {
            Last::ListLike
        } else {
            Last::Other
        };
    }
    Ok(())
}

/// Writes the ticket: a title, when and by what it was generated, a tally,
/// then every case.
pub(crate) fn write(
    out: &mut dyn Write,
    docs: &[Doc],
    generated: &str,
    tally: &str,
) -> io::Result<()> {
    writeln!(out, "# KMS key investigation")?;
    writeln!(out)?;
    writeln!(out, "{generated}  ")?;
    writeln!(out, "{tally}")?;
    for doc in docs {
        writeln!(out)?;
        write_doc(out, doc)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_markdown_makes_injection_literal() {
        assert_eq!(
            escape_markdown("[click](http://evil)"),
            "\\[click\\]\\(http\\://evil\\)"
        );
        assert_eq!(escape_markdown("<img src=x>"), "\\<img src\\=x\\>");
        assert_eq!(escape_markdown("| fake | row |"), "\\| fake \\| row \\|");
        assert_eq!(
            escape_markdown("**bold** _it_ `code`"),
            "\\*\\*bold\\*\\* \\_it\\_ \\`code\\`"
        );
        assert_eq!(escape_markdown("# h1"), "\\# h1");
        assert_eq!(escape_markdown("a\\b"), "a\\\\b");
        assert_eq!(escape_markdown("plain words 42"), "plain words 42");
    }

    #[test]
    fn escape_markdown_neutralises_line_breaks_and_controls() {
        let e = escape_markdown("x\n## Verdict: benign\r\n\u{1b}[31m\u{202e}");
        assert!(!e.contains('\n') && !e.contains('\r') && !e.contains('\u{1b}'));
        assert!(!e.contains('\u{202e}'));
        assert!(e.contains("\\\\u\\{a\\}\\#\\# Verdict\\: benign"), "{e}");
    }

    #[test]
    fn every_special_character_is_escaped_exactly_once() {
        for c in SPECIAL {
            let e = escape_markdown(&c.to_string());
            assert_eq!(e, format!("\\{c}"));
        }
    }
}
