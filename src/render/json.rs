//! The machine report: its own versioned types, built from the domain types,
//! and the JSON Schema published in `docs/report-schema.json`.
//!
//! These types are the contract with SOAR and scripts; the domain types may
//! change freely behind them. Strings are kept verbatim (control, bidi and
//! invisible characters are written as `\uXXXX` escapes: [`super::safe_json`]); timestamps are RFC 3339 strings; durations are whole seconds.
//! Nullable fields are always present. See `docs/report-format.md` for the
//! meaning of every field and the versioning policy.

use std::collections::BTreeMap;

use jiff::Timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;

use super::facts::{self, UsageStatus as FactUsage};
use crate::assess;
use crate::case::{Case, CaseOutcome};
use crate::evidence::{self, DataAccessLogging, Investigation};
use crate::findings::{self, FindingId};
use crate::gcp;
use crate::input::{KeySearch, Request};

/// Version of the JSON report format (semver: additive changes bump the
/// minor version, breaking changes the major).
pub const SCHEMA_VERSION: &str = "1.2.0";

fn ts(t: Timestamp) -> String {
    t.to_string()
}

fn opt_ts(t: Option<Timestamp>) -> Option<String> {
    t.map(ts)
}

fn finding_id_schema(_: &mut SchemaGenerator) -> Schema {
    let ids: Vec<&str> = FindingId::ALL.iter().map(|f| f.as_str()).collect();
    schemars::json_schema!({
        "type": "string",
        "description": "Stable kebab-case finding id; a minor version may add ids, so consumers must tolerate unknown ones.",
        "enum": ids,
    })
}

fn finding_ids_schema(generator: &mut SchemaGenerator) -> Schema {
    let item = finding_id_schema(generator);
    schemars::json_schema!({
        "type": "array",
        "items": item,
    })
}

/// A batch of investigations: one report per key, and the alerts whose key could not be found.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(title = "kms-responder report")]
pub struct Document {
    /// Version of this format (semver), `1.0.0`.
    pub schema_version: String,
    /// Version of kms-responder that wrote the document.
    pub tool_version: String,
    /// When the document was written (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub generated_at: String,
    /// One report per investigated key.
    pub reports: Vec<Report>,
    /// Alerts that named no key and whose key could not be found in the Admin Activity log.
    pub unresolved: Vec<Unresolved>,
}

/// The investigation of one key, its findings and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    /// Same as the document's `schema_version` (so a report stands alone when split out).
    pub schema_version: String,
    pub alert: Alert,
    /// The lookback window the log queries covered.
    pub window: Window,
    /// The key's project from Resource Manager; null when it could not be read.
    pub project: Option<Project>,
    pub key: Key,
    pub iam: Iam,
    /// The Admin Activity entry that created the key; null when not found (see `gaps`).
    pub creator: Option<Creator>,
    /// What the creator did in Cloud KMS within the window; null when the creator is unknown.
    pub creator_activity: Option<CreatorActivity>,
    pub usage: Usage,
    /// Resources encrypted with the key, from KMS Inventory; null when they could not be read.
    pub protected_resources: Option<Vec<ProtectedResource>>,
    /// Rotation state; null when the key could not be read.
    pub rotation: Option<Rotation>,
    /// Findings, in the order the assessment gave them.
    pub findings: Vec<Finding>,
    pub verdict: Verdict,
    /// The playbook rule that decided the verdict; null for benign by default.
    pub verdict_rule: Option<String>,
    /// The finding ids that made the rule match.
    #[schemars(schema_with = "finding_ids_schema")]
    pub drivers: Vec<String>,
    /// When `verdict` is `inconclusive`: the evidence a benign verdict needs that could not be
    /// gathered (`key`, `key.versions`, `creator`; see `gaps` for why); empty otherwise.
    pub missing_for_verdict: Vec<String>,
    /// Evidence that could not be gathered, and why. Non-empty means the run is incomplete.
    pub gaps: Vec<Gap>,
    pub recommended_actions: Vec<RecommendedAction>,
}

