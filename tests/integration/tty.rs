//! `respond` at a real terminal: the binary under a pseudo-terminal, answering dialoguer's
//! prompts with keystrokes as the engineer would. The prompt-trait tests (respond.rs) cover the
//! decisions; these cover the terminal itself: that the prompts are drawn, that keys are read in
//! raw mode, and that what was confirmed at the keyboard is what reaches Google.

use std::path::Path;
use std::process::Command;

use gcp_mock::{MockConfig, MockServer};
use rexpect::process::wait::WaitStatus;
use rexpect::reader::{Options, Regex};
use rexpect::{ReadUntil, spawn_with_options};
use serde_json::Value;

use crate::support::{alert, mock, mutating};

const DR_SYNC: &str = "projects/acme-analytics-prod/locations/europe-west1/keyRings/dr-sync";

/// What the engineer types at each prompt.
#[derive(Clone, Copy)]
struct Keys {
    disable: &'static str,
    /// At "Also disable these keys?" (every affected key ticked to begin with).
    also: &'static str,
    apply: &'static str,
}

/// Runs `respond ALERT --action disable` in a pseudo-terminal and answers its prompts; returns
/// the screen text (escape sequences stripped) and the exit code.
fn at_the_terminal(server: &MockServer, journal: &Path, keys: Keys) -> (String, i32) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kms-responder"));
    cmd.args([
        "respond",
        &alert("suspicious-human-offhours"),
        "--endpoint",
        &server.url(),
        "--action",
        "disable",
        "--journal",
    ])
    .arg(journal)
    .env_remove("KMS_RESPONDER_ENDPOINT")
    .env("NO_PROXY", "127.0.0.1,localhost")
    .env("TERM", "xterm")
    .env("NO_COLOR", "1");
    let mut session = spawn_with_options(
        cmd,
        Options {
            timeout_ms: Some(20_000),
            strip_ansi_escape_codes: true,
        },
    )
    .unwrap_or_else(|e| panic!("cannot start kms-responder in a pseudo-terminal: {e}"));
    // A question is answered once it is drawn for answering: a confirmation with its `[y/N]`
    // hint, a selection with its first item (dialoguer redraws a question with the answer, and
    // without either, once it is answered).
    let prompt = Regex::new(
        r"(Disable the key backup-key\? \[y/N\]|Apply these \d+ changes? now\? \[y/N\]|Also disable these keys\? \(space toggles, enter accepts\):\r?\n> \[)",
    )
        .unwrap_or_else(|e| panic!("{e}"));
    let mut screen = String::new();
    let mut asked = Vec::new();
    loop {
        let (before, matched) = session
            .exp_any(vec![ReadUntil::Regex(prompt.clone()), ReadUntil::EOF])
            .unwrap_or_else(|e| panic!("{e}; the screen so far:\n{screen}"));
        screen.push_str(&before);
        screen.push_str(&matched);
        let answer = if matched.starts_with("Disable") {
            keys.disable
        } else if matched.starts_with("Also") {
            keys.also
        } else if matched.starts_with("Apply") {
            keys.apply
        } else {
            break;
        };
        asked.push(matched);
        // The terminal is put in raw mode after the hint is drawn, and that may discard what
        // was typed ahead: a moment's pause, as a person's.
        std::thread::sleep(std::time::Duration::from_millis(200));
        // One key at a time, as typed; Enter is a carriage return in raw mode.
        for key in answer.chars().map(String::from).chain([String::from("\r")]) {
            session
                .send(&key)
                .and_then(|_| session.flush())
                .unwrap_or_else(|e| panic!("{e}"));
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let code = match session.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => code,
        other => panic!("kms-responder did not exit normally: {other:?}\n{screen}"),
    };
    assert!(
        asked.iter().any(|q| q.starts_with("Disable")),
        "never asked to disable:\n{screen}"
    );
    (screen, code)
}

fn scratch(name: &str) -> std::path::PathBuf {
    crate::support::scratch("tty", name)
}

/// The states of the versions of `DR_SYNC/cryptoKeys/KEY`.
fn version_states(server: &MockServer, key: &str) -> Vec<String> {
    let key = format!("{DR_SYNC}/cryptoKeys/{key}/");
    let state: Value = server.state();
    state["cryptoKeyVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["name"].as_str().is_some_and(|n| n.starts_with(&key)))
        .map(|v| v["state"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_at_a_terminal_disables_the_key_and_applies() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let journal = scratch("yes").join("journal.jsonl");
    // Yes to the key; of the creator's two other keys, untick the first (export-key) with the
    // space bar and accept: only archive-key joins.
    let keys = Keys {
        disable: "y",
        also: " ",
        apply: "y",
    };
    // The mock serves on this runtime's other worker while this one waits on the terminal.
    let (screen, code) = tokio::task::block_in_place(|| at_the_terminal(&server, &journal, keys));
    assert_eq!(code, 0, "{screen}");
    let ledger = server.requests();
    let writes = mutating(&ledger);
    assert!(
        writes.len() == 2
            && writes
                .iter()
                .all(|w| w.starts_with("PATCH ") && w.contains("/cryptoKeyVersions/")),
        "two version disables were sent, nothing else: {writes:?}\n{screen}"
    );
    for (key, disabled) in [
        ("backup-key", true),
        ("export-key", false),
        ("archive-key", true),
    ] {
        let states = version_states(&server, key);
        assert!(!states.is_empty(), "{key} has versions");
        assert_eq!(
            states.iter().all(|s| s == "DISABLED"),
            disabled,
            "{key}: {states:?}\n{screen}"
        );
    }
    let journal_text = std::fs::read_to_string(&journal).unwrap_or_default();
    assert!(
        journal_text.lines().count() >= 2,
        "the journal records the changes:\n{journal_text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_at_the_terminal_changes_nothing() {
    let server = mock("suspicious-human-offhours", MockConfig::default()).await;
    let journal = scratch("no").join("journal.jsonl");
    let before: Vec<Vec<String>> = ["backup-key", "export-key", "archive-key"]
        .iter()
        .map(|k| version_states(&server, k))
        .collect();
    let (screen, code) = tokio::task::block_in_place(|| {
        at_the_terminal(
            &server,
            &journal,
            Keys {
                disable: "y",
                also: "",
                apply: "n",
            },
        )
    });
    assert_eq!(code, 0, "declining is not a failure:\n{screen}");
    assert!(
        screen.contains("Apply these"),
        "the plan was put to the engineer:\n{screen}"
    );
    assert_eq!(
        mutating(&server.requests()),
        Vec::<String>::new(),
        "{screen}"
    );
    let after: Vec<Vec<String>> = ["backup-key", "export-key", "archive-key"]
        .iter()
        .map(|k| version_states(&server, k))
        .collect();
    assert_eq!(after, before);
}
