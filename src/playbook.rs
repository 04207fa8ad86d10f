//! Playbooks: thresholds, trust and verdict rules for an alert type, read
//! from YAML and validated into these types before any work starts.

use std::collections::BTreeMap;

use ipnet::IpNet;
use jiff::SignedDuration;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;

use crate::findings::{Action, FindingId, Severity, Verdict};

/// A validated playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    pub name: String,
    /// Lacework alert types this playbook handles (e.g. `GCPNewKMSKey`).
    pub alert_types: Vec<String>,
    pub business_hours: BusinessHours,
    pub trust: Trust,
    /// Longest acceptable rotation period (CIS 1.10: 90 days).
    pub rotation_max: SignedDuration,
    /// `keys` or more keys created by one principal within `within` is bulk creation.
    pub bulk_creation: BulkCreation,
    /// How far before the event the log queries reach.
    pub lookback: SignedDuration,
    /// Pages of 1000 log entries read at most per query.
    pub max_log_pages: u32,
    /// A principal's earlier KMS admin only counts as history when older than this
    /// before the key's creation (so the same session's CreateKeyRing does not).
    pub new_actor_grace: SignedDuration,
    /// Severity per finding (every finding id has one).
    pub severities: BTreeMap<FindingId, Severity>,
    pub verdict: VerdictRules,
    /// What to recommend per verdict.
    pub recommended_actions: BTreeMap<Verdict, Vec<Action>>,
}

/// When people are expected to create keys.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    pub time_zone: TimeZone,
    /// The IANA name the time zone was given as.
    pub time_zone_name: String,
    pub days: Vec<Weekday>,
    pub start: Time,
    pub end: Time,
}

/// Who and what is expected.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Principals (e-mails) trusted to administer keys; `*` wildcards allowed
    /// (e.g. `*@acme-ci-cd.iam.gserviceaccount.com`).
    pub principals: Vec<String>,
    /// Domains whose users, groups and service accounts are members in good standing
    /// (e.g. `acme.example`, `acme-payments-prod.iam.gserviceaccount.com`).
    pub domains: Vec<String>,
    /// Caller IP ranges considered corporate; the literal `private` and
    /// `gce-internal-ip` values of audit logs are listed by name.
    pub ip_ranges: Vec<IpNet>,
    pub ip_names: Vec<String>,
    /// Expected user-agent families (see `crate::assess::UserAgentKind` names:
    /// terraform, gcloud, console, client-library, ...).
    pub user_agents: Vec<String>,
    /// Projects whose principals may use keys across projects.
    pub projects: Vec<String>,
}

/// Bulk-creation threshold.
#[derive(Debug, Clone, Copy)]
pub struct BulkCreation {
    pub keys: u32,
    pub within: SignedDuration,
}

/// One verdict rule: it matches when every `all` finding is present, at
/// least one `any` finding is present (if any are listed), at least
/// `min_findings` findings were raised, and some finding reaches `min_severity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRule {
    pub name: String,
    pub all: Vec<FindingId>,
    pub any: Vec<FindingId>,
    pub min_findings: Option<usize>,
    pub min_severity: Option<Severity>,
}

/// Malicious rules are tried first, then suspicious; none matching is benign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictRules {
    pub malicious: Vec<VerdictRule>,
    pub suspicious: Vec<VerdictRule>,
}