/// Where the request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    LaceworkAlert,
    AuditLogEntry,
    PubsubPush,
    KeyName,
}

/// The alert (or log entry, or key name) that started the investigation.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Alert {
    pub source: Source,
    /// The Lacework alert id, or the log entry's insertId.
    pub id: Option<String>,
    /// The Lacework alert type, e.g. `GCPNewKMSKey`.
    pub alert_type: Option<String>,
    /// When the event happened, as the input says (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub event_time: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Window {
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    #[schemars(extend("format" = "date-time"))]
    pub end: String,
    /// What anchored the window: the alert's event time, or the key's creation.
    pub anchor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Project {
    /// `projects/NUMBER`.
    pub name: String,
    pub project_id: String,
    /// `organizations/N` or `folders/N`.
    pub parent: Option<String>,
    pub display_name: String,
    /// e.g. `ACTIVE`.
    pub state: String,
}

/// The key: its name always, its details when it could be read.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Key {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    pub name: String,
    pub project: String,
    pub location: String,
    /// `projects/P/locations/L/keyRings/R`.
    pub key_ring: String,
    pub key_id: String,
    /// Null when the key could not be read (see `gaps`).
    pub details: Option<KeyDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct KeyDetails {
    /// e.g. `ENCRYPT_DECRYPT`, `ASYMMETRIC_SIGN`.
    pub purpose: String,
    /// e.g. `GOOGLE_SYMMETRIC_ENCRYPTION`.
    pub algorithm: String,
    /// `SOFTWARE`, `HSM`, `EXTERNAL`, `EXTERNAL_VPC`.
    pub protection_level: String,
    #[schemars(extend("format" = "date-time"))]
    pub create_time: Option<String>,
    /// Versions can only be imported: the material comes from outside Google.
    pub import_only: bool,
    /// The key's material is imported or held outside Google (import-only, EXTERNAL
    /// protection, or an imported or external version).
    pub external_material: bool,
    pub crypto_key_backend: Option<String>,
    /// How long versions stay DESTROY_SCHEDULED before destruction, in seconds.
    pub destroy_scheduled_duration_seconds: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// Id of the primary version (symmetric keys); null when there is none.
    pub primary_version: Option<String>,
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Version {
    pub name: String,
    /// The last segment of `name`, e.g. `3`.
    pub id: String,
    /// e.g. `ENABLED`, `DISABLED`, `DESTROY_SCHEDULED`.
    pub state: String,
    pub protection_level: String,
    pub algorithm: String,
    #[schemars(extend("format" = "date-time"))]
    pub create_time: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub destroy_time: Option<String>,
    pub import_job: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub import_time: Option<String>,
    pub external_key_uri: Option<String>,
}

/// IAM policies that reach the key, and what they allow.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Iam {
    /// The key's own policy; null when it could not be read.
    pub key: Option<Policy>,
    /// The key ring's policy; null when it could not be read.
    pub key_ring: Option<Policy>,
    /// Project bindings that reach Cloud KMS (cloudkms roles, owner, editor).
    pub project_kms_bindings: Vec<Binding>,
    /// The same kind of bindings on the folders and organization above the project (inherited).
    pub inherited_kms_bindings: Vec<InheritedBinding>,
    /// Who can do what, derived from the bindings above.
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Policy {
    pub version: i32,
    /// As Google sent it; needed to change the policy safely.
    pub etag: String,
    pub bindings: Vec<Binding>,
}

/// A binding on a folder or the organization above the key's project.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct InheritedBinding {
    /// `folders/N` or `organizations/N`.
    pub container: String,
    pub role: String,
    pub members: Vec<String>,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Binding {
    pub role: String,
    pub members: Vec<String>,
    pub condition: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Condition {
    pub title: String,
    pub description: String,
    /// A CEL expression.
    pub expression: String,
}

/// Who can do what with the key. Read-only roles are left out; custom roles,
/// whose permissions the tool does not read, are in `unclassified`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Access {
    /// Can encrypt, decrypt, sign or verify with the key.
    pub encrypt_decrypt: Vec<Grant>,
    /// Can change the key (versions, state, rotation, destruction, import).
    pub administer: Vec<Grant>,
    /// Can change the key's IAM policy.
    pub set_iam_policy: Vec<Grant>,
    /// Custom roles (`projects/P/roles/R`, `organizations/O/roles/R`).
    pub unclassified: Vec<Grant>,
}

/// Where a binding was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Key,
    KeyRing,
    Project,
    Folder,
    Organization,
}

