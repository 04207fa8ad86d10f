//! Playbook errors: where (source, line, column) and what, with the fix.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Location, MessageFormatter as _};

use super::raw::SECTIONS;
use super::text::{did_you_mean, quote};

/// What is wrong with a playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read.
    Read,
    /// Larger than [`super::MAX_PLAYBOOK_BYTES`].
    TooLarge,
    /// Not UTF-8.
    NotUtf8,
    /// Not well-formed YAML, or not one YAML document.
    Syntax,
    /// A parser budget was exceeded (aliases, nesting, nodes...).
    Limit,
    UnknownField,
    MissingField,
    DuplicateKey,
    /// A value of the wrong shape (a list where a mapping belongs, ...).
    WrongType,
    /// A value that is empty, malformed or out of range.
    InvalidValue,
    UnknownFindingId,
    UnknownSeverity,
    UnknownAction,
    UnknownDay,
    UnknownUserAgent,
    BadDuration,
    BadTimeZone,
    BadTime,
    /// Business hours whose start is not before their end.
    StartNotBeforeEnd,
    EmptyDays,
    BadIpRange,
    BadPattern,
    /// The same entry twice in a list.
    Duplicate,
    DuplicateRuleName,
    /// A verdict rule with no condition, or one that can never match.
    EmptyRule,
    NoRules,
    /// The `response:` half is not a mapping.
    BadResponse,
    /// A response step's `when` condition does not parse.
    BadCondition,
    /// An unknown member kind in `response.revoke.members`.
    UnknownMember,
    /// No bundled playbook handles the alert type.
    UnsupportedAlertType,
}

/// Why a playbook could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaybookError {
    /// The text is not a valid playbook: where, and what to fix.
    #[error("{source_name}:{line}:{column}: {message}")]
    Invalid {
        source_name: String,
        /// 1-based line of the offending node.
        line: u64,
        /// 1-based column (in characters) of the offending node.
        column: u64,
        kind: ErrorKind,
        message: String,
    },
    /// The file could not be read (there is no line to point at).
    #[error("{source_name}: cannot read the playbook: {message}")]
    Read {
        source_name: String,
        message: String,
    },
    /// No bundled playbook handles this alert type.
    #[error(
        "no bundled playbook handles alert type \"{alert_type}\" (bundled: {}); pass a playbook for it",
        handled.join(", ")
    )]
    UnsupportedAlertType {
        alert_type: String,
        handled: Vec<String>,
    },
}

