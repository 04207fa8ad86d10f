#![expect(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::SignedDuration;

use super::*;

/// A valid playbook with every section, used as a base for error cases.
const MINIMAL: &str = "\
investigation:
  name: test
  alert_types: [GCPNewKMSKey]
  verdict:
    malicious:
      - name: public
        all: [public-access]
";

fn parse_ok(text: &str) -> Playbook {
    parse("t.yaml", text).unwrap()
}

/// Parses `text`, expecting an error of `kind` at `line:column`; returns its Display.
fn fails(text: &str, kind: ErrorKind, line: u64, column: u64) -> String {
    let e = parse("t.yaml", text).unwrap_err();
    let shown = e.to_string();
    assert_eq!(e.kind(), kind, "{shown}");
    assert_eq!(e.location(), Some((line, column)), "{shown}");
    assert!(
        shown.starts_with(&format!("t.yaml:{line}:{column}: ")),
        "{shown}"
    );
    shown
}

/// `MINIMAL` with `extra` lines appended inside `investigation:`.
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn scenario_findings(ids: &[&str], playbook: &Playbook) -> Vec<(FindingId, Severity)> {
    ids.iter()
        .map(|s| {
            let id = FindingId::parse(s).unwrap();
            (id, playbook.severity(id))
        })
        .collect()
}

// --- the shipped playbook ---------------------------------------------------

#[test]
fn the_shipped_playbook_parses_with_a_severity_for_every_finding() {
    let p = bundled_default().unwrap();
    assert_eq!(p.name, "new-kms-key-created");
    assert_eq!(p.source_name, BUNDLED_SOURCE_NAME);
    assert!(p.alert_types.iter().any(|t| t == "GCPNewKMSKey"));
    for id in FindingId::ALL {
        assert!(p.severities.contains_key(&id), "{id} has no severity");
    }
    assert_eq!(p.severities.len(), FindingId::ALL.len());
    assert_eq!(p.severity(FindingId::PublicAccess), Severity::Critical);
    assert_eq!(p.severity(FindingId::ExternalKeyMaterial), Severity::High);
    assert_eq!(p.rotation_max, SignedDuration::from_hours(90 * 24));
    assert_eq!(p.lookback, SignedDuration::from_hours(7 * 24));
    assert_eq!(p.new_actor_grace, SignedDuration::from_hours(1));
    assert_eq!(p.bulk_creation.keys, 3);
    assert_eq!(p.bulk_creation.within, SignedDuration::from_mins(10));
    assert_eq!(p.max_log_pages, 10);
    assert_eq!(p.business_hours.time_zone_name, "UTC");
    assert_eq!(p.business_hours.days.len(), 5);
    assert!(
        p.trust
            .trusts_principal("terraform-ci@acme-ci-cd.iam.gserviceaccount.com")
    );
    assert!(p.trust.in_trusted_domain("jordan.lee@acme.example"));
    assert!(
        p.trust
            .in_trusted_domain("orders-api@acme-orders-prod.iam.gserviceaccount.com")
    );
    assert!(!p.trust.in_trusted_domain("drop.box.2231@gmail.com"));
    assert!(p.trust.trusts_caller_ip("gce-internal-ip"));
    assert!(p.trust.trusts_caller_ip("private"));
    assert!(p.trust.trusts_caller_ip("10.20.12.54"));
    assert!(!p.trust.trusts_caller_ip("203.0.113.45"));
    assert!(!p.trust.trusts_caller_ip("198.51.100.23"));
    assert!(p.trust.trusts_user_agent("terraform"));
    assert!(!p.trust.trusts_user_agent("curl"));
    assert!(p.trust.trusts_project("acme-observability"));
    assert_eq!(
        p.actions_for(Verdict::Malicious),
        [Action::Disable, Action::Revoke, Action::Rotate]
    );
    assert_eq!(
        p.actions_for(Verdict::Suspicious),
        [Action::Revoke, Action::Rotate]
    );
    assert!(p.actions_for(Verdict::Benign).is_empty());
    let response = p.response.as_ref().unwrap();
    assert!(response.projects.iter().any(|x| x == "acme-payments-prod"));
    assert_eq!(
        response.unattended,
        [Action::Disable, Action::Revoke, Action::Rotate]
    );
    assert!(!response.allows_unattended(Action::ScheduleDestroy));
    assert_eq!(response.steps.len(), 3);
    assert_eq!(response.steps[0].when.to_string(), "verdict == malicious");
    assert_eq!(
        response.rotate.period,
        Some(SignedDuration::from_hours(90 * 24))
    );
}

#[test]
fn the_shipped_playbook_is_the_file_in_the_repository() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED_SOURCE_NAME);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), BUNDLED_YAML);
    let loaded = load(&path).unwrap();
    assert_eq!(loaded.verdict, bundled_default().unwrap().verdict);
}

