//! Tests of the three writers on hand-built cases: a realistic ransomware
//! set-up, a benign CI key, and the same case with hostile strings in every
//! field that comes from outside.

#![expect(
    clippy::unwrap_used,
    reason = "tests build fixed values and parse their own output"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

use super::{Format, Style, json, write};
use crate::audit::{AuditEvent, AuditLogKind};
use crate::case::{Case, CaseOutcome};
use crate::evidence::{
    AdminAction, CreatorActivity, DataAccessLogging, Gap, GapReason, IamEvidence, Investigation,
    KeyEvidence, Usage, UsageRow, Window,
};
use crate::findings::{
    Action, Assessment, EvidenceRef, Finding, FindingId, RecommendedAction, Severity, Verdict,
};
use crate::gcp::{
    Binding, Condition, CryptoKey, CryptoKeyVersion, IamPolicy, Project, ProtectedResource,
};
use crate::input::{KeySearch, Request, SourceKind, Subject};
use crate::keyname::KeyName;

const KEY: &str = "projects/acme-payments-prod/locations/us-east1/keyRings/payments-kr/cryptoKeys/tmp-export-7f3a";
const CREATOR: &str = "deploy-bot@acme-payments-prod.iam.gserviceaccount.com";

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn now() -> Timestamp {
    t("2026-11-28T09:00:00Z")
}

fn version(id: &str, state: &str, created: &str) -> CryptoKeyVersion {
    CryptoKeyVersion {
        name: format!("{KEY}/cryptoKeyVersions/{id}"),
        id: id.into(),
        state: state.into(),
        protection_level: "SOFTWARE".into(),
        algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION".into(),
        create_time: Some(t(created)),
        generate_time: Some(t(created)),
        destroy_time: None,
        destroy_event_time: None,
        import_job: None,
        import_time: None,
        external_key_uri: None,
    }
}

fn binding(role: &str, members: &[&str]) -> Binding {
    Binding {
        role: role.into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        condition: None,
    }
}

fn policy(bindings: Vec<Binding>) -> IamPolicy {
    IamPolicy {
        version: 1,
        etag: "BwYx3kz1abc=".into(),
        bindings,
        audit_configs: Vec::new(),
    }
}

