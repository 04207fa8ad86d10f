//! Report writers: the terminal report (the default), Markdown for the
//! incident ticket, and versioned JSON for automation.
//!
//! All three are built from the same [`CaseOutcome`]s and say the same
//! thing. The human reports put the verdict first (with the rule that
//! decided it and the findings that drove it), then the findings and the
//! recommended actions, then the evidence section by section: the key, who
//! can use it, who created it and how, what else that principal did, who used
//! it, what it protects, its rotation, and what could not be determined.
//!
//! Everything that came from an alert, a log or Google is untrusted: the text
//! writer passes it through [`crate::sanitize::text`], the Markdown writer
//! through [`escape_markdown`]; the only escape codes in the terminal report
//! are the writer's own colours, and only when [`Style::color`] is set. The
//! JSON report keeps strings verbatim (control, bidi and invisible characters
//! written as `\uXXXX` escapes, see [`safe_json`]) in
//! its own versioned types ([`json`]), whose schema is published in
//! `docs/report-schema.json`; `docs/report-format.md` describes the formats.

mod build;
mod doc;
mod facts;
pub mod json;
mod markdown;
pub mod safe_json;
mod text;

#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::io::{self, Write};

use jiff::Timestamp;

use crate::case::CaseOutcome;
use crate::findings::Verdict;

pub use json::{SCHEMA_VERSION, json_schema};
pub use markdown::escape_markdown;

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person at a terminal: verdict first, then findings, actions and evidence.
    #[default]
    Text,
    /// The versioned machine report (see `kms-responder schema`).
    Json,
    /// For an incident ticket: the text report's content as GitHub-flavoured Markdown.
    #[value(alias = "md")]
    Markdown,
}

/// How the text report is shown. The caller decides; the writers never look
/// at the terminal or the environment themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Colour the verdict, severities and warnings with ANSI escape codes.
    pub color: bool,
}

impl Style {
    /// No colour: for files, pipes, Markdown and JSON.
    pub const PLAIN: Style = Style { color: false };

    /// The style for output going to a terminal or not: colour only when
    /// `is_terminal` is true, the `NO_COLOR` environment variable is unset or
    /// empty (<https://no-color.org>: any non-empty value turns colour off),
    /// and `TERM` is not `dumb`.
    ///
    /// ```
    /// use std::io::IsTerminal as _;
    /// let style = kms_responder::render::Style::detect(std::io::stdout().is_terminal());
    /// # let _ = style;
    /// ```
    pub fn detect(is_terminal: bool) -> Style {
        Style::decide(
            is_terminal,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    /// [`Style::detect`] with the environment passed in.
    fn decide(is_terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> Style {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        let dumb = term.is_some_and(|t| t == "dumb");
        Style {
            color: is_terminal && !no_color && !dumb,
        }
    }
}

/// Writes the report of a batch of outcomes in `format`. `now` is when the
/// report is made (ages and "3 days ago" are relative to it); `style` only
/// affects [`Format::Text`].
pub fn write(
    out: &mut dyn Write,
    format: Format,
    outcomes: &[CaseOutcome],
    now: Timestamp,
    style: Style,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let doc = json::document(outcomes, now);
            safe_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
            writeln!(out)
        }
        Format::Text => text::write(out, &docs(outcomes, now), &tally(outcomes), style),
        Format::Markdown => markdown::write(
            out,
            &docs(outcomes, now),
            &format!(
                "Generated {} by kms-responder {}.",
                facts::ts(now),
                env!("CARGO_PKG_VERSION")
            ),
            &tally(outcomes),
        ),
    }
}

fn docs(outcomes: &[CaseOutcome], now: Timestamp) -> Vec<doc::Doc> {
    outcomes
        .iter()
        .map(|o| match o {
            CaseOutcome::Case(c) => build::case(c, now),
            CaseOutcome::NoKeyFound {
                request,
                search,
                detail,
            } => build::unresolved(request, search, detail),
        })
        .collect()
}

/// `3 keys investigated: 1 malicious, 2 benign; 1 alert with no key found; evidence incomplete for 1 key.`
fn tally(outcomes: &[CaseOutcome]) -> String {
    let mut keys = 0;
    let mut by_verdict = [0usize; 4];
    let mut unresolved = 0;
    let mut incomplete = 0;
    for o in outcomes {
        match o {
            CaseOutcome::Case(c) => {
                keys += 1;
                by_verdict[match c.assessment.verdict {
                    Verdict::Malicious => 0,
                    Verdict::Suspicious => 1,
                    Verdict::Inconclusive => 2,
                    Verdict::Benign => 3,
                }] += 1;
                if !c.investigation.gaps.is_empty() {
                    incomplete += 1;
                }
            }
            CaseOutcome::NoKeyFound { .. } => unresolved += 1,
        }
    }
    let verdicts: Vec<String> = ["malicious", "suspicious", "inconclusive", "benign"]
        .iter()
        .zip(by_verdict)
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    let mut s = format!(
        "{keys} key{} investigated",
        if keys == 1 { "" } else { "s" }
    );
    if !verdicts.is_empty() {
        s.push_str(": ");
        s.push_str(&verdicts.join(", "));
    }
    if unresolved > 0 {
        s.push_str(&format!(
            "; {unresolved} alert{} with no key found",
            if unresolved == 1 { "" } else { "s" }
        ));
    }
    if incomplete > 0 {
        s.push_str(&format!(
            "; evidence incomplete for {incomplete} key{}",
            if incomplete == 1 { "" } else { "s" }
        ));
    }
    s.push('.');
    s
}
