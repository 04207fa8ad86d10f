//! The evidence model: what an investigation found, and what it could not
//! find and why. Plain data, serialisable, no I/O.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::gcp::{Binding, CryptoKey, CryptoKeyVersion, GcpError, IamPolicy, ProtectedResource};
use crate::input::Request;
use crate::keyname::KeyName;

/// Why a piece of evidence is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum GapReason {
    PermissionDenied {
        permission: Option<String>,
    },
    NotFound,
    Quota,
    Timeout,
    Unavailable,
    /// The window reaches back further than the logs are kept.
    RetentionExceeded,
    Error,
}

/// One piece of evidence that could not be had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Which evidence (`key`, `iam.key`, `creator`, `usage`, ...).
    pub evidence: String,
    #[serde(flatten)]
    pub reason: GapReason,
    pub detail: String,
}

impl Gap {
    pub fn from_error(evidence: &str, err: &GcpError) -> Gap {
        let reason = match err {
            GcpError::PermissionDenied { permission, .. } => GapReason::PermissionDenied {
                permission: permission.clone(),
            },
            GcpError::NotFound { .. } => GapReason::NotFound,
            GcpError::ResourceExhausted { .. } => GapReason::Quota,
            GcpError::Timeout => GapReason::Timeout,
            GcpError::Unavailable(_) | GcpError::Connect(_) => GapReason::Unavailable,
            _ => GapReason::Error,
        };
        Gap {
            evidence: evidence.to_owned(),
            reason,
            detail: err.to_string(),
        }
    }
}

/// The lookback window the log queries covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
    /// What anchored it: the alert's event time, or the key's creation.
    pub anchor: &'static str,
}

/// The key and its versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyEvidence {
    pub key: CryptoKey,
    pub versions: Vec<CryptoKeyVersion>,
}

/// IAM policies that reach the key.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IamEvidence {
    pub key: Option<IamPolicy>,
    pub key_ring: Option<IamPolicy>,
    /// Project bindings that reach KMS: cloudkms roles, owner, editor.
    pub project_kms_bindings: Vec<Binding>,
    /// The same kind of bindings on the folders and organization above the
    /// project: IAM is inherited, so they reach the key too.
    pub inherited_kms_bindings: Vec<InheritedBinding>,
}

/// A binding on a container above the project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InheritedBinding {
    /// `folders/N` or `organizations/N`.
    pub container: String,
    pub binding: Binding,
}

/// Whether Data Access logs record use of Cloud KMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DataAccessLogging {
    /// Enabled by these containers' audit configs (`projects/P`, `folders/F`, ...).
    Enabled {
        by: Vec<String>,
        exempted_members: Vec<String>,
    },
    /// No readable container enables it.
    Disabled,
    /// Could not tell (a policy could not be read).
    Unknown,
}

/// One KMS admin action of the creator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdminAction {
    pub method: String,
    pub resource: String,
    pub time: Option<Timestamp>,
    pub insert_id: String,
}

/// What the principal that created the key did in KMS within the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreatorActivity {
    pub principal: String,
    /// Count per method name, e.g. CreateCryptoKey: 3.
    pub actions: BTreeMap<String, u64>,
    /// Its successful admin actions in time order (at most [`CreatorActivity::MAX_LISTED`]).
    pub events: Vec<AdminAction>,
    /// Keys it created in the window (the alert's key included).
    pub keys_created: Vec<String>,
    /// Whether it did any KMS administration before creating this key, within the window.
    pub prior_admin: bool,
    /// Its earliest KMS admin action in the window.
    pub first_admin: Option<Timestamp>,
    pub entries_read: u64,
    /// True when the read stopped at its bound before the end of the window.
    pub truncated: bool,
}

impl CreatorActivity {
    /// Actions listed individually; counts cover all of them.
    pub const MAX_LISTED: usize = 500;
}

/// Uses of one principal with one method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub principal: String,
    pub method: String,
    pub calls: u64,
    pub failures: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub caller_ips: Vec<String>,
    /// The insertIds of the first few calls, to cite as evidence.
    pub sample_insert_ids: Vec<String>,
}

impl UsageRow {
    /// insertIds kept per row.
    pub const SAMPLES: usize = 3;
}

/// Who used the key, from Data Access logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub logging: DataAccessLogging,
    pub total_calls: u64,
    pub rows: Vec<UsageRow>,
    /// When the bound was hit: the totals are "at least" figures.
    pub truncated: bool,
    pub page_bound: u32,
}

/// Everything one investigation of one key found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Investigation {
    pub key_name: KeyName,
    pub request: Request,
    /// The key's project, from Resource Manager (its number names service agents).
    pub project: Option<crate::gcp::Project>,
    pub window: Window,
    pub key: Option<KeyEvidence>,
    pub iam: IamEvidence,
    pub creator: Option<AuditEvent>,
    pub creator_activity: Option<CreatorActivity>,
    pub usage: Usage,
    pub protected_resources: Option<Vec<ProtectedResource>>,
    pub gaps: Vec<Gap>,
}
