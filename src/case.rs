//! A case: one investigated key with its assessment, or an alert whose key
//! could not be found. What the report writers take.

use serde::Serialize;

use crate::evidence::Investigation;
use crate::findings::Assessment;
use crate::input::{KeySearch, Request};

/// One investigated key and what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    pub investigation: Investigation,
    pub assessment: Assessment,
}

/// What became of one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CaseOutcome {
    Case(Box<Case>),
    /// The alert named no key and the Admin Activity log showed no matching creation.
    NoKeyFound {
        request: Box<Request>,
        search: KeySearch,
        detail: String,
    },
}
