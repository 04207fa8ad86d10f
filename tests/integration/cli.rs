//! The command line's other contracts: schema, playbook check, formats,
//! output files and batches.

use gcp_mock::MockConfig;
use serde_json::Value;

use crate::support::{alert, mock, repo, run};

fn temp_dir(tag: &str) -> std::path::PathBuf {
    crate::support::scratch("cli", tag)
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_prints_the_published_json_schema() {
    let out = run(vec!["schema".into()]).await;
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/report-schema.json"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(printed, published);
}

#[tokio::test(flavor = "multi_thread")]
async fn playbook_check_accepts_the_shipped_playbook_and_locates_errors() {
    let shipped = repo()
        .join("playbooks/new-kms-key-created.yaml")
        .display()
        .to_string();
    let out = run(vec!["playbook".into(), "check".into(), shipped]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: "));

    let dir = temp_dir("playbook");
    let bad = dir.join("bad.yaml");
    let text = std::fs::read_to_string(repo().join("playbooks/new-kms-key-created.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&bad, text.replacen("public-access", "public-acess", 1))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = run(vec![
        "playbook".into(),
        "check".into(),
        bad.display().to_string(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:") && stderr.contains("public-acess"),
        "{stderr}"
    );
    let located = stderr
        .split("bad.yaml:")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .is_some_and(|l| l.parse::<u32>().is_ok());
    assert!(located, "the error names a line: {stderr}");

    // A bad playbook stops an investigation before anything is sent.
    let server = mock("benign-ci", MockConfig::default()).await;
    let out = run(vec![
        "investigate".into(),
        alert("benign-ci"),
        "--playbook".into(),
        bad.display().to_string(),
        "--endpoint".into(),
        server.url(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(server.requests().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_to_a_file_and_a_batch_of_inputs() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("markdown");
    let report = dir.join("report.md");
    let key = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek-backup";
    let out = run(vec![
        "investigate".into(),
        alert("benign-ci"),
        key.into(),
        "--format".into(),
        "markdown".into(),
        "-o".into(),
        report.display().to_string(),
        "--endpoint".into(),
        server.url(),
    ])
    .await;
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "the report goes to the file only");
    let md = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{e}"));
    // Untrusted text is backslash-escaped in Markdown; the names read the same once rendered.
    let rendered = md.replace('\\', "");
    assert!(rendered.contains("cryptoKeys/orders-db-cmek "), "{md}");
    assert!(
        rendered.contains("cryptoKeys/orders-db-cmek-backup"),
        "both inputs are reported: {md}"
    );
    assert!(md.lines().any(|l| l.starts_with('#')), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ndjson_batch_of_audit_entries_is_one_report_per_entry() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let state = server.state();
    let creations: Vec<String> = state["logEntries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["protoPayload"]["methodName"] == "CreateCryptoKey"
                && e["protoPayload"]["authenticationInfo"]["principalEmail"]
                    == "jordan.lee@acme.example"
        })
        .map(Value::to_string)
        .collect();
    assert_eq!(creations.len(), 3);
    let dir = temp_dir("ndjson");
    let file = dir.join("entries.ndjson");
    std::fs::write(&file, creations.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let out = run(vec![
        "investigate".into(),
        file.display().to_string(),
        "--format".into(),
        "json".into(),
        "--endpoint".into(),
        server.url(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["reports"].as_array().map(Vec::len), Some(3));
    for r in report["reports"].as_array().into_iter().flatten() {
        assert_eq!(r["alert"]["source"], "audit_log_entry");
        assert_eq!(r["creator"]["principal"], "jordan.lee@acme.example");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
