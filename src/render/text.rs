//! The terminal report: plain lines, two-space indents, aligned tables, and
//! colour (only the writer's own escape codes) when [`Style::color`] is set.
//!
//! External text goes through [`crate::sanitize::text`]: control characters,
//! ANSI escapes and bidi overrides are shown as visible `\u{..}` escapes, so
//! nothing in an alert or a log can forge a report line or recolour it.

use std::io::{self, Write};

use super::Style;
use super::doc::{Block, Doc, Line, Span, Table, TextLayout, Tone};
use crate::sanitize;

const RESET: &str = "\x1b[0m";

fn tone_code(tone: Tone) -> &'static str {
    match tone {
        Tone::Bad => "\x1b[1;31m",
        Tone::Warn => "\x1b[1;33m",
        Tone::Good => "\x1b[1;32m",
        Tone::Strong => "\x1b[1m",
    }
}

/// A line rendered: with colour (when asked) and its visible width.
fn render(line: &Line, style: Style) -> (String, usize) {
    let mut out = String::new();
    let mut width = 0;
    for span in &line.0 {
        match span {
            Span::Own(s) => {
                width += s.chars().count();
                out.push_str(s);
            }
            Span::Ext(s) => {
                let safe = sanitize::text(s);
                width += safe.chars().count();
                out.push_str(&safe);
            }
            Span::Mark(s, tone) => {
                width += s.chars().count();
                if style.color {
                    out.push_str(tone_code(*tone));
                    out.push_str(s);
                    out.push_str(RESET);
                } else {
                    out.push_str(s);
                }
            }
        }
    }
    (out, width)
}

fn pad(out: &mut String, width: usize, target: usize) {
    for _ in width..target {
        out.push(' ');
    }
}

fn table(out: &mut dyn Write, t: &Table, style: Style) -> io::Result<()> {
    let cells: Vec<Vec<(String, usize)>> = t
        .rows
        .iter()
        .map(|row| row.iter().map(|c| render(c, style)).collect())
        .collect();
    let aligned = match t.layout {
        TextLayout::Columns => t.head.len(),
        TextLayout::Stacked(n) => n.min(t.head.len()),
    };
    // Width of each aligned column except the last (which is not padded).
    let mut widths: Vec<usize> = t.head.iter().take(aligned).map(|h| h.len()).collect();
    for row in &cells {
        for (i, (_, w)) in row.iter().take(aligned).enumerate() {
            widths[i] = widths[i].max(*w);
        }
    }
    let show_head = t.layout == TextLayout::Columns;
    if show_head {
        let mut line = String::from("  ");
        for (i, h) in t.head.iter().enumerate() {
            let upper = h.to_uppercase();
            line.push_str(&upper);
            if i + 1 < t.head.len() {
                pad(&mut line, upper.chars().count(), widths[i]);
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    // Stacked rows put their other cells under the row, after this indent.
    let indent = 2
        + widths.iter().take(aligned.saturating_sub(1)).sum::<usize>()
        + 2 * aligned.saturating_sub(1);
    for row in &cells {
        let mut line = String::from("  ");
        for (i, (text, w)) in row.iter().take(aligned).enumerate() {
            line.push_str(text);
            if i + 1 < aligned {
                pad(&mut line, *w, widths[i]);
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
        for (i, (text, _)) in row.iter().enumerate().skip(aligned) {
            writeln!(out, "{:indent$}{}: {text}", "", t.head[i])?;
        }
    }
    Ok(())
}

/// Writes one case (or unresolved alert).
pub(crate) fn write_doc(out: &mut dyn Write, doc: &Doc, style: Style) -> io::Result<()> {
    for block in doc {
        match block {
            Block::Headline(line) => writeln!(out, "{}", render(line, style).0)?,
            Block::Section(title) => {
                writeln!(out)?;
                if style.color {
                    writeln!(out, "{}{title}{RESET}", tone_code(Tone::Strong))?;
                } else {
                    writeln!(out, "{title}")?;
                }
            }
            Block::Field(label, line) => writeln!(out, "  {label}: {}", render(line, style).0)?,
            Block::Note(line) => writeln!(out, "  {}", render(line, style).0)?,
            Block::Item(line) => writeln!(out, "  - {}", render(line, style).0)?,
            Block::SubItem(line) => writeln!(out, "    - {}", render(line, style).0)?,
            Block::Table(t) => table(out, t, style)?,
        }
    }
    Ok(())
}

/// Writes every case, separated by a rule, and a one-line tally when there are several.
pub(crate) fn write(
    out: &mut dyn Write,
    docs: &[Doc],
    tally: &str,
    style: Style,
) -> io::Result<()> {
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
            writeln!(out, "{}", "─".repeat(72))?;
        }
        write_doc(out, doc, style)?;
    }
    if docs.len() > 1 {
        writeln!(out)?;
        writeln!(out, "{tally}")?;
    }
    Ok(())
}