/// One member holding one role on one resource that reaches the key.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Grant {
    pub member: String,
    pub role: String,
    pub scope: Scope,
    /// The key, key ring or project the binding is on.
    pub resource: String,
    /// The IAM condition's title (or expression) when the binding is conditional.
    pub condition: Option<String>,
}

/// Who created the key and how, from its Admin Activity entry.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Creator {
    /// The effective identity (`principalEmail`).
    pub principal: String,
    /// Who really acted, in delegation order, when a service account was impersonated.
    pub delegation_chain: Vec<String>,
    /// Set when a long-lived service-account key authenticated the call.
    pub service_account_key: Option<String>,
    pub caller_ip: String,
    pub user_agent: String,
    #[schemars(extend("format" = "date-time"))]
    pub time: Option<String>,
    pub method: String,
    pub resource_name: String,
    pub insert_id: String,
    pub log_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CreatorActivity {
    pub principal: String,
    /// Count per method, e.g. `{"CreateCryptoKey": 3}`.
    pub actions: BTreeMap<String, u64>,
    /// Its successful admin actions in time order (bounded).
    pub events: Vec<AdminAction>,
    /// Keys it created in the window (this key included).
    pub keys_created: Vec<String>,
    /// It did KMS administration before creating this key, within the window.
    pub prior_admin: bool,
    #[schemars(extend("format" = "date-time"))]
    pub first_admin: Option<String>,
    pub entries_read: u64,
    /// The read stopped at its bound: counts are lower bounds.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct AdminAction {
    pub method: String,
    pub resource: String,
    #[schemars(extend("format" = "date-time"))]
    pub time: Option<String>,
    pub insert_id: String,
}

/// How much of the key's use is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageStatus {
    /// Who used the key cannot be known (Data Access logs off, or unreadable). Never "unused".
    Unknown,
    /// The figures are lower bounds (see `status_reasons`).
    LowerBound,
    /// Data Access logging is on and every entry was read.
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoggingState {
    Enabled,
    Disabled,
    /// A policy that could enable it could not be read.
    Unknown,
}

/// Whether Data Access audit logs record use of Cloud KMS.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Logging {
    pub state: LoggingState,
    /// Containers whose audit configs enable it (`projects/P`, `folders/F`, ...).
    pub enabled_by: Vec<String>,
    /// Members whose use is not logged.
    pub exempted_members: Vec<String>,
}

