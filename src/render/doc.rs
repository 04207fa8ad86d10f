//! The human report as a small document: what to say, before how to show it.
//!
//! The text and Markdown writers render the same [`Block`]s, so they carry
//! the same content. Every piece of text is either the writer's own
//! ([`Span::Own`]: labels, numbers, timestamps it formatted) or external
//! ([`Span::Ext`]: anything from the alert, the logs or Google's APIs);
//! each writer escapes external text at one place, so nothing an attacker
//! wrote reaches a terminal or a ticket unescaped.

use std::borrow::Cow;

/// How a marked word is emphasised (colour on a terminal, bold in Markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Malicious, critical or high: red.
    Bad,
    /// Suspicious, medium, unknown: yellow.
    Warn,
    /// Benign: green.
    Good,
    /// Emphasis without colour.
    Strong,
}

/// A run of text within a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Span {
    /// Text the writer authored; never contains data from outside.
    Own(Cow<'static, str>),
    /// Text from the alert, the logs or Google: escaped by each writer.
    Ext(String),
    /// The writer's own word, emphasised.
    Mark(Cow<'static, str>, Tone),
}

/// One line of text (never containing a line break once escaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Line(pub Vec<Span>);

impl Line {
    pub(crate) fn own(mut self, s: impl Into<Cow<'static, str>>) -> Line {
        self.0.push(Span::Own(s.into()));
        self
    }

    pub(crate) fn ext(mut self, s: impl Into<String>) -> Line {
        self.0.push(Span::Ext(s.into()));
        self
    }

    pub(crate) fn mark(mut self, s: impl Into<Cow<'static, str>>, tone: Tone) -> Line {
        self.0.push(Span::Mark(s.into(), tone));
        self
    }

    /// Appends another line's spans.
    pub(crate) fn then(mut self, other: Line) -> Line {
        self.0.extend(other.0);
        self
    }

    /// Items separated by the writer's own `sep`.
    pub(crate) fn join(items: impl IntoIterator<Item = Line>, sep: &'static str) -> Line {
        let mut out = Line::default();
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out = out.own(sep);
            }
            out = out.then(item);
        }
        out
    }
}

/// A line of the writer's own text.
pub(crate) fn own(s: impl Into<Cow<'static, str>>) -> Line {
    Line::default().own(s)
}

/// A line of external text.
pub(crate) fn ext(s: impl Into<String>) -> Line {
    Line::default().ext(s)
}

/// How a table is laid out on a terminal (Markdown always uses a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextLayout {
    /// Aligned columns under a header row.
    Columns,
    /// The first `n` cells on the row's line, each other cell on its own
    /// indented `header: value` line below (for long cells such as evidence).
    Stacked(usize),
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub head: Vec<&'static str>,
    pub rows: Vec<Vec<Line>>,
    pub layout: TextLayout,
}

/// One element of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// The first line of a case: its verdict and key.
    Headline(Line),
    /// A section heading, upper case (`WHO CREATED IT`); the writer's own text.
    Section(Cow<'static, str>),
    /// `label: value`.
    Field(&'static str, Line),
    /// A sentence on its own.
    Note(Line),
    /// One item of a list.
    Item(Line),
    /// One item of a list under the [`Block::Field`] before it.
    SubItem(Line),
    Table(Table),
}

/// The blocks of one case or unresolved alert.
pub(crate) type Doc = Vec<Block>;
