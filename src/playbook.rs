//! Playbooks: thresholds, trust and verdict rules for an alert type, read
//! from YAML and validated into these types before any work starts.
//!
//! A playbook file has two halves: `investigation:` (everything below, see
//! `playbooks/README.md` for the format) and `response:` (the response
//! steps and their limits, validated the same way into a
//! [`crate::respond::policy::ResponsePolicy`], see `docs/response.md`).
//!
//! Reading is "parse, then validate": [`parse`] deserializes the YAML with
//! `serde-saphyr` into private raw structs that reject unknown fields and keep
//! every node's line and column (`serde_saphyr::Spanned`), then checks every
//! value and builds the typed [`Playbook`]. Every [`PlaybookError::Invalid`]
//! names the source, the line and column of the offending node, the problem
//! and the fix. Hostile input is bounded: at most [`MAX_PLAYBOOK_BYTES`] of
//! text, one document, and conservative `serde-saphyr` budgets for nesting,
//! nodes, anchors and alias expansion (so a "billion laughs" document fails
//! in milliseconds).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use ipnet::IpNet;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::findings::{Action, FindingId, Severity, Verdict};

mod error;
mod raw;
mod text;
mod validate;

#[cfg(test)]
mod tests;

pub use error::{ErrorKind, PlaybookError};
pub(crate) use text::{did_you_mean, quote};
pub use text::{format_duration, glob_match, parse_duration};

/// The largest playbook accepted, in bytes (checked before parsing).
pub const MAX_PLAYBOOK_BYTES: usize = 1024 * 1024;

/// The caller-IP values of audit logs that are names, not addresses, and may
/// be listed in `trust.ip_ranges`.
pub const CALLER_IP_NAMES: [&str; 2] = ["private", "gce-internal-ip"];

/// The user-agent families `trust.user_agents` may list. The assessment
/// classifies a caller-supplied user agent into one of these (or `empty` /
/// `unknown`, which are never expected).
pub const USER_AGENT_FAMILIES: [&str; 12] = [
    "terraform",
    "pulumi",
    "config-connector",
    "deployment-manager",
    "gcloud",
    "console",
    "client-library",
    "curl",
    "wget",
    "python-requests",
    "go-http-client",
    "postman",
];

/// The shipped playbook's path in the repository (used in its error messages).
pub const BUNDLED_SOURCE_NAME: &str = "playbooks/new-kms-key-created.yaml";

/// The shipped playbook's text.
pub const BUNDLED_YAML: &str = include_str!("../playbooks/new-kms-key-created.yaml");

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
    /// Severity per finding (every finding id has one: the playbook's, else
    /// [`default_severity`]).
    pub severities: BTreeMap<FindingId, Severity>,
    pub verdict: VerdictRules,
    /// What to recommend per verdict (every verdict has an entry, possibly empty).
    pub recommended_actions: BTreeMap<Verdict, Vec<Action>>,
    /// Where the playbook was read from (a path, or [`BUNDLED_SOURCE_NAME`]).
    pub source_name: String,
    /// The `response:` half, validated; `None` when absent or empty (then
    /// [`Playbook::response_policy`] is the default: nothing runs unattended).
    pub response: Option<crate::respond::policy::ResponsePolicy>,
}

impl Playbook {
    /// The severity of a finding under this playbook.
    pub fn severity(&self, id: FindingId) -> Severity {
        self.severities
            .get(&id)
            .copied()
            .unwrap_or_else(|| default_severity(id))
    }