#[test]
fn the_shipped_verdict_rules_give_the_scenarios_expected_verdicts() {
    let p = bundled_default().unwrap();
    // mocks/scenarios/README.md, expected findings per scenario.
    let benign_ci = scenario_findings(&[], &p);
    assert!(p.verdict.first_match(&benign_ci).is_none());

    let offhours = scenario_findings(
        &[
            "public-access",
            "primitive-role",
            "separation-of-duties",
            "external-member",
            "creator-off-hours",
            "creator-bulk-creation",
            "creator-new-actor",
            "creator-untrusted-ip",
            "rotation-missing",
            "usage-unexpected-principal",
        ],
        &p,
    );
    let (verdict, rule, drivers) = p.verdict.first_match(&offhours).unwrap();
    assert_eq!(verdict, Verdict::Malicious);
    assert_eq!(rule.name, "public-key-used-by-outsider");
    assert_eq!(
        drivers,
        [FindingId::PublicAccess, FindingId::UsageUnexpectedPrincipal]
    );

    let ransomware = scenario_findings(
        &[
            "primitive-role",
            "service-agent-granted",
            "creator-off-hours",
            "creator-new-actor",
            "creator-impersonated",
            "creator-untrusted-ip",
            "creator-unusual-user-agent",
            "external-key-material",
            "rotation-missing",
            "usage-cross-project",
            "destroy-scheduled",
        ],
        &p,
    );
    let (verdict, rule, _) = p.verdict.first_match(&ransomware).unwrap();
    assert_eq!(verdict, Verdict::Malicious);
    assert_eq!(rule.name, "outside-key-material-wired-to-google-service");

    let data_access_off = scenario_findings(&["rotation-too-long", "usage-unknown"], &p);
    assert!(p.verdict.first_match(&data_access_off).is_none());
    // Posture findings alone never make an alert suspicious.
    let posture = scenario_findings(
        &[
            "rotation-too-long",
            "rotation-missing",
            "usage-unknown",
            "primitive-role",
            "separation-of-duties",
            "service-agent-granted",
        ],
        &p,
    );
    assert!(p.verdict.first_match(&posture).is_none());
    // Three odd things about the creation are suspicious; two are not.
    let odd = scenario_findings(
        &["creator-off-hours", "creator-new-actor", "rotation-missing"],
        &p,
    );
    assert!(p.verdict.first_match(&odd).is_none());
    let odder = scenario_findings(
        &[
            "creator-off-hours",
            "creator-new-actor",
            "creator-bulk-creation",
        ],
        &p,
    );
    let (verdict, rule, drivers) = p.verdict.first_match(&odder).unwrap();
    assert_eq!(verdict, Verdict::Suspicious);
    assert_eq!(rule.name, "unusual-creation");
    assert_eq!(drivers.len(), 3);
    // The assessment's verdict logic is this one.
    let as_findings: Vec<crate::findings::Finding> = odder
        .iter()
        .map(|(id, severity)| crate::findings::Finding {
            id: *id,
            severity: *severity,
            title: String::new(),
            evidence: Vec::new(),
        })
        .collect();
    let (verdict, rule, _) = crate::assess::decide(&as_findings, &p.verdict);
    assert_eq!(verdict, Verdict::Suspicious);
    assert_eq!(rule.as_deref(), Some("unusual-creation"));
}

#[test]
fn check_command_summarizes_the_playbook() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BUNDLED_SOURCE_NAME);
    assert_eq!(
        check_command(&path).unwrap(),
        "ok: new-kms-key-created (7 verdict rules, alert types GCPNewKMSKey, \
         GCPNewKMSKeyIAMPolicy, GCPKMSKeyVersionDestroyed)"
    );
    let missing = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("playbooks/no-such.yaml");
    let e = check_command(&missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Read);
    assert!(
        e.to_string()
            .contains("no-such.yaml: cannot read the playbook"),
        "{e}"
    );
}

#[test]
fn for_alert_type_picks_the_bundled_playbook() {
    assert_eq!(for_alert_type(None).unwrap().name, "new-kms-key-created");
    for t in [
        "GCPNewKMSKey",
        "gcpnewkmskey",
        "GCPNewKMSKeyIAMPolicy",
        "GCPKMSKeyVersionDestroyed",
    ] {
        assert_eq!(
            for_alert_type(Some(t)).unwrap().name,
            "new-kms-key-created",
            "{t}"
        );
    }
    let e = for_alert_type(Some("NewS3Bucket")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnsupportedAlertType);
    assert_eq!(e.location(), None);
    assert!(e.to_string().contains("\"NewS3Bucket\""), "{e}");
    assert!(e.to_string().contains("GCPNewKMSKey"), "{e}");
}

// --- defaults and the minimal playbook --------------------------------------

#[test]
fn a_minimal_playbook_takes_the_documented_defaults() {
    let p = parse_ok(MINIMAL);
    assert_eq!(p.rotation_max, SignedDuration::from_hours(90 * 24));
    assert_eq!(p.lookback, SignedDuration::from_hours(7 * 24));
    assert_eq!(p.new_actor_grace, SignedDuration::from_hours(1));
    assert_eq!(p.max_log_pages, 10);
    assert_eq!(p.bulk_creation.keys, 3);
    assert_eq!(p.bulk_creation.within, SignedDuration::from_mins(10));
    assert_eq!(p.business_hours.start, jiff::civil::time(8, 0, 0, 0));
    assert_eq!(p.business_hours.end, jiff::civil::time(18, 0, 0, 0));
    assert_eq!(p.business_hours.days.len(), 5);
    for id in FindingId::ALL {
        assert_eq!(p.severity(id), default_severity(id));
    }
    assert!(p.trust.principals.is_empty() && p.trust.ip_ranges.is_empty());
    assert_eq!(p.recommended_actions.len(), 3);
    assert!(p.response.is_none());
    assert_eq!(p.verdict.len(), 1);
}

#[test]
fn severities_override_the_defaults() {
    let p = parse_ok(&with("  severities:\n    usage-unknown: info\n"));
    assert_eq!(p.severity(FindingId::UsageUnknown), Severity::Info);
    assert_eq!(p.severity(FindingId::PublicAccess), Severity::Critical);
}

