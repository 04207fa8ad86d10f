//! Exit codes: the contract with scripts and SOAR playbooks.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done: verdict benign and every piece of evidence gathered |
//! | 1 | failure: the tool could not do its job (API unreachable, internal error) |
//! | 2 | usage error: bad arguments, input or playbook; nothing was sent to Google |
//! | 3 | done, verdict benign, but evidence is incomplete: the report's gaps say what and why |
//! | 4 | done, findings: some verdict is suspicious or malicious (wins over 3, the more urgent signal) |

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
