//! Google's official Python clients against the mock, run from `cargo test`
//! so the README's one test command covers them.
//!
//! Creates (once, then reuses) a virtualenv under `target/python-venv` with
//! the pinned `tests/python/requirements.txt`, then runs pytest with
//! `GCP_MOCK_BIN` pointing at this crate's freshly built binary. Needs
//! `python3` (3.10+) and access to PyPI the first time; a missing
//! interpreter or a failed install fails the test with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn official_python_clients_cannot_tell_the_mock_from_google() {
    let repo = repo();
    let requirements = repo.join("tests/python/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("{}: {e}", requirements.display()));
    let venv = repo.join("target/python-venv");
    let stamp = venv.join("requirements.installed");
    let python = venv.join("bin/python");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) || !python.exists()
    {
        run(
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
            "python3 -m venv",
        );
        run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
            "pip install -r tests/python/requirements.txt",
        );
        std::fs::write(&stamp, &wanted).unwrap_or_else(|e| panic!("{}: {e}", stamp.display()));
    }
    run(
        Command::new(&python)
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/python",
            ])
            .current_dir(&repo)
            .env("GCP_MOCK_BIN", env!("CARGO_BIN_EXE_gcp-mock"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost"),
        "pytest tests/python",
    );
}