/// The ransomware set-up of the bundled scenario, by hand: an impersonated
/// service account creates a key from an unknown IP with curl, grants an
/// outside account decrypt, and schedules the old key's versions for destruction.
fn ransomware() -> Case {
    let v1 = version("1", "ENABLED", "2026-11-26T01:12:40Z");
    let key = CryptoKey {
        name: KEY.into(),
        purpose: "ENCRYPT_DECRYPT".into(),
        create_time: Some(t("2026-11-26T01:12:40Z")),
        primary: Some(v1.clone()),
        rotation_period: None,
        next_rotation_time: None,
        protection_level: "SOFTWARE".into(),
        algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION".into(),
        import_only: false,
        destroy_scheduled_duration: Some(Duration::from_secs(86_400)),
        labels: BTreeMap::from([("purpose".to_owned(), "export".to_owned())]),
        crypto_key_backend: None,
    };
    let creator = AuditEvent {
        insert_id: "1k2j3h4g5f".into(),
        timestamp: Some(t("2026-11-26T01:12:40Z")),
        log: AuditLogKind::Activity,
        log_name: "projects/acme-payments-prod/logs/cloudaudit.googleapis.com%2Factivity".into(),
        service: "cloudkms.googleapis.com".into(),
        method: "CreateCryptoKey".into(),
        resource_name: KEY.into(),
        principal: CREATOR.into(),
        delegation_chain: vec!["sam.rivera@acme.example".into()],
        service_account_key: None,
        caller_ip: "198.51.100.23".into(),
        user_agent: "curl/8.4.0".into(),
        status_code: 0,
        status_message: String::new(),
        project: "acme-payments-prod".into(),
        permissions: vec!["cloudkms.cryptoKeys.create".into()],
    };
    let investigation = Investigation {
        key_name: KeyName::parse(KEY).unwrap(),
        request: Request {
            source: SourceKind::LaceworkAlert,
            id: Some("884213".into()),
            alert_type: Some("GCPNewKMSKey".into()),
            event_time: Some(t("2026-11-26T01:12:40Z")),
            subject: Subject::Keys {
                keys: vec![KeyName::parse(KEY).unwrap()],
            },
        },
        project: Some(Project {
            name: "projects/412345678901".into(),
            project_id: "acme-payments-prod".into(),
            parent: Some("folders/2233".into()),
            display_name: "Payments prod".into(),
            state: "ACTIVE".into(),
        }),
        window: Window {
            start: t("2026-11-19T01:12:40Z"),
            end: now(),
            anchor: "alert event time",
        },
        key: Some(KeyEvidence {
            key,
            versions: vec![v1],
        }),
        iam: IamEvidence {
            inherited_kms_bindings: vec![],
            key: Some(policy(vec![
                binding(
                    "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                    &[&format!("serviceAccount:{CREATOR}"), "user:exfil.ops@protonmail.com"],
                ),
                binding("roles/cloudkms.admin", &[&format!("serviceAccount:{CREATOR}")]),
            ])),
            key_ring: None,
            project_kms_bindings: vec![Binding {
                condition: Some(Condition {
                    title: "business hours".into(),
                    description: String::new(),
                    expression: "request.time.getHours(\"UTC\") < 18".into(),
                }),
                ..binding("roles/editor", &["group:payments-eng@acme.example"])
            }],
        },
        creator: Some(creator),
        creator_activity: Some(CreatorActivity {
            principal: CREATOR.into(),
            actions: BTreeMap::from([
                ("CreateCryptoKey".to_owned(), 1),
                ("DestroyCryptoKeyVersion".to_owned(), 2),
                ("SetIamPolicy".to_owned(), 1),
            ]),
            events: vec![
                AdminAction {
                    method: "CreateCryptoKey".into(),
                    resource: KEY.into(),
                    time: Some(t("2026-11-26T01:12:40Z")),
                    insert_id: "1k2j3h4g5f".into(),
                },
                AdminAction {
                    method: "DestroyCryptoKeyVersion".into(),
                    resource: "projects/acme-payments-prod/locations/us-east1/keyRings/payments-kr/cryptoKeys/ledger/cryptoKeyVersions/4".into(),
                    time: Some(t("2026-11-26T01:19:02Z")),
                    insert_id: "9z8y7x".into(),
                },
            ],
            keys_created: vec![KEY.into()],
            prior_admin: false,
            first_admin: Some(t("2026-11-26T01:12:40Z")),
            entries_read: 4,
            truncated: false,
        }),
        usage: Usage {
            logging: DataAccessLogging::Enabled {
                by: vec!["projects/acme-payments-prod".into()],
                exempted_members: Vec::new(),
            },
            total_calls: 7,
            rows: vec![UsageRow {
                principal: "exfil.ops@protonmail.com".into(),
                method: "Decrypt".into(),
                calls: 7,
                failures: 1,
                first: Some(t("2026-11-26T01:15:00Z")),
                last: Some(t("2026-11-26T01:40:00Z")),
                caller_ips: vec!["198.51.100.23".into()],
                sample_insert_ids: vec!["u1".into()],
            }],
            truncated: false,
            page_bound: 10,
        },
        protected_resources: Some(vec![ProtectedResource {
            name: "//storage.googleapis.com/projects/_/buckets/payments-exports".into(),
            project: "projects/412345678901".into(),
            project_id: "acme-payments-prod".into(),
            cloud_product: "storage".into(),
            resource_type: "storage.googleapis.com/Bucket".into(),
            location: "us-east1".into(),
            labels: BTreeMap::new(),
            crypto_key_version: None,
            crypto_key_versions: vec![format!("{KEY}/cryptoKeyVersions/1")],
            create_time: Some(t("2026-11-26T01:20:00Z")),
        }]),
        gaps: vec![Gap {
            evidence: "iam.key_ring".into(),
            reason: GapReason::PermissionDenied {
                permission: Some("cloudkms.keyRings.getIamPolicy".into()),
            },
            detail: "Permission 'cloudkms.keyRings.getIamPolicy' denied".into(),
        }],
    };
    let assessment = Assessment {
        findings: vec![
            Finding {
                id: FindingId::ExternalMember,
                severity: Severity::Critical,
                title: "user:exfil.ops@protonmail.com, outside the trusted domains, can decrypt with the key".into(),
                evidence: vec![EvidenceRef::Binding {
                    resource: KEY.into(),
                    role: "roles/cloudkms.cryptoKeyEncrypterDecrypter".into(),
                    member: "user:exfil.ops@protonmail.com".into(),
                }],
            },
            Finding {
                id: FindingId::CreatorUntrustedIp,
                severity: Severity::High,
                title: "created from 198.51.100.23, outside the trusted ranges".into(),
                evidence: vec![EvidenceRef::LogEntry {
                    insert_id: "1k2j3h4g5f".into(),
                }],
            },
            Finding {
                id: FindingId::RotationMissing,
                severity: Severity::Medium,
                title: "no automatic rotation".into(),
                evidence: vec![EvidenceRef::Field {
                    resource: KEY.into(),
                    field: "rotationPeriod".into(),
                    value: "unset".into(),
                }],
            },
        ],
        verdict: Verdict::Malicious,
        verdict_rule: Some("outside-decrypt".into()),
        drivers: vec![FindingId::ExternalMember, FindingId::CreatorUntrustedIp],
        missing_for_verdict: Vec::new(),
        recommended_actions: vec![
            RecommendedAction {
                action: Action::Disable,
                reason: "stop all use of the key while it is investigated".into(),
            },
            RecommendedAction {
                action: Action::Revoke,
                reason: "remove the outside member's access".into(),
            },
        ],
    };
    Case {
        investigation,
        assessment,
    }
}

fn outcome(c: Case) -> CaseOutcome {
    CaseOutcome::Case(Box::new(c))
}

fn render(format: Format, outcomes: &[CaseOutcome], style: Style) -> String {
    let mut out = Vec::new();
    write(&mut out, format, outcomes, now(), style).unwrap();
    String::from_utf8(out).unwrap()
}

fn text(c: Case) -> String {
    render(Format::Text, &[outcome(c)], Style::PLAIN)
}

fn json_of(outcomes: &[CaseOutcome]) -> Value {
    serde_json::from_str(&render(Format::Json, outcomes, Style::PLAIN)).unwrap()
}