#[test]
fn the_response_half_is_typed() {
    use crate::respond::policy::{Condition, MemberSelector};
    let p = parse_ok(&format!(
        "{MINIMAL}response:\n  projects: [acme-payments-prod, \"123456789012\"]\n  unattended: [disable, revoke]\n  rotate:\n    period: 30d\n    disable_previous: true\n  revoke:\n    members: [public, creator]\n  steps:\n    - action: disable\n      when: verdict == malicious and finding public-access\n      affected_keys: true\n    - action: revoke\n      when: \"verdict >= suspicious\"\n"
    ));
    let r = p.response.clone().unwrap();
    assert_eq!(r.projects, ["acme-payments-prod", "123456789012"]);
    assert_eq!(r.unattended, [Action::Disable, Action::Revoke]);
    assert_eq!(r.rotate.period, Some(SignedDuration::from_hours(30 * 24)));
    assert!(r.rotate.disable_previous);
    assert_eq!(
        r.revoke.members,
        [MemberSelector::Public, MemberSelector::Creator]
    );
    assert_eq!(r.steps.len(), 2);
    assert!(r.steps[0].affected_keys && !r.steps[1].affected_keys);
    assert_eq!(
        r.steps[0].when,
        Condition::And(vec![
            Condition::Verdict(crate::respond::policy::Compare::Eq, Verdict::Malicious),
            Condition::Finding(FindingId::PublicAccess),
        ])
    );
    assert!(r.allows_project("ACME-payments-prod", &[]));
    assert!(!r.allows_project("acme-hr-prod", &["acme-hr-prod"]));

    // Absent or empty: no policy; `{}`: the defaults (nothing unattended).
    assert!(parse_ok(MINIMAL).response.is_none());
    assert!(
        parse_ok(&format!("{MINIMAL}response:\n"))
            .response
            .is_none()
    );
    let empty = parse_ok(&format!("{MINIMAL}response: {{}}\n"));
    let defaults = empty.response.clone().unwrap();
    assert!(defaults.unattended.is_empty() && defaults.steps.is_empty());
    assert_eq!(defaults.revoke.members, MemberSelector::ALL);
    assert_eq!(empty.response_policy(), defaults);
    assert!(defaults.allows_project("acme-hr-prod", &["acme-hr-prod"]));
    assert!(!defaults.allows_project("acme-orders-prod", &["acme-hr-prod"]));
}

#[test]
fn response_errors_are_located() {
    let base = format!("{MINIMAL}response:\n  unattended: [disable]\n  steps:\n");
    // Line 11 is the first step's first line.
    let shown = fails(
        &format!("{base}    - action: disable\n      when: verdict == malicous\n"),
        ErrorKind::BadCondition,
        12,
        24,
    );
    assert!(
        shown.contains("bad condition in response.steps[0].when: unknown verdict \"malicous\""),
        "{shown}"
    );
    assert!(shown.ends_with("did you mean \"malicious\"?"), "{shown}");
    // Quoted: the column still points at the word.
    fails(
        &format!("{base}    - action: disable\n      when: \"verdict = malicious\"\n"),
        ErrorKind::BadCondition,
        12,
        22,
    );
    let shown = fails(
        &format!("{base}    - action: revoke\n      when: always\n"),
        ErrorKind::InvalidValue,
        11,
        15,
    );
    assert!(
        shown.contains("which response.unattended does not allow"),
        "{shown}"
    );
    let shown = fails(
        &format!("{base}    - action: disabel\n      when: always\n"),
        ErrorKind::UnknownAction,
        11,
        15,
    );
    assert!(shown.contains("did you mean \"disable\"?"), "{shown}");
    let shown = fails(
        &format!("{base}    - action: disable\n"),
        ErrorKind::MissingField,
        11,
        7,
    );
    assert!(shown.contains("missing required field `when`"), "{shown}");
    fails(
        &format!("{base}    - action: disable\n      when: always\n      affected_keys: maybe\n"),
        ErrorKind::InvalidValue,
        13,
        22,
    );
    let shown = fails(
        &format!("{base}    - action: disable\n      whn: always\n"),
        ErrorKind::UnknownField,
        12,
        7,
    );
    assert!(
        shown.contains("in a response step (allowed: action, when, affected_keys)"),
        "{shown}"
    );
    let shown = fails(
        &format!("{MINIMAL}response:\n  projets: []\n"),
        ErrorKind::UnknownField,
        9,
        3,
    );
    assert!(shown.contains("in response (allowed: projects"), "{shown}");
    assert!(shown.ends_with("did you mean \"projects\"?"), "{shown}");
    fails(
        &format!("{MINIMAL}response:\n  projects: [projects/acme-hr-prod]\n"),
        ErrorKind::BadPattern,
        9,
        14,
    );
    fails(
        &format!("{MINIMAL}response:\n  unattended: [disable, disable]\n"),
        ErrorKind::Duplicate,
        9,
        25,
    );
    fails(
        &format!("{MINIMAL}response:\n  rotate:\n    period: 12h\n"),
        ErrorKind::InvalidValue,
        10,
        13,
    );
    let shown = fails(
        &format!("{MINIMAL}response:\n  revoke:\n    members: [public, everyone]\n"),
        ErrorKind::UnknownMember,
        10,
        23,
    );
    assert!(
        shown.contains("unknown member kind \"everyone\""),
        "{shown}"
    );
    fails(
        &format!("{MINIMAL}response:\n  revoke:\n    members: []\n"),
        ErrorKind::InvalidValue,
        10,
        14,
    );
}

// --- errors, each at its node -----------------------------------------------

