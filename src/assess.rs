//! The assessment: what the evidence of an [`Investigation`] means under a
//! [`Playbook`] — findings, a verdict, and the actions the playbook
//! recommends. Pure: no I/O, no clock; the same input gives the same output.
//!
//! The classifiers it rests on are small public functions, each usable on
//! its own (a report can show them):
//! - [`UserAgentKind`]: `callerSuppliedUserAgent` → client family;
//! - [`IpClass`]: `callerIp` → public / private / Google literals, trusted or not;
//! - [`Member`], [`service_agent`], [`member_project`], [`member_trust`]: IAM members;
//! - [`role_capabilities`], [`grants`], [`access`]: who can use, administer, re-grant the key;
//! - [`outside_business_hours`]: the playbook's working days and hours.
//!
//! Each finding's exact rule is documented on its function in `assess/rules.rs`
//! (and summarised on [`assess`]).

mod hours;
mod ip;
mod member;
mod roles;
mod rules;
mod useragent;
mod verdict;

#[cfg(test)]
mod scenario_tests;

pub use hours::{describe as describe_business_hours, local_label, outside_business_hours};
pub use ip::IpClass;
pub use member::{
    AgentOwner, Member, MemberTrust, ProjectRef, ServiceAgent, domain_trusted, email_domain,
    member_project, member_trust, principal_trusted, service_agent,
};
pub use roles::{
    AccessSummary, Grant, RoleCapabilities, Scope, access, access_of, grants, is_basic_role,
    role_capabilities,
};
pub use useragent::UserAgentKind;
pub use verdict::{decide, recommend};

use crate::evidence::Investigation;
use crate::findings::{Assessment, Finding, Verdict};
use crate::playbook::Playbook;

/// Assesses one investigation.
///
/// Findings (each at most once, with the playbook's severity; a finding
/// whose evidence is missing — no key, no creator entry — is not raised):
/// - `public-access`: allUsers / allAuthenticatedUsers in a key, key ring or project KMS binding;
/// - `primitive-role`: roles/editor to anyone, roles/owner to a user, service account,
///   domain or federated identity (not a group), in the bindings that reach the key;
///   Google service agents excluded;
/// - `separation-of-duties`: one member holds a non-basic admin role (cloudkms.admin) and a
///   non-basic use role, across key, key ring and project (CIS 1.11);
/// - `service-agent-granted`: a Google service agent holds a non-basic use role;
/// - `external-member`: a bound member neither trusted nor a service agent (public members
///   are public-access);
/// - `creator-off-hours`: the creation is outside business hours (playbook time zone);
/// - `creator-bulk-creation`: ≥ `bulk_creation.keys` keys created by the creator within one
///   `bulk_creation.within` span that includes this key's creation;
/// - `creator-new-actor`: no KMS admin by the creator before `creation − new_actor_grace`
///   in the window;
/// - `creator-impersonated`: the creation entry has a delegation chain;
/// - `creator-service-account-key`: the creation used a long-lived service-account key;
/// - `creator-untrusted-ip`: the creation's caller IP is not in trust.ip_ranges / ip_names;
/// - `creator-unusual-user-agent`: its user-agent family is not in trust.user_agents;
/// - `external-key-material`: import-only, imported versions, EXTERNAL/EXTERNAL_VPC, external key URI;
/// - `rotation-missing` / `rotation-too-long`: no rotation period / one over `rotation_max`;
/// - `usage-unknown`: Data Access logging disabled or unknown, or its log unreadable;
/// - `usage-unexpected-principal`: a crypto-operation caller with no principal, external, or
///   trusted but holding no use role;
/// - `usage-cross-project`: a crypto-operation caller belonging to another project;
/// - `destroy-scheduled`: a version of the key DESTROY_SCHEDULED/DESTROYED, or the creator
///   destroyed versions in the window.
///
/// Findings are sorted by severity (highest first), then id. The verdict
/// comes from [`decide`], the actions from [`recommend`]; when no rule
/// matches but [`missing_for_benign`] is not empty, the verdict is
/// inconclusive instead of benign. A rule that matches on the evidence
/// present still rules: missing evidence never lowers a positive verdict.
pub fn assess(inv: &Investigation, playbook: &Playbook) -> Assessment {
    let cx = rules::Ctx::new(inv, playbook);
    let mut findings: Vec<Finding> = rules::RULES.iter().filter_map(|rule| rule(&cx)).collect();
    sort_findings(&mut findings);
    let (mut verdict, verdict_rule, drivers) = decide(&findings, &playbook.verdict);
    let mut missing_for_verdict = Vec::new();
    if verdict == Verdict::Benign {
        missing_for_verdict = missing_for_benign(inv);
        if !missing_for_verdict.is_empty() {
            verdict = Verdict::Inconclusive;
        }
    }
    let recommended_actions = recommend(
        verdict,
        verdict_rule.as_deref(),
        &drivers,
        &findings,
        playbook,
    );
    Assessment {
        findings,
        verdict,
        verdict_rule,
        drivers,
        missing_for_verdict,
        recommended_actions,
    }
}

/// The evidence without which "no rule matched" does not mean benign, that is missing:
/// - `key`: the key's metadata (purpose, protection level, import-only, rotation): without it
///   `external-key-material` and the rotation findings cannot be raised;
/// - `key.versions`: its versions (imported or external material, scheduled destruction);
/// - `creator`: the Admin Activity entry that created it (who, from where, with what, through
///   whom), whether the log could not be read or held no such entry: every `creator-*`
///   finding and the creator's other activity rest on it.
///
/// IAM policies, usage and KMS Inventory are not in the list: without them a benign verdict
/// stands, with their gaps listed (exit code 3).
pub fn missing_for_benign(inv: &Investigation) -> Vec<String> {
    let mut missing = Vec::new();
    if inv.key.is_none() {
        missing.push("key".to_owned());
    } else if inv.gaps.iter().any(|g| g.evidence == "key.versions") {
        missing.push("key.versions".to_owned());
    }
    if inv.creator.is_none() {
        missing.push("creator".to_owned());
    }
    missing
}

/// Highest severity first, then by id.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
}