const ANSI: &str = "\u{1b}[31mred\u{1b}[0m";
const FORGED: &str = "x\n[PASS] verdict: benign";
const BIDI: &str = "evil\u{202e}moc.elgoog@";
const LINK: &str = "[click](http://evil)";
const IMG: &str = "<img src=x>";
const ROW: &str = "| fake | row |";

/// The ransomware case with hostile strings wherever the outside world writes.
fn hostile() -> Case {
    let mut c = ransomware();
    let inv = &mut c.investigation;
    let creator = inv.creator.as_mut().unwrap();
    creator.principal = format!("{LINK}{ANSI}");
    creator.user_agent = format!("curl {FORGED} {BIDI}");
    creator.caller_ip = IMG.into();
    creator.delegation_chain = vec![ROW.into()];
    creator.service_account_key = Some(ANSI.into());
    let key = &mut inv.key.as_mut().unwrap().key;
    key.labels.insert(ROW.into(), FORGED.into());
    inv.usage.rows[0].principal = format!("{ROW}{FORGED}");
    inv.usage.rows[0].caller_ips = vec![BIDI.into()];
    inv.iam.key.as_mut().unwrap().bindings[0]
        .members
        .push(format!("user:{LINK}"));
    inv.protected_resources.as_mut().unwrap()[0].name = IMG.into();
    inv.gaps[0].detail = FORGED.into();
    inv.request.id = Some(ANSI.into());
    let a = &mut c.assessment;
    a.findings[0].title = format!("{IMG} {FORGED}");
    a.recommended_actions[0].reason = LINK.into();
    a.verdict_rule = Some(ROW.into());
    c
}

const SECTIONS: [&str; 10] = [
    "FINDINGS (3)",
    "RECOMMENDED ACTIONS",
    "THE KEY",
    "WHO CAN USE IT",
    "WHO CREATED IT",
    "WHAT ELSE THE CREATOR DID",
    "WHO USED IT",
    "WHAT IT PROTECTS",
    "ROTATION",
    "COULD NOT DETERMINE",
];

#[test]
fn text_puts_the_verdict_first_then_findings_actions_and_evidence_in_order() {
    let out = text(ransomware());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("MALICIOUS  {KEY}"));
    assert_eq!(lines[1], "  verdict rule: outside-decrypt");
    assert_eq!(
        lines[2],
        "  driven by: external-member, creator-untrusted-ip"
    );
    assert_eq!(
        lines[3],
        "  alert: Lacework alert 884213 (GCPNewKMSKey), event at 2026-11-26T01:12:40Z"
    );
    assert!(
        lines[5].starts_with("  evidence: INCOMPLETE: 1 item(s)"),
        "{out}"
    );
    let mut at = 0;
    for s in SECTIONS {
        let i = lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("no section {s} in\n{out}"));
        assert!(i > at, "{s} out of order in\n{out}");
        assert_eq!(lines[i - 1], "", "blank line before {s}");
        at = i;
    }
}

#[test]
fn text_findings_are_aligned_with_their_evidence_below_in_the_given_order() {
    let out = text(ransomware());
    let expected = "\
FINDINGS (3)
  CRITICAL  external-member       user:exfil.ops@protonmail.com, outside the trusted domains, can decrypt with the key
                                  evidence: binding roles/cloudkms.cryptoKeyEncrypterDecrypter to user:exfil.ops@protonmail.com on projects/acme-payments-prod/locations/us-east1/keyRings/payments-kr/cryptoKeys/tmp-export-7f3a
  HIGH      creator-untrusted-ip  created from 198.51.100.23, outside the trusted ranges
                                  evidence: log entry 1k2j3h4g5f
  MEDIUM    rotation-missing      no automatic rotation
                                  evidence: projects/acme-payments-prod/locations/us-east1/keyRings/payments-kr/cryptoKeys/tmp-export-7f3a rotationPeriod = unset

RECOMMENDED ACTIONS
  - disable: stop all use of the key while it is investigated
  - revoke: remove the outside member's access
";
    assert!(out.contains(expected), "{out}");
}

