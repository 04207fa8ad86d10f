//! Faults injected with the mock, endpoint by endpoint: the fault matrix.
//!
//! For every Google endpoint an investigation calls and every fault (503 twice then success,
//! 503 always, 429 with and without `Retry-After`, an answer slower than the attempt timeout, a
//! hang, a reset connection, a malformed body, a truncated body, 403, 404) the binary runs
//! against the mock with small timeouts (`--attempt-timeout 800ms --call-timeout 2400ms`) and
//! must: finish within the bound of docs/reliability.md, not panic, write nothing, and either
//! recover (transient faults: the same report as without the fault, after retries that honour
//! `Retry-After`) or report exactly one missing piece of evidence as a gap naming the cause (and,
//! for 403, the permission) with the "incomplete" exit code, every other piece present.
//!
//! The outcome of every cell is written to `target/fault-matrix.md` and must equal the table in
//! `docs/reliability.md` (regenerate with `UPDATE_MATRIX=1 cargo test --test integration
//! faults::`), so the published matrix is always the one the last test run produced.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gcp_mock::{FaultRule, LedgerEntry, MockConfig};
use serde_json::{Value, json};

use crate::support::{alert, mock, mutating, repo, run};

/// Limits given to the binary: small, so the whole matrix runs in seconds.
const ATTEMPT_TIMEOUT_MS: u64 = 800;
const CALL_TIMEOUT_MS: u64 = 2400;
/// `--quota-wait`: long enough for one quota wait of a Logging read refused without a hint
/// (its first wait is 1 s), so the cells exercise a wait and then the bound.
const QUOTA_WAIT_MS: u64 = 1000;
/// The documented bound: one failing endpoint adds at most one call timeout to the run, whose
/// dependent stages otherwise take milliseconds against the mock (Logging refused for quota:
/// two call timeouts and the quota wait); the slack absorbs process start-up and a loaded 2-core
/// machine.
const SLACK: Duration = Duration::from_secs(6);
/// Cases run at once (each with its own mock).
const PARALLEL: usize = 6;

const SCENARIO: &str = "benign-ci";

/// One endpoint the investigation calls, and the evidence that depends on it alone.
struct Endpoint {
    method: &'static str,
    short: &'static str,
    /// Gap `evidence` values expected when this endpoint fails (a prefix match for
    /// `hierarchy.folders/...`).
    evidence: &'static [&'static str],
    /// The IAM permission the mock's 403 names, as Google does.
    permission: &'static str,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "cloudkms.projects.locations.keyRings.cryptoKeys.get",
        short: "KMS cryptoKeys.get",
        evidence: &["key"],
        permission: "cloudkms.cryptoKeys.get",
    },
    Endpoint {
        method: "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.list",
        short: "KMS cryptoKeyVersions.list",
        evidence: &["key.versions"],
        permission: "cloudkms.cryptoKeyVersions.list",
    },
    Endpoint {
        method: "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy",
        short: "KMS cryptoKeys.getIamPolicy",
        evidence: &["iam.key"],
        permission: "cloudkms.cryptoKeys.getIamPolicy",
    },
    Endpoint {
        method: "cloudkms.projects.locations.keyRings.getIamPolicy",
        short: "KMS keyRings.getIamPolicy",
        evidence: &["iam.key_ring"],
        permission: "cloudkms.keyRings.getIamPolicy",
    },
    Endpoint {
        method: "logging.entries.list",
        short: "Logging entries.list",
        evidence: &["creator", "usage"],
        permission: "logging.logEntries.list",
    },
    Endpoint {
        method: "kmsinventory.organizations.protectedResources.search",
        short: "KMS Inventory protectedResources.search",
        evidence: &["protected_resources"],
        permission: "cloudkms.protectedResources.search",
    },
    Endpoint {
        method: "cloudresourcemanager.projects.get",
        short: "RM projects.get",
        // Without the project's parent the organization is unknown: KMS Inventory is searched
        // in the project only, and says so.
        evidence: &["project", "protected_resources"],
        permission: "resourcemanager.projects.get",
    },
    Endpoint {
        method: "cloudresourcemanager.projects.getIamPolicy",
        short: "RM projects.getIamPolicy",
        // benign-ci enables Data Access logging on the project only: unknown without its policy.
        evidence: &["iam.project", "usage.logging"],
        permission: "resourcemanager.projects.getIamPolicy",
    },
    Endpoint {
        method: "cloudresourcemanager.folders.get",
        short: "RM folders.get",
        evidence: &["hierarchy.folders/", "protected_resources"],
        permission: "resourcemanager.folders.get",
    },
    Endpoint {
        method: "cloudresourcemanager.folders.getIamPolicy",
        short: "RM folders.getIamPolicy",
        evidence: &["iam.folders"],
        permission: "resourcemanager.folders.getIamPolicy",
    },
    Endpoint {
        method: "cloudresourcemanager.organizations.getIamPolicy",
        short: "RM organizations.getIamPolicy",
        evidence: &["iam.organizations"],
        permission: "resourcemanager.organizations.getIamPolicy",
    },
];

