//! The investigation benchmark: `cargo bench --bench investigate`.
//!
//! Starts the Google Cloud mock in this process and runs the release `kms-responder` binary
//! against it, as a user runs it, for every bundled scenario at 0 ms and 100 ms of latency per
//! request, then a batch of 50 alerts across 3 projects under Logging's 60 reads per minute, a
//! key with 1,000,000 Data Access entries, `--version`, and (when Python 3 and PyPI are there)
//! the peer: Google's official Python clients doing the runbook one call after another.
//!
//! For every run it reports the wall time, the requests per API method (from the mock's ledger),
//! the critical path (the longest chain of requests each of which started after the previous
//! one had finished), `wall / (critical path x latency)` and the peak resident memory of the
//! tool's process (its `ru_maxrss`, measured by a small wrapper process: this one, re-executed).
//!
//! Options (after `--`): `--quick` (fewer repetitions), `--no-python`, `--no-volume`,
//! `--quota-stress` (adds a batch whose quota forces a one-minute wait), `--entries N` (volume
//! size, default 1000000).
//!
//! Results of a run on the reference machine, with the command: docs/performance.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gcp_mock::{FaultRule, LedgerEntry, MockConfig, MockServer, Quota, Scenario};
use serde_json::{Map, Value, json};

const TOOL: &str = env!("CARGO_BIN_EXE_kms-responder");
const REPO: &str = env!("CARGO_MANIFEST_DIR");
const LATENCIES_MS: [u64; 2] = [0, 100];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__measure") {
        measure_child(&args[2..]);
        return;
    }
    let flag = |f: &str| args.iter().any(|a| a == f);
    let opts = BenchOptions {
        quick: flag("--quick"),
        python: !flag("--no-python"),
        volume: !flag("--no-volume"),
        quota_stress: flag("--quota-stress"),
        batch: !flag("--no-batch"),
        only: args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .cloned(),
        entries: args
            .iter()
            .position(|a| a == "--entries")
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000_000),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(
        out,
        "# kms-responder investigation benchmark\n\nmachine: {cores} cores ({}), tool: {TOOL}\n",
        std::env::consts::ARCH
    );
    eprintln!("benchmark: tool {TOOL}, {cores} cores");
    let load_before = loadavg();

    let version = version_timing(if opts.quick { 10 } else { 30 });
    let scenarios = scenario_rows(&rt, &opts);
    print_scenarios(&mut out, &scenarios);
    let peer = if opts.python {
        python_peer(&rt, &scenarios)
    } else {
        Err("skipped (--no-python)".into())
    };
    print_peer(&mut out, &scenarios, &peer);
    let batch = opts
        .batch
        .then(|| batch_row(&rt, Quota::from_str_checked("60/min"), 100, &[]));
    let stress = opts
        .quota_stress
        // A quota far below the 60 a minute the tool paces itself for (another consumer took
        // the rest): Logging refuses, and the reads wait for the next minute, which the default
        // `--quota-wait` (30s) would not allow.
        .then(|| {
            batch_row(
                &rt,
                Quota::from_str_checked("1/min"),
                100,
                &["--quota-wait", "2m"],
            )
        });
    if let Some(b) = &batch {
        print_batch(&mut out, b, stress.as_ref());
    }
    if opts.volume {
        let volume = volume_rows(&rt, opts.entries);
        print_volume(&mut out, &volume);
    }
    let _ = writeln!(
        out,
        "\n## Local overhead\n\n- `kms-responder --version`: median {:.1} ms, max {:.1} ms ({} runs)",
        ms(version.0),
        ms(version.1),
        version.2
    );
    if let Some(s) = scenarios.iter().find(|s| s.latency_ms == 0) {
        let worst = scenarios
            .iter()
            .filter(|s| s.latency_ms == 0)
            .map(|s| s.run.wall)
            .max()
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "- whole `investigate` at 0 ms latency: {:.1} ms ({}) to {:.1} ms (slowest scenario), target < 100 ms",
            ms(s.run.wall),
            s.scenario,
            ms(worst)
        );
    }
    print_targets(&mut out, &scenarios, batch.as_ref(), &version, &peer);
    let _ = writeln!(
        out,
        "\nLoad average (1, 5, 15 min) before: {load_before}; after: {}. Other work on the machine inflates wall times.",
        loadavg()
    );
    println!("{out}");
    keep("investigate.md", &out);
    eprintln!("written to target/bench/investigate.md");
}

struct BenchOptions {
    quick: bool,
    python: bool,
    volume: bool,
    quota_stress: bool,
    batch: bool,
    /// Only this bundled scenario.
    only: Option<String>,
    entries: usize,
}