    /// The actions recommended for a verdict (empty when none).
    pub fn actions_for(&self, verdict: Verdict) -> &[Action] {
        self.recommended_actions
            .get(&verdict)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The response policy: the `response:` half, or the default when absent.
    pub fn response_policy(&self) -> crate::respond::policy::ResponsePolicy {
        self.response.clone().unwrap_or_default()
    }

    /// Every verdict rule, malicious first, with the verdict it gives.
    pub fn rules(&self) -> impl Iterator<Item = (Verdict, &VerdictRule)> {
        self.verdict.iter()
    }
}

/// The severity a finding has when the playbook does not say.
pub fn default_severity(id: FindingId) -> Severity {
    match id {
        FindingId::PublicAccess => Severity::Critical,
        FindingId::PrimitiveRole => Severity::Medium,
        FindingId::SeparationOfDuties => Severity::Medium,
        FindingId::ServiceAgentGranted => Severity::Medium,
        FindingId::ExternalMember => Severity::High,
        FindingId::CreatorOffHours => Severity::Low,
        FindingId::CreatorBulkCreation => Severity::Medium,
        FindingId::CreatorNewActor => Severity::Low,
        FindingId::CreatorImpersonated => Severity::Medium,
        FindingId::CreatorServiceAccountKey => Severity::Medium,
        FindingId::CreatorUntrustedIp => Severity::Medium,
        FindingId::CreatorUnusualUserAgent => Severity::Medium,
        FindingId::ExternalKeyMaterial => Severity::High,
        FindingId::RotationMissing => Severity::Low,
        FindingId::RotationTooLong => Severity::Low,
        FindingId::UsageUnknown => Severity::Medium,
        FindingId::UsageUnexpectedPrincipal => Severity::High,
        FindingId::UsageCrossProject => Severity::Medium,
        FindingId::DestroyScheduled => Severity::High,
    }
}

/// When people are expected to create keys.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    pub time_zone: TimeZone,
    /// The IANA name the time zone was given as.
    pub time_zone_name: String,
    /// Distinct days, Monday first.
    pub days: Vec<Weekday>,
    /// Inclusive start; always before `end` (windows do not cross midnight).
    pub start: Time,
    /// Exclusive end.
    pub end: Time,
}

impl BusinessHours {
    /// Whether an instant falls on a listed day, at or after `start` and
    /// before `end`, in the playbook's time zone.
    pub fn contains(&self, at: Timestamp) -> bool {
        let local = at.to_zoned_datetime(self.time_zone.clone());
        let time = local.time();
        self.days.contains(&local.weekday()) && self.start <= time && time < self.end
    }
}

/// Who and what is expected.
///
/// Patterns match ASCII case-insensitively; `*` matches any run of
/// characters but never crosses an `@` or, in a domain, a `.`
/// (`*@acme-ci-cd.iam.gserviceaccount.com`, `acme-*.iam.gserviceaccount.com`).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Principals (e-mails) trusted to administer keys; `*` wildcards allowed
    /// (e.g. `*@acme-ci-cd.iam.gserviceaccount.com`).
    pub principals: Vec<String>,
    /// Domains whose users, groups and service accounts are members in good standing
    /// (e.g. `acme.example`, `acme-payments-prod.iam.gserviceaccount.com`).
    /// A domain matches exactly (not its subdomains); `*` stays within one
    /// label, and the last two labels are literal (no `*.com`).
    pub domains: Vec<String>,
    /// Caller IP ranges considered corporate; the literal `private` and
    /// `gce-internal-ip` values of audit logs are listed by name.
    pub ip_ranges: Vec<IpNet>,
    /// Names from [`CALLER_IP_NAMES`] listed in `trust.ip_ranges`.
    pub ip_names: Vec<String>,
    /// Expected user-agent families (names from [`USER_AGENT_FAMILIES`]:
    /// terraform, gcloud, console, client-library, ...).
    pub user_agents: Vec<String>,
    /// Projects whose principals may use keys across projects (ids or
    /// numbers, matched exactly).
    pub projects: Vec<String>,
}

impl Trust {
    /// Whether `email` matches a trusted principal pattern.
    pub fn trusts_principal(&self, email: &str) -> bool {
        self.principals
            .iter()
            .any(|p| text::principal_match(p, email))
    }

