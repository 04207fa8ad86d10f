//! What the report says when evidence is missing: a failed read is "unknown" with a gap naming
//! its cause, never a negative fact; no benign verdict without the evidence it needs; a fact
//! read successfully ("Data Access logs are off") is not a gap.

use gcp_mock::{FaultRule, MockConfig};
use serde_json::{Value, json};

use crate::support::{alert, investigate_json, mock, run};

fn faults(rules: &[&str]) -> MockConfig {
    MockConfig {
        faults: rules
            .iter()
            .map(|r| {
                r.parse::<FaultRule>()
                    .unwrap_or_else(|e| panic!("{r}: {e}"))
            })
            .collect(),
        ..MockConfig::default()
    }
}

fn gap<'a>(inv: &'a Value, evidence: &str) -> &'a Value {
    inv["gaps"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["evidence"] == evidence))
        .unwrap_or_else(|| panic!("no {evidence} gap: {}", inv["gaps"]))
}

fn finding_ids(inv: &Value) -> Vec<&str> {
    inv["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str())
        .collect()
}

/// data-access-off: the project's policy enables nothing for KMS; whether its folder or
/// organization does cannot be known when the project's parent cannot be read.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_projects_get_makes_data_access_logging_unknown_not_disabled() {
    let server = mock(
        "data-access-off",
        faults(&["cloudresourcemanager.projects.get=403"]),
    )
    .await;
    let (code, report) = investigate_json(&server, &alert("data-access-off")).await;
    let inv = &report["reports"][0];
    assert_eq!(
        inv["usage"]["logging"]["state"], "unknown",
        "{}",
        inv["usage"]
    );
    let g = gap(inv, "usage.logging");
    assert_eq!(g["reason"], "permission_denied", "{g}");
    assert_eq!(g["permission"], "resourcemanager.projects.get", "{g}");
    assert!(
        g["detail"]
            .as_str()
            .is_some_and(|d| d.contains("resourcemanager.projects.get")),
        "{g}"
    );
    let usage_unknown = inv["findings"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["id"] == "usage-unknown"))
        .unwrap_or_else(|| panic!("no usage-unknown: {}", inv["findings"]));
    let title = usage_unknown["title"].as_str().unwrap_or_default();
    assert!(
        !title.contains("not enabled"),
        "claims logs are off: {title}"
    );
    assert!(title.contains("could not be determined"), "{title}");
    assert!(
        !inv["gaps"].to_string().contains("logs_off"),
        "{}",
        inv["gaps"]
    );
    assert_eq!(code, 3);
}

