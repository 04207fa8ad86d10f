//! Hostile and bad input, and secrets, end to end: the binary against the mock.
//!
//! - Attackers' strings (ANSI escapes, other controls, bidi overrides, invisible characters,
//!   forged report lines, very long values) in log entries and alerts are neutralized in the
//!   terminal and Markdown reports and kept verbatim in JSON.
//! - Principals and key names with quotes, backslashes, `OR`, parentheses or newlines reach a
//!   Logging filter only inside one quoted literal: the filter the mock receives is exactly the
//!   intended one.
//! - Bad input (truncated or invalid JSON, wrong types, empty, 100 MB, not UTF-8, nested too
//!   deep, a YAML alias bomb, unknown fields) is refused with a clear error and its location,
//!   quickly, and nothing is sent to Google.
//! - Tokens and credentials never appear in output or errors, are never sent to a loopback
//!   endpoint unless asked for, and insecure or credential-carrying endpoints are refused.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gcp_mock::{MockConfig, MockServer, Scenario};
use serde_json::{Value, json};

use crate::support::{alert, mock, mutating, repo};

const KEY: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";

/// A user agent an attacker controls (`callerSuppliedUserAgent`): clears the screen, turns red,
/// forges a report line after a newline, reverses text with a bidi override, hides characters,
/// and is 100 KB long.
fn hostile_user_agent() -> String {
    format!(
        "\u{1b}[2J\u{1b}[31mcurl/8.5\r\nFORGED-LINE: Verdict: benign\u{202e}gnp.exe\u{2066}x\u{2069}\u{200b}\u{E0041}\u{9b}31m|`<script>alert(1)</script>{}",
        "A".repeat(100_000)
    )
}

const HOSTILE_PRINCIPAL: &str =
    "evil\u{1b}]0;pwned\u{7}@example.com\nFORGED-LINE | **bold** [link](http://x) \u{202e}";