    /// Whether the domain of `email` (or `email` itself, when it is a bare
    /// domain) is a trusted domain.
    pub fn in_trusted_domain(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map_or(email, |(_, d)| d);
        self.domains.iter().any(|d| text::domain_match(d, domain))
    }

    /// Whether an audit log `callerIp` (an address or a name such as
    /// `gce-internal-ip`) is trusted.
    pub fn trusts_caller_ip(&self, caller_ip: &str) -> bool {
        if self
            .ip_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(caller_ip))
        {
            return true;
        }
        match caller_ip.parse::<std::net::IpAddr>() {
            Ok(ip) => self.ip_ranges.iter().any(|r| r.contains(&ip)),
            Err(_) => false,
        }
    }

    /// Whether a user-agent family (one of [`USER_AGENT_FAMILIES`]) is expected.
    pub fn trusts_user_agent(&self, family: &str) -> bool {
        self.user_agents.iter().any(|u| u == family)
    }

    /// Whether a project (id or number) is trusted to use keys across projects.
    pub fn trusts_project(&self, project: &str) -> bool {
        self.projects
            .iter()
            .any(|p| p.eq_ignore_ascii_case(project))
    }
}

/// Bulk-creation threshold.
#[derive(Debug, Clone, Copy)]
pub struct BulkCreation {
    pub keys: u32,
    pub within: SignedDuration,
}

/// One verdict rule. Its *scope* is the findings it names (`all` and `any`),
/// or every raised finding when it names none. It matches when every `all`
/// finding is raised, at least one `any` finding is raised (if any are
/// listed), at least `min_findings` findings of its scope are raised, and
/// some raised finding of its scope reaches `min_severity`.
///
/// So `any: [creator-...], min_findings: 3` means "three of these", and
/// `min_severity: high` alone means "any high or critical finding".
/// Validation guarantees a rule has at least one condition and can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictRule {
    pub name: String,
    pub all: Vec<FindingId>,
    pub any: Vec<FindingId>,
    pub min_findings: Option<usize>,
    pub min_severity: Option<Severity>,
}

impl VerdictRule {
    /// Whether the rule names any findings (else its scope is every finding).
    pub fn names_findings(&self) -> bool {
        !self.all.is_empty() || !self.any.is_empty()
    }

    fn in_scope(&self, id: FindingId) -> bool {
        !self.names_findings() || self.all.contains(&id) || self.any.contains(&id)
    }

    /// Evaluates the rule on the raised findings (id and severity; order and
    /// repeats do not matter). On a match, returns the drivers: the raised
    /// findings of its scope (those reaching `min_severity`, when set and the
    /// rule names no findings), in [`FindingId::ALL`] order.
    pub fn matches(&self, raised: &[(FindingId, Severity)]) -> Option<Vec<FindingId>> {
        let is_raised = |id: FindingId| raised.iter().any(|(r, _)| *r == id);
        if !self.all.iter().all(|id| is_raised(*id)) {
            return None;
        }
        if !self.any.is_empty() && !self.any.iter().any(|id| is_raised(*id)) {
            return None;
        }
        let scoped: Vec<FindingId> = FindingId::ALL
            .into_iter()
            .filter(|id| self.in_scope(*id) && is_raised(*id))
            .collect();
        if let Some(min) = self.min_findings
            && scoped.len() < min
        {
            return None;
        }
        if let Some(min) = self.min_severity {
            let reaches = |id: FindingId| raised.iter().any(|(r, s)| *r == id && *s >= min);
            if !scoped.iter().any(|id| reaches(*id)) {
                return None;
            }
            if !self.names_findings() {
                return Some(scoped.into_iter().filter(|id| reaches(*id)).collect());
            }
        }
        Some(scoped)
    }
}

/// Malicious rules are tried first, then suspicious; none matching is benign.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictRules {
    pub malicious: Vec<VerdictRule>,
    pub suspicious: Vec<VerdictRule>,
}