impl PlaybookError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlaybookError::Invalid { kind, .. } => *kind,
            PlaybookError::Read { .. } => ErrorKind::Read,
            PlaybookError::UnsupportedAlertType { .. } => ErrorKind::UnsupportedAlertType,
        }
    }

    /// Line and column of an [`PlaybookError::Invalid`] error.
    pub fn location(&self) -> Option<(u64, u64)> {
        match self {
            PlaybookError::Invalid { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// Builds an `Invalid` error at a node.
pub(super) fn at(
    source_name: &str,
    location: &Location,
    kind: ErrorKind,
    message: impl Into<String>,
) -> PlaybookError {
    let (line, column) = if location.line() == 0 {
        (1, 1)
    } else {
        (location.line(), location.column().max(1))
    };
    PlaybookError::Invalid {
        source_name: source_name.to_owned(),
        line,
        column,
        kind,
        message: message.into(),
    }
}

/// Line and column (1-based, in characters) of byte `offset` of `bytes`.
fn position(bytes: &[u8], offset: usize) -> (u64, u64) {
    let prefix = bytes.get(..offset).unwrap_or(bytes);
    let line_start = prefix
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let lines = prefix.iter().filter(|b| **b == b'\n').count();
    let column = String::from_utf8_lossy(prefix.get(line_start..).unwrap_or_default())
        .chars()
        .count();
    (to_u64(lines) + 1, to_u64(column) + 1)
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The input is over the size cap: points at the first byte past it.
pub(super) fn too_large(source_name: &str, bytes: &[u8]) -> PlaybookError {
    let limit = super::MAX_PLAYBOOK_BYTES;
    let (line, column) = position(bytes, limit);
    PlaybookError::Invalid {
        source_name: source_name.to_owned(),
        line,
        column,
        kind: ErrorKind::TooLarge,
        message: format!(
            "the playbook is larger than {} KiB (the limit); a playbook is a short configuration file: \
             check that this is the right file",
            limit / 1024
        ),
    }
}

/// The input is not UTF-8: points at the first bad byte.
pub(super) fn not_utf8(
    source_name: &str,
    bytes: &[u8],
    error: &std::str::Utf8Error,
) -> PlaybookError {
    let (line, column) = position(bytes, error.valid_up_to());
    PlaybookError::Invalid {
        source_name: source_name.to_owned(),
        line,
        column,
        kind: ErrorKind::NotUtf8,
        message: "the playbook is not UTF-8 text; save it as UTF-8".into(),
    }
}

/// Translates a `serde-saphyr` error: its location, and a message naming
/// the problem and the fix.
pub(super) fn from_yaml(source_name: &str, error: &serde_saphyr::Error) -> PlaybookError {
    let location = error.location().unwrap_or(Location::UNKNOWN);
    let inner = innermost(error);
    let (kind, message) = describe(inner);
    at(source_name, &location, kind, message)
}

fn innermost(error: &serde_saphyr::Error) -> &serde_saphyr::Error {
    let mut e = error.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = e {
        e = error.without_snippet();
    }
    e
}

const SINGLE_DOCUMENT: &str =
    "a playbook is a single YAML document; remove this `---` and what follows, or split the file";

fn describe(error: &serde_saphyr::Error) -> (ErrorKind, String) {
    use serde_saphyr::Error as E;
    match error {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let section = SECTIONS
                .iter()
                .find(|(_, fields)| same_set(fields, expected))
                .map_or("this mapping", |(name, _)| name);
            let mut message = format!(
                "unknown field {} in {section} (allowed: {})",
                quote(field),
                expected.join(", ")
            );
            if let Some(s) = did_you_mean(field, expected.iter().copied()) {
                message.push_str(&format!("; did you mean \"{s}\"?"));
            }
            (ErrorKind::UnknownField, message)
        }
        E::SerdeMissingField { field, .. } => {
            let hint = if *field == "investigation" {
                ": a playbook starts with an `investigation:` mapping (see playbooks/README.md)"
            } else {
                ""
            };
            (
                ErrorKind::MissingField,
                format!("missing required field `{field}` in this mapping{hint}"),
            )
        }
        E::DuplicateMappingKey { key, .. } => (
            ErrorKind::DuplicateKey,
            match key {
                Some(k) => format!("{} is given twice in this mapping; keep one", quote(k)),
                None => "a key is given twice in this mapping; keep one".into(),
            },
        ),
        E::MultipleDocuments { .. } => (ErrorKind::Syntax, SINGLE_DOCUMENT.into()),
        E::Eof { .. } => (
            ErrorKind::Syntax,
            "the playbook is empty or ends too early; it needs an `investigation:` mapping".into(),
        ),
        E::NullIntoString { .. } => (
            ErrorKind::WrongType,
            "a value is missing here; write one (or remove the key to use the default)".into(),
        ),
        E::Unexpected { expected, .. } => (ErrorKind::WrongType, expected_shape(expected)),
        E::SerdeInvalidType {
            unexpected,
            expected,
            ..
        } => (
            ErrorKind::WrongType,
            format!("expected {expected}, found {unexpected}"),
        ),
        E::Budget {
            breach: BudgetBreach::Documents { .. },
            ..
        } => (ErrorKind::Syntax, SINGLE_DOCUMENT.into()),
        E::Budget { breach, .. } => (ErrorKind::Limit, budget_message(breach)),
        E::AliasReplayLimitExceeded {
            max_total_replayed_events,
            ..
        } => (
            ErrorKind::Limit,
            format!(
                "aliases expand to more than {max_total_replayed_events} YAML events (an alias bomb?); \
                 write the values out instead of nesting aliases"
            ),
        ),
        E::AliasExpansionLimitExceeded {
            max_expansions_per_anchor,
            ..
        } => (
            ErrorKind::Limit,
            format!(
                "an anchor is used more than {max_expansions_per_anchor} times; write the values out"
            ),
        ),
        E::AliasReplayStackDepthExceeded { max_depth, .. } => (
            ErrorKind::Limit,
            format!("aliases nest more than {max_depth} deep; write the values out"),
        ),
        E::UnknownAnchor { .. } => (
            ErrorKind::Syntax,
            "this alias (`*name`) refers to no anchor (`&name`) defined before it".into(),
        ),
        E::UnsupportedTag { .. } => (
            ErrorKind::Syntax,
            "YAML tags (`!something`) are not supported in playbooks; remove the tag".into(),
        ),
        // The scanner's flow-nesting limit (`flow_nesting_limit` in the
        // budget) has no variant of its own: it comes as the parser's message.
        E::ExternalMessage { msg, .. } if msg.starts_with("recursion limit exceeded") => (
            ErrorKind::Limit,
            budget_message(&BudgetBreach::Depth { depth: 0 }),
        ),
        E::InvalidUtf8Input => (
            ErrorKind::NotUtf8,
            "the playbook is not UTF-8 text; save it as UTF-8".into(),
        ),
        other => (
            ErrorKind::Syntax,
            format!(
                "invalid YAML: {}",
                serde_saphyr::DefaultMessageFormatter.format_message(other)
            ),
        ),
    }
}

fn same_set(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

fn expected_shape(expected: &str) -> String {
    let what = match expected {
        "sequence start" => "a list (`[a, b]` or lines starting with `- `)",
        "mapping start" | "map" => "a mapping (`key: value` lines)",
        "string scalar" | "string" => "a single value, not a list or mapping",
        other => other,
    };
    format!("expected {what} here")
}

fn budget_message(breach: &BudgetBreach) -> String {
    let what = match breach {
        BudgetBreach::Aliases { .. } => "has too many aliases (`*name`)",
        BudgetBreach::Anchors { .. } => "has too many anchors (`&name`)",
        BudgetBreach::AliasAnchorRatio { .. } => "has too many aliases per anchor (an alias bomb?)",
        BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
            "has anchors and aliases that expand to too much (an alias bomb?)"
        }
        BudgetBreach::Depth { .. } => "is nested too deeply",
        BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => "has too many values",
        BudgetBreach::ScalarBytes { .. } | BudgetBreach::InputBytes { .. } => "has too much text",
        BudgetBreach::MergeKeys { .. } => "has too many merge keys (`<<`)",
        _ => "is over a parser limit",
    };
    format!("the playbook {what}, beyond the limits that guard against hostile YAML; simplify it")
}
