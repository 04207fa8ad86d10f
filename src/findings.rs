//! Findings and the verdict: what the evidence means, as plain data.
//!
//! The rules that produce them live in [`crate::assess`]; thresholds and
//! trust come from the [`crate::playbook::Playbook`].

use serde::{Deserialize, Serialize};

/// Every finding the investigation can raise, with its stable kebab-case id.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FindingId {
    /// allUsers / allAuthenticatedUsers on the key or its key ring.
    PublicAccess,
    /// roles/owner or roles/editor reach the key (project or above).
    PrimitiveRole,
    /// A principal can both administer and use the key (CIS 1.11).
    SeparationOfDuties,
    /// A Google service agent may encrypt/decrypt with the key (a CMEK hook-up).
    ServiceAgentGranted,
    /// A member outside the trusted domains has access.
    ExternalMember,
    CreatorOffHours,
    CreatorBulkCreation,
    CreatorNewActor,
    CreatorImpersonated,
    CreatorServiceAccountKey,
    CreatorUntrustedIp,
    CreatorUnusualUserAgent,
    /// Imported or external key material: someone outside Google may hold it.
    ExternalKeyMaterial,
    RotationMissing,
    RotationTooLong,
    /// Data Access logs are off: who used the key cannot be known.
    UsageUnknown,
    UsageUnexpectedPrincipal,
    UsageCrossProject,
    DestroyScheduled,
}

impl FindingId {
    pub const ALL: [FindingId; 19] = [
        FindingId::PublicAccess,
        FindingId::PrimitiveRole,
        FindingId::SeparationOfDuties,
        FindingId::ServiceAgentGranted,
        FindingId::ExternalMember,
        FindingId::CreatorOffHours,
        FindingId::CreatorBulkCreation,
        FindingId::CreatorNewActor,
        FindingId::CreatorImpersonated,
        FindingId::CreatorServiceAccountKey,
        FindingId::CreatorUntrustedIp,
        FindingId::CreatorUnusualUserAgent,
        FindingId::ExternalKeyMaterial,
        FindingId::RotationMissing,
        FindingId::RotationTooLong,
        FindingId::UsageUnknown,
        FindingId::UsageUnexpectedPrincipal,
        FindingId::UsageCrossProject,
        FindingId::DestroyScheduled,
    ];

    /// The kebab-case id, as in reports and playbooks.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingId::PublicAccess => "public-access",
            FindingId::PrimitiveRole => "primitive-role",
            FindingId::SeparationOfDuties => "separation-of-duties",
            FindingId::ServiceAgentGranted => "service-agent-granted",
            FindingId::ExternalMember => "external-member",
            FindingId::CreatorOffHours => "creator-off-hours",
            FindingId::CreatorBulkCreation => "creator-bulk-creation",
            FindingId::CreatorNewActor => "creator-new-actor",
            FindingId::CreatorImpersonated => "creator-impersonated",
            FindingId::CreatorServiceAccountKey => "creator-service-account-key",
            FindingId::CreatorUntrustedIp => "creator-untrusted-ip",
            FindingId::CreatorUnusualUserAgent => "creator-unusual-user-agent",
            FindingId::ExternalKeyMaterial => "external-key-material",
            FindingId::RotationMissing => "rotation-missing",
            FindingId::RotationTooLong => "rotation-too-long",
            FindingId::UsageUnknown => "usage-unknown",
            FindingId::UsageUnexpectedPrincipal => "usage-unexpected-principal",
            FindingId::UsageCrossProject => "usage-cross-project",
            FindingId::DestroyScheduled => "destroy-scheduled",
        }
    }

    pub fn parse(s: &str) -> Option<FindingId> {
        FindingId::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// What a finding rests on: a log entry, a binding, or a field of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceRef {
    LogEntry {
        insert_id: String,
    },
    Binding {
        resource: String,
        role: String,
        member: String,
    },
    Field {
        resource: String,
        field: String,
        value: String,
    },
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    /// One line, for a person.
    pub title: String,
    pub evidence: Vec<EvidenceRef>,
}

/// The overall call. `Inconclusive` is not on the benign < suspicious < malicious scale: it
/// means no rule matched but the evidence a benign verdict needs is missing
/// ([`crate::assess::missing_for_benign`]). Response conditions never order it
/// (`verdict >= suspicious` and `verdict <= benign` are both false for it).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Benign,
    Inconclusive,
    Suspicious,
    Malicious,
}

/// A response action the tool can take (see the response work).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Disable,
    Rotate,
    Revoke,
    ScheduleDestroy,
}

/// An action the playbook recommends for the verdict, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RecommendedAction {
    pub action: Action,
    pub reason: String,
}

/// Findings, verdict, and what drove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Assessment {
    pub findings: Vec<Finding>,
    pub verdict: Verdict,
    /// The playbook rule that decided the verdict (none for benign by default).
    pub verdict_rule: Option<String>,
    /// The findings that made the rule match.
    pub drivers: Vec<FindingId>,
    /// For an inconclusive verdict: the evidence a benign verdict needs that is missing
    /// (gap `evidence` names: `key`, `key.versions`, `creator`); empty otherwise.
    pub missing_for_verdict: Vec<String>,
    pub recommended_actions: Vec<RecommendedAction>,
}