#[test]
fn text_shows_the_evidence_sections() {
    let out = text(ransomware());
    for want in [
        "  purpose: ENCRYPT_DECRYPT",
        "  created: 2026-11-26T01:12:40Z (2 days ago)",
        "  destroy delay: 1 day",
        "  labels: purpose=export",
        "  VERSION  STATE    PROTECTION  ALGORITHM                    CREATED               NOTES",
        "  1        ENABLED  SOFTWARE    GOOGLE_SYMMETRIC_ENCRYPTION  2026-11-26T01:12:40Z  primary",
        // Who can use it: the derived summary, then the bindings.
        "  can encrypt/decrypt: 3",
        "    - serviceAccount:deploy-bot@acme-payments-prod.iam.gserviceaccount.com (key, roles/cloudkms.cryptoKeyEncrypterDecrypter)",
        "    - user:exfil.ops@protonmail.com (key, roles/cloudkms.cryptoKeyEncrypterDecrypter)",
        "    - group:payments-eng@acme.example (project, roles/editor, if business hours)",
        "  can administer: 2",
        "    - serviceAccount:deploy-bot@acme-payments-prod.iam.gserviceaccount.com (key, roles/cloudkms.admin)",
        "  can set IAM policy: 1",
        "  the key ring's IAM policy could not be read: who can use the key may be understated",
        "  WHERE    ROLE                                        MEMBERS                                                                                              CONDITION",
        "  project  roles/editor                                group:payments-eng@acme.example                                                                      business hours: request.time.getHours(\"UTC\") < 18",
        // Who created it and how.
        "  principal: deploy-bot@acme-payments-prod.iam.gserviceaccount.com",
        "  impersonated by: sam.rivera@acme.example (acting as the principal above)",
        "  service-account key: none",
        "  caller IP: 198.51.100.23",
        "  user agent: curl/8.4.0",
        "  time: 2026-11-26T01:12:40Z (2 days ago)",
        "  log entry: 1k2j3h4g5f",
        // What else it did.
        "  KMS admin actions in the window: CreateCryptoKey x1, DestroyCryptoKeyVersion x2, SetIamPolicy x1",
        "  KMS admin before this key: NONE in the window (new actor)",
        // Who used it.
        "  Data Access logging: on (by projects/acme-payments-prod)",
        "  calls: 7",
        "  exfil.ops@protonmail.com  Decrypt  7      1       2026-11-26T01:15:00Z  2026-11-26T01:40:00Z  198.51.100.23",
        // What it protects.
        "  storage.googleapis.com/Bucket  //storage.googleapis.com/projects/_/buckets/payments-exports  acme-payments-prod  us-east1  1",
        // Rotation.
        "  period: NONE: no automatic rotation is scheduled",
        "  next rotation: none scheduled",
        "  primary version: 1, created 2026-11-26T01:12:40Z, age 2.3 days",
        // Gaps.
        "  - iam.key_ring: permission denied (needs cloudkms.keyRings.getIamPolicy): Permission 'cloudkms.keyRings.getIamPolicy' denied",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "missing line {want:?} in\n{out}"
        );
    }
}

#[test]
fn custom_roles_are_listed_as_unclassified() {
    let mut c = ransomware();
    c.investigation
        .iam
        .key
        .as_mut()
        .unwrap()
        .bindings
        .push(binding(
            "projects/acme-payments-prod/roles/keyOps",
            &["user:ops@acme.example"],
        ));
    let out = text(c.clone());
    assert!(
        out.contains("  custom roles (permissions not read): 1\n    - user:ops@acme.example (key, projects/acme-payments-prod/roles/keyOps)\n"),
        "{out}"
    );
    let j = json_of(&[outcome(c)]);
    let u = &j["reports"][0]["iam"]["access"]["unclassified"];
    assert_eq!(u[0]["member"], "user:ops@acme.example");
    assert_eq!(u[0]["scope"], "key");
    assert_eq!(u[0]["resource"], KEY);
}

#[test]
fn usage_is_unknown_never_unused_when_data_access_logs_are_off() {
    let mut c = ransomware();
    c.investigation.usage = Usage {
        logging: DataAccessLogging::Disabled,
        total_calls: 0,
        rows: Vec::new(),
        truncated: false,
        page_bound: 10,
    };
    let out = text(c.clone());
    assert!(
        out.contains("  calls: UNKNOWN: Data Access audit logs are off for Cloud KMS, so use of the key is not recorded (unknown is not unused)"),
        "{out}"
    );
    assert!(out.contains("  Data Access logging: off"));
    assert!(
        !out.contains("calls: 0") && !out.contains("no use recorded"),
        "{out}"
    );
    let j = json_of(&[outcome(c)]);
    assert_eq!(j["reports"][0]["usage"]["status"], "unknown");
    assert_eq!(j["reports"][0]["usage"]["total_calls"], Value::Null);
    assert_eq!(j["reports"][0]["usage"]["logging"]["state"], "disabled");
}

#[test]
fn usage_read_failure_is_unknown_too() {
    let mut c = ransomware();
    c.investigation.usage.total_calls = 0;
    c.investigation.usage.rows.clear();
    c.investigation.gaps.push(Gap {
        evidence: "usage".into(),
        reason: GapReason::Quota,
        detail: "Quota exceeded for logging read requests".into(),
    });
    let out = text(c);
    assert!(
        out.contains("  calls: UNKNOWN: the Data Access log could not be read (quota exhausted)"),
        "{out}"
    );
}

#[test]
fn truncated_usage_is_a_lower_bound() {
    let mut c = ransomware();
    c.investigation.usage.truncated = true;
    c.investigation.usage.total_calls = 10_000;
    let out = text(c.clone());
    assert!(
        out.contains("  calls: at least 10000 (bounded at 10 pages)"),
        "{out}"
    );
    let j = json_of(&[outcome(c)]);
    assert_eq!(j["reports"][0]["usage"]["status"], "lower_bound");
    assert_eq!(j["reports"][0]["usage"]["total_calls"], 10_000);
    assert_eq!(
        j["reports"][0]["usage"]["status_reasons"][0],
        "bounded at 10 pages"
    );
}

