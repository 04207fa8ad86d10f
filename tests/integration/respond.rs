//! `respond` and `undo` against the mock: scripted through the binary,
//! interactive through the prompt trait with scripted answers. Each test
//! checks the mock's state and its Admin Activity entries, and the ledger
//! for what was (not) sent.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use gcp_mock::{MockConfig, MockServer, Scenario};
use jiff::Timestamp;
use serde_json::Value;

use kms_responder::case::Case;
use kms_responder::gcp::{CredentialsMode, Endpoints, Gcp, GcpConfig};
use kms_responder::investigate::{self, Options, Outcome};
use kms_responder::respond::{
    self, Answer, Decision, Flags, Mode, PromptError, RunStatus, ScriptedPrompter, Subject,
};

use crate::support::{alert, mock, mutating, repo, run};

const BACKUP_KEY: &str =
    "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync/cryptoKeys/backup-key";
const DR_SYNC: &str = "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync";
const EXPORT_KEY: &str =
    "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync/cryptoKeys/export-key";
const ARCHIVE_KEY: &str =
    "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync/cryptoKeys/archive-key";
const VERSION_PATCH: &str =
    "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.patch";

/// A fresh scratch directory for journals.
fn scratch(name: &str) -> PathBuf {
    crate::support::scratch("respond", name)
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// `respond ALERT --endpoint URL` plus `extra`.
async fn respond_cli(server: &MockServer, input: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![s("respond"), s(input), s("--endpoint"), server.url()];
    args.extend(extra.iter().map(|a| s(a)));
    let out = run(args).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn undo_cli(server: &MockServer, journal: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        s("undo"),
        journal.display().to_string(),
        s("--endpoint"),
        server.url(),
    ];
    args.extend(extra.iter().map(|a| s(a)));
    let out = run(args).await;
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn version_state(server: &MockServer, version: &str) -> String {
    server.state()["cryptoKeyVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version)
        .and_then(|v| v["state"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

fn policy(server: &MockServer, resource: &str) -> Value {
    server.state()["iamPolicies"][resource].clone()
}

/// The (role, member) pairs of a policy, sorted.
fn grants(policy: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = policy["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| {
            let role = b["role"].as_str().unwrap_or_default().to_owned();
            b["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |m| (role.clone(), m.to_owned()))
        })
        .collect();
    out.sort();
    out
}

/// Admin Activity entries written since `before` entries: (method, resource).
fn admin_entries_since(server: &MockServer, before: usize) -> Vec<(String, String)> {
    server.state()["logEntries"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(before)
        .filter(|e| {
            e["logName"]
                .as_str()
                .is_some_and(|l| l.ends_with("cloudaudit.googleapis.com%2Factivity"))
        })
        .map(|e| {
            (
                e["protoPayload"]["methodName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["protoPayload"]["resourceName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

fn log_count(server: &MockServer) -> usize {
    server.state()["logEntries"].as_array().map_or(0, Vec::len)
}

fn journal_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// suspicious-human-offhours with backup-key holding three enabled versions.
fn three_versions() -> Scenario {
    let text =
        std::fs::read_to_string(repo().join("mocks/scenarios/suspicious-human-offhours.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut world: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let versions = world["cryptoKeyVersions"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no versions"));
    let first = versions
        .iter()
        .find(|v| v["name"] == format!("{BACKUP_KEY}/cryptoKeyVersions/1"))
        .cloned()
        .unwrap_or_else(|| panic!("no backup-key version 1"));
    for (n, at) in [(2, "2026-11-22T02:48:00Z"), (3, "2026-11-22T02:49:00Z")] {
        let mut v = first.clone();
        v["name"] = Value::String(format!("{BACKUP_KEY}/cryptoKeyVersions/{n}"));
        v["createTime"] = Value::String(at.into());
        v["generateTime"] = Value::String(at.into());
        versions.push(v);
    }
    let text = serde_json::to_string_pretty(&world).unwrap_or_else(|e| panic!("{e}"));
    Scenario::parse("three-versions", "<in-test three-versions>", &text)
        .unwrap_or_else(|e| panic!("the mock refused the in-test scenario: {e}"))
}

async fn start(scenario: Scenario, config: MockConfig) -> MockServer {
    MockServer::start(scenario, config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn fault(rule: &str) -> MockConfig {
    MockConfig {
        faults: vec![rule.parse().unwrap_or_else(|e| panic!("{e}"))],
        ..MockConfig::default()
    }
}

// --- scripted, through the binary ------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_scripted_dry_run_prints_the_plan_and_sends_no_mutating_request() {
    let server = mock("ransomware-precursor", MockConfig::default()).await;
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("ransomware-precursor"),
        &["--non-interactive"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("RESPONSE PLAN (dry run"), "{stdout}");
    assert!(stdout.contains("version 1: ENABLED → DISABLED"), "{stdout}");
    assert!(
        stdout.contains("acme-payments-ledger-exports"),
        "what it breaks:\n{stdout}"
    );
    assert!(stdout.contains("escrow-ext (affected key)"), "{stdout}");
    assert!(stdout.contains("import-only key"), "{stdout}");
    assert!(
        mutating(&server.requests()).is_empty(),
        "a dry run must not write: {:?}",
        mutating(&server.requests())
    );

    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("ransomware-precursor"),
        &["--non-interactive", "--format", "json"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["mode"], "dry-run");
    assert_eq!(doc["principal"], "anonymous");
    let actions = doc["plans"][0]["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let summary: Vec<(String, String, String)> = actions
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_owned(),
                a["key"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                a["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want = |a: &str, k: &str, st: &str| (s(a), s(k), s(st));
    assert_eq!(
        summary,
        vec![
            want("disable", "ledger-exports-v2", "change"),
            want("disable", "escrow-ext", "change"),
            want("revoke", "ledger-exports-v2", "change"),
            want("revoke", "escrow-ext", "already-done"),
            want("rotate", "ledger-exports-v2", "not-possible"),
        ]
    );
    assert_eq!(
        actions[0]["breaks"]["protected_resources"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        actions[0]["breaks"]["recent_users"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{}",
        actions[0]["breaks"]
    );
    assert!(mutating(&server.requests()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn not_a_terminal_and_not_non_interactive_is_a_usage_error_before_any_request() {
    let server = mock("ransomware-precursor", MockConfig::default()).await;
    let (code, _, stderr) = respond_cli(&server, &alert("ransomware-precursor"), &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
    assert!(stderr.contains("--non-interactive"), "{stderr}");
    assert!(server.requests().is_empty(), "nothing may be sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_playbook_steps_run_with_apply_and_undo_puts_everything_back() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let before_key = policy(&server, BACKUP_KEY);
    let before_ring = policy(&server, DR_SYNC);
    let logs = log_count(&server);
    let dir = scratch("steps");
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--apply",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("RESPONSE COMPLETED"), "{stdout}");
    assert!(
        stderr.contains(&format!("journal: {}", journal.display())),
        "{stderr}"
    );

    // Exactly the intended changes.
    for key in [BACKUP_KEY, EXPORT_KEY, ARCHIVE_KEY] {
        assert_eq!(
            version_state(&server, &format!("{key}/cryptoKeyVersions/1")),
            "DISABLED",
            "{key}"
        );
    }
    assert_eq!(
        version_state(&server, &format!("{BACKUP_KEY}/cryptoKeyVersions/2")),
        "ENABLED",
        "rotation made a new version"
    );
    let key = server.state()["cryptoKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["name"] == BACKUP_KEY)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        key["primary"]["name"],
        format!("{BACKUP_KEY}/cryptoKeyVersions/2")
    );
    assert_eq!(key["rotationPeriod"], "7776000s");
    assert!(
        grants(&policy(&server, BACKUP_KEY)).is_empty(),
        "{}",
        policy(&server, BACKUP_KEY)
    );
    assert!(grants(&policy(&server, DR_SYNC)).is_empty());
    let mut entries = admin_entries_since(&server, logs);
    entries.sort();
    let mut want = vec![
        (
            s("UpdateCryptoKeyVersion"),
            format!("{BACKUP_KEY}/cryptoKeyVersions/1"),
        ),
        (
            s("UpdateCryptoKeyVersion"),
            format!("{EXPORT_KEY}/cryptoKeyVersions/1"),
        ),
        (
            s("UpdateCryptoKeyVersion"),
            format!("{ARCHIVE_KEY}/cryptoKeyVersions/1"),
        ),
        (s("SetIamPolicy"), s(BACKUP_KEY)),
        (s("SetIamPolicy"), s(DR_SYNC)),
        (s("CreateCryptoKeyVersion"), s(BACKUP_KEY)),
        (s("UpdateCryptoKeyPrimaryVersion"), s(BACKUP_KEY)),
        (s("UpdateCryptoKey"), s(BACKUP_KEY)),
    ];
    want.sort();
    assert_eq!(entries, want);

    // The journal: who, the tool, the alert, and per call the intent before the outcome.
    let records = journal_records(&journal);
    assert_eq!(records[0]["record"], "run");
    assert_eq!(records[0]["principal"], "anonymous");
    assert_eq!(records[0]["tool"], "kms-responder");
    assert_eq!(records[0]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(records[0]["alerts"][0]["key"], BACKUP_KEY);
    assert_eq!(records[0]["alerts"][0]["verdict"], "malicious");
    let first_action = records
        .iter()
        .find(|r| r["record"] == "action" && r["status"] == "started")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        first_action["prior"]["key"]["versions"][0]["state"], "ENABLED",
        "{first_action}"
    );
    assert!(first_action["prior"]["key_policy"]["etag"].is_string());
    assert!(first_action["prior"]["key_ring_policy"]["bindings"].is_array());
    for (i, r) in records.iter().enumerate() {
        if r["record"] == "outcome" {
            let intent = records[..i]
                .iter()
                .rposition(|x| x["record"] == "intent" && x["seq"] == r["seq"]);
            assert!(
                intent.is_some(),
                "an outcome without its intent before it: {r}"
            );
        }
    }
    let iam = records
        .iter()
        .find(|r| r["record"] == "intent" && r["op"]["op"] == "set_iam_policy")
        .cloned()
        .unwrap_or_default();
    assert_eq!(iam["prior"]["policy"]["etag"], before_key["etag"], "{iam}");
    assert_eq!(
        records.last().map(|r| r["record"].clone()),
        Some("end".into())
    );

    // A second run finds everything in effect: recorded no-ops, no write.
    server.clear_requests();
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--apply",
            "--action",
            "revoke",
            "--affected-keys",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("already done"), "{stdout}");
    assert!(mutating(&server.requests()).is_empty(), "idempotent");
    let records = journal_records(&journal);
    let second_run = records
        .iter()
        .filter(|r| r["record"] == "run")
        .nth(1)
        .map(|r| r["run"].clone())
        .unwrap_or_default();
    let noops = records
        .iter()
        .filter(|r| r["run"] == second_run && r["record"] == "action" && r["status"] == "noop")
        .count();
    assert_eq!(
        noops, 3,
        "one recorded no-op per key, appended to the same journal"
    );

    // Undo: a dry run first (no write), then for real.
    server.clear_requests();
    let logs = log_count(&server);
    let (code, stdout, stderr) = undo_cli(&server, &journal, &[]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("will restore"), "{stdout}");
    assert!(mutating(&server.requests()).is_empty());
    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for key in [BACKUP_KEY, EXPORT_KEY, ARCHIVE_KEY] {
        assert_eq!(
            version_state(&server, &format!("{key}/cryptoKeyVersions/1")),
            "ENABLED",
            "{key}"
        );
    }
    assert_eq!(grants(&policy(&server, BACKUP_KEY)), grants(&before_key));
    assert_eq!(grants(&policy(&server, DR_SYNC)), grants(&before_ring));
    let key = server.state()["cryptoKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["name"] == BACKUP_KEY)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        key["primary"]["name"],
        format!("{BACKUP_KEY}/cryptoKeyVersions/1")
    );
    assert!(key["rotationPeriod"].is_null(), "{key}");
    assert!(
        stdout.contains("version 2 was created by the run"),
        "{stdout}"
    );
    let mut entries = admin_entries_since(&server, logs);
    entries.sort();
    let mut want = vec![
        (
            s("UpdateCryptoKeyVersion"),
            format!("{BACKUP_KEY}/cryptoKeyVersions/1"),
        ),
        (
            s("UpdateCryptoKeyVersion"),
            format!("{EXPORT_KEY}/cryptoKeyVersions/1"),
        ),
        (
            s("UpdateCryptoKeyVersion"),
            format!("{ARCHIVE_KEY}/cryptoKeyVersions/1"),
        ),
        (s("SetIamPolicy"), s(BACKUP_KEY)),
        (s("SetIamPolicy"), s(DR_SYNC)),
        (s("UpdateCryptoKeyPrimaryVersion"), s(BACKUP_KEY)),
        (s("UpdateCryptoKey"), s(BACKUP_KEY)),
    ];
    want.sort();
    assert_eq!(entries, want);
    let undo_run = journal_records(&journal)
        .into_iter()
        .rfind(|r| r["record"] == "run")
        .unwrap_or_default();
    assert_eq!(undo_run["command"], "undo", "undo journals itself");

    // Undoing again changes nothing.
    server.clear_requests();
    let (code, stdout, _) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("already as before"), "{stdout}");
    assert!(mutating(&server.requests()).is_empty());
}

/// Done-when: a failure on the second of three version disables leaves a
/// journal from which `undo --apply` restores the first.
#[tokio::test(flavor = "multi_thread")]
async fn a_failure_on_the_second_of_three_disables_stops_and_undo_restores_the_first() {
    let server = start(
        three_versions(),
        fault(&format!("{VERSION_PATCH}=403,after=1,times=1")),
    )
    .await;
    let logs = log_count(&server);
    let dir = scratch("second-fails");
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--action",
            "disable",
            "--apply",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 1, "a failure midway exits 1:\n{stdout}\n{stderr}");
    assert!(stdout.contains("RESPONSE STOPPED"), "{stdout}");
    assert!(
        stdout.contains("done: version 1: ENABLED → DISABLED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not done: version 2: ENABLED → DISABLED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not done: version 3: ENABLED → DISABLED"),
        "{stdout}"
    );
    let v = |n: u32| version_state(&server, &format!("{BACKUP_KEY}/cryptoKeyVersions/{n}"));
    assert_eq!(
        (v(1), v(2), v(3)),
        (s("DISABLED"), s("ENABLED"), s("ENABLED"))
    );
    assert_eq!(
        admin_entries_since(&server, logs),
        vec![(
            s("UpdateCryptoKeyVersion"),
            format!("{BACKUP_KEY}/cryptoKeyVersions/1")
        )]
    );
    let records = journal_records(&journal);
    let failed = records
        .iter()
        .find(|r| r["record"] == "outcome" && r["status"] == "failed")
        .cloned()
        .unwrap_or_default();
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("permission denied")),
        "{failed}"
    );
    assert_eq!(
        records
            .last()
            .map(|r| (r["record"].clone(), r["status"].clone())),
        Some(("end".into(), "failed".into()))
    );
    let patches: Vec<String> = server
        .requests()
        .iter()
        .filter(|e| e.method_id == VERSION_PATCH)
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(
        patches.len(),
        2,
        "the third was never attempted: {patches:?}"
    );

    let logs = log_count(&server);
    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("reconciled"),
        "the failed intent is settled from the real state:\n{stdout}"
    );
    assert_eq!(
        (v(1), v(2), v(3)),
        (s("ENABLED"), s("ENABLED"), s("ENABLED"))
    );
    assert_eq!(
        admin_entries_since(&server, logs),
        vec![(
            s("UpdateCryptoKeyVersion"),
            format!("{BACKUP_KEY}/cryptoKeyVersions/1")
        )],
        "undo touched version 1 only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intent_without_an_outcome_is_reconciled_from_the_real_state() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let dir = scratch("crash");
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--action",
            "disable",
            "--apply",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Again: already in effect, a recorded no-op, nothing sent that changes anything.
    server.clear_requests();
    let again = dir.join("again.jsonl");
    let (code, stdout, _) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--action",
            "disable",
            "--apply",
            "--journal",
            &again.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains("already done: no version of the key is enabled"),
        "{stdout}"
    );
    assert!(mutating(&server.requests()).is_empty());
    assert!(
        journal_records(&again)
            .iter()
            .any(|r| r["record"] == "action" && r["status"] == "noop")
    );
    // As if the process died right after the call: drop its outcome and what follows.
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let kept: Vec<&str> = text
        .lines()
        .take_while(|l| !l.contains("\"record\":\"outcome\""))
        .collect();
    std::fs::write(&journal, kept.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("no outcome recorded): the version is DISABLED: it took effect"),
        "{stdout}"
    );
    assert_eq!(
        version_state(&server, &format!("{BACKUP_KEY}/cryptoKeyVersions/1")),
        "ENABLED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revoke_rereads_and_retries_when_the_write_is_aborted() {
    let server = mock(
        "suspicious-human-offhours",
        fault("cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy=409,times=1"),
    )
    .await;
    let dir = scratch("aborted");
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--action",
            "revoke",
            "--apply",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(grants(&policy(&server, BACKUP_KEY)).is_empty());
    let statuses: Vec<String> = journal_records(&journal)
        .iter()
        .filter(|r| r["record"] == "outcome")
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        statuses,
        ["aborted", "done", "done"],
        "key (retried), then key ring"
    );
    let gets = server
        .requests()
        .iter()
        .filter(|e| e.method_id == "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy")
        .count();
    assert!(
        gets >= 3,
        "investigation, prior state, re-read after ABORTED (+ read-back): {gets}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_destroy_needs_allow_destroy_and_the_playbook_when_scripted() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let input = alert("suspicious-human-offhours");
    let (code, _, stderr) = respond_cli(
        &server,
        &input,
        &["--non-interactive", "--action", "schedule-destroy"],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--allow-destroy"), "{stderr}");
    let (code, _, stderr) = respond_cli(
        &server,
        &input,
        &[
            "--non-interactive",
            "--action",
            "schedule-destroy",
            "--allow-destroy",
        ],
    )
    .await;
    assert_eq!(
        code, 2,
        "the bundled playbook does not allow it unattended: {stderr}"
    );
    assert!(
        stderr.contains("does not let schedule-destroy run unattended"),
        "{stderr}"
    );
    assert!(server.requests().is_empty(), "refused before any request");

    // A playbook that allows it, and --allow-destroy.
    let dir = scratch("destroy");
    let playbook = dir.join("p.yaml");
    let text = kms_responder::playbook::BUNDLED_YAML.replace(
        "unattended: [disable, revoke, rotate]",
        "unattended: [disable, revoke, rotate, schedule-destroy]",
    );
    std::fs::write(&playbook, text).unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &input,
        &[
            "--non-interactive",
            "--action",
            "schedule-destroy",
            "--allow-destroy",
            "--playbook",
            &playbook.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("only way to decrypt data an attacker re-encrypted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("destroyScheduledDuration is 30d (2592000s)"),
        "{stdout}"
    );
    assert!(mutating(&server.requests()).is_empty());
    let (code, stdout, stderr) = respond_cli(
        &server,
        &input,
        &[
            "--non-interactive",
            "--action",
            "schedule-destroy",
            "--allow-destroy",
            "--apply",
            "--playbook",
            &playbook.display().to_string(),
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let v1 = format!("{BACKUP_KEY}/cryptoKeyVersions/1");
    assert_eq!(version_state(&server, &v1), "DESTROY_SCHEDULED");
    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        version_state(&server, &v1),
        "ENABLED",
        "restored, then enabled as before"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undo_refuses_what_changed_since_the_run_unless_forced() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let dir = scratch("refuse");
    let journal = dir.join("j.jsonl");
    let (code, stdout, stderr) = respond_cli(
        &server,
        &alert("suspicious-human-offhours"),
        &[
            "--non-interactive",
            "--action",
            "disable,revoke",
            "--apply",
            "--journal",
            &journal.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // Someone else: schedules version 1 for destruction, and grants a newcomer on the key.
    let v1 = format!("{BACKUP_KEY}/cryptoKeyVersions/1");
    let caller = gcp_mock::audit::Caller {
        principal: "someone@acme.example".into(),
        ip: "10.20.1.1".into(),
        user_agent: "test".into(),
    };
    server.with_state(|st| {
        st.destroy_version(&v1, &caller, Timestamp::now())
            .unwrap_or_else(|e| panic!("{e:?}"));
        let body = serde_json::json!({"policy": {"bindings": [
            {"role": "roles/cloudkms.viewer", "members": ["user:newcomer@acme.example"]}
        ]}});
        st.set_policy(BACKUP_KEY, &body, &caller, Timestamp::now())
            .unwrap_or_else(|e| panic!("{e:?}"));
    });
    server.clear_requests();
    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply"]).await;
    assert_eq!(code, 5, "refused:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("refused: {v1} changed since the run")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("refused: {BACKUP_KEY} changed since the run")),
        "{stdout}"
    );
    assert_eq!(
        version_state(&server, &v1),
        "DESTROY_SCHEDULED",
        "not touched"
    );
    assert_eq!(
        grants(&policy(&server, BACKUP_KEY)),
        vec![(s("roles/cloudkms.viewer"), s("user:newcomer@acme.example"))]
    );
    // The key ring did not change since: it was restored.
    assert_eq!(
        grants(&policy(&server, DR_SYNC)),
        vec![(
            s("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
            s("user:drop.box.2231@gmail.com")
        )]
    );

    let (code, stdout, stderr) = undo_cli(&server, &journal, &["--apply", "--force"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(version_state(&server, &v1), "ENABLED");
    let after = grants(&policy(&server, BACKUP_KEY));
    assert!(
        after.contains(&(s("roles/cloudkms.viewer"), s("user:newcomer@acme.example"))),
        "the newcomer's grant is kept: {after:?}"
    );
    assert!(after.contains(&(
        s("roles/cloudkms.cryptoKeyEncrypterDecrypter"),
        s("allUsers")
    )));
    assert!(after.contains(&(s("roles/cloudkms.admin"), s("user:jordan.lee@acme.example"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_sets_a_schedule_only_when_missing_or_too_long_and_warns_for_asymmetric_keys() {
    let server = mock("data-access-off", MockConfig::default()).await;
    let key = "projects/acme-hr-prod/locations/europe-west3/keyRings/hr-records-kr/cryptoKeys/payroll-docs-key";
    let (code, stdout, stderr) = respond_cli(
        &server,
        key,
        &[
            "--non-interactive",
            "--action",
            "rotate",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let ops: Vec<String> = doc["plans"][0]["actions"][0]["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| o["op"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ops,
        ["create_version", "set_primary", "set_rotation"],
        "365d > 90d"
    );
    assert!(
        doc["plans"][0]["actions"][0]["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("does not re-encrypt")),
        "{}",
        doc["plans"][0]["actions"][0]
    );

    let server = mock("benign-ci", MockConfig::default()).await;
    let key = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";
    let (_, stdout, stderr) = respond_cli(
        &server,
        key,
        &[
            "--non-interactive",
            "--action",
            "rotate",
            "--format",
            "json",
        ],
    )
    .await;
    let doc: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let ops: Vec<&str> = doc["plans"][0]["actions"][0]["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["op"].as_str())
        .collect();
    assert_eq!(
        ops,
        ["create_version", "set_primary"],
        "90d is within the maximum"
    );

    let server = mock("ransomware-precursor", MockConfig::default()).await;
    let key = "projects/acme-payments-prod/locations/us-east1/keyRings/payments-core-kr/cryptoKeys/payments-api-signing";
    let (code, stdout, stderr) = respond_cli(
        &server,
        key,
        &[
            "--non-interactive",
            "--action",
            "rotate",
            "--apply",
            "--journal",
            &scratch("asym").join("j.jsonl").display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("done: create a new version"), "{stdout}");
    assert!(
        !stdout.contains("primary"),
        "asymmetric keys have no primary: {stdout}"
    );
    assert_eq!(
        version_state(&server, &format!("{key}/cryptoKeyVersions/2")),
        "ENABLED"
    );
    let (_, stdout, _) =
        respond_cli(&server, key, &["--non-interactive", "--action", "rotate"]).await;
    assert!(
        stdout.contains("already rotated"),
        "the new version is newer than the suspect activity: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_ends_with_the_response_plan_as_a_dry_run() {
    let out = run(vec![s("demo")]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let plan_at = stdout
        .find("RESPONSE PLAN (dry run")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(stdout[plan_at..].contains("disable"), "{stdout}");
    assert!(stderr.contains("0 of them mutating"), "{stderr}");
}

// --- interactive, through the prompt trait ---------------------------------

async fn connect(server: &MockServer) -> Gcp {
    Gcp::connect(&GcpConfig {
        endpoints: Endpoints {
            all: Some(server.url()),
            ..Endpoints::default()
        },
        credentials: CredentialsMode::Anonymous,
        ..GcpConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The alert's case, investigated and assessed, with its affected keys.
async fn subject(gcp: &Gcp, scenario: &str) -> Subject {
    let text = std::fs::read_to_string(alert(scenario)).unwrap_or_else(|e| panic!("{e}"));
    let request = kms_responder::input::parse("alert", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0);
    let playbook = kms_responder::playbook::bundled_default().unwrap_or_else(|e| panic!("{e}"));
    let options = Options {
        lookback: playbook.lookback,
        max_pages: playbook.max_log_pages,
        ..Options::default()
    };
    let now = Timestamp::now();
    let Outcome::Investigated(mut list) = investigate::run(gcp, &request, &options, now).await
    else {
        panic!("no key found");
    };
    let investigation = list.remove(0);
    let assessment = kms_responder::assess::assess(&investigation, &playbook);
    Subject::gather(
        gcp,
        Case {
            investigation,
            assessment,
        },
        playbook,
        &options,
        now,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn interactively_each_action_is_shown_confirmed_and_applied() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let gcp = connect(&server).await;
    let subject = subject(&gcp, "suspicious-human-offhours").await;
    server.clear_requests();
    let logs = log_count(&server);
    let mut prompter = ScriptedPrompter::new([
        Answer::Yes,              // disable backup-key?
        Answer::Pick(vec![0]),    // also disable: export-key only
        Answer::Pick(vec![1, 2]), // revoke: allUsers and the gmail account, not the creator
        Answer::Yes, // rotate? (its versions are disabled by then: no question about them)
        Answer::Pick(vec![]), // also rotate the affected keys? none
        Answer::Yes, // apply?
    ]);
    let decided = respond::decide(
        vec![subject],
        Mode::Interactive,
        &Flags::default(),
        &mut prompter,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", prompter.transcript));
    assert_eq!(decided.decision, Decision::Apply);
    assert_eq!(prompter.remaining(), 0, "{:#?}", prompter.questions());
    let shown = prompter.transcript.join("\n");
    assert!(
        shown.contains("VERDICT   MALICIOUS"),
        "the summary comes first"
    );
    assert!(shown.contains("will break:"), "{shown}");
    assert!(shown.contains("recent users"), "{shown}");
    assert!(shown.contains("does not re-encrypt"), "{shown}");
    assert!(shown.contains("allUsers (public)"), "{shown}");
    assert!(
        shown.contains("THE PLAN"),
        "the plan is shown before the last question"
    );
    assert!(
        mutating(&server.requests()).is_empty(),
        "nothing before the yes"
    );

    let dir = scratch("interactive");
    let journal = dir.join("j.jsonl");
    let stop = AtomicBool::new(false);
    let done = respond::execute(
        &gcp,
        &decided.work,
        &journal,
        "anonymous",
        &stop,
        Timestamp::now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.status, RunStatus::Completed, "{:#?}", done.results);
    let v = |k: &str| version_state(&server, &format!("{k}/cryptoKeyVersions/1"));
    assert_eq!(
        (v(BACKUP_KEY), v(EXPORT_KEY), v(ARCHIVE_KEY)),
        (s("DISABLED"), s("DISABLED"), s("ENABLED")),
        "archive-key was not chosen"
    );
    let key_grants = grants(&policy(&server, BACKUP_KEY));
    assert!(
        key_grants
            .iter()
            .all(|(_, m)| m == "user:jordan.lee@acme.example"),
        "only the chosen members go: {key_grants:?}"
    );
    assert!(grants(&policy(&server, DR_SYNC)).is_empty());
    assert_eq!(
        version_state(&server, &format!("{BACKUP_KEY}/cryptoKeyVersions/2")),
        "ENABLED"
    );
    let mut methods: Vec<String> = admin_entries_since(&server, logs)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    methods.sort();
    assert_eq!(
        methods,
        [
            "CreateCryptoKeyVersion",
            "SetIamPolicy",
            "SetIamPolicy",
            "UpdateCryptoKey",
            "UpdateCryptoKeyPrimaryVersion",
            "UpdateCryptoKeyVersion",
            "UpdateCryptoKeyVersion",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_a_prompt_stops_with_nothing_done_and_no_journal() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let gcp = connect(&server).await;
    let subject = subject(&gcp, "suspicious-human-offhours").await;
    server.clear_requests();
    for answers in [
        vec![Answer::Interrupt],
        vec![Answer::Yes, Answer::Pick(vec![]), Answer::Interrupt],
        vec![
            Answer::No,            // disable backup-key
            Answer::Pick(vec![]),  // nor the affected keys
            Answer::Pick(vec![0]), // revoke the creator only
            Answer::Pick(vec![]),  // not on the affected keys (the key ring's outsider stays)
            Answer::No,            // rotate
            Answer::Interrupt,     // rotate the affected keys?
        ],
    ] {
        let mut prompter = ScriptedPrompter::new(answers);
        let got = respond::decide(
            vec![subject.clone()],
            Mode::Interactive,
            &Flags::default(),
            &mut prompter,
            Timestamp::now(),
        );
        assert!(
            matches!(got, Err(PromptError::Interrupted)),
            "{:?}\n{:#?}",
            got.map(|d| d.decision),
            prompter.transcript
        );
    }
    assert!(mutating(&server.requests()).is_empty());
    // Declining the final question changes nothing either.
    let mut prompter = ScriptedPrompter::new([
        Answer::Yes,
        Answer::Defaults,
        Answer::Defaults,
        Answer::No,
        Answer::Pick(vec![]),
        Answer::No,
    ]);
    let decided = respond::decide(
        vec![subject],
        Mode::Interactive,
        &Flags::default(),
        &mut prompter,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", prompter.transcript));
    assert_eq!(
        decided.decision,
        Decision::Declined,
        "{:#?}",
        prompter.questions()
    );
    assert!(mutating(&server.requests()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_destruction_needs_the_key_id_typed() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let gcp = connect(&server).await;
    let subject = subject(&gcp, "suspicious-human-offhours").await;
    let flags = Flags {
        actions: vec![kms_responder::findings::Action::ScheduleDestroy],
        ..Flags::default()
    };
    // A wrong id skips it (and the affected keys are offered one by one).
    let mut prompter = ScriptedPrompter::new([
        Answer::Text("backup".into()),
        Answer::Text(String::new()),
        Answer::Text(String::new()),
    ]);
    let decided = respond::decide(
        vec![subject.clone()],
        Mode::Interactive,
        &flags,
        &mut prompter,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", prompter.transcript));
    assert_eq!(decided.decision, Decision::Declined);
    let shown = prompter.transcript.join("\n");
    assert!(
        shown.contains("only way to decrypt data an attacker re-encrypted"),
        "{shown}"
    );
    assert!(shown.contains("destroyScheduledDuration is 30d"), "{shown}");

    let mut prompter = ScriptedPrompter::new([
        Answer::Text("backup-key".into()),
        Answer::Text(String::new()),
        Answer::Text("archive-key".into()),
        Answer::Yes,
    ]);
    let decided = respond::decide(
        vec![subject],
        Mode::Interactive,
        &flags,
        &mut prompter,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", prompter.transcript));
    assert_eq!(decided.decision, Decision::Apply);
    let journal = scratch("destroy-typed").join("j.jsonl");
    let stop = AtomicBool::new(false);
    let done = respond::execute(
        &gcp,
        &decided.work,
        &journal,
        "anonymous",
        &stop,
        Timestamp::now(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.status, RunStatus::Completed, "{:#?}", done.results);
    let v = |k: &str| version_state(&server, &format!("{k}/cryptoKeyVersions/1"));
    assert_eq!(
        (v(BACKUP_KEY), v(EXPORT_KEY), v(ARCHIVE_KEY)),
        (s("DESTROY_SCHEDULED"), s("ENABLED"), s("DESTROY_SCHEDULED"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_changed_between_read_and_write_is_read_again() {
    // The write of the key's policy is held back 1.5 s; meanwhile someone
    // else changes that policy, so the write's etag is stale: ABORTED, for real.
    let server = mock(
        "suspicious-human-offhours",
        fault("cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy=delay=1500,times=1"),
    )
    .await;
    let gcp = connect(&server).await;
    let subject = subject(&gcp, "suspicious-human-offhours").await;
    let flags = Flags {
        actions: vec![kms_responder::findings::Action::Revoke],
        ..Flags::default()
    };
    let mut silent = ScriptedPrompter::default();
    let decided = respond::decide(
        vec![subject],
        Mode::Scripted { apply: true },
        &flags,
        &mut silent,
        Timestamp::now(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let journal = scratch("etag").join("j.jsonl");
    let work = decided.work;
    let meddle = async {
        loop {
            let pending = server.requests().iter().any(|e| {
                e.method_id == "cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy"
            });
            if pending {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let caller = gcp_mock::audit::Caller {
            principal: "someone@acme.example".into(),
            ip: "10.20.1.1".into(),
            user_agent: "test".into(),
        };
        let current = policy(&server, BACKUP_KEY);
        let mut bindings = current["bindings"].as_array().cloned().unwrap_or_default();
        bindings.push(serde_json::json!(
            {"role": "roles/cloudkms.viewer", "members": ["user:newcomer@acme.example"]}
        ));
        server.with_state(|st| {
            st.set_policy(
                BACKUP_KEY,
                &serde_json::json!({"policy": {"bindings": bindings}}),
                &caller,
                Timestamp::now(),
            )
            .unwrap_or_else(|e| panic!("{e:?}"));
        });
    };
    let stop = AtomicBool::new(false);
    let (done, ()) = tokio::join!(
        respond::execute(&gcp, &work, &journal, "anonymous", &stop, Timestamp::now()),
        meddle
    );
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.status, RunStatus::Completed, "{:#?}", done.results);
    assert_eq!(
        grants(&policy(&server, BACKUP_KEY)),
        vec![(s("roles/cloudkms.viewer"), s("user:newcomer@acme.example"))],
        "the others' change is kept, ours is made"
    );
    let records = journal_records(&journal);
    let key_outcomes: Vec<&str> = records
        .iter()
        .filter(|r| r["record"] == "outcome")
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(key_outcomes.first(), Some(&"aborted"), "{records:#?}");
    let retry = records
        .iter()
        .filter(|r| r["record"] == "intent" && r["op"]["resource"] == BACKUP_KEY)
        .nth(1)
        .cloned()
        .unwrap_or_default();
    assert!(
        retry["prior"]["policy"]["bindings"]
            .to_string()
            .contains("newcomer"),
        "the retry is based on the policy read again: {retry}"
    );
}