#[test]
fn unknown_fields_name_the_section_the_allowed_fields_and_a_suggestion() {
    let shown = fails(&with("  lookbak: 7d\n"), ErrorKind::UnknownField, 8, 3);
    assert!(
        shown.contains("unknown field \"lookbak\" in investigation (allowed: name, alert_types,"),
        "{shown}"
    );
    assert!(shown.ends_with("did you mean \"lookback\"?"), "{shown}");

    let shown = fails(
        &format!("{MINIMAL}respnse: {{}}\n"),
        ErrorKind::UnknownField,
        8,
        1,
    );
    assert!(
        shown.contains("in the top level (allowed: investigation, response)"),
        "{shown}"
    );

    let shown = fails(
        &with("  trust:\n    principals: []\n    ip_range: [10.0.0.0/8]\n"),
        ErrorKind::UnknownField,
        10,
        5,
    );
    assert!(
        shown.contains("in trust (allowed: principals, domains, ip_ranges"),
        "{shown}"
    );
    assert!(shown.contains("did you mean \"ip_ranges\"?"), "{shown}");
}

#[test]
fn every_section_names_itself_in_unknown_field_errors() {
    let cases = [
        ("the top level", "zzz: 1\n".to_owned()),
        ("investigation", with("  zzz: 1\n")),
        (
            "business_hours",
            with("  business_hours:\n    zzz: 1\n"),
        ),
        ("trust", with("  trust:\n    zzz: 1\n")),
        ("bulk_creation", with("  bulk_creation:\n    zzz: 1\n")),
        (
            "verdict",
            "investigation:\n  name: t\n  alert_types: [A]\n  verdict:\n    zzz: 1\n".to_owned(),
        ),
        (
            "a verdict rule",
            "investigation:\n  name: t\n  alert_types: [A]\n  verdict:\n    malicious:\n      - name: r\n        zzz: 1\n"
                .to_owned(),
        ),
        (
            "recommended_actions",
            with("  recommended_actions:\n    zzz: 1\n"),
        ),
    ];
    for (section, text) in cases {
        let e = parse("t.yaml", &text).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownField, "{e}");
        assert!(
            e.to_string()
                .contains(&format!("unknown field \"zzz\" in {section} (allowed:")),
            "{section}: {e}"
        );
    }
}

#[test]
fn an_unknown_finding_id_in_a_rule_points_at_it_and_lists_the_valid_ones() {
    let text = "\
investigation:
  name: test
  alert_types: [GCPNewKMSKey]
  verdict:
    malicious:
      - name: public
        all: [usage-unexpected-principal]
        any: [external-member, public-acess]
";
    let shown = fails(text, ErrorKind::UnknownFindingId, 8, 32);
    assert!(
        shown.starts_with(
            "t.yaml:8:32: unknown finding id \"public-acess\" in verdict.malicious[0].any \
             (valid: public-access, primitive-role, "
        ),
        "{shown}"
    );
    assert!(shown.contains("destroy-scheduled)"), "{shown}");
    assert!(
        shown.ends_with("; did you mean \"public-access\"?"),
        "{shown}"
    );
}

#[test]
fn an_unknown_finding_id_in_severities_points_at_the_key() {
    let shown = fails(
        &with("  severities:\n    usage-unknown: low\n    rotation-to-long: low\n"),
        ErrorKind::UnknownFindingId,
        10,
        5,
    );
    assert!(
        shown.contains("\"rotation-to-long\" in severities"),
        "{shown}"
    );
    assert!(
        shown.contains("did you mean \"rotation-too-long\"?"),
        "{shown}"
    );
}

#[test]
fn an_unknown_severity_points_at_the_value() {
    let shown = fails(
        &with("  severities:\n    usage-unknown: severe\n"),
        ErrorKind::UnknownSeverity,
        9,
        20,
    );
    assert!(
        shown.contains(
            "unknown severity \"severe\" in severities.usage-unknown \
             (valid: info, low, medium, high, critical)"
        ),
        "{shown}"
    );
    let text = "\
investigation:
  name: t
  alert_types: [A]
  verdict:
    suspicious:
      - name: high
        min_severity: hihg
";
    let shown = fails(text, ErrorKind::UnknownSeverity, 7, 23);
    assert!(shown.contains("did you mean \"high\"?"), "{shown}");
}

#[test]
fn bad_durations_say_how_to_write_one() {
    let shown = fails(&with("  lookback: 7 days\n"), ErrorKind::BadDuration, 8, 13);
    assert!(
        shown.contains(
            "bad duration \"7 days\" for lookback: write a whole number and a unit, \
             like \"7d\", \"36h\", \"10m\" or \"30s\""
        ),
        "{shown}"
    );
    fails(&with("  rotation_max: 90\n"), ErrorKind::BadDuration, 8, 17);
    fails(
        &with("  new_actor_grace: 1.5h\n"),
        ErrorKind::BadDuration,
        8,
        20,
    );
    fails(&with("  lookback: -7d\n"), ErrorKind::BadDuration, 8, 13);
    fails(
        &with("  bulk_creation:\n    keys: 3\n    within: 10w\n"),
        ErrorKind::BadDuration,
        10,
        13,
    );
    fails(
        &with("  lookback: 99999999999d\n"),
        ErrorKind::BadDuration,
        8,
        13,
    );
}