/// Who used the key, from Data Access logs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Usage {
    pub status: UsageStatus,
    /// Why the status is `unknown` or `lower_bound`.
    pub status_reasons: Vec<String>,
    pub logging: Logging,
    /// Calls seen; null when `status` is `unknown`, a lower bound when `lower_bound`.
    pub total_calls: Option<u64>,
    /// The read stopped at `page_bound` pages.
    pub truncated: bool,
    pub page_bound: u32,
    /// Per principal and method, most calls first.
    pub rows: Vec<UsageRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct UsageRow {
    pub principal: String,
    pub method: String,
    pub calls: u64,
    pub failures: u64,
    #[schemars(extend("format" = "date-time"))]
    pub first: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub last: Option<String>,
    pub caller_ips: Vec<String>,
    /// insertIds of the first few calls (evidence).
    pub sample_insert_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProtectedResource {
    pub name: String,
    /// `projects/NUMBER`.
    pub project: String,
    pub project_id: String,
    pub cloud_product: String,
    pub resource_type: String,
    pub location: String,
    pub labels: BTreeMap<String, String>,
    /// Key versions protecting it (full names).
    pub crypto_key_versions: Vec<String>,
    #[schemars(extend("format" = "date-time"))]
    pub create_time: Option<String>,
}

/// Rotation state. Whether the period is within the playbook's maximum is a
/// finding (`rotation-missing`, `rotation-too-long`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Rotation {
    /// Only symmetric ENCRYPT_DECRYPT keys rotate automatically; asymmetric keys never do.
    pub automatic_rotation_supported: bool,
    pub period_seconds: Option<u64>,
    #[schemars(extend("format" = "date-time"))]
    pub next_rotation_time: Option<String>,
    /// The primary version, or for keys without one the newest enabled version.
    pub current_version: Option<CurrentVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CurrentVersion {
    pub id: String,
    pub is_primary: bool,
    #[schemars(extend("format" = "date-time"))]
    pub create_time: Option<String>,
    /// Age at `generated_at`, in seconds.
    pub age_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Benign,
    /// No rule matched, but evidence a benign verdict needs is missing (`missing_for_verdict`).
    Inconclusive,
    Suspicious,
    Malicious,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Finding {
    #[schemars(schema_with = "finding_id_schema")]
    pub id: String,
    pub severity: Severity,
    /// One line, for a person.
    pub title: String,
    pub evidence: Vec<EvidenceRef>,
}

/// What a finding rests on.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceRef {
    /// An audit log entry, by insertId.
    LogEntry { insert_id: String },
    /// An IAM binding.
    Binding {
        resource: String,
        role: String,
        member: String,
    },
    /// A field of a resource.
    Field {
        resource: String,
        field: String,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapReason {
    PermissionDenied,
    NotFound,
    Quota,
    Timeout,
    Unavailable,
    /// Not written since 1.2.0: Data Access logging off is `usage.logging.state: disabled`,
    /// read successfully, not missing evidence. Kept so older reports still validate.
    LogsOff,
    Error,
    /// The window reaches back further than the logs are kept.
    RetentionExceeded,
}

/// Evidence that could not be gathered.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Gap {
    /// Which evidence: `key`, `key.versions`, `iam.key`, `iam.key_ring`, `iam.project`,
    /// `creator`, `usage`, `protected_resources`, ...
    pub evidence: String,
    pub reason: GapReason,
    /// The missing permission, when `reason` is `permission_denied` and Google named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Disable,
    Rotate,
    Revoke,
    ScheduleDestroy,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RecommendedAction {
    pub action: Action,
    pub reason: String,
}

/// An alert whose key could not be found.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Unresolved {
    pub alert: Alert,
    pub search: Search,
    pub detail: String,
}

/// What was searched for in the Admin Activity log.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Search {
    pub project: String,
    pub key_id: Option<String>,
    pub principal: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub start: String,
    #[schemars(extend("format" = "date-time"))]
    pub end: String,
}

/// The JSON Schema of [`Document`] (draft 2020-12, describing what is
/// serialized: nullable fields are required and may be null).
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    generator.into_root_schema_for::<Document>().to_value()
}

/// The document for a batch of outcomes.
pub fn document(outcomes: &[CaseOutcome], now: Timestamp) -> Document {
    let mut reports = Vec::new();
    let mut unresolved = Vec::new();
    for o in outcomes {
        match o {
            CaseOutcome::Case(c) => reports.push(report(c, now)),
            CaseOutcome::NoKeyFound {
                request,
                search,
                detail,
            } => unresolved.push(Unresolved {
                alert: alert(request),
                search: self::search(search),
                detail: detail.clone(),
            }),
        }
    }
    Document {
        schema_version: SCHEMA_VERSION.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: ts(now),
        reports,
        unresolved,
    }
}

fn alert(r: &Request) -> Alert {
    use crate::input::SourceKind;
    let source = match r.source {
        SourceKind::LaceworkAlert => Source::LaceworkAlert,
        SourceKind::AuditLogEntry => Source::AuditLogEntry,
        SourceKind::PubSubPush => Source::PubsubPush,
        SourceKind::KeyName => Source::KeyName,
    };
    Alert {
        source,
        id: r.id.clone(),
        alert_type: r.alert_type.clone(),
        event_time: opt_ts(r.event_time),
    }
}