trait QuotaExt {
    fn from_str_checked(s: &str) -> Quota;
}

impl QuotaExt for Quota {
    fn from_str_checked(s: &str) -> Quota {
        s.parse().unwrap_or_else(|e| panic!("quota {s}: {e}"))
    }
}

/// `/proc/loadavg`'s first three figures (Linux), to tell whether the machine was busy.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Writes `name` in target/bench/ (results, ledgers, the batch's world), for a closer look;
/// returns its path.
fn keep(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(REPO).join("target/bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, contents)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// Keeps a ledger in target/bench/ for a closer look.
fn save_ledger(name: &str, ledger: &[LedgerEntry]) {
    keep(
        &format!("{name}.ledger.json"),
        &serde_json::to_string_pretty(ledger).unwrap_or_default(),
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- measuring a process

/// One process run: wall time, peak RSS, exit code, output.
#[derive(Debug, Clone, Default)]
struct Measured {
    wall: Duration,
    /// The tool's own CPU time (user + system), to tell its work from the mock's.
    cpu: Duration,
    max_rss_kb: u64,
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `program args` through this binary re-executed as a wrapper, whose only child it is, so
/// that the wrapper's `RUSAGE_CHILDREN` is exactly that process's peak RSS.
fn measure(program: &str, args: &[String], env: &[(&str, &str)]) -> Measured {
    let me = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let report = tempfile_path("measure");
    let mut cmd = Command::new(me);
    cmd.arg("__measure")
        .arg(&report)
        .arg(program)
        .args(args)
        .env_remove("KMS_RESPONDER_ENDPOINT")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let figures = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    let mut it = figures
        .split_whitespace()
        .map(|n| n.parse::<i64>().unwrap_or(-1));
    let wall_us = it.next().unwrap_or(0);
    let rss = it.next().unwrap_or(0);
    let code = it.next().unwrap_or(-1);
    let cpu_us = it.next().unwrap_or(0);
    Measured {
        wall: Duration::from_micros(u64::try_from(wall_us).unwrap_or(0)),
        cpu: Duration::from_micros(u64::try_from(cpu_us).unwrap_or(0)),
        max_rss_kb: u64::try_from(rss).unwrap_or(0),
        code: i32::try_from(code).unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The wrapper: `__measure REPORT PROGRAM ARGS...`.
fn measure_child(args: &[String]) {
    let (Some(report), Some(program)) = (args.first(), args.get(1)) else {
        std::process::exit(2);
    };
    let started = Instant::now();
    let status = Command::new(program).args(&args[2..]).status();
    let wall = started.elapsed();
    let code = match status {
        Ok(s) => s.code().unwrap_or(-1),
        Err(e) => {
            eprintln!("cannot start {program}: {e}");
            -1
        }
    };
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).ok();
    let rss = usage.map_or(0, |u| u.max_rss());
    let cpu_us = usage.map_or(0, |u| {
        let us = |t: nix::sys::time::TimeVal| t.tv_sec() * 1_000_000 + t.tv_usec();
        us(u.user_time()) + us(u.system_time())
    });
    let _ = std::fs::write(
        report,
        format!("{} {rss} {code} {cpu_us}", wall.as_micros()),
    );
}

fn tempfile_path(what: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "kms-responder-bench-{}-{what}-{n}",
        std::process::id()
    ))
}

fn version_timing(runs: usize) -> (Duration, Duration, usize) {
    let mut walls: Vec<Duration> = (0..runs)
        .map(|_| measure(TOOL, &["--version".into()], &[]).wall)
        .collect();
    walls.sort();
    (
        walls[walls.len() / 2],
        walls.last().copied().unwrap_or_default(),
        runs,
    )
}

// ---------------------------------------------------------------- the ledger

/// The longest chain of requests in which each started after the previous one finished.
fn critical_path(ledger: &[LedgerEntry]) -> usize {
    let mut spans: Vec<(u64, u64)> = ledger
        .iter()
        .map(|e| (e.started_us, e.finished_us.max(e.started_us)))
        .collect();
    spans.sort_unstable();
    let mut depth = vec![1usize; spans.len()];
    for i in 0..spans.len() {
        for j in 0..i {
            if spans[j].1 <= spans[i].0 {
                depth[i] = depth[i].max(depth[j] + 1);
            }
        }
    }
    depth.into_iter().max().unwrap_or(0)
}

fn per_method(ledger: &[LedgerEntry]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in ledger {
        *m.entry(e.method_id.clone()).or_insert(0) += 1;
    }
    m
}

/// `cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy` -> `kms cryptoKeys.getIamPolicy`.
fn short_method(id: &str) -> String {
    let api = match id.split('.').next().unwrap_or_default() {
        "cloudkms" => "kms",
        "cloudresourcemanager" => "rm",
        "kmsinventory" => "inventory",
        other => other,
    };
    let parts: Vec<&str> = id.split('.').collect();
    let tail = parts
        .len()
        .checked_sub(2)
        .map_or(id.to_owned(), |i| parts[i..].join("."));
    format!("{api} {tail}")
}

fn log_calls(ledger: &[LedgerEntry]) -> usize {
    ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list")
        .count()
}

// ---------------------------------------------------------------- scenarios

struct ScenarioRow {
    scenario: String,
    /// The bundled scenario the mock served.
    mock_scenario: String,
    latency_ms: u64,
    run: Measured,
    runs: usize,
    ledger: Vec<LedgerEntry>,
    cp: usize,
    verdicts: String,
}

fn bundled(name: &str) -> Scenario {
    Scenario::bundled(name)
        .unwrap_or_else(|| panic!("no bundled scenario {name}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn alert_path(name: &str) -> String {
    format!("{REPO}/mocks/scenarios/{name}.alert.json")
}

fn start_mock(rt: &tokio::runtime::Runtime, scenario: Scenario, config: MockConfig) -> MockServer {
    rt.block_on(MockServer::start(
        scenario,
        config,
        ([127, 0, 0, 1], 0).into(),
    ))
    .unwrap_or_else(|e| panic!("mock: {e}"))
}

fn investigate_args(server: &MockServer, inputs: &[String], extra: &[&str]) -> Vec<String> {
    let mut a = vec!["investigate".to_owned()];
    a.extend(inputs.iter().cloned());
    a.extend([
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
    ]);
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

/// Runs the tool `runs` times; returns the median run and its ledger.
fn repeat(server: &MockServer, args: &[String], runs: usize) -> (Measured, Vec<LedgerEntry>) {
    let mut all = Vec::new();
    for _ in 0..runs {
        server.clear_requests();
        let m = measure(TOOL, args, &[]);
        all.push((m, server.requests()));
    }
    all.sort_by_key(|(m, _)| m.wall);
    let i = all.len() / 2;
    all.swap_remove(i)
}

fn verdicts(stdout: &str) -> String {
    let v: Value = serde_json::from_str(stdout).unwrap_or(Value::Null);
    let list: Vec<String> = v["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let gaps = r["gaps"].as_array().map_or(0, Vec::len);
            format!(
                "{}{}",
                r["verdict"].as_str().unwrap_or("?"),
                if gaps > 0 {
                    format!(" ({gaps} gaps)")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    list.join(", ")
}

fn scenario_rows(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Vec<ScenarioRow> {
    let mut rows = Vec::new();
    // Each bundled alert, and one key name alone (no event time: the key's creation anchors
    // the window, so the log queries wait for the key).
    let mut cases: Vec<(String, String, String)> = gcp_mock::BUNDLED
        .iter()
        .map(|(n, _)| ((*n).to_owned(), (*n).to_owned(), alert_path(n)))
        .collect();
    cases.push((
        "ransomware-precursor (key name only)".into(),
        "ransomware-precursor".into(),
        alerted_key("ransomware-precursor"),
    ));
    for (label, name, input) in &cases {
        if opts.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        for latency_ms in LATENCIES_MS {
            let runs = match (opts.quick, latency_ms) {
                (true, _) => 3,
                (false, 0) => 9,
                (false, _) => 5,
            };
            let server = start_mock(
                rt,
                bundled(name),
                MockConfig {
                    latency: Duration::from_millis(latency_ms),
                    ..MockConfig::default()
                },
            );
            let args = investigate_args(&server, std::slice::from_ref(input), &[]);
            let (run, ledger) = repeat(&server, &args, runs);
            save_ledger(
                &format!("{}-{latency_ms}ms", label.replace([' ', '(', ')'], "")),
                &ledger,
            );
            eprintln!(
                "  {label} @ {latency_ms} ms: {:.1} ms, {} requests, exit {}",
                ms(run.wall),
                ledger.len(),
                run.code
            );
            rows.push(ScenarioRow {
                scenario: label.clone(),
                mock_scenario: name.clone(),
                latency_ms,
                cp: critical_path(&ledger),
                verdicts: verdicts(&run.stdout),
                run,
                runs,
                ledger,
            });
            drop(server);
        }
    }
    rows
}

fn ratio(wall: Duration, cp: usize, latency_ms: u64) -> Option<f64> {
    let bound = cp as f64 * latency_ms as f64;
    (bound > 0.0).then(|| ms(wall) / bound)
}

fn print_scenarios(out: &mut String, rows: &[ScenarioRow]) {
    let _ = writeln!(
        out,
        "## Bundled scenarios (one `investigate` of the scenario's alert, release binary)\n"
    );
    let _ = writeln!(
        out,
        "| scenario | latency | wall (median) | tool CPU | requests | entries.list | critical path | wall / (cp x latency) | peak RSS | verdict | exit |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} ms | {:.1} ms ({} runs) | {:.1} ms | {} | {} | {} | {} | {:.1} MB | {} | {} |",
            r.scenario,
            r.latency_ms,
            ms(r.run.wall),
            r.runs,
            ms(r.run.cpu),
            r.ledger.len(),
            log_calls(&r.ledger),
            r.cp,
            ratio(r.run.wall, r.cp, r.latency_ms).map_or("-".into(), |x| format!("{x:.2}")),
            r.run.max_rss_kb as f64 / 1024.0,
            r.verdicts,
            r.run.code
        );
    }
    // Requests per API method (the 100 ms runs).
    let at: Vec<&ScenarioRow> = rows.iter().filter(|r| r.latency_ms == 100).collect();
    let mut methods: Vec<String> = at
        .iter()
        .flat_map(|r| per_method(&r.ledger).into_keys())
        .collect();
    methods.sort();
    methods.dedup();
    let _ = writeln!(out, "\nRequests per API method (100 ms runs):\n");
    let _ = writeln!(
        out,
        "| method | {} |",
        at.iter()
            .map(|r| r.scenario.as_str())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---:|".repeat(at.len()));
    for m in &methods {
        let counts: Vec<String> = at
            .iter()
            .map(|r| {
                per_method(&r.ledger)
                    .get(m)
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", short_method(m), counts.join(" | "));
    }
}

// ---------------------------------------------------------------- the Python peer

struct PeerRow {
    scenario: String,
    run: Measured,
    /// Time spent in API calls, from the script (imports and client set-up excluded).
    calls_ms: f64,
    requests: usize,
    cp: usize,
}

fn python_peer(
    rt: &tokio::runtime::Runtime,
    scenarios: &[ScenarioRow],
) -> Result<Vec<PeerRow>, String> {
    let python = peer_venv()?;
    let script = format!("{REPO}/benches/peer/runbook.py");
    let mut rows = Vec::new();
    for s in scenarios
        .iter()
        .filter(|s| s.latency_ms == 100 && s.scenario == s.mock_scenario)
    {
        let server = start_mock(
            rt,
            bundled(&s.mock_scenario),
            MockConfig {
                latency: Duration::from_millis(100),
                ..MockConfig::default()
            },
        );
        let args = vec![
            script.clone(),
            "--endpoint".into(),
            server.url(),
            "--alert".into(),
            alert_path(&s.scenario),
        ];
        let mut runs = Vec::new();
        for _ in 0..3 {
            server.clear_requests();
            let m = measure(&python, &args, &[]);
            runs.push((m, server.requests()));
        }
        runs.sort_by_key(|(m, _)| m.wall);
        let (run, ledger) = runs.swap_remove(1);
        if run.code != 0 {
            return Err(format!(
                "the peer script failed on {} (exit {}): {}",
                s.scenario,
                run.code,
                run.stderr.lines().last().unwrap_or_default()
            ));
        }
        let calls_ms = serde_json::from_str::<Value>(run.stdout.lines().last().unwrap_or("{}"))
            .ok()
            .and_then(|v| v["calls_ms"].as_f64())
            .unwrap_or(f64::NAN);
        eprintln!(
            "  peer {} @ 100 ms: {:.0} ms ({calls_ms:.0} ms in calls), {} requests",
            s.scenario,
            ms(run.wall),
            ledger.len()
        );
        rows.push(PeerRow {
            scenario: s.scenario.clone(),
            cp: critical_path(&ledger),
            requests: ledger.len(),
            run,
            calls_ms,
        });
    }
    Ok(rows)
}

/// `target/bench-venv` with Google's Python clients (benches/peer/requirements.txt), created on
/// first use. Returns its python.
fn peer_venv() -> Result<String, String> {
    let requirements = Path::new(REPO).join("benches/peer/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).map_err(|e| e.to_string())?;
    let venv = Path::new(REPO).join("target/bench-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) || !python.exists()
    {
        eprintln!("creating target/bench-venv (Google's Python clients, from PyPI)…");
        let ok = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements)
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            return Err("could not create target/bench-venv (needs python3 and PyPI)".into());
        }
        std::fs::write(&stamp, &wanted).map_err(|e| e.to_string())?;
    }
    Ok(python.display().to_string())
}

fn print_peer(out: &mut String, scenarios: &[ScenarioRow], peer: &Result<Vec<PeerRow>, String>) {
    let _ = writeln!(
        out,
        "\n## Against the peer: the runbook step by step with Google's official Python clients (100 ms)\n"
    );
    let rows = match peer {
        Ok(rows) => rows,
        Err(why) => {
            let _ = writeln!(out, "Not run: {why}");
            return;
        }
    };
    let _ = writeln!(
        out,
        "| scenario | peer wall (process) | peer time in calls | peer requests | peer critical path | kms-responder wall | speed-up (process / calls only) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for p in rows {
        let tool = scenarios
            .iter()
            .find(|s| s.latency_ms == 100 && s.scenario == p.scenario)
            .map_or(Duration::ZERO, |s| s.run.wall);
        let _ = writeln!(
            out,
            "| {} | {:.0} ms | {:.0} ms | {} | {} | {:.0} ms | {:.1}x / {:.1}x |",
            p.scenario,
            ms(p.run.wall),
            p.calls_ms,
            p.requests,
            p.cp,
            ms(tool),
            ms(p.run.wall) / ms(tool),
            p.calls_ms / ms(tool)
        );
    }
}

// ---------------------------------------------------------------- the batch

struct BatchRow {
    quota: Quota,
    latency_ms: u64,
    alerts: usize,
    projects: usize,
    run: Measured,
    ledger: Vec<LedgerEntry>,
    cp: usize,
    reports: usize,
    quota_gaps: usize,
    /// Successful entries.list calls per project.
    log_calls: BTreeMap<String, usize>,
    refused: usize,
}

impl BatchRow {
    /// The least time the quota allows for the calls made: per project, one window per
    /// `quota` calls after the first window.
    fn quota_minimum(&self) -> Duration {
        self.log_calls
            .values()
            .map(|&n| self.quota.per * (n.saturating_sub(1) / self.quota.requests as usize) as u32)
            .max()
            .unwrap_or_default()
    }

    fn bound(&self) -> Duration {
        let path = Duration::from_millis(self.latency_ms) * self.cp as u32;
        // The quota's minimum still leaves the requests after the last wait to run.
        if self.quota_minimum().is_zero() {
            path
        } else {
            self.quota_minimum() + Duration::from_millis(self.latency_ms) * 3
        }
    }
}

/// The three projects of the batch and the scenario each comes from.
const BATCH_SOURCES: [&str; 3] = ["benign-ci", "ransomware-precursor", "data-access-off"];

/// One world with three projects (three bundled scenarios merged) and 50 new keys, each with its
/// creation entry and some use; the alerts are the creation entries.
fn batch_world(alerts: usize) -> (Scenario, Vec<Value>, usize) {
    let mut merged: Map<String, Value> = Map::new();
    let mut created = Vec::new();
    let per = alerts.div_ceil(BATCH_SOURCES.len());
    for (i, name) in BATCH_SOURCES.iter().enumerate() {
        let text = gcp_mock::BUNDLED
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no {name}"));
        let mut world: Map<String, Value> =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let key = alerted_key(name);
        let short = key.rsplit('/').next().unwrap_or_default().to_owned();
        let count = per.min(alerts - i * per);
        let mut add: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        let mut policies = Map::new();
        for n in 0..count {
            let new_short = format!("{short}-b{n:02}");
            let new_key = key.replace(
                &format!("/cryptoKeys/{short}"),
                &format!("/cryptoKeys/{new_short}"),
            );
            let rename = |v: &Value| -> Value {
                let s = v
                    .to_string()
                    .replace(&format!("{key}\""), &format!("{new_key}\""))
                    .replace(&format!("{key}/"), &format!("{new_key}/"))
                    .replace(&format!("\"{short}\""), &format!("\"{new_short}\""));
                serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}"))
            };
            let mentions = |v: &Value| {
                let s = v.to_string();
                s.contains(&format!("{key}\"")) || s.contains(&format!("{key}/"))
            };
            for section in ["cryptoKeys", "cryptoKeyVersions", "logEntries"] {
                for v in world[section].as_array().into_iter().flatten() {
                    if mentions(v) {
                        let mut c = rename(v);
                        if let Some(id) = c.get("insertId").and_then(Value::as_str) {
                            c["insertId"] = json!(format!("{id}b{i}{n:02}"));
                        }
                        if section == "logEntries"
                            && c.pointer("/protoPayload/methodName")
                                == Some(&json!("CreateCryptoKey"))
                            && c.pointer("/protoPayload/resourceName") == Some(&json!(new_key))
                        {
                            created.push(c.clone());
                        }
                        add.entry(section).or_default().push(c);
                    }
                }
            }
            if let Some(p) = world["iamPolicies"].get(&key) {
                policies.insert(new_key.clone(), p.clone());
            }
        }
        for (section, items) in add {
            if let Some(a) = world.get_mut(section).and_then(Value::as_array_mut) {
                a.extend(items);
            }
        }
        if let Some(p) = world.get_mut("iamPolicies").and_then(Value::as_object_mut) {
            p.extend(policies);
        }
        for (k, v) in world {
            match (merged.get_mut(&k), v) {
                (Some(Value::Array(a)), Value::Array(b)) => {
                    for item in b {
                        if !a.contains(&item) {
                            a.push(item);
                        }
                    }
                }
                (Some(Value::Object(a)), Value::Object(b)) => {
                    for (rk, rv) in b {
                        a.entry(rk).or_insert(rv);
                    }
                }
                (Some(_), _) => {}
                (None, v) => {
                    merged.insert(k, v);
                }
            }
        }
    }
    let text = Value::Object(merged).to_string();
    // Kept beside the ledgers, so the batch can be served (`gcp-mock serve --scenario`) and
    // rerun by hand, e.g. under a profiler.
    keep("batch.scenario.json", &text);
    let scenario = Scenario::parse("batch", "batch.json", &text).unwrap_or_else(|e| panic!("{e}"));
    (scenario, created, BATCH_SOURCES.len())
}

fn alerted_key(scenario: &str) -> String {
    let text = std::fs::read_to_string(alert_path(scenario)).unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let resources = v
        .pointer("/data/entityMap/Resource")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    resources
        .iter()
        .find(|r| {
            r.pointer("/PROPS/resource_type") == Some(&json!("cloudkms.googleapis.com/CryptoKey"))
        })
        .and_then(|r| r.pointer("/KEY/value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            // The alert names no full key: the key the description names.
            let d = v.pointer("/data/alertInfo/description")?.as_str()?;
            let i = d.find("projects/")?;
            Some(
                d[i..]
                    .split(|c: char| c.is_whitespace() || c == ',' || c == ')')
                    .next()?
                    .trim_end_matches('.')
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| panic!("{scenario}: no key in the alert"))
}

fn batch_row(
    rt: &tokio::runtime::Runtime,
    quota: Quota,
    latency_ms: u64,
    extra: &[&str],
) -> BatchRow {
    let alerts = 50;
    let (scenario, created, projects) = batch_world(alerts);
    // The alerts file the tool reads, kept with the batch's world.
    let input = keep(
        "batch.alerts.json",
        &Value::Array(created.clone()).to_string(),
    );
    let server = start_mock(
        rt,
        scenario,
        MockConfig {
            latency: Duration::from_millis(latency_ms),
            logging_quota: Some(quota),
            ..MockConfig::default()
        },
    );
    let args = investigate_args(&server, &[input.display().to_string()], extra);
    let run = measure(TOOL, &args, &[]);
    let ledger = server.requests();
    save_ledger(
        &format!("batch-{}-per-{}s", quota.requests, quota.per.as_secs()),
        &ledger,
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    let reports = report["reports"].as_array().map_or(0, Vec::len);
    let quota_gaps = report["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["gaps"].as_array().cloned().unwrap_or_default())
        .filter(|g| g["reason"] == "quota")
        .count();
    let mut log_calls = BTreeMap::new();
    for e in ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list" && e.status == 200)
    {
        let project = e
            .body
            .as_ref()
            .and_then(|b| b.pointer("/resourceNames/0"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        *log_calls.entry(project).or_insert(0) += 1;
    }
    let refused = ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list" && e.status == 429)
        .count();
    eprintln!(
        "  batch of {alerts} ({} per {:?}) @ {latency_ms} ms: {:.2} s, {} requests, {} entries.list, {refused} refused, exit {}",
        quota.requests,
        quota.per,
        run.wall.as_secs_f64(),
        ledger.len(),
        log_calls.values().sum::<usize>(),
        run.code
    );
    if reports != created.len() {
        eprintln!("{}", run.stderr);
    }
    BatchRow {
        quota,
        latency_ms,
        alerts: created.len(),
        projects,
        cp: critical_path(&ledger),
        run,
        ledger,
        reports,
        quota_gaps,
        log_calls,
        refused,
    }
}

fn print_batch(out: &mut String, batch: &BatchRow, stress: Option<&BatchRow>) {
    let _ = writeln!(
        out,
        "\n## Batch: {} alerts across {} projects, the mock enforcing Logging's quota per project\n",
        batch.alerts, batch.projects
    );
    let _ = writeln!(
        out,
        "| quota | latency | wall | tool CPU | reports | quota gaps | requests | entries.list per project | refused (429) | critical path | quota minimum | bound | wall / bound | peak RSS |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    );
    for b in std::iter::once(batch).chain(stress) {
        let calls: Vec<String> = b
            .log_calls
            .iter()
            .map(|(p, n)| format!("{} {n}", p.trim_start_matches("projects/")))
            .collect();
        let _ = writeln!(
            out,
            "| {}/{}s | {} ms | {:.2} s | {:.2} s | {}/{} | {} | {} | {} | {} | {} | {:.1} s | {:.2} s | {:.2} | {:.1} MB |",
            b.quota.requests,
            b.quota.per.as_secs(),
            b.latency_ms,
            b.run.wall.as_secs_f64(),
            b.run.cpu.as_secs_f64(),
            b.reports,
            b.alerts,
            b.quota_gaps,
            b.ledger.len(),
            calls.join(", "),
            b.refused,
            b.cp,
            b.quota_minimum().as_secs_f64(),
            b.bound().as_secs_f64(),
            b.run.wall.as_secs_f64() / b.bound().as_secs_f64(),
            b.run.max_rss_kb as f64 / 1024.0,
        );
    }
    let _ = writeln!(
        out,
        "\nWithout combining, the same batch needs {} entries.list calls (two per key).",
        batch.alerts * 2
    );
}

// ---------------------------------------------------------------- volume

struct VolumeRow {
    entries: usize,
    latency_ms: u64,
    max_pages: String,
    run: Measured,
    ledger: Vec<LedgerEntry>,
    cp: usize,
    usage: String,
    text_line: String,
}

/// `n` Data Access entries for the benign-ci key, by its usual caller, spread over the days
/// after its creation.
fn volume_entries(n: usize) -> Vec<Value> {
    let world: Value = serde_json::from_str(
        gcp_mock::BUNDLED
            .iter()
            .find(|(n, _)| *n == "benign-ci")
            .map(|(_, t)| *t)
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let key = alerted_key("benign-ci");
    let template = world["logEntries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| {
            e["logName"]
                .as_str()
                .is_some_and(|l| l.ends_with("%2Fdata_access"))
                && e.pointer("/protoPayload/resourceName")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r == key || r.starts_with(&format!("{key}/")))
        })
        .cloned()
        .unwrap_or_else(|| panic!("benign-ci has no Data Access entry for its key"));
    let start: jiff::Timestamp = "2026-11-24T15:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    // About 3 days, in order.
    let step_us = 3 * 86_400 * 1_000_000 / n.max(1) as i64;
    (0..n)
        .map(|i| {
            let mut e = template.clone();
            let t = start
                .checked_add(jiff::SignedDuration::from_micros(step_us * i as i64))
                .unwrap_or(start);
            e["timestamp"] = json!(t.to_string());
            e["receiveTimestamp"] = json!(t.to_string());
            e["insertId"] = json!(format!("vol{i:08}"));
            e
        })
        .collect()
}

fn volume_rows(rt: &tokio::runtime::Runtime, n: usize) -> Vec<VolumeRow> {
    let started = Instant::now();
    let server = start_mock(rt, bundled("benign-ci"), MockConfig::default());
    let entries = volume_entries(n);
    server.with_state(|s| s.append_entries(entries));
    eprintln!(
        "  volume: {n} entries added to the mock in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let alert = alert_path("benign-ci");
    let mut rows = Vec::new();
    for (latency_ms, max_pages) in [(100u64, None), (0, None), (0, Some("100"))] {
        server.clear_faults();
        if latency_ms > 0 {
            let rule: FaultRule = format!("*=delay={latency_ms}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
            server.add_fault(rule);
        }
        let mut extra: Vec<&str> = Vec::new();
        if let Some(m) = max_pages {
            extra.extend(["--max-pages", m]);
        }
        let args = investigate_args(&server, std::slice::from_ref(&alert), &extra);
        server.clear_requests();
        let run = measure(TOOL, &args, &[]);
        let ledger = server.requests();
        let report: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        let u = &report["reports"][0]["usage"];
        let usage = format!(
            "{} {} calls, page bound {}, truncated {}",
            u["status"].as_str().unwrap_or("?"),
            u["total_calls"],
            u["page_bound"],
            u["truncated"]
        );
        // What the on-call engineer reads.
        let mut text_args: Vec<String> = args.clone();
        if let Some(i) = text_args.iter().position(|a| a == "json") {
            text_args[i] = "text".into();
        }
        let text = measure(TOOL, &text_args, &[]);
        let text_line = text
            .stdout
            .lines()
            .find(|l| l.contains("calls:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        eprintln!(
            "  volume @ {latency_ms} ms, max pages {}: {:.2} s, {:.1} MB, {usage}",
            max_pages.unwrap_or("default"),
            run.wall.as_secs_f64(),
            run.max_rss_kb as f64 / 1024.0
        );
        rows.push(VolumeRow {
            entries: n,
            latency_ms,
            max_pages: max_pages.unwrap_or("10 (playbook)").to_owned(),
            cp: critical_path(&ledger),
            run,
            ledger,
            usage,
            text_line,
        });
    }
    server.clear_faults();
    drop(server);
    rows
}

fn print_volume(out: &mut String, rows: &[VolumeRow]) {
    let Some(first) = rows.first() else { return };
    let _ = writeln!(
        out,
        "\n## Volume: {} Data Access entries for the key (benign-ci)\n",
        first.entries
    );
    let _ = writeln!(
        out,
        "| latency | max pages | wall | tool CPU | requests | entries.list | critical path | peak RSS | usage (JSON) | usage (text report) |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} ms | {} | {:.2} s | {:.2} s | {} | {} | {} | {:.1} MB | {} | `{}` |",
            r.latency_ms,
            r.max_pages,
            r.run.wall.as_secs_f64(),
            r.run.cpu.as_secs_f64(),
            r.ledger.len(),
            log_calls(&r.ledger),
            r.cp,
            r.run.max_rss_kb as f64 / 1024.0,
            r.usage,
            r.text_line
        );
    }
}

// ---------------------------------------------------------------- targets

fn print_targets(
    out: &mut String,
    scenarios: &[ScenarioRow],
    batch: Option<&BatchRow>,
    version: &(Duration, Duration, usize),
    peer: &Result<Vec<PeerRow>, String>,
) {
    let _ = writeln!(out, "\n## Targets\n");
    let at100: Vec<&ScenarioRow> = scenarios.iter().filter(|s| s.latency_ms == 100).collect();
    let worst_ratio = at100
        .iter()
        .filter_map(|s| ratio(s.run.wall, s.cp, 100))
        .fold(0.0f64, f64::max);
    let worst_cp = at100.iter().map(|s| s.cp).max().unwrap_or(0);
    let worst_logs = scenarios
        .iter()
        .map(|s| log_calls(&s.ledger))
        .max()
        .unwrap_or(0);
    let worst_local = scenarios
        .iter()
        .filter(|s| s.latency_ms == 0)
        .map(|s| s.run.wall)
        .max()
        .unwrap_or_default();
    let yes = |ok: bool| if ok { "holds" } else { "DOES NOT HOLD" };
    let _ = writeln!(
        out,
        "- wall / (critical path x 100 ms) <= 1.3: worst {worst_ratio:.2} — {}",
        yes(worst_ratio <= 1.3)
    );
    let _ = writeln!(
        out,
        "- critical path <= 3: worst {worst_cp} — {}",
        yes(worst_cp <= 3)
    );
    let _ = writeln!(
        out,
        "- entries.list <= 3 per standard investigation: worst {worst_logs} — {}",
        yes(worst_logs <= 3)
    );
    if let Some(batch) = batch {
        let batch_ratio = batch.run.wall.as_secs_f64() / batch.bound().as_secs_f64();
        let _ = writeln!(
            out,
            "- batch: {}/{} reports, {} quota gaps, wall / bound {batch_ratio:.2} (<= 1.2) — {}",
            batch.reports,
            batch.alerts,
            batch.quota_gaps,
            yes(batch.reports == batch.alerts && batch.quota_gaps == 0 && batch_ratio <= 1.2)
        );
    }
    let _ = writeln!(
        out,
        "- local overhead: slowest whole investigate at 0 ms {:.1} ms (< 100) — {}; --version median {:.1} ms (< 20) — {}",
        ms(worst_local),
        yes(worst_local < Duration::from_millis(100)),
        ms(version.0),
        yes(version.0 < Duration::from_millis(20))
    );
    if let Ok(rows) = peer {
        let worst = rows
            .iter()
            .filter_map(|p| {
                let tool = at100.iter().find(|s| s.scenario == p.scenario)?.run.wall;
                Some(p.calls_ms / ms(tool))
            })
            .fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            out,
            "- against the Python peer at 100 ms: at least {worst:.1}x faster counting only the peer's time in calls"
        );
    }
}