#[test]
fn out_of_range_values_give_the_range() {
    let shown = fails(
        &with("  rotation_max: 12h\n"),
        ErrorKind::InvalidValue,
        8,
        17,
    );
    assert!(
        shown.contains("rotation_max 12h is out of range: use 1d to 36500d"),
        "{shown}"
    );
    let shown = fails(&with("  lookback: 401d\n"), ErrorKind::InvalidValue, 8, 13);
    assert!(shown.contains("use 1h to 400d"), "{shown}");
    let shown = fails(
        &with("  max_log_pages: 0\n"),
        ErrorKind::InvalidValue,
        8,
        18,
    );
    assert!(
        shown.contains("max_log_pages must be a whole number from 1 to 1000, not \"0\""),
        "{shown}"
    );
    fails(
        &with("  max_log_pages: -3\n"),
        ErrorKind::InvalidValue,
        8,
        18,
    );
    fails(
        &with("  bulk_creation:\n    keys: 1\n    within: 10m\n"),
        ErrorKind::InvalidValue,
        9,
        11,
    );
    let shown = fails(
        &with("  lookback: 2h\n  new_actor_grace: 2h\n"),
        ErrorKind::InvalidValue,
        9,
        20,
    );
    assert!(
        shown.contains("new_actor_grace 2h must be shorter than lookback 2h"),
        "{shown}"
    );
}

#[test]
fn business_hours_errors() {
    let hours = |tz: &str, days: &str, start: &str, end: &str| {
        with(&format!(
            "  business_hours:\n    time_zone: {tz}\n    days: {days}\n    start: {start}\n    end: {end}\n"
        ))
    };
    let shown = fails(
        &hours("Mars/Olympus_Mons", "[mon]", "\"08:00\"", "\"18:00\""),
        ErrorKind::BadTimeZone,
        9,
        16,
    );
    assert!(
        shown.contains(
            "unknown time zone \"Mars/Olympus_Mons\" in business_hours.time_zone: use an IANA"
        ),
        "{shown}"
    );
    fails(
        &hours("../../etc/passwd", "[mon]", "\"08:00\"", "\"18:00\""),
        ErrorKind::BadTimeZone,
        9,
        16,
    );
    let shown = fails(
        &hours("UTC", "[]", "\"08:00\"", "\"18:00\""),
        ErrorKind::EmptyDays,
        10,
        11,
    );
    assert!(shown.contains("business_hours.days is empty"), "{shown}");
    let shown = fails(
        &hours("UTC", "[mon, tue, thurs]", "\"08:00\"", "\"18:00\""),
        ErrorKind::UnknownDay,
        10,
        22,
    );
    assert!(
        shown.contains("(valid: mon, tue, wed, thu, fri, sat, sun)"),
        "{shown}"
    );
    fails(
        &hours("UTC", "[mon, monday]", "\"08:00\"", "\"18:00\""),
        ErrorKind::Duplicate,
        10,
        17,
    );
    let shown = fails(
        &hours("UTC", "[mon]", "\"18:00\"", "\"08:00\""),
        ErrorKind::StartNotBeforeEnd,
        12,
        10,
    );
    assert!(
        shown.contains("business_hours.end \"08:00\" is not after start \"18:00\""),
        "{shown}"
    );
    fails(
        &hours("UTC", "[mon]", "\"08:00\"", "\"08:00\""),
        ErrorKind::StartNotBeforeEnd,
        12,
        10,
    );
    let shown = fails(
        &hours("UTC", "[mon]", "\"8am\"", "\"18:00\""),
        ErrorKind::BadTime,
        11,
        12,
    );
    assert!(shown.contains("write 24-hour HH:MM"), "{shown}");
    fails(
        &hours("UTC", "[mon]", "\"08:00\"", "\"24:00\""),
        ErrorKind::BadTime,
        12,
        10,
    );
    // Unquoted times stay text (no YAML 1.1 sexagesimal numbers).
    let p = parse_ok(&hours("UTC", "[Monday, sat]", "08:30", "17:45"));
    assert_eq!(p.business_hours.start, jiff::civil::time(8, 30, 0, 0));
    assert_eq!(
        p.business_hours.days,
        [jiff::civil::Weekday::Monday, jiff::civil::Weekday::Saturday]
    );
}

