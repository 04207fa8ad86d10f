//! Exit codes: the contract with scripts and SOAR playbooks.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done: verdict benign and every piece of evidence gathered (a fact read, such as Data Access logs off, is not a gap) |
//! | 1 | failure: the tool could not do its job (API unreachable, internal error) |
//! | 2 | usage error: bad arguments, input or playbook; nothing was sent to Google |
//! | 3 | done, verdict benign or inconclusive, but evidence is incomplete: the report's gaps say what and why |
//! | 4 | done, findings: some verdict is suspicious or malicious (wins over 3, the more urgent signal) |
//! | 5 | refused (`respond`, `undo`): a resource changed since it was planned or recorded; nothing was changed on it |
//!
//! `respond` returns 0 when done, when a dry run was printed or when nothing
//! was to change; 1 when a call failed, a read-back differed or Ctrl-C
//! stopped the run (its report says what was done and what was not); 2 for
//! a usage error (e.g. not a terminal without `--non-interactive`); 5 when
//! a key changed since the plan. `undo` returns 0, 1, 2 likewise, and 5
//! when a resource changed since the run (see `--force`).

/// Exit code for a complete run.
pub const OK: u8 = 0;
/// Exit code for a failure.
pub const FAILURE: u8 = 1;
/// Exit code for bad arguments or input.
pub const USAGE: u8 = 2;
/// Exit code when some evidence could not be gathered.
pub const INCOMPLETE: u8 = 3;

/// Exit code when some verdict is suspicious or malicious.
pub const FINDINGS: u8 = 4;

/// Exit code when `respond` or `undo` refused to touch a resource that
/// changed since it was planned or recorded.
pub const REFUSED: u8 = 5;

/// A user error: says what is wrong and how to fix it. Exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    pub message: String,
    pub hint: Option<String>,
}

impl UsageError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UsageError {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}