#[test]
fn asymmetric_keys_never_auto_rotate_and_show_their_newest_version() {
    let mut c = ransomware();
    let k = c.investigation.key.as_mut().unwrap();
    k.key.purpose = "ASYMMETRIC_SIGN".into();
    k.key.primary = None;
    k.versions
        .push(version("2", "ENABLED", "2026-11-27T09:00:00Z"));
    let out = text(c.clone());
    assert!(
        out.contains("  automatic rotation: not available: ASYMMETRIC_SIGN key; asymmetric keys never rotate automatically (new versions are created by hand)"),
        "{out}"
    );
    assert!(
        out.contains("  newest enabled version: 2, created 2026-11-27T09:00:00Z, age 1 day"),
        "{out}"
    );
    let j = json_of(&[outcome(c)]);
    let r = &j["reports"][0]["rotation"];
    assert_eq!(r["automatic_rotation_supported"], false);
    assert_eq!(r["current_version"]["id"], "2");
    assert_eq!(r["current_version"]["is_primary"], false);
    assert_eq!(r["current_version"]["age_seconds"], 86_400);
}

#[test]
fn rotation_shows_period_and_next_rotation() {
    let mut c = ransomware();
    let k = &mut c.investigation.key.as_mut().unwrap().key;
    k.rotation_period = Some(Duration::from_secs(90 * 86_400));
    k.next_rotation_time = Some(t("2027-02-24T01:12:40Z"));
    let out = text(c);
    assert!(
        out.contains("  period: 90 days\n  next rotation: 2027-02-24T01:12:40Z (in 87 days)"),
        "{out}"
    );
}

#[test]
fn a_benign_case_says_so_in_green_and_an_unreadable_key_is_a_gap_not_a_crash() {
    let mut c = ransomware();
    c.assessment = Assessment {
        findings: Vec::new(),
        verdict: Verdict::Benign,
        verdict_rule: None,
        drivers: Vec::new(),
        missing_for_verdict: Vec::new(),
        recommended_actions: Vec::new(),
    };
    c.investigation.key = None;
    c.investigation.creator = None;
    c.investigation.creator_activity = None;
    c.investigation.protected_resources = None;
    let out = render(Format::Text, &[outcome(c.clone())], Style { color: true });
    assert!(
        out.starts_with(&format!("\u{1b}[1;32mBENIGN\u{1b}[0m  {KEY}\n")),
        "{out}"
    );
    assert!(out.contains("  verdict rule: none matched (benign by default)"));
    assert!(out.contains("  driven by: no finding"));
    assert!(out.contains("  the key could not be read (see COULD NOT DETERMINE)"));
    assert!(out.contains("  unknown: the key could not be read"));
    assert!(out.contains("  none for this verdict"));
    let j = json_of(&[outcome(c)]);
    let r = &j["reports"][0];
    assert_eq!(r["verdict"], "benign");
    assert_eq!(r["verdict_rule"], Value::Null);
    assert_eq!(r["key"]["name"], KEY);
    assert_eq!(r["key"]["key_id"], "tmp-export-7f3a");
    assert_eq!(r["key"]["details"], Value::Null);
    assert_eq!(r["rotation"], Value::Null);
    assert_eq!(r["creator"], Value::Null);
    assert_eq!(r["protected_resources"], Value::Null);
}

#[test]
fn style_off_gives_no_escape_codes_and_style_on_only_the_writers_own() {
    let plain = text(ransomware());
    assert!(!plain.contains('\u{1b}'));
    let colored = render(
        Format::Text,
        &[outcome(ransomware())],
        Style { color: true },
    );
    assert!(colored.starts_with("\u{1b}[1;31mMALICIOUS\u{1b}[0m"));
    assert!(colored.contains("\u{1b}[1;31mCRITICAL\u{1b}[0m"));
    assert!(colored.contains("\u{1b}[1;33mMEDIUM\u{1b}[0m"));
    // Stripping the writer's own codes gives the plain report back.
    let mut stripped = colored.clone();
    for code in [
        "\u{1b}[1;31m",
        "\u{1b}[1;33m",
        "\u{1b}[1;32m",
        "\u{1b}[1m",
        "\u{1b}[0m",
    ] {
        stripped = stripped.replace(code, "");
    }
    assert_eq!(stripped, plain);
    // Markdown and JSON never colour.
    for f in [Format::Markdown, Format::Json] {
        assert!(!render(f, &[outcome(ransomware())], Style { color: true }).contains('\u{1b}'));
    }
}

#[test]
fn style_detection_follows_the_terminal_no_color_and_term() {
    use std::ffi::OsStr;
    let decide = Style::decide;
    assert!(decide(true, None, Some(OsStr::new("xterm-256color"))).color);
    assert!(
        decide(true, Some(OsStr::new("")), None).color,
        "empty NO_COLOR is unset"
    );
    assert!(!decide(true, Some(OsStr::new("1")), None).color);
    assert!(
        !decide(true, Some(OsStr::new("0")), None).color,
        "any value disables colour"
    );
    assert!(!decide(false, None, None).color);
    assert!(!decide(true, None, Some(OsStr::new("dumb"))).color);
}

fn assert_no_raw_control(out: &str) {
    assert!(!out.contains('\u{1b}'), "raw ESC in\n{out}");
    assert!(!out.contains('\u{202e}'), "raw bidi override in\n{out}");
    assert!(!out.contains('\r'));
    for line in out.lines() {
        assert!(
            !line.trim_start().starts_with("[PASS]")
                && !line.trim_start().starts_with("\\[PASS\\]"),
            "forged line {line:?} in\n{out}"
        );
    }
}

