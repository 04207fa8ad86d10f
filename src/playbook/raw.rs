//! The playbook as written: serde structs that reject unknown fields and
//! keep every value's location (`Spanned`). Scalars are read as text and
//! checked by `validate`, which names the field and the fix; required fields
//! are `Option`s here so that a missing one is reported at its section.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};

use super::PlaybookError;
use super::error;

pub(super) type Str = Spanned<String>;
pub(super) type StrList = Spanned<Vec<Spanned<String>>>;

/// Field names per section, to name the section of an unknown field (a
/// unit test keeps them equal to the structs' fields).
pub(super) const SECTIONS: &[(&str, &[&str])] = &[
    ("the top level", &["investigation", "response"]),
    (
        "investigation",
        &[
            "name",
            "alert_types",
            "business_hours",
            "trust",
            "rotation_max",
            "bulk_creation",
            "lookback",
            "max_log_pages",
            "new_actor_grace",
            "severities",
            "verdict",
            "recommended_actions",
        ],
    ),
    ("business_hours", &["time_zone", "days", "start", "end"]),
    (
        "trust",
        &[
            "principals",
            "domains",
            "ip_ranges",
            "user_agents",
            "projects",
        ],
    ),
    ("bulk_creation", &["keys", "within"]),
    ("verdict", &["malicious", "suspicious"]),
    (
        "a verdict rule",
        &["name", "all", "any", "min_findings", "min_severity"],
    ),
    (
        "recommended_actions",
        &["benign", "suspicious", "malicious"],
    ),
    (
        "response",
        &["projects", "unattended", "rotate", "revoke", "steps"],
    ),
    ("response.rotate", &["period", "disable_previous"]),
    ("response.revoke", &["members"]),
    ("a response step", &["action", "when", "affected_keys"]),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocument {
    pub investigation: Spanned<RawInvestigation>,
    #[serde(default)]
    pub response: Option<Spanned<RawResponse>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInvestigation {
    #[serde(default)]
    pub name: Option<Str>,
    #[serde(default)]
    pub alert_types: Option<StrList>,
    #[serde(default)]
    pub business_hours: Option<Spanned<RawBusinessHours>>,
    #[serde(default)]
    pub trust: Option<Spanned<RawTrust>>,
    #[serde(default)]
    pub rotation_max: Option<Str>,
    #[serde(default)]
    pub bulk_creation: Option<Spanned<RawBulkCreation>>,
    #[serde(default)]
    pub lookback: Option<Str>,
    #[serde(default)]
    pub max_log_pages: Option<Str>,
    #[serde(default)]
    pub new_actor_grace: Option<Str>,
    #[serde(default)]
    pub severities: Option<Spanned<Pairs>>,
    #[serde(default)]
    pub verdict: Option<Spanned<RawVerdict>>,
    #[serde(default)]
    pub recommended_actions: Option<Spanned<RawActions>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBusinessHours {
    #[serde(default)]
    pub time_zone: Option<Str>,
    #[serde(default)]
    pub days: Option<StrList>,
    #[serde(default)]
    pub start: Option<Str>,
    #[serde(default)]
    pub end: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrust {
    #[serde(default)]
    pub principals: Option<StrList>,
    #[serde(default)]
    pub domains: Option<StrList>,
    #[serde(default)]
    pub ip_ranges: Option<StrList>,
    #[serde(default)]
    pub user_agents: Option<StrList>,
    #[serde(default)]
    pub projects: Option<StrList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBulkCreation {
    #[serde(default)]
    pub keys: Option<Str>,
    #[serde(default)]
    pub within: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVerdict {
    #[serde(default)]
    pub malicious: Option<Spanned<Vec<Spanned<RawRule>>>>,
    #[serde(default)]
    pub suspicious: Option<Spanned<Vec<Spanned<RawRule>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(default)]
    pub name: Option<Str>,
    #[serde(default)]
    pub all: Option<StrList>,
    #[serde(default)]
    pub any: Option<StrList>,
    #[serde(default)]
    pub min_findings: Option<Str>,
    #[serde(default)]
    pub min_severity: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawActions {
    #[serde(default)]
    pub benign: Option<StrList>,
    #[serde(default)]
    pub suspicious: Option<StrList>,
    #[serde(default)]
    pub malicious: Option<StrList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResponse {
    #[serde(default)]
    pub projects: Option<StrList>,
    #[serde(default)]
    pub unattended: Option<StrList>,
    #[serde(default)]
    pub rotate: Option<Spanned<RawRotate>>,
    #[serde(default)]
    pub revoke: Option<Spanned<RawRevoke>>,
    #[serde(default)]
    pub steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRotate {
    #[serde(default)]
    pub period: Option<Str>,
    #[serde(default)]
    pub disable_previous: Option<Str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRevoke {
    #[serde(default)]
    pub members: Option<StrList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    #[serde(default)]
    pub action: Option<Str>,
    #[serde(default)]
    pub when: Option<Str>,
    #[serde(default)]
    pub affected_keys: Option<Str>,
}

/// A mapping of text to text, in document order, each side with its
/// location (duplicate keys are rejected by the parser).
#[derive(Debug, Default)]
pub(super) struct Pairs(pub Vec<(Str, Str)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of finding id to severity")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<Str, Str>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

/// Conservative parser limits: a playbook is a page or two of YAML.
fn options() -> Options {
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = Some(super::MAX_PLAYBOOK_BYTES);
    budget.max_events = 200_000;
    budget.max_nodes = 100_000;
    budget.max_depth = 32;
    budget.flow_nesting_limit = 32;
    budget.max_documents = 1;
    budget.max_aliases = 256;
    budget.max_anchors = 256;
    budget.max_recorded_anchor_events = 20_000;
    budget.max_recorded_anchor_bytes = super::MAX_PLAYBOOK_BYTES;
    budget.max_total_scalar_bytes = super::MAX_PLAYBOOK_BYTES;
    budget.max_merge_keys = 64;
    budget.max_inclusion_depth = 0;

    let mut options = Options::default();
    options.budget = Some(budget);
    let mut alias_limits = options.alias_limits;
    alias_limits.max_total_replayed_events = 20_000;
    alias_limits.max_replay_stack_depth = 16;
    alias_limits.max_alias_expansions_per_anchor = 256;
    options.alias_limits = alias_limits;
    options.with_snippet = false;
    options.reject_unsupported_tags = true;
    options.reject_tagged_field_names = true;
    options
}

/// Parses the YAML into the raw document.
///
/// Two passes: the first walks the whole document under the parser's
/// budgets without looking at its schema, so hostile YAML (alias bombs,
/// deep nesting) is refused wherever it sits, even behind a schema error
/// that would stop the typed pass early; the second builds the raw structs
/// and reports every other problem (so syntax and schema errors read the
/// same as with one pass).
pub(super) fn deserialize(source_name: &str, text: &str) -> Result<RawDocument, PlaybookError> {
    if let Err(e) = serde_saphyr::from_str_with_options::<serde::de::IgnoredAny>(text, options()) {
        let error = error::from_yaml(source_name, &e);
        if error.kind() == super::ErrorKind::Limit {
            return Err(error);
        }
    }
    serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| error::from_yaml(source_name, &e))
}