#[test]
fn trust_errors() {
    let trust = |body: &str| with(&format!("  trust:\n{body}"));
    let shown = fails(
        &trust("    ip_ranges: [private, 10.0.0.0/33]\n"),
        ErrorKind::BadIpRange,
        9,
        26,
    );
    assert!(
        shown.contains(
            "bad IP range \"10.0.0.0/33\" in trust.ip_ranges: write a CIDR range like 10.0.0.0/8, \
             an address, or one of the caller-IP names private, gce-internal-ip"
        ),
        "{shown}"
    );
    let shown = fails(
        &trust("    ip_ranges:\n      - 10.20.1.0/16\n"),
        ErrorKind::BadIpRange,
        10,
        9,
    );
    assert!(shown.contains("did you mean 10.20.0.0/16?"), "{shown}");
    fails(
        &trust("    ip_ranges: [corp-vpn]\n"),
        ErrorKind::BadIpRange,
        9,
        17,
    );

    let shown = fails(
        &trust("    principals: [\"serviceAccount:ci@p.iam.gserviceaccount.com\"]\n"),
        ErrorKind::BadPattern,
        9,
        18,
    );
    assert!(
        shown.contains("without the IAM member prefix `serviceAccount:`"),
        "{shown}"
    );
    fails(
        &trust("    principals: [\"*@*\"]\n"),
        ErrorKind::BadPattern,
        9,
        18,
    );
    fails(
        &trust("    principals: [jordan]\n"),
        ErrorKind::BadPattern,
        9,
        18,
    );
    let shown = fails(
        &trust("    domains: [\"*.com\"]\n"),
        ErrorKind::BadPattern,
        9,
        15,
    );
    assert!(shown.contains("is too broad"), "{shown}");
    fails(
        &trust("    domains: [jordan@acme.example]\n"),
        ErrorKind::BadPattern,
        9,
        15,
    );
    let shown = fails(
        &trust("    user_agents: [terraform, gcloud-sdk]\n"),
        ErrorKind::UnknownUserAgent,
        9,
        30,
    );
    assert!(shown.contains("did you mean \"gcloud\"?"), "{shown}");
    fails(
        &trust("    projects: [Acme-Prod]\n"),
        ErrorKind::BadPattern,
        9,
        16,
    );
    fails(
        &trust("    projects: [acme-*]\n"),
        ErrorKind::BadPattern,
        9,
        16,
    );
    let shown = fails(
        &trust("    projects: [projects/acme-observability]\n"),
        ErrorKind::BadPattern,
        9,
        16,
    );
    assert!(
        shown.contains("write the bare id, like \"acme-observability\""),
        "{shown}"
    );
    let p = parse_ok(&trust(
        "    projects: [acme-observability, \"884120556307\"]\n",
    ));
    assert_eq!(p.trust.projects, ["acme-observability", "884120556307"]);
    assert!(p.trust.trusts_project("884120556307"));
    assert!(!p.trust.trusts_project("acme-observability-2"));
    fails(
        &trust("    domains: [acme.example, ACME.example]\n"),
        ErrorKind::Duplicate,
        9,
        29,
    );
}

#[test]
fn unknown_actions_are_listed() {
    let shown = fails(
        &with("  recommended_actions:\n    malicious: [disable, delete]\n"),
        ErrorKind::UnknownAction,
        9,
        26,
    );
    assert!(
        shown.contains(
            "unknown action \"delete\" in recommended_actions.malicious \
             (valid: disable, rotate, revoke, schedule-destroy)"
        ),
        "{shown}"
    );
    fails(
        &with("  recommended_actions:\n    suspicious: [revoke, revoke]\n"),
        ErrorKind::Duplicate,
        9,
        26,
    );
    fails(
        &with("  recommended_actions:\n    harmless: [rotate]\n"),
        ErrorKind::UnknownField,
        9,
        5,
    );
}

#[test]
fn rule_errors() {
    let rules =
        |body: &str| format!("investigation:\n  name: t\n  alert_types: [A]\n  verdict:\n{body}");
    let shown = fails(
        &rules(
            "    malicious:\n      - name: r1\n        all: [public-access]\n    suspicious:\n      - name: r1\n        min_severity: high\n",
        ),
        ErrorKind::DuplicateRuleName,
        9,
        15,
    );
    assert!(
        shown.contains("duplicate rule name \"r1\" in verdict.suspicious[0] (also at line 6)"),
        "{shown}"
    );
    let shown = fails(
        &rules("    suspicious:\n      - name: nothing\n"),
        ErrorKind::EmptyRule,
        6,
        9,
    );
    assert!(
        shown.contains(
            "verdict rule \"nothing\" (verdict.suspicious[0]) has nothing to match and would match \
             every alert: give it all, any, min_findings or min_severity"
        ),
        "{shown}"
    );
    fails(
        &rules("    suspicious:\n      - name: empty-lists\n        all: []\n        any: []\n"),
        ErrorKind::EmptyRule,
        6,
        9,
    );
    let shown = fails(
        &rules(
            "    suspicious:\n      - name: three\n        any: [creator-off-hours, creator-new-actor]\n        min_findings: 3\n",
        ),
        ErrorKind::EmptyRule,
        8,
        23,
    );
    assert!(
        shown.contains("can never be met: the rule names only 2 findings"),
        "{shown}"
    );
    fails(
        &rules("    suspicious:\n      - name: zero\n        min_findings: 0\n"),
        ErrorKind::InvalidValue,
        7,
        23,
    );
    fails(
        &rules(
            "    suspicious:\n      - name: both\n        all: [public-access]\n        any: [public-access, usage-unknown]\n",
        ),
        ErrorKind::Duplicate,
        8,
        15,
    );
    fails(
        &rules(
            "    suspicious:\n      - name: twice\n        any: [usage-unknown, usage-unknown]\n",
        ),
        ErrorKind::Duplicate,
        7,
        30,
    );
    fails(
        &rules("    suspicious:\n      - name: Bad Name\n        min_severity: high\n"),
        ErrorKind::InvalidValue,
        6,
        15,
    );
    let shown = fails(&rules("    malicious: []\n"), ErrorKind::NoRules, 5, 5);
    assert!(shown.contains("verdict has no rules"), "{shown}");
}