fn search(s: &KeySearch) -> Search {
    Search {
        project: s.project.clone(),
        key_id: s.key_id.clone(),
        principal: s.principal.clone(),
        start: ts(s.start),
        end: ts(s.end),
    }
}

fn report(c: &Case, now: Timestamp) -> Report {
    let inv = &c.investigation;
    let a = &c.assessment;
    Report {
        schema_version: SCHEMA_VERSION.to_owned(),
        alert: alert(&inv.request),
        window: Window {
            start: ts(inv.window.start),
            end: ts(inv.window.end),
            anchor: inv.window.anchor.to_owned(),
        },
        project: inv.project.as_ref().map(|p| Project {
            name: p.name.clone(),
            project_id: p.project_id.clone(),
            parent: p.parent.clone(),
            display_name: p.display_name.clone(),
            state: p.state.clone(),
        }),
        key: key(inv),
        iam: iam(inv),
        creator: inv.creator.as_ref().map(|e| Creator {
            principal: e.principal.clone(),
            delegation_chain: e.delegation_chain.clone(),
            service_account_key: e.service_account_key.clone(),
            caller_ip: e.caller_ip.clone(),
            user_agent: e.user_agent.clone(),
            time: opt_ts(e.timestamp),
            method: e.method.clone(),
            resource_name: e.resource_name.clone(),
            insert_id: e.insert_id.clone(),
            log_name: e.log_name.clone(),
        }),
        creator_activity: inv.creator_activity.as_ref().map(|a| CreatorActivity {
            principal: a.principal.clone(),
            actions: a.actions.clone(),
            events: a
                .events
                .iter()
                .map(|e| AdminAction {
                    method: e.method.clone(),
                    resource: e.resource.clone(),
                    time: opt_ts(e.time),
                    insert_id: e.insert_id.clone(),
                })
                .collect(),
            keys_created: a.keys_created.clone(),
            prior_admin: a.prior_admin,
            first_admin: opt_ts(a.first_admin),
            entries_read: a.entries_read,
            truncated: a.truncated,
        }),
        usage: usage(inv),
        protected_resources: inv.protected_resources.as_ref().map(|list| {
            list.iter()
                .map(|r| ProtectedResource {
                    name: r.name.clone(),
                    project: r.project.clone(),
                    project_id: r.project_id.clone(),
                    cloud_product: r.cloud_product.clone(),
                    resource_type: r.resource_type.clone(),
                    location: r.location.clone(),
                    labels: r.labels.clone(),
                    crypto_key_versions: if r.crypto_key_versions.is_empty() {
                        r.crypto_key_version.iter().cloned().collect()
                    } else {
                        r.crypto_key_versions.clone()
                    },
                    create_time: opt_ts(r.create_time),
                })
                .collect()
        }),
        rotation: rotation(inv, now),
        findings: a
            .findings
            .iter()
            .map(|f| Finding {
                id: f.id.as_str().to_owned(),
                severity: severity(f.severity),
                title: f.title.clone(),
                evidence: f.evidence.iter().map(evidence_ref).collect(),
            })
            .collect(),
        verdict: match a.verdict {
            findings::Verdict::Benign => Verdict::Benign,
            findings::Verdict::Inconclusive => Verdict::Inconclusive,
            findings::Verdict::Suspicious => Verdict::Suspicious,
            findings::Verdict::Malicious => Verdict::Malicious,
        },
        verdict_rule: a.verdict_rule.clone(),
        drivers: a.drivers.iter().map(|d| d.as_str().to_owned()).collect(),
        missing_for_verdict: a.missing_for_verdict.clone(),
        gaps: inv.gaps.iter().map(gap).collect(),
        recommended_actions: a
            .recommended_actions
            .iter()
            .map(|r| RecommendedAction {
                action: action(r.action),
                reason: r.reason.clone(),
            })
            .collect(),
    }
}