impl VerdictRules {
    /// Every rule, malicious first, with the verdict it gives.
    pub fn iter(&self) -> impl Iterator<Item = (Verdict, &VerdictRule)> {
        let malicious = self.malicious.iter().map(|r| (Verdict::Malicious, r));
        let suspicious = self.suspicious.iter().map(|r| (Verdict::Suspicious, r));
        malicious.chain(suspicious)
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.malicious.len() + self.suspicious.len()
    }

    /// Whether there are no rules (a validated playbook always has some).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first matching rule (malicious first) with its verdict and
    /// drivers; `None` means benign.
    pub fn first_match(
        &self,
        raised: &[(FindingId, Severity)],
    ) -> Option<(Verdict, &VerdictRule, Vec<FindingId>)> {
        self.iter()
            .find_map(|(verdict, rule)| rule.matches(raised).map(|d| (verdict, rule, d)))
    }
}

/// Parses and validates a playbook. `source_name` (a path, usually) prefixes
/// every error: `playbooks/x.yaml:12:5: unknown finding id ...`.
pub fn parse(source_name: &str, text: &str) -> Result<Playbook, PlaybookError> {
    if text.len() > MAX_PLAYBOOK_BYTES {
        return Err(error::too_large(source_name, text.as_bytes()));
    }
    let raw = raw::deserialize(source_name, text)?;
    validate::validate(source_name, text, raw)
}

/// Reads (at most [`MAX_PLAYBOOK_BYTES`] of it) and parses a playbook file.
pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
    use std::io::Read as _;
    let source_name = path.display().to_string();
    let read_error = |e: std::io::Error| PlaybookError::Read {
        source_name: source_name.clone(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let limit = u64::try_from(MAX_PLAYBOOK_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_PLAYBOOK_BYTES {
        return Err(error::too_large(&source_name, &bytes));
    }
    let text =
        std::str::from_utf8(&bytes).map_err(|e| error::not_utf8(&source_name, &bytes, &e))?;
    parse(&source_name, text)
}

/// The shipped playbook (`playbooks/new-kms-key-created.yaml`, compiled in),
/// parsed once. It is an error only if the shipped file is broken, which a
/// unit test rules out; the caller decides what to do then.
pub fn bundled_default() -> Result<Playbook, PlaybookError> {
    static BUNDLED: OnceLock<Result<Playbook, PlaybookError>> = OnceLock::new();
    BUNDLED
        .get_or_init(|| parse(BUNDLED_SOURCE_NAME, BUNDLED_YAML))
        .clone()
}

/// The bundled playbook for an alert type: the one whose `alert_types` list
/// it (ASCII case-insensitively), e.g. `GCPNewKMSKey` and its KMS siblings.
/// `None` (a key name, a raw log entry or a Pub/Sub push: no Lacework alert
/// type) selects the default. An alert type no bundled playbook handles is
/// [`PlaybookError::UnsupportedAlertType`].
pub fn for_alert_type(alert_type: Option<&str>) -> Result<Playbook, PlaybookError> {
    let default = bundled_default()?;
    match alert_type {
        None => Ok(default),
        Some(t)
            if default
                .alert_types
                .iter()
                .any(|a| a.eq_ignore_ascii_case(t)) =>
        {
            Ok(default)
        }
        Some(t) => Err(PlaybookError::UnsupportedAlertType {
            alert_type: crate::sanitize::text(t).into_owned(),
            handled: default.alert_types,
        }),
    }
}

/// `kms-responder playbook check FILE`: loads the playbook and returns the
/// line to print, `ok: <name> (<n> verdict rules, alert types A, B)`.
pub fn check_command(path: &Path) -> Result<String, PlaybookError> {
    let playbook = load(path)?;
    let rules = playbook.verdict.len();
    Ok(format!(
        "ok: {} ({} verdict rule{}, alert types {})",
        crate::sanitize::text(&playbook.name),
        rules,
        if rules == 1 { "" } else { "s" },
        playbook.alert_types.join(", "),
    ))
}
