//! Plain domain types the rest of the product sees instead of the SDK's models.
//!
//! Enum-valued fields are kept as Google's enum NAMES (`"ENCRYPT_DECRYPT"`, `"ENABLED"`), the same
//! spelling audit logs and the REST API use, so the report and the policy code compare strings
//! against one vocabulary whichever path the data came from. Empty proto strings become `None`
//! where "absent" is meaningful.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// A Cloud KMS key ring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyRing {
    pub name: String,
    pub create_time: Option<Timestamp>,
}

/// A Cloud KMS crypto key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CryptoKey {
    pub name: String,
    /// Purpose enum name, e.g. `"ENCRYPT_DECRYPT"`.
    pub purpose: String,
    pub create_time: Option<Timestamp>,
    pub primary: Option<CryptoKeyVersion>,
    pub rotation_period: Option<Duration>,
    pub next_rotation_time: Option<Timestamp>,
    /// From the version template (falls back to the primary version when there is no template).
    pub protection_level: String,
    /// From the version template (falls back to the primary version when there is no template).
    pub algorithm: String,
    pub import_only: bool,
    pub destroy_scheduled_duration: Option<Duration>,
    pub labels: BTreeMap<String, String>,
    pub crypto_key_backend: Option<String>,
}

/// A version of a Cloud KMS crypto key (the actual key material).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CryptoKeyVersion {
    pub name: String,
    /// Last segment of `name`, e.g. `"3"`.
    pub id: String,
    /// State enum name, e.g. `"ENABLED"`, `"DESTROY_SCHEDULED"`.
    pub state: String,
    pub protection_level: String,
    pub algorithm: String,
    pub create_time: Option<Timestamp>,
    pub generate_time: Option<Timestamp>,
    pub destroy_time: Option<Timestamp>,
    pub destroy_event_time: Option<Timestamp>,
    pub import_job: Option<String>,
    pub import_time: Option<Timestamp>,
    pub external_key_uri: Option<String>,
}

/// The two states a responder may put a version in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VersionState {
    Enabled,
    Disabled,
}

/// An IAM policy, for Cloud KMS resources (iam v1) and Resource Manager containers alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IamPolicy {
    pub version: i32,
    /// The etag exactly as Google sends it on the wire (base64); handed back unchanged to
    /// `set_iam_policy` so a concurrent change makes the write fail with `Aborted`.
    pub etag: String,
    pub bindings: Vec<Binding>,
    pub audit_configs: Vec<AuditConfig>,
}

/// One role granted to members, optionally under a condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Binding {
    pub role: String,
    pub members: Vec<String>,
    pub condition: Option<Condition>,
}

/// An IAM condition (a CEL expression).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub title: String,
    pub description: String,
    pub expression: String,
}

/// Audit logging settings for one service (or `allServices`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditConfig {
    pub service: String,
    pub log_configs: Vec<AuditLogConfig>,
}

/// One enabled audit log type and who is exempted from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLogConfig {
    /// Log type enum name: `"ADMIN_READ"`, `"DATA_READ"` or `"DATA_WRITE"`.
    pub log_type: String,
    pub exempted_members: Vec<String>,
}

/// A Resource Manager project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// `projects/NUMBER`.
    pub name: String,
    pub project_id: String,
    /// `organizations/N` or `folders/N`; `None` for a project with no parent.
    pub parent: Option<String>,
    pub display_name: String,
    /// State enum name, e.g. `"ACTIVE"`, `"DELETE_REQUESTED"`.
    pub state: String,
}

/// A Resource Manager folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Folder {
    /// `folders/NUMBER`.
    pub name: String,
    /// `organizations/N` or `folders/N`.
    pub parent: Option<String>,
    pub display_name: String,
    pub state: String,
}

/// A resource protected by a Cloud KMS key, as reported by KMS Inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtectedResource {
    pub name: String,
    /// `projects/NUMBER`.
    pub project: String,
    pub project_id: String,
    pub cloud_product: String,
    pub resource_type: String,
    pub location: String,
    pub labels: BTreeMap<String, String>,
    /// Deprecated by Google in favour of `crypto_key_versions`; kept because older answers
    /// fill only this one.
    pub crypto_key_version: Option<String>,
    pub crypto_key_versions: Vec<String>,
    pub create_time: Option<Timestamp>,
}

/// Sort order of log entries by timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Order {
    Asc,
    Desc,
}

/// One `entries.list` query; the caller pages through it with [`crate::gcp::Gcp::list_log_entries`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogQuery {
    /// `projects/P`, `folders/F`, `organizations/O`, or a log view.
    pub resource_names: Vec<String>,
    /// Cloud Logging query language; at most 20,000 characters.
    pub filter: String,
    pub order: Order,
    /// Entries per page; Google allows at most 1000 (larger values are clamped).
    pub page_size: i32,
}

/// One page of log entries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogPage {
    /// Each entry in Google's REST JSON form (camelCase, `protoPayload` with `@type`, RFC 3339
    /// timestamps, severity by name): the same shape an alert carries, so one parser reads both.
    pub entries: Vec<serde_json::Value>,
    /// Present when more entries follow; pass it back to get the next page. Tokens live 24 h, so
    /// after a `ResourceExhausted` the caller keeps it and resumes.
    pub next_page_token: Option<String>,
}
