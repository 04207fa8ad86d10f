//! Starting the mock and running the binary against it.

use std::path::PathBuf;
use std::process::Output;

use gcp_mock::{LedgerEntry, MockConfig, MockServer, Scenario};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn mock(scenario: &str, config: MockConfig) -> MockServer {
    let s = Scenario::bundled(scenario)
        .unwrap_or_else(|| panic!("no bundled scenario {scenario}"))
        .unwrap_or_else(|e| panic!("{e}"));
    MockServer::start(s, config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh, empty directory for one test's files: `target/tmp/AREA/NAME`, emptied first.
pub fn scratch(area: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(area)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

pub fn alert(scenario: &str) -> String {
    repo()
        .join(format!("mocks/scenarios/{scenario}.alert.json"))
        .display()
        .to_string()
}

/// Runs the binary off the async runtime (the mock keeps serving on it).
pub async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_kms-responder"))
            .args(&args)
            .env_remove("KMS_RESPONDER_ENDPOINT")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run kms-responder: {e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `investigate INPUT --endpoint URL --format json`, parsed.
pub async fn investigate_json(server: &MockServer, input: &str) -> (i32, serde_json::Value) {
    let out = run(vec![
        "investigate".into(),
        input.into(),
        "--endpoint".into(),
        server.url(),
        "--format".into(),
        "json".into(),
    ])
    .await;
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

pub fn mutating(ledger: &[LedgerEntry]) -> Vec<String> {
    ledger
        .iter()
        .filter(|e| e.mutating || e.http_method == "PATCH")
        .map(|e| format!("{} {}", e.http_method, e.path))
        .collect()
}
