//! Scenario-level tests: each bundled mock scenario is turned into the
//! [`Investigation`] the API path would build (same window, same filters,
//! same aggregation as `crate::investigate`), then assessed under a test
//! playbook that mirrors the shipped one.

#![expect(clippy::unwrap_used, reason = "tests read fixed scenario files")]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::civil::{Weekday, time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::*;
use crate::audit::{AuditEvent, AuditLogKind, parse_timestamp};
use crate::evidence::{
    AdminAction, CreatorActivity, DataAccessLogging, Gap, GapReason, IamEvidence, KeyEvidence,
    Usage, UsageRow, Window,
};
use crate::findings::{Action, EvidenceRef, FindingId, Severity, Verdict};
use crate::gcp::{
    AuditConfig, AuditLogConfig, Binding, Condition, CryptoKey, CryptoKeyVersion, IamPolicy,
    Project, ProtectedResource,
};
use crate::input::Subject;
use crate::keyname::KeyName;
use crate::playbook::{BulkCreation, BusinessHours, Trust, VerdictRule, VerdictRules};

use FindingId::*;

// ------------------------------------------------------------ test playbook

fn rule(name: &str, all: &[FindingId], any: &[FindingId]) -> VerdictRule {
    VerdictRule {
        name: name.into(),
        all: all.to_vec(),
        any: any.to_vec(),
        min_findings: None,
        min_severity: None,
    }
}

/// What the shipped `playbooks/new-kms-key-created.yaml` holds (trust for
/// the acme organisation, CIS thresholds, its verdict rules), built
/// directly so these tests do not depend on the YAML loader;
/// `the_bundled_playbook_gives_the_same_results` checks the real file.
pub(crate) fn test_playbook() -> Playbook {
    let severities = FindingId::ALL
        .into_iter()
        .map(|id| (id, crate::playbook::default_severity(id)))
        .collect();
    Playbook {
        name: "new-kms-key-created".into(),
        alert_types: vec![
            "GCPNewKMSKey".into(),
            "GCPNewKMSKeyIAMPolicy".into(),
            "GCPKMSKeyVersionDestroyed".into(),
        ],
        business_hours: BusinessHours {
            time_zone: TimeZone::UTC,
            time_zone_name: "UTC".into(),
            days: vec![
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday,
                Weekday::Friday,
            ],
            start: time(8, 0, 0, 0),
            end: time(18, 0, 0, 0),
        },
        trust: Trust {
            principals: vec!["terraform-ci@acme-ci-cd.iam.gserviceaccount.com".into()],
            domains: [
                "acme.example",
                "acme-ci-cd.iam.gserviceaccount.com",
                "acme-orders-prod.iam.gserviceaccount.com",
                "acme-payments-prod.iam.gserviceaccount.com",
                "acme-payments-dr.iam.gserviceaccount.com",
                "acme-hr-prod.iam.gserviceaccount.com",
                "acme-analytics-prod.iam.gserviceaccount.com",
                "acme-observability.iam.gserviceaccount.com",
            ]
            .map(String::from)
            .to_vec(),
            ip_ranges: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
                .map(|r| r.parse().unwrap())
                .to_vec(),
            ip_names: vec!["private".into(), "gce-internal-ip".into()],
            user_agents: ["terraform", "gcloud", "console", "client-library"]
                .map(String::from)
                .to_vec(),
            projects: vec!["acme-observability".into()],
        },
        rotation_max: SignedDuration::from_hours(90 * 24),
        bulk_creation: BulkCreation {
            keys: 3,
            within: SignedDuration::from_mins(10),
        },
        lookback: SignedDuration::from_hours(7 * 24),
        max_log_pages: 10,
        new_actor_grace: SignedDuration::from_hours(1),
        severities,
        verdict: VerdictRules {
            malicious: vec![
                rule(
                    "outside-key-material-wired-to-google-service",
                    &[ExternalKeyMaterial, ServiceAgentGranted],
                    &[],
                ),
                rule(
                    "public-key-used-by-outsider",
                    &[PublicAccess, UsageUnexpectedPrincipal],
                    &[],
                ),
                rule(
                    "outside-member-used-key",
                    &[ExternalMember, UsageUnexpectedPrincipal],
                    &[],
                ),
                rule(
                    "destruction-from-suspect-session",
                    &[DestroyScheduled],
                    &[
                        CreatorImpersonated,
                        CreatorServiceAccountKey,
                        CreatorUntrustedIp,
                        CreatorUnusualUserAgent,
                    ],
                ),
            ],
            suspicious: vec![
                VerdictRule {
                    name: "high-severity-finding".into(),
                    all: vec![],
                    any: vec![],
                    min_findings: None,
                    min_severity: Some(Severity::High),
                },
                VerdictRule {
                    min_findings: Some(3),
                    ..rule(
                        "unusual-creation",
                        &[],
                        &[
                            CreatorOffHours,
                            CreatorBulkCreation,
                            CreatorNewActor,
                            CreatorImpersonated,
                            CreatorServiceAccountKey,
                            CreatorUntrustedIp,
                            CreatorUnusualUserAgent,
                        ],
                    )
                },
                rule(
                    "access-beyond-organization",
                    &[],
                    &[ExternalMember, UsageCrossProject],
                ),
            ],
        },
        recommended_actions: BTreeMap::from([
            (
                Verdict::Malicious,
                vec![Action::Disable, Action::Revoke, Action::Rotate],
            ),
            (Verdict::Suspicious, vec![Action::Revoke, Action::Rotate]),
            (Verdict::Benign, vec![]),
        ]),
        source_name: "test playbook".into(),
        response: None,
    }
}