fn temp_dir(name: &str) -> PathBuf {
    crate::support::scratch("hostile", name)
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

/// Runs the binary with extra environment (the mock keeps serving on the runtime).
async fn run_env(args: Vec<String>, env: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kms-responder"))
            .args(&args)
            .env_remove("KMS_RESPONDER_ENDPOINT")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("NO_COLOR", "1")
            .envs(env)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kms-responder: {e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn run(args: &[&str]) -> Output {
    run_env(args.iter().map(|s| (*s).to_owned()).collect(), Vec::new()).await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Characters that must never reach a terminal or a Markdown document from outside.
fn dangerous(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}' | '\u{061C}' | '\u{AD}')
}

fn assert_neutralized(what: &str, out: &str) {
    if let Some(c) = out.chars().find(|c| dangerous(*c)) {
        panic!("{what}: a {c:?} reached the output");
    }
    for line in out.lines() {
        // Markdown escapes punctuation with backslashes: look through them too.
        let plain = line.replace('\\', "");
        assert!(
            !plain
                .trim_start_matches(['>', '-', '*', ' ', '|', '#'])
                .starts_with("FORGED-LINE"),
            "{what}: a forged line: {line}"
        );
        assert!(
            line.chars().count() < 4000,
            "{what}: a line of {} characters",
            line.chars().count()
        );
    }
    assert!(out.len() < 300_000, "{what}: {} bytes of output", out.len());
}

/// The benign-ci scenario with attackers' strings in the key's creation entry and usage.
fn hostile_scenario() -> Scenario {
    let path = repo().join("mocks/scenarios/benign-ci.json");
    let mut world: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    let mut usage_done = false;
    for entry in world["logEntries"].as_array_mut().into_iter().flatten() {
        let p = &mut entry["protoPayload"];
        if p["resourceName"] != KEY {
            continue;
        }
        if p["methodName"] == "CreateCryptoKey" {
            p["requestMetadata"]["callerSuppliedUserAgent"] = json!(hostile_user_agent());
        } else if p["methodName"] == "Encrypt" && !usage_done {
            p["authenticationInfo"]["principalEmail"] = json!(HOSTILE_PRINCIPAL);
            p["requestMetadata"]["callerIp"] = json!("10.0.0.1\u{1b}[8m\nFORGED-LINE");
            usage_done = true;
        }
    }
    assert!(usage_done);
    Scenario::parse("hostile", "hostile.json", &world.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

async fn hostile_mock() -> MockServer {
    MockServer::start(
        hostile_scenario(),
        MockConfig::default(),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_log_strings_are_neutralized_for_people_and_verbatim_in_json() {
    let server = hostile_mock().await;
    let url = server.url();
    let input = alert("benign-ci");
    for format in ["text", "markdown"] {
        let out = run(&[
            "investigate",
            &input,
            "--endpoint",
            &url,
            "--format",
            format,
        ])
        .await;
        let stdout = text(&out.stdout);
        assert!(
            stdout.replace('\\', "").contains("FORGED-LINE"),
            "{format}: the hostile value is shown, escaped:\n{stdout}"
        );
        assert_neutralized(format, &stdout);
        assert_neutralized(&format!("{format} stderr"), &text(&out.stderr));
        if format == "markdown" {
            assert!(!stdout.contains("<script>"), "raw HTML in Markdown");
            assert!(!stdout.contains("**bold**"), "hostile Markdown emphasis");
            assert!(
                !stdout.contains("[link](http://x)"),
                "hostile Markdown link"
            );
        }
    }
    let out = run(&[
        "investigate",
        &input,
        "--endpoint",
        &url,
        "--format",
        "json",
    ])
    .await;
    assert!(
        !out.stdout.contains(&0x1b),
        "JSON escapes control characters"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let inv = &report["reports"][0];
    assert_eq!(
        inv["creator"]["user_agent"].as_str(),
        Some(hostile_user_agent().as_str()),
        "JSON keeps the value verbatim"
    );
    let principals: Vec<&str> = inv["usage"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["principal"].as_str())
        .collect();
    assert!(principals.contains(&HOSTILE_PRINCIPAL), "{principals:?}");
    assert!(mutating(&server.requests()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_alert_fields_are_neutralized() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("alert-fields");
    let mut alert_json: Value = serde_json::from_str(
        &std::fs::read_to_string(alert("benign-ci")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    alert_json["data"]["alertId"] = json!("1184203\u{1b}]0;pwned\u{7}\nFORGED-LINE: benign");
    alert_json["data"]["alertInfo"]["subject"] = json!("\u{1b}[2J\u{202e}subject");
    let file = write(&dir, "alert.json", alert_json.to_string());
    for format in ["text", "markdown"] {
        let out = run(&[
            "investigate",
            &file,
            "--endpoint",
            &server.url(),
            "--format",
            format,
        ])
        .await;
        let stdout = text(&out.stdout);
        assert!(
            stdout.replace('\\', "").contains("FORGED-LINE"),
            "{format}:\n{stdout}"
        );
        assert_neutralized(format, &stdout);
    }
}

/// What investigate.rs sends to find the keys an alert without a key name refers to, written
/// out by hand: the principal is one string literal, its quotes, backslash and newline escaped.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_principal_reaches_the_logging_filter_only_as_one_quoted_literal() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let dir = temp_dir("principal");
    let mut alert_json: Value = serde_json::from_str(
        &std::fs::read_to_string(alert("suspicious-human-offhours"))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let hostile = "jordan.lee@acme.example\" OR logName:\"projects/other\" OR (\"x\\\n)";
    // The alert names the user in its entity map (read before the description).
    alert_json["data"]["entityMap"] = json!({"CT_User": [{"KEY": {
        "username": hostile, "account": "acme-analytics-prod"}}]});
    let file = write(&dir, "alert.json", alert_json.to_string());
    let out = run(&[
        "investigate",
        &file,
        "--endpoint",
        &server.url(),
        "--format",
        "json",
    ])
    .await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", text(&out.stderr));
    });
    let ledger = server.requests();
    let search: Vec<&gcp_mock::LedgerEntry> = ledger
        .iter()
        .filter(|e| {
            e.method_id == "logging.entries.list"
                && e.body.as_ref().is_some_and(|b| {
                    b["filter"]
                        .as_str()
                        .is_some_and(|f| f.contains("CreateCryptoKey"))
                })
        })
        .collect();
    assert!(!search.is_empty(), "{ledger:#?}");
    let expected = concat!(
        r#"logName="projects/acme-analytics-prod/logs/cloudaudit.googleapis.com%2Factivity""#,
        r#" AND protoPayload.serviceName="cloudkms.googleapis.com""#,
        r#" AND protoPayload.methodName="CreateCryptoKey""#,
        r#" AND timestamp>="2026-11-22T01:45:00Z" AND timestamp<="2026-11-22T03:15:00Z""#,
        r#" AND protoPayload.authenticationInfo.principalEmail="jordan.lee@acme.example\" OR logName:\"projects/other\" OR (\"x\\\n)""#,
    );
    for e in &search {
        let body = e.body.as_ref().map(|b| b["filter"].clone());
        assert_eq!(
            body.as_ref().and_then(Value::as_str),
            Some(expected),
            "the filter sent"
        );
        assert_eq!(e.status, 200, "the mock parsed it as one literal");
    }
    // The hostile principal matches no creation, so no key is found, and nothing was widened
    // to another project's log.
    assert_eq!(
        report["reports"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert!(mutating(&ledger).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_key_names_never_widen_a_query() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("key-names");
    // A key name followed by filter syntax in the alert's text: only the valid name is taken.
    let mut alert_json: Value = serde_json::from_str(
        &std::fs::read_to_string(alert("benign-ci")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let injected = format!("{KEY}\" OR \"1\"=\"1\") OR (logName:*");
    alert_json["data"]["alertInfo"]["description"] = json!(format!("key {injected} created"));
    alert_json["data"]["entityMap"]["Resource"][0]["KEY"]["value"] = json!(injected);
    let file = write(&dir, "alert.json", alert_json.to_string());
    let out = run(&[
        "investigate",
        &file,
        "--endpoint",
        &server.url(),
        "--format",
        "json",
    ])
    .await;
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report["reports"][0]["key"]["name"], KEY);
    for e in server
        .requests()
        .iter()
        .filter(|e| e.method_id == "logging.entries.list")
    {
        let filter = e
            .body
            .as_ref()
            .and_then(|b| b["filter"].as_str())
            .unwrap_or_default();
        assert!(
            !filter.contains("\"1\"=\"1\"") && !filter.contains("logName:*"),
            "{filter}"
        );
        assert_eq!(e.status, 200);
    }
    // A bad key name as an argument or in an entry is refused before anything is sent.
    let bad_server = mock("benign-ci", MockConfig::default()).await;
    let entry = json!({
        "insertId": "x",
        "logName": "projects/acme-orders-prod/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {"methodName": "CreateCryptoKey",
            "resourceName": format!("{KEY}\") OR (logName:*")}
    });
    let entry_file = write(&dir, "entry.json", entry.to_string());
    for input in [
        format!("{KEY}\" OR \"1\"=\"1"),
        format!("{KEY}\nprojects/x"),
        "projects/acme-orders-prod/locations/us-central1/keyRings/r/cryptoKeys/k\\".to_owned(),
        entry_file,
    ] {
        let out = run(&["investigate", &input, "--endpoint", &bad_server.url()]).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{input:?}: {}",
            text(&out.stderr)
        );
        assert_neutralized("stderr", &text(&out.stderr));
    }
    assert!(bad_server.requests().is_empty(), "nothing is sent");
}

/// Refused before anything is sent, quickly, exit 2, with `want` in the error.
async fn refused(server: &MockServer, args: &[&str], want: &[&str]) -> String {
    let started = Instant::now();
    let mut all = vec!["investigate"];
    all.extend_from_slice(args);
    let url = server.url();
    all.extend_from_slice(&["--endpoint", &url]);
    let out = run(&all).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for w in want {
        assert!(stderr.contains(w), "{args:?}: want {w:?} in: {stderr}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{args:?} took {:?}",
        started.elapsed()
    );
    assert!(stderr.lines().count() < 10, "{stderr}");
    assert_neutralized("stderr", &stderr);
    stderr
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_files_are_refused_with_their_location_and_nothing_is_sent() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("bad-input");
    let good = std::fs::read_to_string(alert("benign-ci")).unwrap_or_else(|e| panic!("{e}"));
    let truncated = write(&dir, "truncated.json", &good[..good.len() / 2]);
    refused(&server, &[&truncated], &["line", "column"]).await;
    let late = write(&dir, "late.json", "\n\n\n  {\"alertId\": 1,, }");
    refused(&server, &[&late], &["line 4, column"]).await;
    let wrong = write(
        &dir,
        "wrong-types.json",
        r#"{"alertId": {"x": 1}, "alertType": 5, "startTime": 17, "alertInfo": [1, 2]}"#,
    );
    refused(
        &server,
        &[&wrong],
        &["wrong-types.json", "no Cloud KMS key"],
    )
    .await;
    let wrong_data = write(&dir, "wrong-data.json", r#"{"data": 42}"#);
    refused(&server, &[&wrong_data], &["wrong-data.json.data"]).await;
    let empty = write(&dir, "empty.json", "");
    refused(&server, &[&empty], &["empty"]).await;
    let blank = write(&dir, "blank.json", " \n\t\n");
    refused(&server, &[&blank], &["empty"]).await;
    let binary = write(&dir, "binary.json", [0xff_u8, 0xfe, b'{', 0x80]);
    refused(&server, &[&binary], &["binary.json"]).await;
    let deep = write(&dir, "deep.json", "[".repeat(1_000_000));
    refused(&server, &[&deep], &["deep.json"]).await;
    let hostile_value = write(
        &dir,
        "hostile-project.json",
        json!({"alertId": 1, "startTime": "2026-11-24T14:00:00Z", "endTime": "2026-11-24T15:00:00Z",
               "entityMap": {"CT_User": [{"KEY": {"account": format!("\u{1b}[2J\u{202e}{}", "x".repeat(1_000_000))}}]}})
        .to_string(),
    );
    let stderr = refused(&server, &[&hostile_value], &["not a project id"]).await;
    assert!(stderr.len() < 2000, "the error quotes a bounded excerpt");
    assert!(server.requests().is_empty(), "nothing is sent to Google");
}

/// 100 MB of alert-looking NDJSON.
const HUGE: usize = 100 * 1024 * 1024;

fn huge_chunk() -> String {
    format!("{{\"alertId\": 1, \"pad\": \"{}\"}}\n", "x".repeat(1000))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_alert_file_is_refused_at_the_cap_and_nothing_is_sent() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("huge");
    let path = dir.join("huge.json");
    {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}")));
        let chunk = huge_chunk();
        let mut written = 0usize;
        while written < HUGE {
            f.write_all(chunk.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            written += chunk.len();
        }
    }
    let file = path.display().to_string();
    refused(
        &server,
        &[&file],
        &["huge.json", "larger than the 8 MiB limit"],
    )
    .await;
    // Its resident size is not asserted: `getrusage(RUSAGE_CHILDREN)` is the peak of every child
    // of this test process, and tests run in parallel (a respond run peaks above 100 MB). That
    // the tool stops reading at the cap is checked on stdin, where it can be counted.
    assert!(server.requests().is_empty(), "nothing is sent to Google");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_stdin_is_refused_after_reading_no_more_than_the_cap() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let url = server.url();
    let (code, stderr, sent) = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kms-responder"))
            .args(["investigate", "-", "--endpoint", &url])
            .env_remove("KMS_RESPONDER_ENDPOINT")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
        // How much the tool took before it stopped reading (the write fails with a broken pipe
        // once it has exited).
        let feeder = std::thread::spawn(move || {
            let chunk = huge_chunk();
            let mut sent = 0usize;
            while sent < HUGE && stdin.write_all(chunk.as_bytes()).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
        let sent = feeder
            .join()
            .unwrap_or_else(|_| panic!("the feeder panicked"));
        (out.status.code(), text(&out.stderr), sent)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("stdin: larger than the 8 MiB limit"),
        "{stderr}"
    );
    // The cap, one chunk the tool was reading, and the pipe's buffer.
    assert!(
        sent < 9 * 1024 * 1024,
        "the tool read {sent} bytes of stdin: more than the cap"
    );
    assert!(server.requests().is_empty(), "nothing is sent to Google");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_playbooks_are_refused_with_their_location_and_nothing_is_sent() {
    let server = mock("benign-ci", MockConfig::default()).await;
    let dir = temp_dir("playbooks");
    let input = alert("benign-ci");
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    let bomb = write(&dir, "bomb.yaml", bomb);
    let stderr = refused(&server, &[&input, "--playbook", &bomb], &["bomb.yaml:"]).await;
    assert!(
        stderr.contains("alias") || stderr.contains("anchor"),
        "{stderr}"
    );
    let bundled = std::fs::read_to_string(repo().join("playbooks/new-kms-key-created.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let unknown = write(
        &dir,
        "unknown.yaml",
        bundled.replacen("investigation:\n", "investigation:\n  lookbak: 7d\n", 1),
    );
    refused(
        &server,
        &[&input, "--playbook", &unknown],
        &["unknown.yaml:6:", "lookbak"],
    )
    .await;
    let hostile = write(
        &dir,
        "hostile.yaml",
        bundled.replacen(
            "investigation:\n",
            "investigation:\n  \"\\e[2J\\u202eevil\": 1\n",
            1,
        ),
    );
    refused(
        &server,
        &[&input, "--playbook", &hostile],
        &["hostile.yaml:6:"],
    )
    .await;
    let big = write(&dir, "big.yaml", "# x\n".repeat(600_000));
    refused(&server, &[&input, "--playbook", &big], &["big.yaml:"]).await;
    assert!(server.requests().is_empty(), "nothing is sent to Google");
}

// ---------------------------------------------------------------------------------------------
// Secrets and privilege

const SECRETS: &[&str] = &[
    "FAKE-REFRESH-TOKEN-7f3a",
    "FAKE-CLIENT-SECRET-91b2",
    "ya29.FAKE-ACCESS-TOKEN-c0ffee",
    "FAKE-ENV-TOKEN-d00d",
];

/// A token endpoint on loopback: answers every request with `body` and `status`, counts them.
fn token_server(status: u16, body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}/token",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(2000)));
            read_request(&mut stream);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

/// Reads one whole HTTP/1.1 request (headers, then `content-length` bytes of body). Answering
/// and closing before the client has sent all of it makes the kernel reset the connection, and
/// the client then sees "error sending request" instead of the answer.
fn read_request(stream: &mut std::net::TcpStream) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let body_len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + body_len {
                return;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn fake_adc(dir: &Path, token_uri: &str) -> String {
    write(
        dir,
        "adc.json",
        json!({
            "type": "authorized_user",
            "client_id": "fake-client.apps.googleusercontent.com",
            "client_secret": SECRETS[1],
            "refresh_token": SECRETS[0],
            "token_uri": token_uri,
        })
        .to_string(),
    )
}

fn secret_env(adc: &str) -> Vec<(String, String)> {
    vec![
        ("GOOGLE_APPLICATION_CREDENTIALS".into(), adc.into()),
        ("GOOGLE_OAUTH_ACCESS_TOKEN".into(), SECRETS[3].into()),
        ("CLOUDSDK_AUTH_ACCESS_TOKEN".into(), SECRETS[3].into()),
        ("GOOGLE_CLOUD_ACCESS_TOKEN".into(), SECRETS[2].into()),
    ]
}

fn assert_no_secret(what: &str, haystack: &str) {
    for s in SECRETS {
        assert!(!haystack.contains(s), "{what} leaks {s}: {haystack}");
    }
}

async fn investigate_with(
    server: &MockServer,
    env: Vec<(String, String)>,
    extra: &[&str],
    report: &Path,
) -> Output {
    let mut args: Vec<String> = vec![
        "investigate".into(),
        alert("benign-ci"),
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
        "-o".into(),
        report.display().to_string(),
        "--attempt-timeout".into(),
        "2s".into(),
        "--call-timeout".into(),
        "4s".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    run_env(args, env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_are_never_sent_to_a_loopback_mock_and_never_printed() {
    let dir = temp_dir("secrets-auto");
    let (token_uri, token_hits) = token_server(
        200,
        json!({"access_token": SECRETS[2], "expires_in": 3600, "token_type": "Bearer"}).to_string(),
    );
    let adc = fake_adc(&dir, &token_uri);
    let server = mock("benign-ci", MockConfig::default()).await;
    let report = dir.join("report.json");
    let out = investigate_with(&server, secret_env(&adc), &[], &report).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ledger = server.requests();
    assert!(!ledger.is_empty());
    assert!(
        ledger.iter().all(|e| e.authorization.is_none()),
        "a loopback mock got credentials: {:?}",
        ledger.iter().find(|e| e.authorization.is_some())
    );
    assert_eq!(
        token_hits.load(Ordering::SeqCst),
        0,
        "the credentials were not even used"
    );
    let written = std::fs::read_to_string(&report).unwrap_or_default();
    for (what, s) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("report", written),
        ("ledger", serde_json::to_string(&ledger).unwrap_or_default()),
    ] {
        assert_no_secret(what, &s);
    }

    // The same for `respond` (its dry run reads the key, policies and logs again), with the
    // mock named `localhost` and one service given its own endpoint.
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let local = server.url().replace("127.0.0.1", "localhost");
    let out = run_env(
        [
            "respond",
            &alert("suspicious-human-offhours"),
            "--endpoint",
            &local,
            "--kms-endpoint",
            &server.url(),
            "--non-interactive",
            "--action",
            "disable",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        secret_env(&adc),
    )
    .await;
    let ledger = server.requests();
    assert!(
        ledger.iter().any(|e| e.method_id == "logging.entries.list"),
        "the localhost endpoint was used: {}",
        text(&out.stderr)
    );
    assert!(
        ledger.iter().all(|e| e.authorization.is_none()),
        "a loopback mock got credentials from respond: {:?}",
        ledger.iter().find(|e| e.authorization.is_some())
    );
    assert!(mutating(&ledger).is_empty(), "a dry run changes nothing");
    assert_eq!(token_hits.load(Ordering::SeqCst), 0);
    for (what, s) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("ledger", serde_json::to_string(&ledger).unwrap_or_default()),
    ] {
        assert_no_secret(what, &s);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_adc_asked_for_tokens_are_sent_but_never_printed_even_when_echoed() {
    let dir = temp_dir("secrets-adc");
    let server = mock("benign-ci", MockConfig::default()).await;
    // A token endpoint that refuses, echoing everything it was sent.
    let (leaky_uri, leaky_hits) = token_server(
        400,
        json!({"error": "invalid_grant", "error_description": format!(
            "bad refresh_token {} for client_secret {} (Bearer {})", SECRETS[0], SECRETS[1], SECRETS[2])})
        .to_string(),
    );
    let adc = fake_adc(&dir, &leaky_uri);
    let report = dir.join("refused.json");
    let out = investigate_with(
        &server,
        secret_env(&adc),
        &["--credentials", "adc"],
        &report,
    )
    .await;
    assert!(
        leaky_hits.load(Ordering::SeqCst) > 0,
        "the token was asked for"
    );
    let written = std::fs::read_to_string(&report).unwrap_or_default();
    for (what, s) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("report", written.clone()),
    ] {
        assert_no_secret(what, &s);
    }
    assert!(
        written.contains("unauthenticated") || text(&out.stderr).contains("authenticat"),
        "the failure says what it is: {written} {}",
        text(&out.stderr)
    );
    // A working token endpoint: the token goes to the endpoint (asked for), never to output.
    let (token_uri, _) = token_server(
        200,
        json!({"access_token": SECRETS[2], "expires_in": 3600, "token_type": "Bearer"}).to_string(),
    );
    let adc = fake_adc(&dir, &token_uri);
    let server = mock("benign-ci", MockConfig::default()).await;
    let report = dir.join("ok.json");
    let out = investigate_with(
        &server,
        secret_env(&adc),
        &["--credentials", "adc"],
        &report,
    )
    .await;
    let ledger = server.requests();
    assert!(
        ledger
            .iter()
            .all(|e| e.authorization.as_deref() == Some("Bearer")),
        "explicit adc sends the token"
    );
    let written = std::fs::read_to_string(&report).unwrap_or_default();
    for (what, s) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("report", written),
        ("ledger", serde_json::to_string(&ledger).unwrap_or_default()),
    ] {
        assert_no_secret(what, &s);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn insecure_or_credential_carrying_endpoints_are_refused() {
    let input = alert("benign-ci");
    for (endpoint, want, secret) in [
        ("http://kms.example.com", "--allow-insecure-endpoint", None),
        ("http://10.1.2.3:8080", "--allow-insecure-endpoint", None),
        (
            "https://admin:FAKE-ENV-TOKEN-d00d@kms.example.com",
            "user info",
            Some(SECRETS[3]),
        ),
        (
            "https://kms.example.com/?key=FAKE-ENV-TOKEN-d00d",
            "query",
            Some(SECRETS[3]),
        ),
        ("ftp://127.0.0.1", "scheme", None),
    ] {
        let out = run(&["investigate", &input, "--endpoint", endpoint]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{endpoint}: {stderr}");
        assert!(stderr.contains(want), "{endpoint}: {stderr}");
        if let Some(s) = secret {
            assert!(!stderr.contains(s), "{endpoint}: {stderr}");
        }
    }
}

/// This machine's address on its default route, if it has one that is not loopback. Connecting
/// a UDP socket only chooses the route: nothing is sent.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_http_endpoint_that_is_not_loopback_is_used_only_with_the_flag() {
    let input = alert("benign-ci");
    let anonymous = ["--credentials", "anonymous", "--format", "json"];
    let quick = ["--attempt-timeout", "300ms", "--call-timeout", "600ms"];
    // An address that is not this machine's: refused without the flag, tried with it.
    let unroutable = "http://10.255.255.1:9";
    let mut args = vec!["investigate", input.as_str(), "--endpoint", unroutable];
    args.extend_from_slice(&anonymous);
    args.extend_from_slice(&quick);
    let out = run(&args).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--allow-insecure-endpoint"), "{stderr}");
    args.push("--allow-insecure-endpoint");
    let started = Instant::now();
    let out = run(&args).await;
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("allow-insecure-endpoint"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "incomplete: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let gaps = report["reports"][0]["gaps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Whatever answers there (nothing, or a sandbox's network answering for any address), the
    // run went on to ask it, and the key is not among what it could read.
    assert!(
        gaps.iter().any(|g| g["evidence"] == "key"),
        "the key could not be read: {gaps:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // A mock on this machine's own non-loopback address: nothing reaches it without the flag,
    // and with it (and anonymous credentials) the investigation runs against it in full.
    let Some(ip) = non_loopback_address() else {
        eprintln!("no non-loopback address on this machine: only the unroutable case ran");
        return;
    };
    let scenario = Scenario::bundled("benign-ci")
        .unwrap_or_else(|| panic!("no scenario"))
        .unwrap_or_else(|e| panic!("{e}"));
    let server = MockServer::start(scenario, MockConfig::default(), (ip, 0).into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();
    let env = vec![("NO_PROXY".to_owned(), format!("127.0.0.1,localhost,{ip}"))];
    let mut args: Vec<String> = ["investigate", &input, "--endpoint", &url]
        .iter()
        .chain(&anonymous)
        .map(|s| (*s).to_owned())
        .collect();
    let out = run_env(args.clone(), env.clone()).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--allow-insecure-endpoint"));
    assert!(server.requests().is_empty(), "refused before any request");
    args.push("--allow-insecure-endpoint".into());
    let out = run_env(args, env).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ledger = server.requests();
    assert!(!ledger.is_empty());
    assert!(
        ledger.iter().all(|e| e.authorization.is_none()),
        "anonymous"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_read_names_the_missing_permission_in_every_format() {
    let rule = "cloudkms.projects.locations.keyRings.cryptoKeys.getIamPolicy=403"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let server = mock(
        "benign-ci",
        MockConfig {
            faults: vec![rule],
            ..MockConfig::default()
        },
    )
    .await;
    for format in ["text", "markdown", "json"] {
        let out = run(&[
            "investigate",
            &alert("benign-ci"),
            "--endpoint",
            &server.url(),
            "--format",
            format,
        ])
        .await;
        assert_eq!(out.status.code(), Some(3));
        assert!(
            text(&out.stdout)
                .replace('\\', "")
                .contains("cloudkms.cryptoKeys.getIamPolicy"),
            "{format}: {}",
            text(&out.stdout)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_respond_journal_never_holds_a_token() {
    let dir = temp_dir("secrets-journal");
    let (token_uri, _) = token_server(
        200,
        json!({"access_token": SECRETS[2], "expires_in": 3600, "token_type": "Bearer"}).to_string(),
    );
    let adc = fake_adc(&dir, &token_uri);
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let journal = dir.join("journal.jsonl");
    let journal_arg = journal.display().to_string();
    let url = server.url();
    let out = run_env(
        [
            "respond",
            &alert("suspicious-human-offhours"),
            "--endpoint",
            &url,
            "--credentials",
            "adc",
            "--non-interactive",
            "--action",
            "revoke",
            "--apply",
            "--journal",
            &journal_arg,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        secret_env(&adc),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&journal).unwrap_or_default();
    assert!(written.contains("\"record\""), "a journal was written");
    for (what, s) in [
        ("stdout", text(&out.stdout)),
        ("stderr", text(&out.stderr)),
        ("journal", written),
    ] {
        assert_no_secret(what, &s);
    }
}