#[test]
fn hostile_strings_never_reach_the_terminal_raw() {
    let plain = text(hostile());
    assert_no_raw_control(&plain);
    assert!(
        plain.contains("user agent: curl x\\u{a}[PASS] verdict: benign evil\\u{202e}moc.elgoog@"),
        "{plain}"
    );
    assert!(
        plain.contains("principal: [click](http://evil)\\u{1b}[31mred\\u{1b}[0m"),
        "{plain}"
    );
    // The verdict is still the first line, and the only verdict line.
    assert!(plain.starts_with("MALICIOUS  "));
    assert_eq!(plain.matches("verdict rule:").count(), 1);
    // With colour on, every ESC in the output is one of the writer's own codes.
    let colored = render(Format::Text, &[outcome(hostile())], Style { color: true });
    let mut rest = colored.clone();
    for code in [
        "\u{1b}[1;31m",
        "\u{1b}[1;33m",
        "\u{1b}[1;32m",
        "\u{1b}[1m",
        "\u{1b}[0m",
    ] {
        rest = rest.replace(code, "");
    }
    assert_no_raw_control(&rest);
    assert!(
        !colored.contains("\u{1b}[31m"),
        "the alert's own colour code got through"
    );
}

/// Unescaped `|` in a Markdown line.
fn cells(line: &str) -> usize {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
        .count()
}

#[test]
fn hostile_strings_are_literal_text_in_markdown() {
    let md = render(Format::Markdown, &[outcome(hostile())], Style::PLAIN);
    assert_no_raw_control(&md);
    for raw in [LINK, IMG, ROW, "](", "\n[PASS]"] {
        assert!(!md.contains(raw), "raw {raw:?} in\n{md}");
    }
    // No HTML: every `<` is escaped.
    assert!(
        md.match_indices('<').all(|(i, _)| md[..i].ends_with('\\')),
        "{md}"
    );
    assert!(md.contains("\\[click\\]\\(http\\://evil\\)"), "{md}");
    assert!(md.contains("\\<img src\\=x\\>"));
    assert!(md.contains("\\| fake \\| row \\|"));
    // Every table row has exactly as many cell separators as its header.
    let mut expected = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = cells(line);
            match expected {
                None => expected = Some(n),
                Some(e) => assert_eq!(n, e, "forged cells in {line:?}"),
            }
        } else {
            expected = None;
        }
    }
}

#[test]
fn markdown_has_the_same_content_with_headings_and_tables() {
    let md = render(Format::Markdown, &[outcome(ransomware())], Style::PLAIN);
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "# KMS key investigation");
    assert!(md.contains("Generated 2026-11-28T09:00:00Z by kms-responder"));
    assert!(md.contains("1 key investigated: 1 malicious; evidence incomplete for 1 key."));
    let headline = lines.iter().position(|l| l.starts_with("## ")).unwrap();
    assert!(
        lines[headline].starts_with("## **MALICIOUS**  projects/acme\\-payments\\-prod/"),
        "{md}"
    );
    assert_eq!(lines[headline + 2], "- **verdict rule:** outside\\-decrypt");
    let mut at = headline;
    for s in [
        "### Findings (3)",
        "### Recommended actions",
        "### The key",
        "### Who can use it",
        "### Who created it",
        "### What else the creator did",
        "### Who used it",
        "### What it protects",
        "### Rotation",
        "### Could not determine",
    ] {
        let i = lines
            .iter()
            .position(|l| *l == s)
            .unwrap_or_else(|| panic!("{s} in\n{md}"));
        assert!(i > at, "{s} out of order");
        at = i;
    }
    for want in [
        "| Severity | Finding | Title | Evidence |",
        "|---|---|---|---|",
        "| **HIGH** | creator-untrusted-ip | created from 198\\.51\\.100\\.23, outside the trusted ranges | log entry 1k2j3h4g5f |",
        "| Where | Role | Members | Condition |",
        "| Principal | Method | Calls | Failed | First | Last | Caller IPs |",
        "- **impersonated by:** sam\\.rivera@acme\\.example (acting as the principal above)",
        "- **calls:** 7",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{md}");
    }
    // A table always follows a blank line (GitHub needs it).
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("| ") && !lines[i - 1].starts_with('|') {
            assert_eq!(lines[i - 1], "", "no blank line before table at {i}");
        }
    }
}

#[test]
fn hostile_strings_are_kept_verbatim_in_json() {
    let j = json_of(&[outcome(hostile())]);
    let r = &j["reports"][0];
    assert_eq!(r["creator"]["principal"], format!("{LINK}{ANSI}"));
    assert_eq!(r["creator"]["user_agent"], format!("curl {FORGED} {BIDI}"));
    assert_eq!(r["creator"]["caller_ip"], IMG);
    assert_eq!(r["creator"]["delegation_chain"][0], ROW);
    assert_eq!(r["key"]["details"]["labels"][ROW], FORGED);
    assert_eq!(r["usage"]["rows"][0]["principal"], format!("{ROW}{FORGED}"));
    assert_eq!(r["findings"][0]["title"], format!("{IMG} {FORGED}"));
    assert_eq!(r["verdict_rule"], ROW);
    assert_eq!(r["alert"]["id"], ANSI);
    assert_eq!(r["gaps"][0]["detail"], FORGED);
    // ...and the document itself is plain ASCII-safe JSON: no raw control characters.
    let raw = render(Format::Json, &[outcome(hostile())], Style::PLAIN);
    assert!(!raw.contains('\u{1b}'));
}