/// What a fault must lead to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Retried until it worked: no gap, the report of a run without faults.
    Recovered,
    /// The endpoint's evidence is a gap with this reason.
    Gap(&'static str),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Retries {
    /// Each failed request is attempted again.
    Yes,
    /// Each request is attempted once.
    No,
    /// Not checked (the SDK decides; the row says what happened).
    Any,
}

struct Fault {
    label: &'static str,
    rule: &'static str,
    expect: Expect,
    retries: Retries,
    /// The least wait between a failed attempt and its retry (`Retry-After`).
    min_wait: Option<Duration>,
}

const FAULTS: &[Fault] = &[
    Fault {
        label: "503 ×2 then OK",
        rule: "503,times=2",
        expect: Expect::Recovered,
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "503 always",
        rule: "503",
        expect: Expect::Gap("unavailable"),
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "429 + Retry-After: 1, once",
        rule: "429,times=1,retry-after=1",
        expect: Expect::Recovered,
        retries: Retries::Yes,
        min_wait: Some(Duration::from_millis(950)),
    },
    Fault {
        label: "429 + Retry-After: 60, always",
        rule: "429,retry-after=60",
        expect: Expect::Gap("quota"),
        retries: Retries::No,
        min_wait: None,
    },
    Fault {
        label: "429 (no Retry-After) ×2 then OK",
        rule: "429,times=2",
        expect: Expect::Recovered,
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "429 (no Retry-After) always",
        rule: "429",
        expect: Expect::Gap("quota"),
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "slower than the attempt timeout",
        rule: "delay=2000",
        expect: Expect::Gap("timeout"),
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "hang",
        rule: "hang",
        expect: Expect::Gap("timeout"),
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "connection reset",
        rule: "reset",
        expect: Expect::Gap("unavailable"),
        retries: Retries::Yes,
        min_wait: None,
    },
    Fault {
        label: "malformed body",
        rule: "malformed",
        expect: Expect::Gap("error"),
        retries: Retries::Any,
        min_wait: None,
    },
    Fault {
        label: "truncated body",
        rule: "truncated",
        expect: Expect::Gap("unavailable"),
        retries: Retries::Any,
        min_wait: None,
    },
    Fault {
        label: "403 PERMISSION_DENIED",
        rule: "403",
        expect: Expect::Gap("permission_denied"),
        retries: Retries::No,
        min_wait: None,
    },
    Fault {
        label: "404 NOT_FOUND",
        rule: "404",
        expect: Expect::Gap("not_found"),
        retries: Retries::No,
        min_wait: None,
    },
];

/// What one run produced.
struct Run {
    code: i32,
    report: Value,
    stderr: String,
    ledger: Vec<LedgerEntry>,
    elapsed: Duration,
}

async fn investigate(config: MockConfig) -> Run {
    let server = mock(SCENARIO, config).await;
    let started = Instant::now();
    let out = run(vec![
        "investigate".into(),
        alert(SCENARIO),
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
        "--attempt-timeout".into(),
        format!("{ATTEMPT_TIMEOUT_MS}ms"),
        "--call-timeout".into(),
        format!("{CALL_TIMEOUT_MS}ms"),
        "--quota-wait".into(),
        format!("{QUOTA_WAIT_MS}ms"),
    ])
    .await;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(
        |e| json!({"unparsable_stdout": format!("{e}: {}", String::from_utf8_lossy(&out.stdout))}),
    );
    let ledger = server.requests();
    server.shutdown().await;
    Run {
        code: out.status.code().unwrap_or(-1),
        report,
        stderr,
        ledger,
        elapsed,
    }
}

/// Drops every `age_seconds` (relative to the moment the report is made).
fn strip_ages(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("age_seconds");
            map.values_mut().for_each(strip_ages);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ages),
        _ => {}
    }
}

/// The report without what changes from run to run (the time it was made, the window's end,
/// ages).
fn stable(report: &Value) -> Value {
    let mut r = report.clone();
    strip_ages(&mut r);
    if let Some(obj) = r.as_object_mut() {
        obj.remove("generated_at");
    }
    if let Some(reports) = r["reports"].as_array_mut() {
        for inv in reports {
            if let Some(w) = inv["window"].as_object_mut() {
                w.remove("end");
            }
        }
    }
    r
}

