//! Exit codes: the contract with scripts and SOAR playbooks.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done; every piece of evidence was gathered |
//! | 1 | failure: the tool could not do its job (API unreachable, internal error) |
//! | 2 | usage error: bad arguments or input; nothing was sent to Google |
//! | 3 | done, but evidence is incomplete: the report's gaps say what and why |

/// Exit code for a complete run.
pub const OK: u8 = 0;
/// Exit code for a failure.
pub const FAILURE: u8 = 1;
/// Exit code for bad arguments or input.
pub const USAGE: u8 = 2;
/// Exit code when some evidence could not be gathered.
pub const INCOMPLETE: u8 = 3;

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