#[test]
fn json_report_has_the_documented_shape() {
    let j = json_of(&[outcome(ransomware())]);
    assert_eq!(j["schema_version"], json::SCHEMA_VERSION);
    assert_eq!(j["tool_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["generated_at"], "2026-11-28T09:00:00Z");
    let r = &j["reports"][0];
    assert_eq!(r["schema_version"], super::json::SCHEMA_VERSION);
    assert_eq!(r["alert"]["source"], "lacework_alert");
    assert_eq!(r["alert"]["id"], "884213");
    assert_eq!(r["alert"]["alert_type"], "GCPNewKMSKey");
    assert_eq!(r["alert"]["event_time"], "2026-11-26T01:12:40Z");
    assert_eq!(r["findings"][0]["id"], "external-member");
    assert_eq!(r["findings"][0]["severity"], "critical");
    assert_eq!(r["findings"][0]["evidence"][0]["kind"], "binding");
    assert_eq!(r["findings"][1]["evidence"][0]["insert_id"], "1k2j3h4g5f");
    assert_eq!(r["verdict"], "malicious");
    assert_eq!(r["verdict_rule"], "outside-decrypt");
    assert_eq!(
        r["drivers"],
        serde_json::json!(["external-member", "creator-untrusted-ip"])
    );
    assert_eq!(r["gaps"][0]["reason"], "permission_denied");
    assert_eq!(r["gaps"][0]["permission"], "cloudkms.keyRings.getIamPolicy");
    assert_eq!(r["recommended_actions"][1]["action"], "revoke");
    assert_eq!(
        r["creator"]["delegation_chain"][0],
        "sam.rivera@acme.example"
    );
    assert_eq!(r["usage"]["status"], "complete");
    assert_eq!(r["usage"]["total_calls"], 7);
    assert_eq!(r["iam"]["key_ring"], Value::Null);
    assert_eq!(
        r["iam"]["access"]["set_iam_policy"][0]["role"],
        "roles/cloudkms.admin"
    );
    assert_eq!(r["iam"]["access"]["encrypt_decrypt"][2]["scope"], "project");
    let project_grant = &r["iam"]["access"]["encrypt_decrypt"][2];
    assert_eq!(project_grant["condition"], "business hours");
    assert_eq!(project_grant["resource"], "projects/acme-payments-prod");
    assert_eq!(r["rotation"]["period_seconds"], Value::Null);
    assert_eq!(r["rotation"]["current_version"]["age_seconds"], 200_840);
    assert_eq!(
        r["key"]["details"]["destroy_scheduled_duration_seconds"],
        86_400
    );
    assert_eq!(
        r["protected_resources"][0]["crypto_key_versions"][0],
        format!("{KEY}/cryptoKeyVersions/1")
    );
    // Gaps without a permission leave the field out.
    let mut c = ransomware();
    c.investigation.gaps[0].reason = GapReason::Timeout;
    let j = json_of(&[outcome(c)]);
    assert!(j["reports"][0]["gaps"][0].get("permission").is_none());
}

fn unresolved() -> CaseOutcome {
    CaseOutcome::NoKeyFound {
        request: Box::new(Request {
            source: SourceKind::LaceworkAlert,
            id: Some("884299".into()),
            alert_type: Some("GCPNewKMSKey".into()),
            event_time: Some(t("2026-11-22T02:00:00Z")),
            subject: Subject::Search(search()),
        }),
        search: search(),
        detail: format!("no CreateCryptoKey entry matches {FORGED}"),
    }
}

fn search() -> KeySearch {
    KeySearch {
        project: "acme-analytics-prod".into(),
        key_id: Some("backup-key".into()),
        principal: Some(format!("jordan.lee@acme.example{ANSI}")),
        start: t("2026-11-22T02:00:00Z"),
        end: t("2026-11-22T03:00:00Z"),
    }
}

#[test]
fn unresolved_alerts_are_reported_in_every_format() {
    let outcomes = [outcome(ransomware()), unresolved()];
    let out = render(Format::Text, &outcomes, Style::PLAIN);
    assert_no_raw_control(&out);
    assert!(
        out.contains(&format!(
            "\n{}\nNO KEY FOUND  in project acme-analytics-prod\n",
            "─".repeat(72)
        )),
        "{out}"
    );
    assert!(out.contains("  searched for: key backup-key created by jordan.lee@acme.example\\u{1b}[31mred\\u{1b}[0m between 2026-11-22T02:00:00Z and 2026-11-22T03:00:00Z"), "{out}");
    assert!(out.ends_with("\n1 key investigated: 1 malicious; 1 alert with no key found; evidence incomplete for 1 key.\n"), "{out}");
    let md = render(Format::Markdown, &outcomes, Style::PLAIN);
    assert_no_raw_control(&md);
    assert!(
        md.contains("## **NO KEY FOUND**  in project acme\\-analytics\\-prod"),
        "{md}"
    );
    let j = json_of(&outcomes);
    assert_eq!(j["reports"].as_array().unwrap().len(), 1);
    let u = &j["unresolved"][0];
    assert_eq!(u["alert"]["id"], "884299");
    assert_eq!(u["search"]["key_id"], "backup-key");
    assert_eq!(
        u["search"]["principal"],
        format!("jordan.lee@acme.example{ANSI}")
    );
    assert_eq!(
        u["detail"],
        format!("no CreateCryptoKey entry matches {FORGED}")
    );
}

#[test]
fn an_empty_batch_is_still_a_valid_document() {
    let j = json_of(&[]);
    assert_eq!(j["reports"], serde_json::json!([]));
    assert_eq!(j["unresolved"], serde_json::json!([]));
    assert!(validate_document(&j).is_empty());
    assert_eq!(render(Format::Text, &[], Style::PLAIN), "");
}

// --- The published schema --------------------------------------------------

fn schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report-schema.json")
}

fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&json::json_schema()).unwrap();
    s.push('\n');
    s
}