#[test]
fn structural_errors() {
    let shown = fails("", ErrorKind::Syntax, 1, 1);
    assert!(
        shown.contains("needs an `investigation:` mapping"),
        "{shown}"
    );
    let shown = fails("response: {}\n", ErrorKind::MissingField, 1, 1);
    assert!(
        shown.contains("missing required field `investigation`"),
        "{shown}"
    );
    let shown = fails(
        "investigation:\n  name: t\n  alert_types: [A]\n",
        ErrorKind::MissingField,
        2,
        3,
    );
    assert!(
        shown.contains("missing required field `verdict` in investigation: add verdict rules"),
        "{shown}"
    );
    let shown = fails(
        &with("  business_hours:\n    time_zone: UTC\n    days: [mon]\n    start: \"08:00\"\n"),
        ErrorKind::MissingField,
        9,
        5,
    );
    assert!(
        shown.contains("missing required field `end` in business_hours"),
        "{shown}"
    );
    fails(
        &with("  bulk_creation: {}\n"),
        ErrorKind::MissingField,
        8,
        18,
    );
    let shown = fails(
        "investigation:\n  name: t\n  alert_types: [A]\n  verdict:\n    malicious:\n      - all: [public-access]\n",
        ErrorKind::MissingField,
        6,
        9,
    );
    assert!(shown.contains("every verdict rule needs a name"), "{shown}");
    let shown = fails(
        &with("  severities:\n    usage-unknown: low\n    usage-unknown: high\n"),
        ErrorKind::DuplicateKey,
        10,
        5,
    );
    assert!(
        shown.contains("\"usage-unknown\" is given twice"),
        "{shown}"
    );
    let shown = fails(&format!("{MINIMAL}---\n{MINIMAL}"), ErrorKind::Syntax, 8, 1);
    assert!(
        shown.contains("a playbook is a single YAML document"),
        "{shown}"
    );
    fails(
        "investigation:\n  name: [unclosed\n",
        ErrorKind::WrongType,
        2,
        9,
    );
    let shown = fails(
        &with("  trust:\n    domains: acme.example\n"),
        ErrorKind::WrongType,
        9,
        14,
    );
    assert!(shown.contains("expected a list"), "{shown}");
    fails(
        &with("  severities: [usage-unknown]\n"),
        ErrorKind::WrongType,
        8,
        15,
    );
    let shown = fails(
        &format!("{MINIMAL}response: [a, b]\n"),
        ErrorKind::WrongType,
        8,
        11,
    );
    assert!(shown.contains("expected a mapping"), "{shown}");
    fails(
        "investigation:\n  name: t\n  alert_types: []\n  verdict: {}\n",
        ErrorKind::InvalidValue,
        3,
        16,
    );
    fails(
        "investigation:\n  name: t\n  alert_types: [\"GCP New\"]\n  verdict: {}\n",
        ErrorKind::InvalidValue,
        3,
        17,
    );
    fails(&with("  verdict: {}\n"), ErrorKind::DuplicateKey, 8, 3);
    fails(
        "investigation:\n  name: !!python/object:os.system t\n  alert_types: [A]\n",
        ErrorKind::Syntax,
        2,
        35,
    );
}

// --- hostile input ----------------------------------------------------------