/// ransomware-precursor: the key protects 3 resources in the organization, 1 in its project.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_projects_get_narrows_the_inventory_search_and_the_report_says_so() {
    let server = mock(
        "ransomware-precursor",
        faults(&["cloudresourcemanager.projects.get=403"]),
    )
    .await;
    let (code, report) = investigate_json(&server, &alert("ransomware-precursor")).await;
    let inv = &report["reports"][0];
    let found = inv["protected_resources"].as_array().map(Vec::len);
    assert_eq!(found, Some(1), "{}", inv["protected_resources"]);
    let g = gap(inv, "protected_resources");
    assert_eq!(g["reason"], "permission_denied", "{g}");
    assert_eq!(g["permission"], "resourcemanager.projects.get", "{g}");
    let detail = g["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(
            "protected resources searched in the project only: organization unknown ("
        ),
        "{detail}"
    );
    // Logging is enabled on the folder, which could not be reached: unknown, with its gap.
    assert_eq!(inv["usage"]["logging"]["state"], "unknown");
    gap(inv, "usage.logging");
    // Positive evidence still rules despite the gaps.
    assert_eq!(inv["verdict"], "malicious");
    assert_eq!(code, 4);

    let out = run(vec![
        "investigate".into(),
        alert("ransomware-precursor"),
        "--endpoint".into(),
        server.url(),
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("at least 1 resource"),
        "the text report must say the list is partial:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_key_and_its_creation_entry_the_verdict_is_inconclusive_not_benign() {
    let server = mock(
        "benign-ci",
        faults(&[
            "cloudkms.projects.locations.keyRings.cryptoKeys.get=403",
            "logging.entries.list=403",
        ]),
    )
    .await;
    let (code, report) = investigate_json(&server, &alert("benign-ci")).await;
    let inv = &report["reports"][0];
    assert_eq!(inv["verdict"], "inconclusive", "{}", inv["gaps"]);
    assert_eq!(inv["missing_for_verdict"], json!(["key", "creator"]));
    assert_eq!(inv["recommended_actions"], json!([]));
    assert_eq!(code, 3, "inconclusive is incomplete");
    for format in ["text", "markdown"] {
        let out = run(vec![
            "investigate".into(),
            alert("benign-ci"),
            "--endpoint".into(),
            server.url(),
            "--format".into(),
            format.into(),
        ])
        .await;
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("INCONCLUSIVE"), "{format}:\n{text}");
        assert!(!text.contains("BENIGN"), "{format}:\n{text}");
        assert_eq!(out.status.code(), Some(3), "{format}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn positive_evidence_keeps_a_malicious_verdict_when_the_creation_entry_is_missing() {
    let server = mock(
        "ransomware-precursor",
        faults(&["logging.entries.list=403"]),
    )
    .await;
    let (code, report) = investigate_json(&server, &alert("ransomware-precursor")).await;
    let inv = &report["reports"][0];
    assert!(inv["creator"].is_null());
    assert_eq!(inv["verdict"], "malicious", "{:?}", finding_ids(inv));
    assert_eq!(inv["missing_for_verdict"], json!([]));
    assert_eq!(code, 4, "findings win over incomplete");
}

/// "Data Access logs are off" was read successfully: a fact and a finding, not a gap.
#[tokio::test(flavor = "multi_thread")]
async fn data_access_logs_off_is_a_finding_not_missing_evidence() {
    let server = mock("data-access-off", MockConfig::default()).await;
    let (code, report) = investigate_json(&server, &alert("data-access-off")).await;
    let inv = &report["reports"][0];
    assert_eq!(inv["usage"]["logging"]["state"], "disabled");
    assert!(finding_ids(inv).contains(&"usage-unknown"));
    assert_eq!(inv["gaps"], json!([]));
    assert_eq!(inv["verdict"], "benign");
    assert_eq!(code, 0);
}

/// Bidi overrides, isolates, invisible characters and C1 controls from an alert are kept
/// verbatim in the JSON report, but as `\uXXXX` escapes: never raw on a terminal.
#[tokio::test(flavor = "multi_thread")]
async fn json_escapes_bidi_and_invisible_characters_and_keeps_the_value() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = std::env::temp_dir().join(format!("kms-responder-bidi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let hostile = "1184203\u{202e}gnp.exe\u{2066}x\u{2069}\u{200b}\u{2028}\u{feff}\u{85}\u{7f}";
    let mut alert_json: Value = serde_json::from_str(
        &std::fs::read_to_string(alert("benign-ci")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    alert_json["data"]["alertId"] = json!(hostile);
    let file = dir.join("alert.json");
    std::fs::write(&file, alert_json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = run(vec![
        "investigate".into(),
        file.display().to_string(),
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let stdout = String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(stdout.contains(r"1184203\u202egnp.exe\u2066x\u2069\u200b\u2028\ufeff\u0085\u007f"));
    for c in hostile
        .chars()
        .filter(|c| !c.is_ascii_alphanumeric() && *c != '.')
    {
        assert!(
            !stdout.contains(c),
            "raw U+{:04X} in the JSON",
            u32::from(c)
        );
    }
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["reports"][0]["alert"]["id"], hostile);
    let _ = std::fs::remove_dir_all(&dir);
}