#[test]
fn the_published_schema_is_the_generated_one() {
    let path = schema_path();
    let generated = schema_text();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "docs/report-schema.json differs from render::json_schema(). If the change is intended, \
         bump render::json::SCHEMA_VERSION per docs/report-format.md (additive = minor, breaking = major) \
         and regenerate with: UPDATE_SCHEMA=1 cargo test --lib render::tests::the_published_schema_is_the_generated_one"
    );
}

#[test]
fn the_schema_names_the_contract() {
    let s = json::json_schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(s["title"], "kms-responder report");
    let required: Vec<&str> = s["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in [
        "schema_version",
        "tool_version",
        "generated_at",
        "reports",
        "unresolved",
    ] {
        assert!(required.contains(&f), "{f}");
    }
    let report: Vec<&str> = s["$defs"]["Report"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in [
        "schema_version",
        "alert",
        "key",
        "iam",
        "creator",
        "creator_activity",
        "usage",
        "protected_resources",
        "rotation",
        "findings",
        "verdict",
        "verdict_rule",
        "drivers",
        "gaps",
        "recommended_actions",
    ] {
        assert!(report.contains(&f), "Report.{f} should be required");
    }
    // Finding ids in the schema are exactly the domain's.
    let ids = &s["$defs"]["Finding"]["properties"]["id"]["enum"];
    let want: Vec<&str> = FindingId::ALL.iter().map(|f| f.as_str()).collect();
    assert_eq!(ids, &serde_json::json!(want));
    // Action ids are the ones the human report shows.
    for a in [
        Action::Disable,
        Action::Rotate,
        Action::Revoke,
        Action::ScheduleDestroy,
    ] {
        let shown = super::build::action_id(a);
        let serialized = serde_json::to_value(a).unwrap();
        assert_eq!(serialized, shown);
        assert!(
            s["$defs"]["Action"]
                .to_string()
                .contains(&format!("\"{shown}\"")),
            "{shown}"
        );
    }
}

#[test]
fn json_reports_validate_against_the_schema() {
    for outcomes in [
        vec![outcome(ransomware())],
        vec![outcome(hostile()), unresolved()],
        vec![outcome({
            let mut c = ransomware();
            c.investigation.key = None;
            c.investigation.project = None;
            c.investigation.usage.logging = DataAccessLogging::Unknown;
            c
        })],
    ] {
        let j = json_of(&outcomes);
        let errors = validate_document(&j);
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(j["reports"][0]["findings"][0]["id"].is_string());
        for f in ["verdict", "gaps", "recommended_actions", "schema_version"] {
            assert!(j["reports"][0].get(f).is_some(), "{f}");
        }
    }
    // The validator does catch a broken document.
    let mut j = json_of(&[outcome(ransomware())]);
    j["reports"][0].as_object_mut().unwrap().remove("verdict");
    j["reports"][0]["findings"][0]["id"] = "no-such-finding".into();
    j["reports"][0]["usage"]["total_calls"] = "7".into();
    let errors = validate_document(&j);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

fn validate_document(doc: &Value) -> Vec<String> {
    let schema = json::json_schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, doc, "$", &mut errors);
    errors
}

/// A small JSON Schema checker for what schemars emits: `$ref` into `$defs`,
/// `type`, `enum`, `const`, `required`, `properties`, `additionalProperties`,
/// `items`, `oneOf`, `anyOf` and `format: date-time`.
fn validate(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if schema == &Value::Bool(true) {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").unwrap();
        validate(root, &root["$defs"][name], v, path, errors);
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{path}: {v} not in {e:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        errors.push(format!("{path}: {v} is not {c}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = v.as_str()
        && s.parse::<Timestamp>().is_err()
    {
        errors.push(format!("{path}: {s:?} is not RFC 3339"));
    }
    if let Some(obj) = v.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                errors.push(format!("{path}: missing {req}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, val, &format!("{path}.{k}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{path}: unexpected {k}")),
                    Some(s @ Value::Object(_)) => {
                        validate(root, s, val, &format!("{path}.{k}"), errors)
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(root, items, item, &format!("{path}[{i}]"), errors);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let matching = alts
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    validate(root, s, v, path, &mut e);
                    e.is_empty()
                })
                .count();
            if matching == 0 || (exactly_one && matching > 1) {
                errors.push(format!(
                    "{path}: {matching} of the {key} alternatives match {v}"
                ));
            }
        }
    }
}