fn severity(s: findings::Severity) -> Severity {
    match s {
        findings::Severity::Info => Severity::Info,
        findings::Severity::Low => Severity::Low,
        findings::Severity::Medium => Severity::Medium,
        findings::Severity::High => Severity::High,
        findings::Severity::Critical => Severity::Critical,
    }
}

fn action(a: findings::Action) -> Action {
    match a {
        findings::Action::Disable => Action::Disable,
        findings::Action::Rotate => Action::Rotate,
        findings::Action::Revoke => Action::Revoke,
        findings::Action::ScheduleDestroy => Action::ScheduleDestroy,
    }
}

fn evidence_ref(r: &findings::EvidenceRef) -> EvidenceRef {
    match r {
        findings::EvidenceRef::LogEntry { insert_id } => EvidenceRef::LogEntry {
            insert_id: insert_id.clone(),
        },
        findings::EvidenceRef::Binding {
            resource,
            role,
            member,
        } => EvidenceRef::Binding {
            resource: resource.clone(),
            role: role.clone(),
            member: member.clone(),
        },
        findings::EvidenceRef::Field {
            resource,
            field,
            value,
        } => EvidenceRef::Field {
            resource: resource.clone(),
            field: field.clone(),
            value: value.clone(),
        },
    }
}

fn gap(g: &evidence::Gap) -> Gap {
    use evidence::GapReason as R;
    let (reason, permission) = match &g.reason {
        R::PermissionDenied { permission } => (GapReason::PermissionDenied, permission.clone()),
        R::NotFound => (GapReason::NotFound, None),
        R::Quota => (GapReason::Quota, None),
        R::Timeout => (GapReason::Timeout, None),
        R::Unavailable => (GapReason::Unavailable, None),
        R::RetentionExceeded => (GapReason::RetentionExceeded, None),
        R::Error => (GapReason::Error, None),
    };
    Gap {
        evidence: g.evidence.clone(),
        reason,
        permission,
        detail: g.detail.clone(),
    }
}

fn version(v: &gcp::CryptoKeyVersion) -> Version {
    Version {
        name: v.name.clone(),
        id: v.id.clone(),
        state: v.state.clone(),
        protection_level: v.protection_level.clone(),
        algorithm: v.algorithm.clone(),
        create_time: opt_ts(v.create_time),
        destroy_time: opt_ts(v.destroy_time),
        import_job: v.import_job.clone(),
        import_time: opt_ts(v.import_time),
        external_key_uri: v.external_key_uri.clone(),
    }
}

fn key(inv: &Investigation) -> Key {
    let name = &inv.key_name;
    Key {
        name: name.to_string(),
        project: name.project().to_owned(),
        location: name.location().to_owned(),
        key_ring: name.key_ring(),
        key_id: name.key_id().to_owned(),
        details: inv.key.as_ref().map(|k| KeyDetails {
            purpose: k.key.purpose.clone(),
            algorithm: k.key.algorithm.clone(),
            protection_level: k.key.protection_level.clone(),
            create_time: opt_ts(k.key.create_time),
            import_only: k.key.import_only,
            external_material: facts::external_material(&k.key, &k.versions),
            crypto_key_backend: k.key.crypto_key_backend.clone(),
            destroy_scheduled_duration_seconds: k
                .key
                .destroy_scheduled_duration
                .map(|d| d.as_secs()),
            labels: k.key.labels.clone(),
            primary_version: k.key.primary.as_ref().map(|p| p.id.clone()),
            versions: k.versions.iter().map(version).collect(),
        }),
    }
}

fn binding(b: &gcp::Binding) -> Binding {
    Binding {
        role: b.role.clone(),
        members: b.members.clone(),
        condition: b.condition.as_ref().map(|c| Condition {
            title: c.title.clone(),
            description: c.description.clone(),
            expression: c.expression.clone(),
        }),
    }
}

