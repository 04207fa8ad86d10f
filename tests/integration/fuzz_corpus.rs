//! The fuzz targets, in-process, as the short fuzz run of `cargo test`.
//!
//! The libFuzzer targets in `fuzz/` need cargo-fuzz and nightly compiler flags (sanitizer
//! coverage), which the stable-only CI does not have, and building them instruments every
//! dependency (about 20 minutes on 2 cores). So CI runs the very same bodies
//! (`fuzz/src/bodies.rs`, included below) over each target's seed corpus (`fuzz/seeds/TARGET`,
//! the repository's samples and `../shared/realdata`) plus a fixed number of deterministic
//! mutations of those seeds, in a few seconds. The long coverage-guided runs are `fuzz/run.sh`;
//! their figures are in docs/reliability.md.

#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

use std::path::{Path, PathBuf};

use crate::support::repo;

/// Mutated inputs per target (plus the seeds), sized so each target takes about 3 s in a debug
/// build on one core: the playbook reader is the slow one (a 7 KB YAML document, validated).
const MUTATIONS_ALERT: usize = 20_000;
const MUTATIONS_AUDIT_ENTRY: usize = 10_000;
const MUTATIONS_PLAYBOOK: usize = 600;
const MUTATIONS_FILTER: usize = 6_000;

/// Deterministic xorshift: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }
}

/// Fragments that break parsers and filters: quotes, escapes, controls, bidi, YAML anchors,
/// numbers out of range, multi-byte characters at odd offsets.
const TOKENS: &[&str] = &[
    "\"",
    "\\",
    "\\u",
    "\\u0000",
    "\u{1b}[2J",
    "\n",
    "\r",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "1e999",
    "-0",
    "18446744073709551616",
    "€",
    "é",
    "\u{202e}",
    "\u{2066}",
    "\u{E0041}",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "---\n",
    "...\n",
    " OR ",
    ") OR (",
    "projects/",
    "/cryptoKeys/",
    "//cloudkms.googleapis.com/",
    "+0000",
    " 00:00:00",
    "T",
    "Z",
    "2026-11-20",
    "protoPayload",
    "message",
    "data",
    "alertId",
    "@",
];

fn mutate(seed: &[u8], other: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            3 => out.truncate(at),
            4 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = rng.below(64).min(other.len() - from);
                out.splice(at..at, other[from..from + len].iter().copied());
            }
            5 if !out.is_empty() => {
                let from = rng.below(out.len());
                let len = rng.below(32).min(out.len() - from);
                let chunk: Vec<u8> = out[from..from + len].to_vec();
                out.splice(at..at, chunk);
            }
            _ => {
                let byte = u8::try_from(rng.below(256)).unwrap_or(0);
                out.insert(at, byte);
            }
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The target's seeds, as `fuzz/run.sh` gathers them.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = repo();
    let realdata = root.join("../shared/realdata");
    let mut paths = Vec::new();
    files_under(&root.join("fuzz/seeds").join(target), &mut paths);
    match target {
        "alert" => {
            files_under(&root.join("mocks/scenarios"), &mut paths);
            paths.retain(|p| !p.ends_with("README.md"));
            paths.retain(|p| {
                !p.starts_with(root.join("mocks/scenarios"))
                    || p.to_string_lossy().ends_with(".alert.json")
            });
            files_under(&realdata.join("lacework-alerts"), &mut paths);
            files_under(&realdata.join("audit-logs"), &mut paths);
        }
        "audit_entry" => files_under(&realdata.join("audit-logs"), &mut paths),
        "playbook" => files_under(&root.join("playbooks"), &mut paths),
        "filter" => files_under(&realdata.join("audit-logs/cloud-custodian"), &mut paths),
        _ => {}
    }
    paths.retain(|p| !p.ends_with("README.md"));
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// A fuzz target's body.
type Body = fn(&[u8]);

fn run_target(target: &str, body: Body, mutations: usize) -> usize {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    let mut inputs: Vec<Vec<u8>> = seeds.clone();
    for _ in 0..mutations {
        let seed = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        inputs.push(mutate(seed, other, &mut rng));
    }
    for (n, input) in inputs.iter().enumerate() {
        let outcome = std::panic::catch_unwind(|| body(input));
        if let Err(panic) = outcome {
            let dir = repo().join("target/fuzz-corpus-failures");
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("{target}-{n}"));
            let _ = std::fs::write(&file, input);
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!(
                "fuzz target {target} failed on input {n} (saved to {}; replay with \
                 fuzz/target/.../{target} FILE): {why}\ninput: {:?}",
                file.display(),
                String::from_utf8_lossy(input)
            );
        }
    }
    inputs.len()
}

#[test]
fn fuzz_target_alert_over_seeds_and_mutations() {
    let n = run_target("alert", bodies::alert, MUTATIONS_ALERT);
    assert!(n > MUTATIONS_ALERT);
}

#[test]
fn fuzz_target_audit_entry_over_seeds_and_mutations() {
    let n = run_target("audit_entry", bodies::audit_entry, MUTATIONS_AUDIT_ENTRY);
    assert!(n > MUTATIONS_AUDIT_ENTRY);
}

#[test]
fn fuzz_target_playbook_over_seeds_and_mutations() {
    let n = run_target("playbook", bodies::playbook, MUTATIONS_PLAYBOOK);
    assert!(n > MUTATIONS_PLAYBOOK);
}

#[test]
fn fuzz_target_filter_over_seeds_and_mutations() {
    let n = run_target("filter", bodies::filter, MUTATIONS_FILTER);
    assert!(n > MUTATIONS_FILTER);
}

/// Inputs that once crashed a target (found by the long libFuzzer runs), kept as regression
/// seeds in `fuzz/seeds/TARGET/regression-*`, pass through every target.
#[test]
fn fuzz_regressions_pass_every_target() {
    let root = repo().join("fuzz/seeds");
    let mut paths = Vec::new();
    files_under(&root, &mut paths);
    let bodies: [(&str, Body); 4] = [
        ("alert", bodies::alert),
        ("audit_entry", bodies::audit_entry),
        ("playbook", bodies::playbook),
        ("filter", bodies::filter),
    ];
    for p in paths
        .iter()
        .filter(|p| p.to_string_lossy().contains("regression-"))
    {
        let input = std::fs::read(p).unwrap_or_default();
        for (name, body) in bodies {
            if std::panic::catch_unwind(|| body(&input)).is_err() {
                panic!("{name} fails on {}", p.display());
            }
        }
    }
}