#[test]
fn a_billion_laughs_document_fails_fast() {
    let mut text = format!(
        "{MINIMAL}response:\n  a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
    );
    for (name, prev) in [
        ("b", "a"),
        ("c", "b"),
        ("d", "c"),
        ("e", "d"),
        ("f", "e"),
        ("g", "f"),
        ("h", "g"),
        ("i", "h"),
    ] {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("  {name}: &{name} [{refs}]\n"));
    }
    let started = Instant::now();
    let e = parse("t.yaml", &text).unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.location().is_some_and(|(line, _)| line >= 8), "{e}");
    assert!(e.to_string().contains("alias"), "{e}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn deep_nesting_and_many_aliases_are_refused() {
    let deep = format!(
        "{MINIMAL}response:\n  x: {}{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    let e = parse("t.yaml", &deep).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Limit | ErrorKind::Syntax),
        "{e}"
    );
    assert!(e.location().is_some(), "{e}");

    let mut many = format!("{MINIMAL}response:\n  a: &a x\n  b: [");
    many.push_str(&vec!["*a"; 400].join(", "));
    many.push_str("]\n");
    let e = parse("t.yaml", &many).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let mut text = String::from(MINIMAL);
    text.push_str("# ");
    text.push_str(&"x".repeat(MAX_PLAYBOOK_BYTES));
    text.push('\n');
    let e = parse("big.yaml", &text).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    // Points at the first byte past the limit: on line 8, the comment line.
    let column = u64::try_from(MAX_PLAYBOOK_BYTES - MINIMAL.len() + 1).unwrap();
    assert_eq!(e.location(), Some((8, column)), "{e}");
    assert!(e.to_string().starts_with("big.yaml:8:"), "{e}");
    assert!(e.to_string().contains("larger than 1024 KiB"), "{e}");

    let dir = std::env::temp_dir().join(format!("kms-responder-playbook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.yaml");
    std::fs::write(&big, &text).unwrap();
    assert_eq!(load(&big).unwrap_err().kind(), ErrorKind::TooLarge);

    let binary = dir.join("binary.yaml");
    std::fs::write(&binary, b"investigation:\n  name: t\xff\n").unwrap();
    let e = load(&binary).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotUtf8);
    assert_eq!(e.location(), Some((2, 10)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_input_panics() {
    // Every prefix of the shipped playbook, and some mangled ones.
    let text = BUNDLED_YAML;
    let mut cut = 0;
    while cut < text.len() {
        if text.is_char_boundary(cut) {
            let _ = parse("t.yaml", &text[..cut]);
        }
        cut += 13;
    }
    for junk in [
        "\u{0}",
        "\t",
        "[",
        "{",
        "&a *a",
        "investigation: *nope",
        "investigation: &x\n  name: *x",
        "investigation:\n  name: t\n  alert_types: [A]\n  verdict:\n    malicious:\n      - name: r\n        min_findings: 18446744073709551616\n",
        "investigation:\n  name: \"\u{1b}[31mred\"\n",
        "? [a]\n: b\n",
        "investigation: ~\n",
        "investigation: 7\n",
        "%YAML 1.2\n---\ninvestigation: {}\n",
    ] {
        let e = parse("t.yaml", junk).unwrap_err();
        assert!(e.location().is_some(), "{e}");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }
}

// --- durations, globs, rules ------------------------------------------------

#[test]
fn durations_round_trip() {
    for (text, secs) in [
        ("7d", 7 * 86_400),
        ("36h", 36 * 3_600),
        ("10m", 600),
        ("30s", 30),
        ("90d", 90 * 86_400),
        ("0s", 0),
    ] {
        let d = parse_duration(text).unwrap();
        assert_eq!(d, SignedDuration::from_secs(secs), "{text}");
        assert_eq!(format_duration(d), text);
        assert_eq!(parse_duration(&format_duration(d)), Some(d));
    }
    assert_eq!(format_duration(SignedDuration::from_hours(24)), "1d");
    assert_eq!(format_duration(SignedDuration::from_secs(90)), "90s");
    for secs in [1, 59, 61, 3_599, 3_600, 86_399, 86_400, 123_456_789] {
        let d = SignedDuration::from_secs(secs);
        assert_eq!(parse_duration(&format_duration(d)), Some(d), "{secs}");
    }
    for bad in [
        "",
        "7",
        "d",
        "7 d",
        "7D",
        "1.5h",
        "-1h",
        "7w",
        "1h30m",
        "9999999999d",
        "+7d",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn patterns_match_within_their_bounds() {
    assert!(glob_match("acme-*", "ACME-orders"));
    assert!(glob_match("*", ""));
    assert!(glob_match("a*b*c", "aXXbYYc"));
    assert!(!glob_match("a*b*c", "aXXbYY"));
    let trust = Trust {
        principals: vec![
            "*@acme-ci-cd.iam.gserviceaccount.com".into(),
            "jordan.*@acme.example".into(),
        ],
        domains: vec![
            "acme.example".into(),
            "acme-*.iam.gserviceaccount.com".into(),
        ],
        ..Trust::default()
    };
    assert!(trust.trusts_principal("terraform-ci@acme-ci-cd.iam.gserviceaccount.com"));
    assert!(trust.trusts_principal("jordan.lee@acme.example"));
    assert!(!trust.trusts_principal("jordan.lee@acme.example.evil.net"));
    assert!(!trust.trusts_principal("x@evil@acme-ci-cd.iam.gserviceaccount.com.net"));
    assert!(trust.in_trusted_domain("ci@acme-orders-prod.iam.gserviceaccount.com"));
    assert!(trust.in_trusted_domain("someone@ACME.example"));
    assert!(!trust.in_trusted_domain("someone@eng.acme.example"));
    assert!(!trust.in_trusted_domain("x@acme-evil.attacker.iam.gserviceaccount.com"));
    assert!(!trust.in_trusted_domain("x@gmail.com"));
}

#[test]
fn business_hours_contain_working_time_only() {
    let p = bundled_default().unwrap();
    let at = |s: &str| s.parse::<Timestamp>().unwrap();
    // benign-ci: Tuesday 14:23 UTC; suspicious: Sunday 02:47; ransomware: Thursday 01:12.
    assert!(p.business_hours.contains(at("2026-11-24T14:23:47Z")));
    assert!(!p.business_hours.contains(at("2026-11-22T02:47:12Z")));
    assert!(!p.business_hours.contains(at("2026-11-26T01:12:41Z")));
    assert!(p.business_hours.contains(at("2026-11-24T08:00:00Z")));
    assert!(!p.business_hours.contains(at("2026-11-24T18:00:00Z")));
}

#[test]
fn rule_scope_min_findings_and_min_severity() {
    let raised = [
        (FindingId::CreatorOffHours, Severity::Low),
        (FindingId::CreatorNewActor, Severity::Low),
        (FindingId::RotationMissing, Severity::Low),
        (FindingId::UsageUnknown, Severity::Medium),
    ];
    let rule = VerdictRule {
        name: "r".into(),
        all: vec![],
        any: vec![
            FindingId::CreatorOffHours,
            FindingId::CreatorNewActor,
            FindingId::CreatorUntrustedIp,
        ],
        min_findings: Some(3),
        min_severity: None,
    };
    // Four findings raised, but only two of the rule's.
    assert_eq!(rule.matches(&raised), None);
    let two = VerdictRule {
        min_findings: Some(2),
        ..rule.clone()
    };
    assert_eq!(
        two.matches(&raised),
        Some(vec![FindingId::CreatorOffHours, FindingId::CreatorNewActor])
    );
    let severe = VerdictRule {
        min_severity: Some(Severity::Medium),
        ..two.clone()
    };
    assert_eq!(severe.matches(&raised), None);
    let any_medium = VerdictRule {
        name: "m".into(),
        all: vec![],
        any: vec![],
        min_findings: None,
        min_severity: Some(Severity::Medium),
    };
    assert_eq!(
        any_medium.matches(&raised),
        Some(vec![FindingId::UsageUnknown])
    );
    assert_eq!(any_medium.matches(&[]), None);
}

#[test]
fn the_readme_examples_parse() {
    let readme = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("playbooks/README.md"),
    )
    .unwrap();
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 2, "{blocks:?}");
    let format = parse("README format", blocks[0]).unwrap();
    assert!(format.response.is_some());
    let response = blocks.iter().find(|b| b.starts_with("response:")).unwrap();
    let p = parse("README response", &format!("{MINIMAL}{response}")).unwrap();
    let r = p.response.unwrap();
    assert_eq!(r.steps.len(), 2);
    assert!(r.steps[0].affected_keys);
}