fn policy(p: &gcp::IamPolicy) -> Policy {
    Policy {
        version: p.version,
        etag: p.etag.clone(),
        bindings: p.bindings.iter().map(binding).collect(),
    }
}

fn grants(list: &[assess::Grant]) -> Vec<Grant> {
    list.iter()
        .map(|g| Grant {
            member: g.member.clone(),
            role: g.role.clone(),
            scope: match g.scope {
                assess::Scope::Key => Scope::Key,
                assess::Scope::KeyRing => Scope::KeyRing,
                assess::Scope::Project => Scope::Project,
                assess::Scope::Folder => Scope::Folder,
                assess::Scope::Organization => Scope::Organization,
            },
            resource: g.resource.clone(),
            condition: g.condition.clone(),
        })
        .collect()
}

fn iam(inv: &Investigation) -> Iam {
    let access = facts::access(inv);
    Iam {
        key: inv.iam.key.as_ref().map(policy),
        key_ring: inv.iam.key_ring.as_ref().map(policy),
        project_kms_bindings: inv.iam.project_kms_bindings.iter().map(binding).collect(),
        inherited_kms_bindings: inv
            .iam
            .inherited_kms_bindings
            .iter()
            .map(|i| {
                let b = binding(&i.binding);
                InheritedBinding {
                    container: i.container.clone(),
                    role: b.role,
                    members: b.members,
                    condition: b.condition,
                }
            })
            .collect(),
        access: Access {
            encrypt_decrypt: grants(&access.use_key),
            administer: grants(&access.administer),
            set_iam_policy: grants(&access.set_iam_policy),
            unclassified: grants(&access.unclassified),
        },
    }
}

fn usage(inv: &Investigation) -> Usage {
    let u = &inv.usage;
    let (status, status_reasons, total_calls) = match facts::usage_status(inv) {
        FactUsage::Unknown { reason } => (UsageStatus::Unknown, vec![reason], None),
        FactUsage::AtLeast { reasons } => (UsageStatus::LowerBound, reasons, Some(u.total_calls)),
        FactUsage::Complete => (UsageStatus::Complete, Vec::new(), Some(u.total_calls)),
    };
    let logging = match &u.logging {
        DataAccessLogging::Enabled {
            by,
            exempted_members,
        } => Logging {
            state: LoggingState::Enabled,
            enabled_by: by.clone(),
            exempted_members: exempted_members.clone(),
        },
        DataAccessLogging::Disabled => Logging {
            state: LoggingState::Disabled,
            enabled_by: Vec::new(),
            exempted_members: Vec::new(),
        },
        DataAccessLogging::Unknown => Logging {
            state: LoggingState::Unknown,
            enabled_by: Vec::new(),
            exempted_members: Vec::new(),
        },
    };
    Usage {
        status,
        status_reasons,
        logging,
        total_calls,
        truncated: u.truncated,
        page_bound: u.page_bound,
        rows: u
            .rows
            .iter()
            .map(|r| UsageRow {
                principal: r.principal.clone(),
                method: r.method.clone(),
                calls: r.calls,
                failures: r.failures,
                first: opt_ts(r.first),
                last: opt_ts(r.last),
                caller_ips: r.caller_ips.clone(),
                sample_insert_ids: r.sample_insert_ids.clone(),
            })
            .collect(),
    }
}

fn rotation(inv: &Investigation, now: Timestamp) -> Option<Rotation> {
    let k = inv.key.as_ref()?;
    Some(Rotation {
        automatic_rotation_supported: facts::auto_rotation_supported(&k.key),
        period_seconds: k.key.rotation_period.map(|d| d.as_secs()),
        next_rotation_time: opt_ts(k.key.next_rotation_time),
        current_version: facts::current_version(&k.key, &k.versions).map(|(v, is_primary)| {
            CurrentVersion {
                id: v.id.clone(),
                is_primary,
                create_time: opt_ts(v.create_time),
                age_seconds: v
                    .create_time
                    .map(|t| now.duration_since(t).as_secs().max(0).unsigned_abs()),
            }
        }),
    })
}
