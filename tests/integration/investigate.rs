//! Investigations of the bundled scenarios through the real clients.

use gcp_mock::MockConfig;
use serde_json::Value;

use crate::support::{alert, investigate_json, mock, mutating, run};

#[tokio::test(flavor = "multi_thread")]
async fn ransomware_precursor_evidence_is_gathered_without_any_write() {
    let server = mock("ransomware-precursor", MockConfig::default()).await;
    let (code, report) = investigate_json(&server, &alert("ransomware-precursor")).await;
    assert_eq!(report["schema_version"], "1.2.0");
    let inv = &report["reports"][0];
    assert_eq!(
        inv["key"]["name"],
        "projects/acme-payments-prod/locations/us-east1/keyRings/ops-recovery-kr/cryptoKeys/ledger-exports-v2"
    );
    assert_eq!(inv["key"]["details"]["import_only"], true);
    assert_eq!(inv["key"]["details"]["protection_level"], "HSM");
    assert_eq!(
        inv["creator"]["principal"],
        "deploy-bot@acme-payments-prod.iam.gserviceaccount.com"
    );
    assert_eq!(
        inv["creator"]["delegation_chain"][0],
        "sam.rivera@acme.example"
    );
    assert_eq!(inv["creator"]["user_agent"], "curl/8.5.0");
    assert_eq!(
        inv["creator_activity"]["keys_created"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(inv["usage"]["logging"]["state"], "enabled");
    assert_eq!(
        inv["usage"]["logging"]["enabled_by"][0],
        "folders/219845530771"
    );
    assert_eq!(inv["usage"]["total_calls"], 40);
    let members: Vec<&str> = inv["iam"]["key"]["bindings"][0]["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        members
            .iter()
            .all(|m| m.ends_with("@gs-project-accounts.iam.gserviceaccount.com")),
        "{members:?}"
    );
    assert!(
        inv["protected_resources"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(inv["gaps"], Value::Array(vec![]), "{}", inv["gaps"]);
    assert_eq!(inv["verdict"], "malicious");
    assert_eq!(code, 4, "a malicious verdict exits 4");

    let ledger = server.requests();
    assert!(
        mutating(&ledger).is_empty(),
        "an investigation must not write: {:?}",
        mutating(&ledger)
    );
    // Logging economy: one query for admin activity, one for usage.
    let log_reads = ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list")
        .count();
    assert_eq!(log_reads, 2, "{ledger:#?}");
    assert!(ledger.iter().all(|e| e.status == 200), "{ledger:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_without_a_key_name_is_resolved_from_the_admin_activity_log() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let (_, report) = investigate_json(&server, &alert("suspicious-human-offhours")).await;
    let keys: Vec<&str> = report["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["key"]["name"].as_str())
        .collect();
    // The alert names only project, short key name and user; an older key with the
    // same short name exists in another key ring and must not be picked.
    assert_eq!(
        keys,
        [
            "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync/cryptoKeys/backup-key"
        ]
    );
    let inv = &report["reports"][0];
    assert_eq!(inv["creator"]["principal"], "jordan.lee@acme.example");
    assert_eq!(inv["creator"]["caller_ip"], "203.0.113.45");
    assert_eq!(
        inv["creator_activity"]["keys_created"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let public = inv["iam"]["key"]["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|b| {
            b["members"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|m| m == "allUsers")
        });
    assert!(public, "{}", inv["iam"]["key"]);
    assert!(mutating(&server.requests()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_name_alone_anchors_the_window_on_the_keys_creation() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let key = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";
    let (code, report) = investigate_json(&server, key).await;
    let inv = &report["reports"][0];
    assert_eq!(inv["window"]["anchor"], "key creation time");
    assert_eq!(
        inv["creator"]["principal"],
        "terraform-ci@acme-ci-cd.iam.gserviceaccount.com"
    );
    assert_eq!(inv["creator_activity"]["prior_admin"], true);
    assert_eq!(inv["verdict"], "benign");
    assert_eq!(code, 0, "{}", inv["gaps"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_read_becomes_a_gap_naming_the_permission_and_the_rest_is_kept() {
    let config = MockConfig {
        faults: vec![
            "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy=403"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        ],
        ..MockConfig::default()
    };
    let server = mock("benign-ci", config).await;
    let (code, report) = investigate_json(&server, &alert("benign-ci")).await;
    let inv = &report["reports"][0];
    assert_eq!(inv["verdict"], "benign");
    assert_eq!(code, 3, "incomplete evidence has its own exit code");
    let gap = inv["gaps"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["evidence"] == "iam.key"))
        .cloned();
    let gap = gap.unwrap_or_else(|| panic!("no iam.key gap: {}", inv["gaps"]));
    assert_eq!(gap["reason"], "permission_denied");
    assert_eq!(gap["permission"], "cloudkms.cryptoKeys.getIamPolicy");
    assert!(inv["key"]["details"].is_object());
    assert!(inv["creator"]["principal"].is_string());
    assert!(inv["iam"]["key_ring"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_usage_error_and_nothing_reaches_google() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("kms-responder-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        ("empty.json", ""),
        ("truncated.json", "{\"data\": {\"alertId\": 1"),
        ("other.json", "{\"hello\": \"world\"}"),
    ];
    for (name, content) in cases {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
        let out = run(vec![
            "investigate".into(),
            path.display().to_string(),
            "--endpoint".into(),
            server.url(),
        ])
        .await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(stderr.contains("hint: "), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = run(vec![
        "investigate".into(),
        "projects/p/locations/l/keyRings/r/cryptoKeys/k\" OR \"1".into(),
        "--endpoint".into(),
        server.url(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_http_endpoint_that_is_not_loopback_is_refused() {
    let out = run(vec![
        "investigate".into(),
        "projects/p-1/locations/us/keyRings/r/cryptoKeys/k".into(),
        "--endpoint".into(),
        "http://kms.example.com".into(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-insecure-endpoint"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_runs_the_whole_report_and_exits_zero() {
    for scenario in ["ransomware-precursor", "benign-ci"] {
        let out = run(vec!["demo".into(), "--scenario".into(), scenario.into()]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for section in [
            "THE KEY",
            "WHO CAN USE IT",
            "WHO CREATED IT",
            "WHO USED IT",
            "WHAT IT PROTECTS",
        ] {
            assert!(
                stdout.contains(section),
                "{scenario}: no {section} in\n{stdout}"
            );
        }
    }
}

/// Each bundled scenario gives its expected findings and verdict (mocks/scenarios/README.md).
#[tokio::test(flavor = "multi_thread")]
async fn each_bundled_scenario_gives_its_expected_findings_and_verdict() {
    let expectations: [(&str, &[&str], &str, i32); 4] = [
        ("benign-ci", &[], "benign", 0),
        (
            "suspicious-human-offhours",
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
            "malicious",
            4,
        ),
        (
            "ransomware-precursor",
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
            "malicious",
            4,
        ),
        (
            "data-access-off",
            &["rotation-too-long", "usage-unknown"],
            "benign",
            // Logs off was read, not missed: a finding, not a gap.
            0,
        ),
    ];
    for (scenario, findings, verdict, exit_code) in expectations {
        let server = mock(scenario, MockConfig::default()).await;
        let (code, report) = investigate_json(&server, &alert(scenario)).await;
        let r = &report["reports"][0];
        let mut got: Vec<&str> = r["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["id"].as_str())
            .collect();
        got.sort_unstable();
        let mut want = findings.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{scenario}: findings");
        assert_eq!(
            r["verdict"], verdict,
            "{scenario}: verdict (rule {})",
            r["verdict_rule"]
        );
        assert_eq!(code, exit_code, "{scenario}: exit code");
        for f in r["findings"].as_array().into_iter().flatten() {
            assert!(
                f["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{scenario}: {f}"
            );
            assert!(f["severity"].is_string(), "{scenario}: {f}");
        }
        if verdict != "benign" {
            assert!(
                r["recommended_actions"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "{scenario}"
            );
            assert!(
                r["drivers"].as_array().is_some_and(|d| !d.is_empty()),
                "{scenario}"
            );
        }
        assert!(
            mutating(&server.requests()).is_empty(),
            "{scenario}: an investigation must not write"
        );
    }
}
