//! One function per finding: each reads the evidence and the playbook and
//! returns at most one [`Finding`], with a one-line title naming the
//! specifics and the evidence it rests on.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::hours;
use super::ip::IpClass;
use super::member::{Member, MemberTrust, ProjectRef, email_domain, member_project, member_trust};
use super::roles::{Grant, grants};
use super::useragent::UserAgentKind;
use crate::evidence::{DataAccessLogging, Investigation, UsageRow};
use crate::findings::{EvidenceRef, Finding, FindingId};
use crate::playbook::Playbook;

/// What every rule needs, computed once.
pub(super) struct Ctx<'a> {
    pub inv: &'a Investigation,
    pub pb: &'a Playbook,
    /// The key's full name.
    pub key: String,
    pub grants: Vec<Grant>,
    /// The key's project id (from Resource Manager, else from the key name).
    pub project_id: String,
    /// The key's project number, when known.
    pub project_number: Option<String>,
    /// When the key was created: the creation entry's time, else the key's createTime.
    pub created: Option<Timestamp>,
}

impl<'a> Ctx<'a> {
    pub fn new(inv: &'a Investigation, pb: &'a Playbook) -> Ctx<'a> {
        let from_name = inv.key_name.project().to_owned();
        let name_is_number = from_name.bytes().all(|b| b.is_ascii_digit());
        let project_id = inv
            .project
            .as_ref()
            .map(|p| p.project_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| from_name.clone());
        let project_number = inv
            .project
            .as_ref()
            .and_then(|p| p.name.strip_prefix("projects/"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
            .or_else(|| name_is_number.then(|| from_name.clone()));
        let created = inv
            .creator
            .as_ref()
            .and_then(|c| c.timestamp)
            .or_else(|| inv.key.as_ref().and_then(|k| k.key.create_time));
        Ctx {
            inv,
            pb,
            key: inv.key_name.to_string(),
            grants: grants(inv),
            project_id,
            project_number,
            created,
        }
    }

    fn finding(&self, id: FindingId, title: String, evidence: Vec<EvidenceRef>) -> Finding {
        Finding {
            id,
            severity: self.pb.severity(id),
            title,
            evidence,
        }
    }

    fn field(&self, resource: &str, field: &str, value: impl Into<String>) -> EvidenceRef {
        EvidenceRef::Field {
            resource: resource.to_owned(),
            field: field.to_owned(),
            value: value.into(),
        }
    }

    fn creator_entry(&self) -> Option<EvidenceRef> {
        self.inv.creator.as_ref().map(|c| EvidenceRef::LogEntry {
            insert_id: c.insert_id.clone(),
        })
    }

    /// Whether a project (id or number) is one of `trust.projects`.
    fn project_trusted(&self, p: &ProjectRef) -> bool {
        let v = match p {
            ProjectRef::Id(v) | ProjectRef::Number(v) => v,
        };
        self.pb.trust.trusts_project(v)
    }
}

/// Every rule, in [`FindingId`] order.
pub(super) const RULES: [fn(&Ctx) -> Option<Finding>; 19] = [
    public_access,
    primitive_role,
    separation_of_duties,
    service_agent_granted,
    external_member,
    creator_off_hours,
    creator_bulk_creation,
    creator_new_actor,
    creator_impersonated,
    creator_service_account_key,
    creator_untrusted_ip,
    creator_unusual_user_agent,
    external_key_material,
    rotation_missing,
    rotation_too_long,
    usage_unknown,
    usage_unexpected_principal,
    usage_cross_project,
    destroy_scheduled,
];

// ---------------------------------------------------------------- helpers

/// Attacker-controlled text, made safe for one line.
fn s(text: &str) -> String {
    crate::sanitize::text(text).into_owned()
}

/// At most `max` items joined by ", ", then "and N more".
fn list(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

/// Days and hours only (`7d`, `2d3h`, `5h`), or [`human`] under an hour.
fn coarse(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs < 3_600 {
        return human(d);
    }
    human(SignedDuration::from_secs(secs - secs % 3_600))
}

/// `7m51s`, `90d`, `1h`, `0s`.
pub(super) fn human(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let (days, hours, mins, secs) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (mins, "m"), (secs, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    if d.is_negative() {
        out.insert(0, '-');
    }
    out
}

fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `ring/key` of a key (or version) name; the last segment otherwise.
fn short_key(resource: &str) -> String {
    let parts: Vec<&str> = resource.split('/').collect();
    match parts.iter().position(|p| *p == "keyRings") {
        Some(i) if parts.len() > i + 3 && parts[i + 2] == "cryptoKeys" => {
            s(&format!("{}/{}", parts[i + 1], parts[i + 3]))
        }
        _ => s(parts.last().copied().unwrap_or_default()),
    }
}

/// The key name a key-version name belongs to.
fn key_of(resource: &str) -> &str {
    resource
        .split_once("/cryptoKeyVersions/")
        .map_or(resource, |(k, _)| k)
}

fn version_id(resource: &str) -> Option<&str> {
    resource.split_once("/cryptoKeyVersions/").map(|(_, v)| v)
}

/// Cryptographic operations, by method (short or fully qualified).
fn is_crypto_method(method: &str) -> bool {
    let short = method.rsplit('.').next().unwrap_or(method);
    matches!(
        short,
        "Encrypt"
            | "Decrypt"
            | "AsymmetricSign"
            | "AsymmetricDecrypt"
            | "MacSign"
            | "MacVerify"
            | "RawEncrypt"
            | "RawDecrypt"
            | "Decapsulate"
    )
}

/// Usage of one principal, summed over its methods.
struct PrincipalUse<'a> {
    principal: &'a str,
    rows: Vec<&'a UsageRow>,
}

impl PrincipalUse<'_> {
    fn calls(&self) -> u64 {
        self.rows.iter().map(|r| r.calls).sum()
    }

    fn failures(&self) -> u64 {
        self.rows.iter().map(|r| r.failures).sum()
    }

    /// `4 Decrypt calls from 198.51.100.77, 2026-11-22 03:12 UTC – 2026-11-23 01:05 UTC`.
    fn describe(&self) -> String {
        let methods = self
            .rows
            .iter()
            .map(|r| format!("{} {}", r.calls, s(&r.method)))
            .collect::<Vec<_>>()
            .join(" + ");
        let mut ips: Vec<String> = Vec::new();
        for r in &self.rows {
            for ip in &r.caller_ips {
                let ip = match IpClass::classify(ip) {
                    IpClass::Public { ip } | IpClass::Private { ip } => ip.to_string(),
                    _ => format!("{:?}", s(ip)),
                };
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        let first = self.rows.iter().filter_map(|r| r.first).min();
        let last = self.rows.iter().filter_map(|r| r.last).max();
        let noun = if self.calls() == 1 { "call" } else { "calls" };
        let mut out = format!("{methods} {noun}");
        if self.failures() > 0 {
            out.push_str(&format!(" ({} failed)", self.failures()));
        }
        if !ips.is_empty() {
            out.push_str(&format!(" from {}", list(&ips, 3)));
        }
        match (first, last) {
            (Some(a), Some(b)) if a != b => out.push_str(&format!(", {} – {}", when(a), when(b))),
            (Some(a), _) => out.push_str(&format!(", {}", when(a))),
            _ => {}
        }
        out
    }

    /// The sample calls' log entries, to cite beside the summary.
    fn log_entries(&self) -> impl Iterator<Item = EvidenceRef> + '_ {
        self.rows
            .iter()
            .flat_map(|r| r.sample_insert_ids.iter())
            .take(UsageRow::SAMPLES)
            .map(|id| EvidenceRef::LogEntry {
                insert_id: id.clone(),
            })
    }

    fn evidence(&self, key: &str) -> EvidenceRef {
        EvidenceRef::Field {
            resource: key.to_owned(),
            field: "usage".to_owned(),
            value: format!("{}: {}", self.principal, self.describe()),
        }
    }
}

/// Crypto-operation usage rows grouped by principal, in first-seen order.
fn crypto_usage(inv: &Investigation) -> Vec<PrincipalUse<'_>> {
    let mut out: Vec<PrincipalUse> = Vec::new();
    for row in inv
        .usage
        .rows
        .iter()
        .filter(|r| is_crypto_method(&r.method))
    {
        match out.iter_mut().find(|p| p.principal == row.principal) {
            Some(p) => p.rows.push(row),
            None => out.push(PrincipalUse {
                principal: &row.principal,
                rows: vec![row],
            }),
        }
    }
    out
}

// ---------------------------------------------------------------- rules

/// `allUsers` / `allAuthenticatedUsers` in a binding of the key, its key ring
/// or the project.
fn public_access(cx: &Ctx) -> Option<Finding> {
    let hits: Vec<&Grant> = cx
        .grants
        .iter()
        .filter(|g| Member::parse(&g.member).is_public())
        .collect();
    if hits.is_empty() {
        return None;
    }
    let parts: Vec<String> = hits
        .iter()
        .map(|g| format!("{} holds {} on {}", g.member, s(&g.role), g.place()))
        .collect();
    Some(cx.finding(
        FindingId::PublicAccess,
        format!("The key is public: {}", list(&parts, 3)),
        hits.iter().map(|g| g.evidence()).collect(),
    ))
}

/// `roles/editor` held by anyone, or `roles/owner` held by a user, service
/// account, domain or federated identity, reaching the key. `roles/owner`
/// held by a group is not flagged (owner groups are the usual, reviewed way
/// to hold it); Google service agents are not flagged (Google grants some of
/// them editor by default).
fn primitive_role(cx: &Ctx) -> Option<Finding> {
    let hits: Vec<&Grant> = cx
        .grants
        .iter()
        .filter(|g| {
            let m = Member::parse(&g.member);
            if m.service_agent().is_some() || matches!(m, Member::Deleted(_)) {
                return false;
            }
            match g.role.as_str() {
                "roles/editor" => true,
                "roles/owner" => !matches!(m, Member::Group(_) | Member::ProjectRole { .. }),
                _ => false,
            }
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    let parts: Vec<String> = hits
        .iter()
        .map(|g| format!("{} holds {} on {}", s(&g.member), g.role, g.place()))
        .collect();
    Some(cx.finding(
        FindingId::PrimitiveRole,
        format!("Basic roles reach the key: {}", list(&parts, 3)),
        hits.iter().map(|g| g.evidence()).collect(),
    ))
}

/// One member holds a (non-basic) role that administers the key and a
/// (non-basic) role that uses it, across the key, key ring and project
/// bindings (CIS GCP 1.11). Basic roles are left to primitive-role.
fn separation_of_duties(cx: &Ctx) -> Option<Finding> {
    let mut by_member: BTreeMap<&str, (Vec<&Grant>, Vec<&Grant>)> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for g in &cx.grants {
        let caps = g.capabilities();
        if caps.basic || Member::parse(&g.member).is_public() {
            continue;
        }
        if !caps.administer && !caps.can_use() {
            continue;
        }
        let entry = by_member.entry(&g.member).or_insert_with(|| {
            order.push(&g.member);
            (Vec::new(), Vec::new())
        });
        if caps.administer {
            entry.0.push(g);
        }
        if caps.can_use() {
            entry.1.push(g);
        }
    }
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    for m in order {
        let Some((admin, uses)) = by_member.get(m) else {
            continue;
        };
        if admin.is_empty() || uses.is_empty() {
            continue;
        }
        let roles = |gs: &[&Grant]| {
            let mut v: Vec<String> = Vec::new();
            for g in gs {
                let r = format!("{} on {}", s(&g.role), g.place());
                if !v.contains(&r) {
                    v.push(r);
                }
            }
            v.join(", ")
        };
        parts.push(format!(
            "{} (administers: {}; uses: {})",
            s(m),
            roles(admin),
            roles(uses)
        ));
        evidence.extend(admin.iter().chain(uses.iter()).map(|g| g.evidence()));
    }
    if parts.is_empty() {
        return None;
    }
    let title = if parts.len() == 1 {
        format!(
            "One member can both administer and use the key: {}",
            parts[0]
        )
    } else {
        format!(
            "{} members can both administer and use the key: {}",
            parts.len(),
            list(&parts, 3)
        )
    };
    Some(cx.finding(FindingId::SeparationOfDuties, title, evidence))
}

/// A Google service agent holds a (non-basic) role that uses the key: a
/// service was hooked up to encrypt with it (CMEK). The title says whose
/// project each agent acts for.
fn service_agent_granted(cx: &Ctx) -> Option<Finding> {
    let mut parts: Vec<String> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut evidence = Vec::new();
    for g in &cx.grants {
        let caps = g.capabilities();
        if caps.basic || !caps.can_use() {
            continue;
        }
        let Some(agent) = Member::parse(&g.member).service_agent() else {
            continue;
        };
        evidence.push(g.evidence());
        if seen.contains(&g.member.as_str()) {
            continue;
        }
        seen.push(&g.member);
        let whose = match agent.project_number() {
            Some(n) if cx.project_number.as_deref() == Some(n) => "this project".to_owned(),
            Some(n) if cx.project_number.is_some() => {
                format!("project number {n}, another project")
            }
            Some(n) => format!("project number {n}"),
            None => "not a project".to_owned(),
        };
        let email = Member::parse(&g.member)
            .email()
            .map(s)
            .unwrap_or_else(|| s(&g.member));
        parts.push(format!(
            "{email} ({} service agent, {whose}; {} on {})",
            s(&agent.service),
            s(&g.role),
            g.place()
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(cx.finding(
        FindingId::ServiceAgentGranted,
        format!("Google service agents can use the key: {}", list(&parts, 3)),
        evidence,
    ))
}

/// A member of the key's, key ring's or project's KMS bindings that is
/// neither trusted (trust.principals, trust.domains) nor a Google service
/// agent; `allUsers`/`allAuthenticatedUsers` are public-access instead,
/// deleted members are ignored.
fn external_member(cx: &Ctx) -> Option<Finding> {
    let hits: Vec<&Grant> = cx
        .grants
        .iter()
        .filter(|g| member_trust(&Member::parse(&g.member), &cx.pb.trust) == MemberTrust::External)
        .collect();
    if hits.is_empty() {
        return None;
    }
    let parts: Vec<String> = hits
        .iter()
        .map(|g| format!("{} ({} on {})", s(&g.member), s(&g.role), g.place()))
        .collect();
    Some(cx.finding(
        FindingId::ExternalMember,
        format!(
            "Members outside the trusted domains can reach the key: {}",
            list(&parts, 3)
        ),
        hits.iter().map(|g| g.evidence()).collect(),
    ))
}

fn creator_name(cx: &Ctx) -> String {
    cx.inv
        .creator
        .as_ref()
        .map(|c| c.principal.as_str())
        .filter(|p| !p.is_empty())
        .map_or_else(|| "An unknown principal".to_owned(), s)
}

/// The key's creation (the creation entry's time, else the key's
/// createTime) is outside business hours.
fn creator_off_hours(cx: &Ctx) -> Option<Finding> {
    let t = cx.created?;
    let bh = &cx.pb.business_hours;
    if !hours::outside_business_hours(t, bh) {
        return None;
    }
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(&cx.key, "createTime", t.to_string()));
    Some(cx.finding(
        FindingId::CreatorOffHours,
        format!(
            "{} created the key on {}, outside business hours ({})",
            creator_name(cx),
            hours::local_label(t, bh),
            hours::describe(bh)
        ),
        evidence,
    ))
}

/// At least `bulk_creation.keys` distinct keys created (CreateCryptoKey) by
/// the creator within one `bulk_creation.within` span that includes the
/// alerted key's creation, from `creator_activity.events`.
fn creator_bulk_creation(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let activity = cx.inv.creator_activity.as_ref()?;
    let t_c = cx.created?;
    let bulk = cx.pb.bulk_creation;
    let mut creates: Vec<(Timestamp, &str, &str)> = Vec::new();
    for e in &activity.events {
        if e.method == "CreateCryptoKey"
            && let Some(t) = e.time
            && !creates.iter().any(|(_, r, _)| *r == e.resource)
        {
            creates.push((t, &e.resource, &e.insert_id));
        }
    }
    if !creates.iter().any(|(_, r, _)| *r == cx.key) {
        creates.push((t_c, &cx.key, &creator.insert_id));
    }
    creates.sort();
    // The best span containing t_c starts at some creation at or before t_c.
    let mut best: Vec<(Timestamp, &str, &str)> = Vec::new();
    for &(start, _, _) in creates.iter().filter(|(t, _, _)| *t <= t_c) {
        let end = start.checked_add(bulk.within).ok()?;
        if end < t_c {
            continue;
        }
        let span: Vec<_> = creates
            .iter()
            .filter(|(t, _, _)| *t >= start && *t <= end)
            .copied()
            .collect();
        if span.len() > best.len() {
            best = span;
        }
    }
    if (best.len() as u64) < u64::from(bulk.keys) || best.is_empty() {
        return None;
    }
    let first = best.first().map(|b| b.0)?;
    let last = best.last().map(|b| b.0)?;
    let names: Vec<String> = best.iter().map(|(_, r, _)| short_key(r)).collect();
    Some(
        cx.finding(
            FindingId::CreatorBulkCreation,
            format!(
                "{} created {} keys within {}: {} (threshold: {} within {})",
                creator_name(cx),
                best.len(),
                human(last.duration_since(first)),
                list(&names, 5),
                bulk.keys,
                human(bulk.within)
            ),
            best.iter()
                .map(|(_, _, id)| EvidenceRef::LogEntry {
                    insert_id: (*id).to_owned(),
                })
                .collect(),
        ),
    )
}

/// The creator did no KMS administration earlier than `creation −
/// new_actor_grace` within the log window (its own key-ring creation
/// minutes before does not count). The title says how far back the window
/// reached, and when the history of the human behind an impersonation was
/// not examined.
fn creator_new_actor(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let activity = cx.inv.creator_activity.as_ref()?;
    let t_c = cx.created?;
    let cutoff = t_c.checked_sub(cx.pb.new_actor_grace).ok()?;
    let earlier = activity
        .events
        .iter()
        .any(|e| e.time.is_some_and(|t| t < cutoff))
        || activity.first_admin.is_some_and(|t| t < cutoff);
    if earlier {
        return None;
    }
    let start = cx.inv.window.start;
    let reach = t_c.duration_since(start);
    let mut title = if start >= cutoff {
        format!(
            "{} has no KMS administration on record before creating the key, but the log window began {} before the creation: no history could be examined",
            creator_name(cx),
            human(reach.max(SignedDuration::ZERO))
        )
    } else {
        format!(
            "{} did no KMS administration in the {} before creating the key (log window from {}; activity within {} of the creation does not count)",
            creator_name(cx),
            coarse(reach),
            when(start),
            human(cx.pb.new_actor_grace)
        )
    };
    if start < cutoff && reach < cx.pb.lookback {
        title.push_str(&format!(
            "; the window reached back only {}, less than the playbook's {}",
            coarse(reach),
            human(cx.pb.lookback)
        ));
    }
    if let Some(root) = creator.delegation_chain.first() {
        title.push_str(&format!(
            "; the history of {}, who acted through it, was not examined",
            s(root)
        ));
    }
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(&cx.key, "window.start", start.to_string()));
    Some(cx.finding(FindingId::CreatorNewActor, title, evidence))
}

/// The creation entry carries a service-account delegation chain: a
/// principal impersonated the creator. Names who really acted (the first
/// of the chain) and the chain.
fn creator_impersonated(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let root = creator.delegation_chain.first()?;
    let short = |p: &str| -> String {
        let p = s(p);
        if p.chars().count() > 120 {
            format!("{}…", p.chars().take(120).collect::<String>())
        } else {
            p
        }
    };
    let mut chain: Vec<String> = creator.delegation_chain.iter().map(|p| short(p)).collect();
    chain.push(short(&creator.principal));
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(
        &cx.key,
        "creator.delegation_chain",
        creator.delegation_chain.join(" -> "),
    ));
    Some(cx.finding(
        FindingId::CreatorImpersonated,
        format!(
            "{} created the key by impersonating {} (chain: {})",
            short(root),
            short(&creator.principal),
            chain.join(" → ")
        ),
        evidence,
    ))
}

/// The creation was authenticated with a long-lived service-account key.
fn creator_service_account_key(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let key = creator.service_account_key.as_deref()?;
    let key_id = key.rsplit('/').next().unwrap_or(key);
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(&cx.key, "creator.serviceAccountKeyName", key));
    Some(cx.finding(
        FindingId::CreatorServiceAccountKey,
        format!(
            "{} created the key with a long-lived service-account key ({})",
            creator_name(cx),
            s(key_id)
        ),
        evidence,
    ))
}

/// The creation's caller IP is not trusted (not in trust.ip_ranges, not a
/// literal in trust.ip_names). A missing caller IP is not flagged.
fn creator_untrusted_ip(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let class = IpClass::classify(&creator.caller_ip);
    if class == IpClass::Missing || class.is_trusted(&cx.pb.trust) {
        return None;
    }
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(&cx.key, "creator.callerIp", creator.caller_ip.clone()));
    Some(cx.finding(
        FindingId::CreatorUntrustedIp,
        format!(
            "{} created the key from {} outside the trusted networks",
            creator_name(cx),
            class.describe()
        ),
        evidence,
    ))
}

/// The creation's user-agent family is not one of trust.user_agents. A
/// trusted principal is held to the same list: a CI account's stolen
/// credentials used from curl are exactly what this catches.
fn creator_unusual_user_agent(cx: &Ctx) -> Option<Finding> {
    let creator = cx.inv.creator.as_ref()?;
    let kind = UserAgentKind::classify(&creator.user_agent);
    if kind.is_expected(&cx.pb.trust) {
        return None;
    }
    let raw: String = creator.user_agent.chars().take(80).collect();
    let expected = if cx.pb.trust.user_agents.is_empty() {
        "none is listed".to_owned()
    } else {
        cx.pb
            .trust
            .user_agents
            .iter()
            .map(|u| s(u))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut evidence: Vec<EvidenceRef> = cx.creator_entry().into_iter().collect();
    evidence.push(cx.field(
        &cx.key,
        "creator.callerSuppliedUserAgent",
        creator.user_agent.clone(),
    ));
    Some(cx.finding(
        FindingId::CreatorUnusualUserAgent,
        format!(
            "{} created the key with {} ({:?}), not an expected client ({expected})",
            creator_name(cx),
            kind.describe(),
            s(&raw)
        ),
        evidence,
    ))
}

fn uri_host(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    s(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Key material not generated inside Google: an import-only key, a version
/// imported through an import job, protection level EXTERNAL or
/// EXTERNAL_VPC, or a version with an external key URI.
fn external_key_material(cx: &Ctx) -> Option<Finding> {
    let ke = cx.inv.key.as_ref()?;
    let key = &ke.key;
    let mut parts: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    if key.import_only {
        parts.push("import-only key".to_owned());
        evidence.push(cx.field(&cx.key, "importOnly", "true"));
    }
    if key.protection_level.starts_with("EXTERNAL") {
        parts.push(format!("protection level {}", s(&key.protection_level)));
        evidence.push(cx.field(
            &cx.key,
            "versionTemplate.protectionLevel",
            key.protection_level.clone(),
        ));
    }
    let mut versions: Vec<&crate::gcp::CryptoKeyVersion> = ke.versions.iter().collect();
    if let Some(p) = &key.primary
        && !versions.iter().any(|v| v.name == p.name)
    {
        versions.push(p);
    }
    for v in versions {
        if let Some(job) = &v.import_job {
            parts.push(format!(
                "version {} imported through import job {}",
                s(&v.id),
                s(job.rsplit('/').next().unwrap_or(job))
            ));
            evidence.push(cx.field(&v.name, "importJob", job.clone()));
        }
        if let Some(uri) = &v.external_key_uri {
            parts.push(format!(
                "version {} held by an external key manager at {}",
                s(&v.id),
                uri_host(uri)
            ));
            evidence.push(cx.field(
                &v.name,
                "externalProtectionLevelOptions.externalKeyUri",
                uri.clone(),
            ));
        } else if v.protection_level.starts_with("EXTERNAL")
            && !key.protection_level.starts_with("EXTERNAL")
        {
            parts.push(format!(
                "version {} is {}",
                s(&v.id),
                s(&v.protection_level)
            ));
            evidence.push(cx.field(&v.name, "protectionLevel", v.protection_level.clone()));
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(cx.finding(
        FindingId::ExternalKeyMaterial,
        format!(
            "The key's material was not generated by Google, so a copy may exist outside it: {}",
            list(&parts, 4)
        ),
        evidence,
    ))
}

/// No rotation period. ENCRYPT_DECRYPT keys can rotate automatically and
/// should; other purposes (asymmetric, MAC, raw) never rotate
/// automatically, which the title says instead.
fn rotation_missing(cx: &Ctx) -> Option<Finding> {
    let key = &cx.inv.key.as_ref()?.key;
    if key.rotation_period.is_some() {
        return None;
    }
    let evidence = vec![cx.field(&cx.key, "rotationPeriod", "none")];
    let title = if key.purpose == "ENCRYPT_DECRYPT" {
        let mut t = "The key never rotates: no rotation period is set on this ENCRYPT_DECRYPT key"
            .to_owned();
        if key.import_only {
            t.push_str(" (its material is imported: rotating means importing new material)");
        }
        t
    } else {
        format!(
            "The {} key does not rotate: Cloud KMS rotates only symmetric ENCRYPT_DECRYPT keys automatically, so a new version must be created by hand",
            s(&key.purpose)
        )
    };
    Some(cx.finding(FindingId::RotationMissing, title, evidence))
}

/// A rotation period longer than `rotation_max`.
fn rotation_too_long(cx: &Ctx) -> Option<Finding> {
    let key = &cx.inv.key.as_ref()?.key;
    let period = key.rotation_period?;
    let period = SignedDuration::try_from(period).ok()?;
    if period <= cx.pb.rotation_max {
        return None;
    }
    Some(cx.finding(
        FindingId::RotationTooLong,
        format!(
            "The key rotates every {}, longer than the {} maximum",
            human(period),
            human(cx.pb.rotation_max)
        ),
        vec![cx.field(&cx.key, "rotationPeriod", format!("{}s", period.as_secs()))],
    ))
}

/// Who used the key cannot be known: Data Access logging for Cloud KMS is
/// off, cannot be determined, or the Data Access log could not be read.
fn usage_unknown(cx: &Ctx) -> Option<Finding> {
    let project = format!("projects/{}", cx.inv.key_name.project());
    let read_gap = cx.inv.gaps.iter().find(|g| g.evidence == "usage");
    let (title, value) = match (&cx.inv.usage.logging, read_gap) {
        (DataAccessLogging::Disabled, _) => (
            format!(
                "Usage is unknown, not zero: Data Access audit logs for cloudkms.googleapis.com are not enabled on project {} or its parent",
                s(&cx.project_id)
            ),
            "disabled",
        ),
        (DataAccessLogging::Unknown, _) => (
            format!(
                "Usage is unknown: whether Data Access audit logs are enabled for cloudkms.googleapis.com could not be determined for project {} ({})",
                s(&cx.project_id),
                cx.inv
                    .gaps
                    .iter()
                    .find(|g| g.evidence == "usage.logging")
                    .map_or_else(
                        || "a policy of the project or its parents could not be read".to_owned(),
                        |g| s(&g.detail)
                    )
            ),
            "unknown",
        ),
        (DataAccessLogging::Enabled { .. }, Some(gap)) => (
            format!(
                "Usage is unknown: the Data Access log could not be read ({})",
                s(&gap.detail)
            ),
            "unreadable",
        ),
        (DataAccessLogging::Enabled { .. }, None) => return None,
    };
    Some(cx.finding(
        FindingId::UsageUnknown,
        title,
        vec![cx.field(
            &project,
            "auditConfigs[cloudkms.googleapis.com].DATA_READ/DATA_WRITE",
            value,
        )],
    ))
}

/// A Data Access caller (cryptographic operations only) that is not
/// expected: no principal recorded; outside the trusted domains and not a
/// Google service agent; or in a trusted domain but holding no use role on
/// the key, key ring or project (directly, through `domain:`, a trusted
/// group holding a non-basic use role — group membership cannot be seen —
/// or allUsers / allAuthenticatedUsers). Trusted principals and service agents are never
/// flagged here (usage-cross-project looks at service accounts of other projects).
fn usage_unexpected_principal(cx: &Ctx) -> Option<Finding> {
    let users = crypto_usage(cx.inv);
    let trust = &cx.pb.trust;
    let use_grants: Vec<(Member, &Grant)> = cx
        .grants
        .iter()
        .filter(|g| g.capabilities().can_use())
        .map(|g| (Member::parse(&g.member), g))
        .collect();
    let covered = |email: &str| {
        let domain = email_domain(email);
        use_grants.iter().any(|(m, g)| match m {
            Member::User(e) | Member::ServiceAccount(e) => e.eq_ignore_ascii_case(email),
            Member::Domain(d) => domain.as_deref() == Some(d.to_ascii_lowercase().as_str()),
            // Group membership cannot be seen: a trusted group holding a
            // KMS use role may include the caller (basic roles do not count).
            Member::Group(_) => !g.capabilities().basic && member_trust(m, trust).is_trusted(),
            Member::AllUsers | Member::AllAuthenticatedUsers => true,
            _ => false,
        })
    };
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    for u in &users {
        let why = if u.principal.trim().is_empty() {
            Some("an unidentified caller")
        } else {
            match member_trust(&Member::from_email(u.principal), trust) {
                MemberTrust::External => Some("outside the trusted domains"),
                MemberTrust::TrustedDomain if !covered(u.principal) => {
                    Some("holds no role on the key, key ring or project")
                }
                _ => None,
            }
        };
        if let Some(why) = why {
            let who = if u.principal.trim().is_empty() {
                "(no principal)".to_owned()
            } else {
                s(u.principal)
            };
            parts.push(format!("{who} ({why}): {}", u.describe()));
            evidence.push(u.evidence(&cx.key));
            evidence.extend(u.log_entries());
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(cx.finding(
        FindingId::UsageUnexpectedPrincipal,
        format!("Unexpected principals used the key: {}", list(&parts, 3)),
        evidence,
    ))
}

/// A Data Access caller that is a service account or service agent of
/// another project than the key's (project id from
/// `name@PROJECT.iam.gserviceaccount.com`, project number for service
/// agents and default accounts), unless that project is in trust.projects.
/// A project number cannot be compared when the key's project number is unknown.
fn usage_cross_project(cx: &Ctx) -> Option<Finding> {
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    for u in crypto_usage(cx.inv) {
        let Some(project) = member_project(u.principal) else {
            continue;
        };
        let other = match &project {
            ProjectRef::Id(id) => {
                !id.eq_ignore_ascii_case(&cx.project_id)
                    && !id.eq_ignore_ascii_case(cx.inv.key_name.project())
            }
            ProjectRef::Number(n) => cx.project_number.as_deref().is_some_and(|own| own != n),
        };
        if !other || cx.project_trusted(&project) {
            continue;
        }
        let what = match super::member::service_agent(u.principal) {
            Some(agent) => format!("{} service agent of {project}", s(&agent.service)),
            None => format!("a service account of {project}"),
        };
        parts.push(format!("{} ({what}): {}", s(u.principal), u.describe()));
        evidence.push(u.evidence(&cx.key));
        evidence.extend(u.log_entries());
    }
    if parts.is_empty() {
        return None;
    }
    let own = match &cx.project_number {
        Some(n) => format!("{} (project number {n})", s(&cx.project_id)),
        None => s(&cx.project_id),
    };
    Some(cx.finding(
        FindingId::UsageCrossProject,
        format!(
            "Principals of other projects used the key of {own}: {}",
            list(&parts, 3)
        ),
        evidence,
    ))
}

/// A version of this key is DESTROY_SCHEDULED (or already DESTROYED), or
/// the creator scheduled the destruction of any key version in the window
/// (DestroyCryptoKeyVersion in `creator_activity.events`) — a classic
/// ransomware step.
fn destroy_scheduled(cx: &Ctx) -> Option<Finding> {
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    if let Some(ke) = &cx.inv.key {
        for v in &ke.versions {
            match v.state.as_str() {
                "DESTROY_SCHEDULED" => {
                    let at = v
                        .destroy_time
                        .map(|t| format!(" (destruction at {})", when(t)))
                        .unwrap_or_default();
                    parts.push(format!(
                        "version {} of the key is scheduled for destruction{at}",
                        s(&v.id)
                    ));
                    evidence.push(cx.field(&v.name, "state", v.state.clone()));
                }
                "DESTROYED" => {
                    parts.push(format!("version {} of the key is destroyed", s(&v.id)));
                    evidence.push(cx.field(&v.name, "state", v.state.clone()));
                }
                _ => {}
            }
        }
    }
    if let Some(activity) = &cx.inv.creator_activity {
        let mut by_key: Vec<(&str, Vec<String>)> = Vec::new();
        for e in activity
            .events
            .iter()
            .filter(|e| e.method == "DestroyCryptoKeyVersion")
        {
            let key = key_of(&e.resource);
            let v = version_id(&e.resource).map(s).unwrap_or_else(|| "?".into());
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, vs)) => vs.push(v),
                None => by_key.push((key, vec![v])),
            }
            evidence.push(EvidenceRef::LogEntry {
                insert_id: e.insert_id.clone(),
            });
        }
        if !by_key.is_empty() {
            let n: usize = by_key.iter().map(|(_, v)| v.len()).sum();
            let keys: Vec<String> = by_key
                .iter()
                .map(|(k, vs)| {
                    let which = if *k == cx.key {
                        "this key".to_owned()
                    } else {
                        short_key(k)
                    };
                    let noun = if vs.len() == 1 { "version" } else { "versions" };
                    format!("{which} {noun} {}", vs.join(", "))
                })
                .collect();
            let who = s(&activity.principal);
            parts.push(format!(
                "{who} scheduled the destruction of {n} key version{} in the window: {}",
                if n == 1 { "" } else { "s" },
                list(&keys, 4)
            ));
        }
    }
    if parts.is_empty() {
        return None;
    }
    Some(cx.finding(
        FindingId::DestroyScheduled,
        format!("Key material is being destroyed: {}", parts.join("; ")),
        evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(human(SignedDuration::from_secs(471)), "7m51s");
        assert_eq!(human(SignedDuration::from_hours(24 * 90)), "90d");
        assert_eq!(human(SignedDuration::from_hours(1)), "1h");
        assert_eq!(human(SignedDuration::ZERO), "0s");
        assert_eq!(human(SignedDuration::from_secs(-60)), "-1m");
        assert_eq!(coarse(SignedDuration::from_secs(7 * 86_400 + 2_832)), "7d");
        assert_eq!(
            coarse(SignedDuration::from_secs(2 * 86_400 + 3 * 3_600 + 5)),
            "2d3h"
        );
        assert_eq!(coarse(SignedDuration::from_secs(600)), "10m");
        assert_eq!(
            short_key("projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2"),
            "r/k"
        );
        assert_eq!(short_key("projects/p"), "p");
        assert_eq!(
            key_of("projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2"),
            "projects/p/locations/l/keyRings/r/cryptoKeys/k"
        );
        assert_eq!(
            version_id("projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2"),
            Some("2")
        );
        assert!(is_crypto_method("Decrypt"));
        assert!(is_crypto_method(
            "google.cloud.kms.v1.KeyManagementService.AsymmetricSign"
        ));
        assert!(!is_crypto_method("GetCryptoKey"));
        assert!(!is_crypto_method("GetPublicKey"));
        assert_eq!(
            uri_host("https://ekm.example.net/v0/keys/1"),
            "ekm.example.net"
        );
        assert_eq!(
            list(&["a".into(), "b".into(), "c".into()], 2),
            "a, b and 1 more"
        );
    }
}