// ------------------------------------------------------------ scenario → evidence

/// "Today" in the scenarios: the end of every window.
fn now() -> Timestamp {
    "2026-11-28T00:00:00Z".parse().unwrap()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn scenario_path(name: &str) -> String {
    format!("{}/mocks/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time_at(v: &Value, key: &str) -> Option<Timestamp> {
    v.get(key).and_then(Value::as_str).and_then(parse_timestamp)
}

fn duration_at(v: &Value, key: &str) -> Option<Duration> {
    let raw = v.get(key)?.as_str()?.strip_suffix('s')?;
    let secs: f64 = raw.parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

fn version(v: &Value) -> CryptoKeyVersion {
    let name = str_at(v, "name").to_owned();
    CryptoKeyVersion {
        id: name.rsplit('/').next().unwrap_or_default().to_owned(),
        name,
        state: str_at(v, "state").to_owned(),
        protection_level: str_at(v, "protectionLevel").to_owned(),
        algorithm: str_at(v, "algorithm").to_owned(),
        create_time: time_at(v, "createTime"),
        generate_time: time_at(v, "generateTime"),
        destroy_time: time_at(v, "destroyTime"),
        destroy_event_time: time_at(v, "destroyEventTime"),
        import_job: opt_str(v, "importJob"),
        import_time: time_at(v, "importTime"),
        external_key_uri: v
            .pointer("/externalProtectionLevelOptions/externalKeyUri")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn crypto_key(v: &Value) -> CryptoKey {
    let primary = v.get("primary").map(version);
    let template = v.get("versionTemplate");
    let from_template = |field: &str| {
        template
            .map(|t| str_at(t, field).to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| {
                primary.as_ref().map(|p| match field {
                    "protectionLevel" => p.protection_level.clone(),
                    _ => p.algorithm.clone(),
                })
            })
            .unwrap_or_default()
    };
    CryptoKey {
        name: str_at(v, "name").to_owned(),
        purpose: str_at(v, "purpose").to_owned(),
        create_time: time_at(v, "createTime"),
        protection_level: from_template("protectionLevel"),
        algorithm: from_template("algorithm"),
        primary: primary.clone(),
        rotation_period: duration_at(v, "rotationPeriod"),
        next_rotation_time: time_at(v, "nextRotationTime"),
        import_only: v
            .get("importOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        destroy_scheduled_duration: duration_at(v, "destroyScheduledDuration"),
        labels: v
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        crypto_key_backend: opt_str(v, "cryptoKeyBackend"),
    }
}

fn policy(v: &Value) -> IamPolicy {
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    IamPolicy {
        version: v.get("version").and_then(Value::as_i64).unwrap_or(1) as i32,
        etag: str_at(v, "etag").to_owned(),
        bindings: v
            .get("bindings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|b| Binding {
                role: str_at(b, "role").to_owned(),
                members: strings(b.get("members")),
                condition: b.get("condition").map(|c| Condition {
                    title: str_at(c, "title").to_owned(),
                    description: str_at(c, "description").to_owned(),
                    expression: str_at(c, "expression").to_owned(),
                }),
            })
            .collect(),
        audit_configs: v
            .get("auditConfigs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|a| AuditConfig {
                service: str_at(a, "service").to_owned(),
                log_configs: a
                    .get("auditLogConfigs")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|l| AuditLogConfig {
                        log_type: str_at(l, "logType").to_owned(),
                        exempted_members: strings(l.get("exemptedMembers")),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// As `investigate::data_access_logging`.
fn data_access_logging(sources: &[(String, Option<IamPolicy>)]) -> DataAccessLogging {
    let mut by = Vec::new();
    let mut exempted = Vec::new();
    for (container, policy) in sources {
        let Some(policy) = policy else { continue };
        for cfg in policy
            .audit_configs
            .iter()
            .filter(|c| c.service == "allServices" || c.service == "cloudkms.googleapis.com")
        {
            for log in cfg
                .log_configs
                .iter()
                .filter(|l| l.log_type == "DATA_READ" || l.log_type == "DATA_WRITE")
            {
                if !by.contains(container) {
                    by.push(container.clone());
                }
                exempted.extend(log.exempted_members.iter().cloned());
            }
        }
    }
    if by.is_empty() {
        DataAccessLogging::Disabled
    } else {
        DataAccessLogging::Enabled {
            by,
            exempted_members: exempted,
        }
    }
}

/// As `investigate::creator_activity`.
fn creator_activity(creator: &AuditEvent, activity: &[AuditEvent]) -> CreatorActivity {
    let mut out = CreatorActivity {
        principal: creator.principal.clone(),
        entries_read: activity.len() as u64,
        ..CreatorActivity::default()
    };
    for e in activity
        .iter()
        .filter(|e| e.principal == creator.principal && e.status_code == 0)
    {
        *out.actions.entry(e.method.clone()).or_default() += 1;
        if e.method == "CreateCryptoKey" && !out.keys_created.contains(&e.resource_name) {
            out.keys_created.push(e.resource_name.clone());
        }
        if let (Some(t), Some(c)) = (e.timestamp, creator.timestamp)
            && t < c
        {
            out.prior_admin = true;
        }
        out.first_admin = match (out.first_admin, e.timestamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.events.push(AdminAction {
            method: e.method.clone(),
            resource: e.resource_name.clone(),
            time: e.timestamp,
            insert_id: e.insert_id.clone(),
        });
    }
    out
}

/// The investigation the tool would build for a bundled scenario.
fn investigation(name: &str) -> Investigation {
    let world: Value =
        serde_json::from_str(&read(&scenario_path(&format!("{name}.json")))).unwrap();
    let alert = read(&scenario_path(&format!("{name}.alert.json")));
    let request = crate::input::parse("alert", &alert).unwrap().remove(0);
    let entries: Vec<AuditEvent> = world["logEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| AuditEvent::from_json(e).unwrap())
        .collect();

    let key_name = match &request.subject {
        Subject::Keys { keys } => keys[0].clone(),
        Subject::Search(search) => {
            let slack = SignedDuration::from_mins(15);
            let (from, to) = (search.start - slack, search.end + slack);
            let found = entries
                .iter()
                .filter(|e| e.method == "CreateCryptoKey" && e.status_code == 0)
                .filter(|e| e.project == search.project)
                .filter(|e| e.timestamp.is_some_and(|t| t >= from && t <= to))
                .filter(|e| search.principal.as_deref().is_none_or(|p| e.principal == p))
                .filter_map(|e| KeyName::parse(&e.resource_name).ok())
                .find(|k| search.key_id.as_deref().is_none_or(|id| k.key_id() == id));
            found.unwrap()
        }
    };
    let key = key_name.to_string();
    let key_json = world["cryptoKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| str_at(k, "name") == key)
        .unwrap();
    let anchor = request
        .event_time
        .or_else(|| time_at(key_json, "createTime"))
        .unwrap();
    let window = Window {
        start: anchor - SignedDuration::from_hours(7 * 24),
        end: now(),
        anchor: "alert event time",
    };

    let activity: Vec<AuditEvent> = entries
        .iter()
        .filter(|e| e.log == AuditLogKind::Activity && e.service == "cloudkms.googleapis.com")
        .filter(|e| e.project == key_name.project())
        .filter(|e| e.timestamp.is_some_and(|t| t >= window.start))
        .cloned()
        .collect();
    let creator = activity.iter().find(|e| e.is_creation_of(&key)).cloned();
    let creator_activity = creator.as_ref().map(|c| creator_activity(c, &activity));

    let version_prefix = format!("{key}/cryptoKeyVersions/");
    let mut rows: BTreeMap<(String, String), UsageRow> = BTreeMap::new();
    let mut total_calls = 0;
    for e in entries.iter().filter(|e| {
        e.log == AuditLogKind::DataAccess
            && (e.resource_name == key || e.resource_name.starts_with(&version_prefix))
            && e.timestamp.is_some_and(|t| t >= window.start)
    }) {
        total_calls += 1;
        let row = rows
            .entry((e.principal.clone(), e.method.clone()))
            .or_insert_with(|| UsageRow {
                principal: e.principal.clone(),
                method: e.method.clone(),
                calls: 0,
                failures: 0,
                first: None,
                last: None,
                caller_ips: vec![],
                sample_insert_ids: vec![],
            });
        row.calls += 1;
        if e.status_code != 0 {
            row.failures += 1;
        }
        row.first = row.first.min(e.timestamp).or(e.timestamp);
        row.last = row.last.max(e.timestamp);
        if !e.caller_ip.is_empty() && !row.caller_ips.contains(&e.caller_ip) {
            row.caller_ips.push(e.caller_ip.clone());
        }
    }
    let mut rows: Vec<UsageRow> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.principal.cmp(&b.principal))
    });

    let versions: Vec<CryptoKeyVersion> = world["cryptoKeyVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| str_at(v, "name").starts_with(&version_prefix))
        .map(version)
        .collect();
    let policies = world["iamPolicies"].as_object().unwrap();
    let project_resource = format!("projects/{}", key_name.project());
    let project_policy = policies.get(&project_resource).map(policy);
    let project = world["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| str_at(p, "projectId") == key_name.project())
        .map(|p| Project {
            name: str_at(p, "name").to_owned(),
            project_id: str_at(p, "projectId").to_owned(),
            parent: opt_str(p, "parent"),
            display_name: str_at(p, "displayName").to_owned(),
            state: str_at(p, "state").to_owned(),
        });
    let mut audit_sources = vec![(project_resource.clone(), project_policy.clone())];
    if let Some(parent) = project.as_ref().and_then(|p| p.parent.clone()) {
        let parent_policy = policies.get(&parent).map(policy);
        audit_sources.push((parent, parent_policy));
    }
    let logging = data_access_logging(&audit_sources);
    // Logging off is not a gap (see investigate.rs): the audit configs were read.
    let gaps = Vec::new();
    let protected_resources = world["protectedResources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["cryptoKeyVersions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|v| v.starts_with(&version_prefix))
        })
        .map(|p| ProtectedResource {
            name: str_at(p, "name").to_owned(),
            project: str_at(p, "project").to_owned(),
            project_id: str_at(p, "projectId").to_owned(),
            cloud_product: str_at(p, "cloudProduct").to_owned(),
            resource_type: str_at(p, "resourceType").to_owned(),
            location: str_at(p, "location").to_owned(),
            labels: BTreeMap::new(),
            crypto_key_version: opt_str(p, "cryptoKeyVersion"),
            crypto_key_versions: vec![],
            create_time: time_at(p, "createTime"),
        })
        .collect();

    Investigation {
        key_name: key_name.clone(),
        request,
        project,
        window,
        key: Some(KeyEvidence {
            key: crypto_key(key_json),
            versions,
        }),
        iam: IamEvidence {
            inherited_kms_bindings: vec![],
            key: policies.get(&key).map(policy),
            key_ring: policies.get(&key_name.key_ring()).map(policy),
            project_kms_bindings: project_policy
                .map(|p| {
                    p.bindings
                        .into_iter()
                        .filter(|b| {
                            b.role.starts_with("roles/cloudkms.")
                                || matches!(b.role.as_str(), "roles/owner" | "roles/editor")
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        creator,
        creator_activity,
        usage: Usage {
            logging,
            total_calls,
            rows,
            truncated: false,
            page_bound: 10,
        },
        protected_resources: Some(protected_resources),
        gaps,
    }
}

fn ids(a: &Assessment) -> BTreeSet<FindingId> {
    a.findings.iter().map(|f| f.id).collect()
}

fn title(a: &Assessment, id: FindingId) -> &str {
    a.findings
        .iter()
        .find(|f| f.id == id)
        .map(|f| f.title.as_str())
        .unwrap_or_else(|| panic!("no {id} in {:#?}", a.findings))
}

fn finding(a: &Assessment, id: FindingId) -> &Finding {
    a.findings.iter().find(|f| f.id == id).unwrap()
}

fn assert_well_formed(a: &Assessment, pb: &Playbook) {
    for pair in a.findings.windows(2) {
        assert!(
            (pair[0].severity, std::cmp::Reverse(pair[0].id))
                >= (pair[1].severity, std::cmp::Reverse(pair[1].id)),
            "sorted by severity then id: {:?}",
            a.findings
                .iter()
                .map(|f| (f.id, f.severity))
                .collect::<Vec<_>>()
        );
    }
    for f in &a.findings {
        assert_eq!(Some(&f.severity), pb.severities.get(&f.id), "{}", f.id);
        assert!(!f.evidence.is_empty(), "{} has evidence", f.id);
        assert!(!f.title.contains('\n'), "{} title is one line", f.id);
    }
    let unique: BTreeSet<_> = a.findings.iter().map(|f| f.id).collect();
    assert_eq!(unique.len(), a.findings.len(), "each finding once");
}

// ------------------------------------------------------------ scenarios

#[test]
fn benign_ci_has_no_findings_and_is_benign() {
    let pb = test_playbook();
    let inv = investigation("benign-ci");
    assert_eq!(
        inv.key_name.to_string(),
        "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek"
    );
    assert_eq!(
        inv.usage.total_calls, 12,
        "the -backup key's usage is not this key's"
    );
    let a = assess(&inv, &pb);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.verdict, Verdict::Benign);
    assert_eq!(a.verdict_rule, None);
    assert!(a.drivers.is_empty());
    assert!(a.recommended_actions.is_empty());
}

#[test]
fn suspicious_human_offhours_is_malicious() {
    let pb = test_playbook();
    let inv = investigation("suspicious-human-offhours");
    assert_eq!(
        inv.key_name.key_ring(),
        "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync"
    );
    let a = assess(&inv, &pb);
    assert_well_formed(&a, &pb);
    assert_eq!(
        ids(&a),
        BTreeSet::from([
            PublicAccess,
            PrimitiveRole,
            SeparationOfDuties,
            ExternalMember,
            CreatorOffHours,
            CreatorBulkCreation,
            CreatorNewActor,
            CreatorUntrustedIp,
            RotationMissing,
            UsageUnexpectedPrincipal,
        ]),
        "{:#?}",
        a.findings
    );
    assert_eq!(a.verdict, Verdict::Malicious);
    assert_eq!(
        a.verdict_rule.as_deref(),
        Some("public-key-used-by-outsider")
    );
    assert_eq!(a.drivers, vec![PublicAccess, UsageUnexpectedPrincipal]);

    assert!(
        title(&a, PublicAccess)
            .contains("allUsers holds roles/cloudkms.cryptoKeyEncrypterDecrypter on the key")
    );
    let primitive = title(&a, PrimitiveRole);
    assert!(
        primitive.contains("group:analytics-eng@acme.example holds roles/editor"),
        "{primitive}"
    );
    assert!(
        !primitive.contains("analytics-platform-admins"),
        "an owner group is not flagged: {primitive}"
    );
    let sod = title(&a, SeparationOfDuties);
    assert!(sod.contains("user:jordan.lee@acme.example"), "{sod}");
    assert!(sod.contains("roles/cloudkms.admin on the key"), "{sod}");
    let external = title(&a, ExternalMember);
    assert!(
        external.contains("user:drop.box.2231@gmail.com"),
        "{external}"
    );
    assert!(external.contains("key ring dr-sync"), "{external}");
    assert!(
        !external.contains("allUsers"),
        "public is not external: {external}"
    );
    assert!(title(&a, CreatorOffHours).contains("Sunday 2026-11-22 02:47 UTC"));
    let bulk = title(&a, CreatorBulkCreation);
    assert!(bulk.contains("3 keys within 7m51s"), "{bulk}");
    assert!(
        bulk.contains("dr-sync/backup-key, dr-sync/export-key, dr-sync/archive-key"),
        "{bulk}"
    );
    assert_eq!(finding(&a, CreatorBulkCreation).evidence.len(), 3);
    let new_actor = title(&a, CreatorNewActor);
    assert!(
        new_actor.contains("jordan.lee@acme.example did no KMS administration"),
        "{new_actor}"
    );
    assert!(title(&a, CreatorUntrustedIp).contains("203.0.113.45, a public address"));
    assert!(title(&a, RotationMissing).contains("ENCRYPT_DECRYPT"));
    let unexpected = title(&a, UsageUnexpectedPrincipal);
    assert!(unexpected.contains("drop.box.2231@gmail.com (outside the trusted domains): 4 Decrypt calls from 198.51.100.77"), "{unexpected}");
    assert!(!unexpected.contains("jordan.lee"), "{unexpected}");

    let actions: Vec<Action> = a.recommended_actions.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![Action::Disable, Action::Revoke, Action::Rotate]
    );
    for r in &a.recommended_actions {
        assert!(
            r.reason.contains("public-key-used-by-outsider"),
            "{}",
            r.reason
        );
        assert!(
            r.reason
                .contains("public-access, usage-unexpected-principal"),
            "{}",
            r.reason
        );
    }
    assert!(
        a.recommended_actions[1].reason.contains("allUsers"),
        "{}",
        a.recommended_actions[1].reason
    );
}

#[test]
fn ransomware_precursor_is_malicious() {
    let pb = test_playbook();
    let inv = investigation("ransomware-precursor");
    assert_eq!(inv.key_name.key_id(), "ledger-exports-v2");
    let a = assess(&inv, &pb);
    assert_well_formed(&a, &pb);
    assert_eq!(
        ids(&a),
        BTreeSet::from([
            PrimitiveRole,
            ServiceAgentGranted,
            CreatorOffHours,
            CreatorNewActor,
            CreatorImpersonated,
            CreatorUntrustedIp,
            CreatorUnusualUserAgent,
            ExternalKeyMaterial,
            RotationMissing,
            UsageCrossProject,
            DestroyScheduled,
        ]),
        "{:#?}",
        a.findings
    );
    assert_eq!(a.verdict, Verdict::Malicious);
    assert_eq!(
        a.verdict_rule.as_deref(),
        Some("outside-key-material-wired-to-google-service")
    );
    assert_eq!(
        a.drivers.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([ExternalKeyMaterial, ServiceAgentGranted])
    );

    let primitive = title(&a, PrimitiveRole);
    assert!(primitive.contains("serviceAccount:deploy-bot@acme-payments-prod.iam.gserviceaccount.com holds roles/editor"), "{primitive}");
    let agents = title(&a, ServiceAgentGranted);
    assert!(agents.contains("service-731554208816@gs-project-accounts.iam.gserviceaccount.com (Cloud Storage service agent, this project"), "{agents}");
    assert!(
        agents.contains("project number 884120556307, another project"),
        "{agents}"
    );
    assert!(title(&a, CreatorOffHours).contains("Thursday 2026-11-26 01:12 UTC"));
    let new_actor = title(&a, CreatorNewActor);
    assert!(
        new_actor.contains("the history of sam.rivera@acme.example"),
        "{new_actor}"
    );
    let imp = title(&a, CreatorImpersonated);
    assert!(imp.starts_with("sam.rivera@acme.example created the key by impersonating deploy-bot@acme-payments-prod.iam.gserviceaccount.com"), "{imp}");
    assert!(title(&a, CreatorUntrustedIp).contains("198.51.100.23"));
    let ua = title(&a, CreatorUnusualUserAgent);
    assert!(ua.contains("with curl (\"curl/8.5.0\")"), "{ua}");
    assert!(ua.contains("terraform, gcloud, console"), "{ua}");
    let ext = title(&a, ExternalKeyMaterial);
    assert!(ext.contains("import-only key"), "{ext}");
    assert!(
        ext.contains("version 1 imported through import job import-ledger-01"),
        "{ext}"
    );
    assert!(title(&a, RotationMissing).contains("imported"));
    let cross = title(&a, UsageCrossProject);
    assert!(
        cross.contains("service-884120556307@gs-project-accounts.iam.gserviceaccount.com"),
        "{cross}"
    );
    assert!(cross.contains("12 Encrypt calls"), "{cross}");
    assert!(
        cross.contains("acme-payments-prod (project number 731554208816)"),
        "{cross}"
    );
    assert!(
        !cross.contains("service-731554208816"),
        "the key's own project's agent is not cross-project: {cross}"
    );
    let destroy = title(&a, DestroyScheduled);
    assert!(
        destroy.contains("scheduled the destruction of 2 key versions"),
        "{destroy}"
    );
    assert!(
        destroy.contains("payments-core-kr/payments-ledger-cmek versions 1, 2"),
        "{destroy}"
    );
    assert!(
        finding(&a, DestroyScheduled)
            .evidence
            .contains(&EvidenceRef::LogEntry {
                insert_id: "sxxor7qfa9uw2".into()
            })
    );
    assert!(
        !ids(&a).contains(&CreatorBulkCreation),
        "two keys 19 minutes apart"
    );
    assert!(
        !ids(&a).contains(&SeparationOfDuties),
        "editor is a basic role: primitive-role covers it"
    );
}

#[test]
fn data_access_off_reports_posture_only_and_is_benign() {
    let pb = test_playbook();
    let inv = investigation("data-access-off");
    assert_eq!(inv.usage.logging, DataAccessLogging::Disabled);
    let a = assess(&inv, &pb);
    assert_well_formed(&a, &pb);
    assert_eq!(
        ids(&a),
        BTreeSet::from([RotationTooLong, UsageUnknown]),
        "{:#?}",
        a.findings
    );
    assert_eq!(a.verdict, Verdict::Benign);
    assert_eq!(a.verdict_rule, None);
    assert!(title(&a, RotationTooLong).contains("every 365d, longer than the 90d maximum"));
    assert!(title(&a, UsageUnknown).contains("unknown, not zero"));
    // Sorted: usage-unknown (medium) before rotation-too-long (low).
    assert_eq!(a.findings[0].id, UsageUnknown);
}

#[test]
fn assessment_is_deterministic_and_serialisable() {
    let pb = test_playbook();
    for name in [
        "benign-ci",
        "suspicious-human-offhours",
        "ransomware-precursor",
        "data-access-off",
    ] {
        let inv = investigation(name);
        let a = assess(&inv, &pb);
        assert_eq!(a, assess(&inv, &pb), "{name}");
        let json = serde_json::to_value(&a).unwrap();
        assert!(json["verdict"].is_string(), "{name}");
    }
}

#[test]
fn access_summary_names_who_can_do_what() {
    let inv = investigation("suspicious-human-offhours");
    let summary = access(&inv);
    let users: Vec<&str> = summary.use_key.iter().map(|g| g.member.as_str()).collect();
    assert_eq!(
        users,
        [
            "allUsers",
            "user:jordan.lee@acme.example",
            "user:drop.box.2231@gmail.com",
            "group:analytics-eng@acme.example",
            "group:analytics-platform-admins@acme.example",
        ]
    );
    assert_eq!(summary.use_key[2].scope, Scope::KeyRing);
    assert_eq!(summary.use_key[3].role, "roles/editor");
    assert!(
        summary
            .administer
            .iter()
            .any(|g| g.member == "group:security-kms-admins@acme.example"
                && g.scope == Scope::Project)
    );
    assert!(
        summary
            .set_iam_policy
            .iter()
            .all(|g| g.role != "roles/editor")
    );
}

// ------------------------------------------------------------ rules on variations

#[test]
fn creator_findings_need_a_creator_and_key_findings_need_a_key() {
    let pb = test_playbook();
    let mut inv = investigation("ransomware-precursor");
    inv.creator = None;
    inv.creator_activity = None;
    inv.key = None;
    let a = assess(&inv, &pb);
    let found = ids(&a);
    for id in [
        CreatorOffHours,
        CreatorBulkCreation,
        CreatorNewActor,
        CreatorImpersonated,
        CreatorUntrustedIp,
        CreatorUnusualUserAgent,
        ExternalKeyMaterial,
        RotationMissing,
        DestroyScheduled,
    ] {
        assert!(!found.contains(&id), "{id} without its evidence");
    }
    assert!(found.contains(&ServiceAgentGranted) && found.contains(&UsageCrossProject));
}

#[test]
fn service_account_keys_and_unusual_agents_of_trusted_principals() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let creator = inv.creator.as_mut().unwrap();
    creator.service_account_key = Some("//iam.googleapis.com/projects/acme-ci-cd/serviceAccounts/terraform-ci@acme-ci-cd.iam.gserviceaccount.com/keys/4f1c2d".into());
    creator.user_agent = "python-requests/2.32.3".into();
    let a = assess(&inv, &pb);
    assert_eq!(
        ids(&a),
        BTreeSet::from([CreatorServiceAccountKey, CreatorUnusualUserAgent])
    );
    assert!(title(&a, CreatorServiceAccountKey).contains("(4f1c2d)"));
    assert!(title(&a, CreatorUnusualUserAgent).contains("python-requests"));
    assert_eq!(
        a.verdict,
        Verdict::Benign,
        "two unusual signs are not three"
    );
    assert!(a.recommended_actions.is_empty());

    inv.creator.as_mut().unwrap().caller_ip = "203.0.113.9".into();
    let a = assess(&inv, &pb);
    assert_eq!(a.verdict, Verdict::Suspicious);
    assert_eq!(a.verdict_rule.as_deref(), Some("unusual-creation"));
    assert_eq!(
        a.drivers,
        vec![
            CreatorServiceAccountKey,
            CreatorUntrustedIp,
            CreatorUnusualUserAgent
        ]
    );
    let actions: Vec<Action> = a.recommended_actions.iter().map(|r| r.action).collect();
    assert_eq!(actions, vec![Action::Revoke, Action::Rotate]);
    assert!(
        a.recommended_actions[0].reason.contains(
            "\"unusual-creation\", driven by creator-service-account-key, creator-untrusted-ip, creator-unusual-user-agent"
        ),
        "{}",
        a.recommended_actions[0].reason
    );
}

#[test]
fn rotation_wording_depends_on_the_purpose() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let key = &mut inv.key.as_mut().unwrap().key;
    key.purpose = "ASYMMETRIC_SIGN".into();
    key.rotation_period = None;
    let a = assess(&inv, &pb);
    let t = title(&a, RotationMissing);
    assert!(t.contains("ASYMMETRIC_SIGN key does not rotate"), "{t}");
    assert!(!t.contains("never rotates"), "{t}");

    let mut inv = investigation("benign-ci");
    inv.key.as_mut().unwrap().key.rotation_period = Some(Duration::from_secs(90 * 86_400 + 1));
    assert!(ids(&assess(&inv, &pb)).contains(&RotationTooLong));
    inv.key.as_mut().unwrap().key.rotation_period = Some(Duration::from_secs(90 * 86_400));
    assert!(
        !ids(&assess(&inv, &pb)).contains(&RotationTooLong),
        "exactly the maximum is fine"
    );
}

#[test]
fn new_actor_says_when_the_window_was_too_short() {
    let pb = test_playbook();
    let mut inv = investigation("suspicious-human-offhours");
    let created = inv.creator.as_ref().unwrap().timestamp.unwrap();
    inv.window.start = created - SignedDuration::from_mins(10);
    let a = assess(&inv, &pb);
    let t = title(&a, CreatorNewActor);
    assert!(t.contains("no history could be examined"), "{t}");

    // Two days of window: found new, but the window is said to be short.
    inv.window.start = created - SignedDuration::from_hours(48);
    let t = assess(&inv, &pb)
        .findings
        .into_iter()
        .find(|f| f.id == CreatorNewActor)
        .unwrap()
        .title;
    assert!(t.contains("reached back only 2d"), "{t}");

    // An admin action older than the grace period is history.
    let mut inv = investigation("suspicious-human-offhours");
    let activity = inv.creator_activity.as_mut().unwrap();
    activity.events.insert(
        0,
        AdminAction {
            method: "UpdateCryptoKey".into(),
            resource: "projects/acme-analytics-prod/locations/europe-west1/keyRings/analytics-core/cryptoKeys/bq-cmek".into(),
            time: Some(created - SignedDuration::from_hours(30)),
            insert_id: "older".into(),
        },
    );
    assert!(!ids(&assess(&inv, &pb)).contains(&CreatorNewActor));
}

#[test]
fn trusted_projects_may_use_keys_across_projects() {
    let mut pb = test_playbook();
    let inv = investigation("ransomware-precursor");
    pb.trust.projects.push("884120556307".into());
    assert!(!ids(&assess(&inv, &pb)).contains(&UsageCrossProject));
    // Without the key's project number, agents' numbers cannot be compared.
    let mut inv = investigation("ransomware-precursor");
    inv.project = None;
    assert!(!ids(&assess(&inv, &test_playbook())).contains(&UsageCrossProject));
}

#[test]
fn usage_unknown_when_logging_state_is_unknown_or_the_log_unreadable() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    inv.usage.logging = DataAccessLogging::Unknown;
    assert!(title(&assess(&inv, &pb), UsageUnknown).contains("could not be determined"));
    let mut inv = investigation("benign-ci");
    inv.gaps.push(Gap {
        evidence: "usage".into(),
        reason: GapReason::Quota,
        detail: "quota exceeded".into(),
    });
    assert!(title(&assess(&inv, &pb), UsageUnknown).contains("could not be read (quota exceeded)"));
}

#[test]
fn trusted_callers_without_a_role_are_unexpected() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let mut row = inv.usage.rows[0].clone();
    row.principal = "intern@acme.example".into();
    row.method = "Decrypt".into();
    row.calls = 2;
    inv.usage.rows.push(row.clone());
    // A metadata read is not use.
    row.principal = "stranger@example.org".into();
    row.method = "GetCryptoKey".into();
    inv.usage.rows.push(row);
    // The on-call group's (conditional) decrypter grant may include the caller.
    assert!(!ids(&assess(&inv, &pb)).contains(&UsageUnexpectedPrincipal));
    // Without it, the owner group's basic role does not count.
    inv.iam
        .project_kms_bindings
        .retain(|b| b.role != "roles/cloudkms.cryptoKeyDecrypter");
    let a = assess(&inv, &pb);
    let t = title(&a, UsageUnexpectedPrincipal);
    assert!(
        t.contains(
            "intern@acme.example (holds no role on the key, key ring or project): 2 Decrypt calls"
        ),
        "{t}"
    );
    assert!(!t.contains("stranger"), "{t}");
    // A domain-wide grant covers the caller.
    inv.iam.key.as_mut().unwrap().bindings.push(Binding {
        role: "roles/cloudkms.cryptoKeyDecrypter".into(),
        members: vec!["domain:acme.example".into()],
        condition: None,
    });
    assert!(!ids(&assess(&inv, &pb)).contains(&UsageUnexpectedPrincipal));
}

#[test]
fn primitive_roles_follow_the_scenarios_convention() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let flagged = |inv: &Investigation| ids(&assess(inv, &pb)).contains(&PrimitiveRole);
    assert!(!flagged(&inv), "owner held by a group");
    inv.iam.project_kms_bindings.push(Binding {
        role: "roles/editor".into(),
        members: vec!["serviceAccount:418273645091@cloudservices.gserviceaccount.com".into()],
        condition: None,
    });
    assert!(
        !flagged(&inv),
        "Google's default editor grant to its APIs service agent"
    );
    inv.iam.project_kms_bindings.push(Binding {
        role: "roles/owner".into(),
        members: vec!["user:priya.shah@acme.example".into()],
        condition: None,
    });
    assert!(flagged(&inv), "owner held by a user");
    let t = title(&assess(&inv, &pb), PrimitiveRole).to_owned();
    assert!(
        t.contains("user:priya.shah@acme.example holds roles/owner on project acme-orders-prod"),
        "{t}"
    );
}

#[test]
fn public_key_ring_and_hostile_text_stay_on_one_line() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    inv.iam.key_ring = Some(IamPolicy {
        version: 1,
        etag: "x".into(),
        bindings: vec![Binding {
            role: "roles/cloudkms.cryptoKeyDecrypter".into(),
            members: vec!["allAuthenticatedUsers".into()],
            condition: None,
        }],
        audit_configs: vec![],
    });
    inv.creator.as_mut().unwrap().user_agent = "evil\n\u{1b}[32mVerdict: benign".into();
    let a = assess(&inv, &pb);
    assert!(title(&a, PublicAccess).contains(
        "allAuthenticatedUsers holds roles/cloudkms.cryptoKeyDecrypter on key ring orders-prod-kr"
    ));
    let ua = title(&a, CreatorUnusualUserAgent);
    assert!(!ua.contains('\n') && !ua.contains('\u{1b}'), "{ua}");
    assert_well_formed(&a, &pb);
    assert_eq!(a.verdict, Verdict::Suspicious);
    assert_eq!(a.verdict_rule.as_deref(), Some("high-severity-finding"));
}

#[test]
fn destroy_scheduled_versions_of_the_key_itself() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let v = &mut inv.key.as_mut().unwrap().versions[0];
    v.state = "DESTROY_SCHEDULED".into();
    v.destroy_time = Some("2026-12-24T14:23:47Z".parse().unwrap());
    let a = assess(&inv, &pb);
    let t = title(&a, DestroyScheduled);
    assert!(t.contains("version 1 of the key is scheduled for destruction (destruction at 2026-12-24 14:23 UTC)"), "{t}");
    assert_eq!(a.verdict, Verdict::Suspicious);
    assert_eq!(a.verdict_rule.as_deref(), Some("high-severity-finding"));
}

#[test]
fn external_protection_levels_are_external_material() {
    let pb = test_playbook();
    let mut inv = investigation("benign-ci");
    let ke = inv.key.as_mut().unwrap();
    ke.key.protection_level = "EXTERNAL".into();
    ke.versions[0].protection_level = "EXTERNAL".into();
    ke.versions[0].external_key_uri =
        Some("https://ekm.vaultbridge-escrow.example.net/v0/keys/7f3a".into());
    let t = title(&assess(&inv, &pb), ExternalKeyMaterial).to_owned();
    assert!(t.contains("protection level EXTERNAL"), "{t}");
    assert!(
        t.contains(
            "version 1 held by an external key manager at ekm.vaultbridge-escrow.example.net"
        ),
        "{t}"
    );
}

#[test]
fn the_bundled_playbook_gives_the_same_results() {
    let bundled = crate::playbook::bundled_default().unwrap();
    let test = test_playbook();
    for name in [
        "benign-ci",
        "suspicious-human-offhours",
        "ransomware-precursor",
        "data-access-off",
    ] {
        let inv = investigation(name);
        assert_eq!(assess(&inv, &bundled), assess(&inv, &test), "{name}");
    }
}