/// Where two JSON values first differ, as a path with both values.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let d = first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{at}/{k}"),
                );
                if d.is_some() {
                    return d;
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}

fn gaps(report: &Value) -> Vec<Value> {
    report["reports"][0]["gaps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A request's identity apart from its attempt: what makes two ledger entries the same call.
fn call_key(e: &LedgerEntry) -> String {
    format!(
        "{} {} {:?} {}",
        e.http_method,
        e.path,
        e.query,
        e.body.as_ref().map(Value::to_string).unwrap_or_default()
    )
}

/// The verdict of one cell, and the text of the cell.
struct Cell {
    problems: Vec<String>,
    text: String,
    detail: String,
}

fn judge(endpoint: &Endpoint, fault: &Fault, run: &Run, baseline: &Value) -> Cell {
    let mut problems = Vec::new();
    let calls: Vec<&LedgerEntry> = run
        .ledger
        .iter()
        .filter(|e| e.method_id == endpoint.method)
        .collect();
    let faulted = calls.iter().filter(|e| e.fault.is_some()).count();
    if faulted == 0 {
        problems.push(format!("the fault never fired on {}", endpoint.method));
    }
    if run.stderr.contains("panicked") {
        problems.push(format!("panic: {}", run.stderr));
    }
    if !mutating(&run.ledger).is_empty() {
        problems.push(format!("wrote: {:?}", mutating(&run.ledger)));
    }
    let bound = bound(endpoint, fault);
    if run.elapsed > bound {
        problems.push(format!(
            "took {:?}, over the bound of {bound:?}",
            run.elapsed
        ));
    }
    // Attempts per distinct call.
    let mut attempts: BTreeMap<String, usize> = BTreeMap::new();
    for e in &calls {
        *attempts.entry(call_key(e)).or_default() += 1;
    }
    let max_attempts = attempts.values().copied().max().unwrap_or(0);
    match fault.retries {
        Retries::Yes if max_attempts < 2 => {
            problems.push("a failed call was not retried".into());
        }
        Retries::No if max_attempts > 1 => {
            problems.push(format!(
                "a call was attempted {max_attempts} times (must not be retried)"
            ));
        }
        _ => {}
    }
    if let Some(min) = fault.min_wait {
        for (i, e) in run.ledger.iter().enumerate() {
            if e.method_id != endpoint.method || e.fault.is_none() {
                continue;
            }
            let again = run.ledger[i + 1..]
                .iter()
                .find(|n| call_key(n) == call_key(e));
            match again {
                Some(n) => {
                    let waited = Duration::from_micros(n.started_us.saturating_sub(e.finished_us));
                    if waited < min {
                        problems.push(format!(
                            "retried after {waited:?}, before the Retry-After of {min:?}"
                        ));
                    }
                }
                None => problems.push("a throttled call was never retried".into()),
            }
        }
    }
    let found = gaps(&run.report);
    let text = match fault.expect {
        Expect::Recovered => {
            if !found.is_empty() {
                problems.push(format!("gaps after recovery: {found:?}"));
            }
            if let Some(at) = first_difference(&stable(&run.report), &stable(baseline), "") {
                problems.push(format!(
                    "the report differs from the run without faults at {at}"
                ));
            }
            if run.code != 0 {
                problems.push(format!("exit {} (want 0)", run.code));
            }
            format!("recovered · exit {}", run.code)
        }
        Expect::Gap(reason) => {
            let ours = |g: &Value| {
                let ev = g["evidence"].as_str().unwrap_or_default();
                endpoint
                    .evidence
                    .iter()
                    .any(|want| ev == *want || (want.ends_with('/') && ev.starts_with(want)))
            };
            let (mine, others): (Vec<&Value>, Vec<&Value>) = found.iter().partition(|g| ours(g));
            if !others.is_empty() {
                problems.push(format!("other evidence missing too: {others:?}"));
            }
            let named: BTreeSet<&str> = mine
                .iter()
                .filter_map(|g| g["evidence"].as_str())
                .map(|e| {
                    endpoint
                        .evidence
                        .iter()
                        .find(|w| e.starts_with(*w))
                        .copied()
                        .unwrap_or(e)
                })
                .collect();
            if named.len() != endpoint.evidence.len() {
                problems.push(format!(
                    "want gaps for {:?}, got {found:?}",
                    endpoint.evidence
                ));
            }
            for g in &mine {
                if g["reason"] != reason {
                    problems.push(format!("gap reason {} (want {reason})", g["reason"]));
                }
                let detail = g["detail"].as_str().unwrap_or_default();
                if detail.is_empty() {
                    problems.push("a gap without detail".into());
                }
                if reason == "permission_denied" && g["permission"] != endpoint.permission {
                    problems.push(format!(
                        "the gap names permission {} (want {})",
                        g["permission"], endpoint.permission
                    ));
                }
                if fault.rule.contains("retry-after=60") && !detail.contains("60s") {
                    problems.push(format!("the gap does not say when to retry: {detail}"));
                }
            }
            if run.code != 3 {
                problems.push(format!("exit {} (want 3, incomplete)", run.code));
            }
            // Everything else is still there.
            let inv = &run.report["reports"][0];
            let present = |field: &str, needed_by: &str| {
                !endpoint.evidence.contains(&needed_by) && inv[field].is_null()
            };
            for (field, needed_by) in [
                ("key", "key"),
                ("creator", "creator"),
                ("protected_resources", "protected_resources"),
            ] {
                if present(field, needed_by) {
                    problems.push(format!("{field} is missing although {needed_by} is not"));
                }
            }
            match (reason, mine.first()) {
                ("permission_denied", Some(g)) => format!(
                    "gap `{reason}` (`{}`) · exit {}",
                    g["permission"].as_str().unwrap_or("?"),
                    run.code
                ),
                _ => format!("gap `{reason}` · exit {}", run.code),
            }
        }
    };
    let detail = format!(
        "{} × {}: exit {}, {:.2}s, {} request(s) to the endpoint ({} faulted, at most {} attempts per call), gaps {}",
        endpoint.short,
        fault.label,
        run.code,
        run.elapsed.as_secs_f64(),
        calls.len(),
        faulted,
        max_attempts,
        serde_json::to_string(&found).unwrap_or_default()
    );
    let text = if problems.is_empty() {
        text
    } else {
        format!("**FAIL** {text}")
    };
    Cell {
        problems,
        text,
        detail,
    }
}

const BEGIN: &str =
    "<!-- fault-matrix:begin (generated by tests/integration/faults.rs; do not edit) -->";
const END: &str = "<!-- fault-matrix:end -->";

fn matrix_table(cells: &BTreeMap<(usize, usize), Cell>) -> String {
    let mut t = String::new();
    let _ = write!(t, "| endpoint (mock method id) |");
    for f in FAULTS {
        let _ = write!(t, " {} |", f.label);
    }
    t.push('\n');
    t.push_str("|---|");
    for _ in FAULTS {
        t.push_str("---|");
    }
    t.push('\n');
    for (ei, e) in ENDPOINTS.iter().enumerate() {
        let _ = write!(t, "| {} (`{}`) |", e.short, e.method);
        for fi in 0..FAULTS.len() {
            let cell = cells.get(&(ei, fi)).map_or("?", |c| c.text.as_str());
            let _ = write!(t, " {cell} |");
        }
        t.push('\n');
    }
    t
}

fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
}

/// Replaces the generated section of docs/reliability.md, or checks it is current.
fn publish(table: &str, details: &str) {
    let generated = format!("{BEGIN}\n{table}{END}");
    let _ = std::fs::create_dir_all(target_dir());
    let _ = std::fs::write(
        target_dir().join("fault-matrix.md"),
        format!("# Fault matrix (last run)\n\n{table}\n## Runs\n\n{details}"),
    );
    let path = repo().join("docs/reliability.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let current = match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if b < e => Some((b, e + END.len())),
        _ => None,
    };
    if std::env::var_os("UPDATE_MATRIX").is_some_and(|v| v == "1") {
        let updated = match current {
            Some((b, e)) => format!("{}{generated}{}", &doc[..b], &doc[e..]),
            None => format!("{doc}\n{generated}\n"),
        };
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    let published = current.map(|(b, e)| &doc[b..e]);
    assert_eq!(
        published,
        Some(generated.as_str()),
        "docs/reliability.md's fault matrix is not the one this run produced \
         (target/fault-matrix.md). If the change is intended, regenerate it with: \
         UPDATE_MATRIX=1 cargo test --test integration faults::"
    );
}

/// The time bound of docs/reliability.md for one cell: one call timeout for a failing endpoint;
/// for Logging refused for quota, the refused call, the quota waits (`--quota-wait` in all) and
/// one last call.
fn bound(endpoint: &Endpoint, fault: &Fault) -> Duration {
    let call = Duration::from_millis(CALL_TIMEOUT_MS);
    let quota = endpoint.method == "logging.entries.list" && fault.rule.starts_with("429");
    if quota {
        2 * call + Duration::from_millis(QUOTA_WAIT_MS) + SLACK
    } else {
        call + SLACK
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_matrix_every_endpoint_every_fault() {
    let baseline = investigate(MockConfig::default()).await;
    assert_eq!(baseline.code, 0, "{}", baseline.stderr);
    assert!(gaps(&baseline.report).is_empty(), "{}", baseline.report);
    // Every endpoint of the matrix is one the investigation calls.
    for e in ENDPOINTS {
        assert!(
            baseline.ledger.iter().any(|l| l.method_id == e.method),
            "{} is not called by an investigation of {SCENARIO}",
            e.method
        );
    }
    let called: BTreeSet<&str> = baseline
        .ledger
        .iter()
        .map(|l| l.method_id.as_str())
        .collect();
    let covered: BTreeSet<&str> = ENDPOINTS.iter().map(|e| e.method).collect();
    assert_eq!(
        called, covered,
        "the investigation calls an endpoint the matrix does not cover"
    );

    let baseline_report = Arc::new(baseline.report);
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for (ei, e) in ENDPOINTS.iter().enumerate() {
        for (fi, f) in FAULTS.iter().enumerate() {
            let permits = Arc::clone(&permits);
            let baseline = Arc::clone(&baseline_report);
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let rule: FaultRule = format!("{}={}", e.method, f.rule)
                    .parse()
                    .unwrap_or_else(|err| panic!("{err}"));
                let config = MockConfig {
                    faults: vec![rule],
                    ..MockConfig::default()
                };
                let run = investigate(config).await;
                ((ei, fi), judge(e, f, &run, &baseline), run.elapsed)
            }));
        }
    }
    let mut cells = BTreeMap::new();
    // The slowest run, and the slowest against its own bound.
    let mut slowest = Duration::ZERO;
    let mut tightest = (0.0, String::new());
    for t in tasks {
        let ((ei, fi), cell, elapsed) = t.await.unwrap_or_else(|e| panic!("{e}"));
        slowest = slowest.max(elapsed);
        let bound = bound(&ENDPOINTS[ei], &FAULTS[fi]);
        let share = elapsed.as_secs_f64() / bound.as_secs_f64();
        if share > tightest.0 {
            tightest = (
                share,
                format!(
                    "{} × {}: {:.2}s of {:.2}s",
                    ENDPOINTS[ei].short,
                    FAULTS[fi].label,
                    elapsed.as_secs_f64(),
                    bound.as_secs_f64()
                ),
            );
        }
        cells.insert((ei, fi), cell);
    }
    let mut details = String::new();
    let mut failures = Vec::new();
    for cell in cells.values() {
        let _ = writeln!(details, "- {}", cell.detail);
        if !cell.problems.is_empty() {
            failures.push(format!(
                "{}\n    {}",
                cell.detail,
                cell.problems.join("\n    ")
            ));
        }
    }
    let _ = writeln!(
        details,
        "\n{} runs; slowest {:.2}s; closest to its bound: {}.",
        cells.len(),
        slowest.as_secs_f64(),
        tightest.1
    );
    let table = matrix_table(&cells);
    assert!(
        failures.is_empty(),
        "{} of {} cells failed:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
    publish(&table, &details);
}

// ---------------------------------------------------------------------------------------------
// Faults on the calls that change things: `respond --apply`, then `undo --apply`

const RESPOND_SCENARIO: &str = "suspicious-human-offhours";
const RESPOND_KEY: &str =
    "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync/cryptoKeys/backup-key";
const RESPOND_RING: &str = "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync";

/// The mutating endpoints `respond --action disable,rotate,revoke` calls.
const MUTATING: &[(&str, &str)] = &[
    (
        "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.patch",
        "versions.patch (disable)",
    ),
    (
        "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.create",
        "versions.create (rotate)",
    ),
    (
        "cloudkms.projects.locations.keyRings.cryptoKeys.updatePrimaryVersion",
        "updatePrimaryVersion (rotate)",
    ),
    (
        "cloudkms.projects.locations.keyRings.cryptoKeys.patch",
        "cryptoKeys.patch (rotation schedule)",
    ),
    (
        "cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy",
        "cryptoKeys.setIamPolicy (revoke)",
    ),
    (
        "cloudkms.projects.locations.keyRings.setIamPolicy",
        "keyRings.setIamPolicy (revoke)",
    ),
];

const MUTATING_FAULTS: &[(&str, &str)] = &[
    ("503 always", "503"),
    ("429 always", "429"),
    ("403", "403"),
    ("connection reset", "reset"),
    ("applied, answer truncated", "truncated"),
    ("hang", "hang"),
];

/// What `undo` must restore: the pre-existing versions' states, the primary and rotation
/// schedule, and both IAM policies' bindings (a version the run created stays: Cloud KMS cannot
/// delete one).
fn restorable(server: &gcp_mock::MockServer, versions: &[String]) -> Value {
    let state = server.state();
    let version_states: Vec<Value> = state["cryptoKeyVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| {
            v["name"]
                .as_str()
                .is_some_and(|n| versions.iter().any(|w| w == n))
        })
        .map(|v| json!([v["name"], v["state"]]))
        .collect();
    let key = state["cryptoKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["name"] == RESPOND_KEY)
        .cloned()
        .unwrap_or_default();
    let bindings = |r: &str| state["iamPolicies"][r]["bindings"].clone();
    json!({
        "versions": version_states,
        "primary": key["primary"]["name"],
        "rotationPeriod": key["rotationPeriod"],
        "nextRotationTime": key["nextRotationTime"],
        "keyBindings": bindings(RESPOND_KEY),
        "ringBindings": bindings(RESPOND_RING),
    })
}

fn journal_records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    crate::support::scratch("faults", name)
}

fn respond_args(url: &str, journal: &std::path::Path, attempt: &str, call: &str) -> Vec<String> {
    [
        "respond",
        &alert(RESPOND_SCENARIO),
        "--endpoint",
        url,
        "--non-interactive",
        "--action",
        "disable,rotate,revoke",
        "--apply",
        "--journal",
        &journal.display().to_string(),
        "--attempt-timeout",
        attempt,
        "--call-timeout",
        call,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

async fn undo_apply(url: &str, journal: &std::path::Path) -> (i32, String) {
    let out = run(vec![
        "undo".into(),
        journal.display().to_string(),
        "--endpoint".into(),
        url.to_owned(),
        "--apply".into(),
    ])
    .await;
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// One cell: respond under the fault stops and reports, its journal is complete, and undo
/// (faults gone) puts the key back as it was.
async fn respond_cell(method: &str, rule: &str, name: &str) -> (String, Vec<String>) {
    let fault: FaultRule = format!("{method}={rule}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let server = mock(
        RESPOND_SCENARIO,
        MockConfig {
            faults: vec![fault],
            ..MockConfig::default()
        },
    )
    .await;
    let versions: Vec<String> = server.state()["cryptoKeyVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .filter(|n| n.starts_with(&format!("{RESPOND_KEY}/")))
        .map(str::to_owned)
        .collect();
    let before = restorable(&server, &versions);
    let dir = scratch(name);
    let journal = dir.join("journal.jsonl");
    let started = Instant::now();
    let out = run(respond_args(&server.url(), &journal, "800ms", "2400ms")).await;
    let elapsed = started.elapsed();
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut problems = Vec::new();
    let fired = server
        .requests()
        .iter()
        .any(|e| e.method_id == method && e.fault.is_some());
    if !fired {
        server.shutdown().await;
        return ("not called by this plan".into(), problems);
    }
    if code != 1 {
        problems.push(format!("respond exited {code} (want 1): {stdout}"));
    }
    if !stdout.contains("RESPONSE STOPPED") {
        problems.push(format!("the report does not say it stopped: {stdout}"));
    }
    if elapsed > Duration::from_millis(CALL_TIMEOUT_MS) * 3 + SLACK * 2 {
        problems.push(format!("respond took {elapsed:?}"));
    }
    if String::from_utf8_lossy(&out.stderr).contains("panicked") {
        problems.push("panic".into());
    }
    let records = journal_records(&journal);
    let end = records
        .last()
        .map(|r| (r["record"].clone(), r["status"].clone()));
    if end != Some(("end".into(), "failed".into())) {
        problems.push(format!(
            "the journal does not end with a failed run: {end:?}"
        ));
    }
    server.clear_faults();
    let (undo_code, undo_out) = undo_apply(&server.url(), &journal).await;
    if undo_code != 0 {
        problems.push(format!("undo exited {undo_code}: {undo_out}"));
    }
    let after = restorable(&server, &versions);
    if let Some(at) = first_difference(&after, &before, "") {
        problems.push(format!("undo did not restore the key: {at}"));
    }
    server.shutdown().await;
    let text = if problems.is_empty() {
        format!("stopped · exit {code} · undo restored")
    } else {
        format!("**FAIL** exit {code}")
    };
    (text, problems)
}

#[tokio::test(flavor = "multi_thread")]
async fn respond_under_a_fault_on_any_mutating_call_stops_and_undo_restores() {
    let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for (mi, (method, _)) in MUTATING.iter().enumerate() {
        for (fi, (_, rule)) in MUTATING_FAULTS.iter().enumerate() {
            let permits = Arc::clone(&permits);
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let name = format!("respond-{mi}-{fi}");
                ((mi, fi), respond_cell(method, rule, &name).await)
            }));
        }
    }
    let mut table = String::from("| mutating endpoint |");
    for (label, _) in MUTATING_FAULTS {
        let _ = write!(table, " {label} |");
    }
    table.push_str("\n|---|");
    for _ in MUTATING_FAULTS {
        table.push_str("---|");
    }
    let mut cells = BTreeMap::new();
    let mut failures = Vec::new();
    for t in tasks {
        let (at, (text, problems)) = t.await.unwrap_or_else(|e| panic!("{e}"));
        if !problems.is_empty() {
            failures.push(format!(
                "{} × {}: {}",
                MUTATING[at.0].1,
                MUTATING_FAULTS[at.1].0,
                problems.join("; ")
            ));
        }
        cells.insert(at, text);
    }
    for (mi, (method, label)) in MUTATING.iter().enumerate() {
        let _ = write!(table, "\n| {label} (`{method}`) |");
        for fi in 0..MUTATING_FAULTS.len() {
            let _ = write!(
                table,
                " {} |",
                cells.get(&(mi, fi)).map_or("?", String::as_str)
            );
        }
    }
    table.push('\n');
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    publish_section(RESPOND_BEGIN, &table);
}

const RESPOND_BEGIN: &str =
    "<!-- respond-fault-matrix:begin (generated by tests/integration/faults.rs; do not edit) -->";
const RESPOND_END: &str = "<!-- respond-fault-matrix:end -->";

/// Like [`publish`], for the respond matrix.
fn publish_section(begin: &str, table: &str) {
    let end = RESPOND_END;
    let generated = format!("{begin}\n{table}{end}");
    let path = repo().join("docs/reliability.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    let current = match (doc.find(begin), doc.find(end)) {
        (Some(b), Some(e)) if b < e => Some((b, e + end.len())),
        _ => None,
    };
    if std::env::var_os("UPDATE_MATRIX").is_some_and(|v| v == "1") {
        let updated = match current {
            Some((b, e)) => format!("{}{generated}{}", &doc[..b], &doc[e..]),
            None => format!("{doc}\n{generated}\n"),
        };
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    assert_eq!(
        current.map(|(b, e)| &doc[b..e]),
        Some(generated.as_str()),
        "docs/reliability.md's respond fault matrix is not the one this run produced. If the \
         change is intended, regenerate it with: UPDATE_MATRIX=1 cargo test --test integration faults::"
    );
}

/// A process killed between a call's intent and its outcome: the call hangs (before or after
/// the write lands), the process is killed, and `undo` settles the intent from the real state.
#[tokio::test(flavor = "multi_thread")]
async fn a_respond_killed_between_intent_and_outcome_is_reconciled_by_undo() {
    for (rule, landed) in [
        (
            "cloudkms.projects.locations.keyRings.cryptoKeys.setIamPolicy=hang-after-apply",
            true,
        ),
        (
            "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.patch=hang",
            false,
        ),
    ] {
        let fault: FaultRule = rule.parse().unwrap_or_else(|e| panic!("{e}"));
        let method = fault.method.clone();
        let server = mock(
            RESPOND_SCENARIO,
            MockConfig {
                faults: vec![fault],
                ..MockConfig::default()
            },
        )
        .await;
        let versions: Vec<String> = server.state()["cryptoKeyVersions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str())
            .filter(|n| n.starts_with(&format!("{RESPOND_KEY}/")))
            .map(str::to_owned)
            .collect();
        let before = restorable(&server, &versions);
        let dir = scratch(if landed {
            "kill-landed"
        } else {
            "kill-not-landed"
        });
        let journal = dir.join("journal.jsonl");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kms-responder"))
            .args(respond_args(&server.url(), &journal, "60s", "120s"))
            .env_remove("KMS_RESPONDER_ENDPOINT")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        // Wait until the call is in flight: its intent journaled, the request at the mock.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let in_flight = server
                .requests()
                .iter()
                .any(|e| e.method_id == method && e.fault.is_some());
            let intent = journal_records(&journal)
                .iter()
                .any(|r| r["record"] == "intent");
            if in_flight && intent {
                break;
            }
            assert!(Instant::now() < deadline, "{rule}: the call never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let records = journal_records(&journal);
        let last = records.last().cloned().unwrap_or_default();
        assert_eq!(
            last["record"], "intent",
            "{rule}: killed after the intent: {last}"
        );
        server.clear_faults();
        let (code, out) = undo_apply(&server.url(), &journal).await;
        assert_eq!(code, 0, "{rule}: {out}");
        assert!(out.contains("reconciled"), "{rule}: {out}");
        let after = restorable(&server, &versions);
        if let Some(at) = first_difference(&after, &before, "") {
            panic!("{rule}: undo did not restore the key: {at}\n{out}");
        }
        server.shutdown().await;
    }
}

/// A Logging read interrupted by 429 resumes from its page token, not from the start, and
/// nothing is lost or counted twice: 2,500 extra Data Access entries (three pages), the
/// second page onwards refused for a while with `Retry-After: 1`.
#[tokio::test(flavor = "multi_thread")]
async fn a_logging_read_interrupted_by_429_resumes_from_its_page_token() {
    const EXTRA: usize = 2500;
    let key = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";
    let baseline = investigate(MockConfig::default()).await;
    let base_calls = baseline.report["reports"][0]["usage"]["total_calls"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}", baseline.report));
    let rule: FaultRule = "logging.entries.list=429,retry-after=1,after=3,times=4"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let server = mock(
        SCENARIO,
        MockConfig {
            faults: vec![rule],
            ..MockConfig::default()
        },
    )
    .await;
    let template = server.state()["logEntries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["protoPayload"]["resourceName"] == key
                && e["logName"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("%2Fdata_access"))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no usage entry to copy"));
    server.with_state(|s| {
        s.append_entries((0..EXTRA).map(|i| {
            let mut e = template.clone();
            e["insertId"] = json!(format!("extra-{i:05}"));
            e["timestamp"] = json!(format!(
                "2026-11-25T{:02}:{:02}:{:02}.000Z",
                i / 3600,
                (i / 60) % 60,
                i % 60
            ));
            e
        }));
    });
    let started = Instant::now();
    let out = run(vec![
        "investigate".into(),
        alert(SCENARIO),
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
        // Generous, so that pages of 1,000 entries never time out on a loaded machine: four
        // refusals exhaust one call (the attempt limit), the reader then waits and resumes.
        "--attempt-timeout".into(),
        "5s".into(),
        "--call-timeout".into(),
        "12s".into(),
    ])
    .await;
    let elapsed = started.elapsed();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let ledger = server.requests();
    let reads: Vec<&LedgerEntry> = ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list")
        .collect();
    assert!(
        reads.iter().filter(|e| e.status == 429).count() >= 2,
        "the fault fired: {reads:#?}"
    );
    // Per query: once a page token was used, no request of that query starts over, and the
    // request after a refused one asks for the same page.
    let mut by_filter: BTreeMap<String, Vec<(String, u16)>> = BTreeMap::new();
    for e in &reads {
        let body = e.body.clone().unwrap_or_default();
        let filter = body["filter"].as_str().unwrap_or_default().to_owned();
        let token = body["pageToken"].as_str().unwrap_or_default().to_owned();
        by_filter.entry(filter).or_default().push((token, e.status));
    }
    for (filter, seq) in &by_filter {
        let mut seen_token = false;
        for (i, (token, status)) in seq.iter().enumerate() {
            if seen_token {
                assert!(!token.is_empty(), "{filter}: started over: {seq:?}");
            }
            seen_token |= !token.is_empty();
            if *status == 429 {
                let next = seq.get(i + 1).map(|(t, _)| t);
                assert_eq!(next, Some(token), "{filter}: did not resume: {seq:?}");
            }
        }
    }
    let inv = &report["reports"][0];
    assert_eq!(inv["gaps"], json!([]), "{}", inv["gaps"]);
    assert_eq!(
        inv["usage"]["total_calls"].as_u64(),
        Some(base_calls + EXTRA as u64),
        "nothing lost, nothing counted twice"
    );
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

/// Google entirely down (every endpoint hanging, or answering 503): the investigation still
/// ends within (dependent stages) × call timeout, says what it could not do, and writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn with_every_endpoint_failing_the_investigation_still_ends_within_the_bound() {
    for (rule, reason) in [("*=hang", "timeout"), ("*=503", "unavailable")] {
        let run = investigate(MockConfig {
            faults: vec![rule.parse().unwrap_or_else(|e| panic!("{e}"))],
            ..MockConfig::default()
        })
        .await;
        let bound = Duration::from_millis(CALL_TIMEOUT_MS) * 4 + SLACK;
        assert!(run.elapsed < bound, "{rule}: {:?} > {bound:?}", run.elapsed);
        assert_eq!(run.code, 3, "{rule}: {}", run.stderr);
        let found = gaps(&run.report);
        assert!(found.len() >= 6, "{rule}: {found:?}");
        assert!(
            found
                .iter()
                .filter(|g| g["reason"] != "retention_exceeded")
                .all(|g| g["reason"] == reason),
            "{rule}: {found:?}"
        );
        assert!(mutating(&run.ledger).is_empty());
        assert!(!run.stderr.contains("panicked"));
    }
}
