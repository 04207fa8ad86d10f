//! The journal: JSON Lines, one record per line, each flushed and synced to
//! disk before the call it announces is made, so a crash or a Ctrl-C leaves
//! nothing done that is not on record. `undo` reads it back.
//!
//! Records of a run, in order (every record names its `run`):
//! - `run`: who (the resolved principal), the tool and its version, the
//!   command (`respond` or `undo`), the playbook and the alerts;
//! - `action`: an action about to start on a key, with the prior state read
//!   just before (versions and their states, primary, rotation, both IAM
//!   policies whole, with their etags) and the calls it will make; or a
//!   recorded no-op / skip, with why;
//! - `intent`: one call about to be made, with the state it changes from
//!   (the version, the primary, or the whole policy with its etag);
//! - `outcome`: what became of that call (`done` with what Google answered,
//!   `failed` / `aborted` with the error, `noop`);
//! - `check`: the read-back after an action (`ok`, or `mismatch` with the
//!   differences, which stops the run);
//! - `end`: how the run ended, what was done and what was not.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::findings::Action;

use super::plan::Op;
use super::state::{Policy, Rotation, Snapshot, VersionInfo};

/// The journal format version (in every `run` record).
pub const FORMAT: u32 = 1;

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {path}: {message}")]
    Write { path: String, message: String },
    #[error("cannot read the journal {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: not a journal record: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

/// An alert the run responded to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRef {
    /// The alert id, or the log entry's insertId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_type: Option<String>,
    pub key: String,
    pub verdict: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_keys: Vec<String>,
}

/// A state as observed before or after a call: only the parts the call
/// concerns are present.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionInfo>,
    /// The key's primary version name (for primary changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
    /// The whole policy with its etag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// What became of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    Done,
    Failed,
    /// A stale etag: the policy changed between read and write (re-read and retried).
    Aborted,
    /// Nothing left to change when it came to it.
    Noop,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Run {
        run: String,
        time: Timestamp,
        /// `respond` or `undo`.
        command: String,
        tool: String,
        version: String,
        /// Who made the calls: `anonymous` for a mock, else what Application
        /// Default Credentials say (or the impersonated account), or `unknown`.
        principal: String,
        format: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        playbook: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alerts: Vec<AlertRef>,
        /// For `undo`: the journal it undoes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        undoes: Option<String>,
    },
    Action {
        run: String,
        seq: u64,
        time: Timestamp,
        action: Action,
        key: String,
        /// `started`, `noop`, `skipped`, `not_possible`, `refused`.
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prior: Option<Box<Snapshot>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ops: Vec<Op>,
    },
    Intent {
        run: String,
        seq: u64,
        action_seq: u64,
        time: Timestamp,
        op: Op,
        prior: Observed,
    },
    Outcome {
        run: String,
        /// The intent's `seq`.
        seq: u64,
        time: Timestamp,
        status: OutcomeStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Observed>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    Check {
        run: String,
        action_seq: u64,
        time: Timestamp,
        /// `ok` or `mismatch`.
        status: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        differences: Vec<String>,
    },
    End {
        run: String,
        time: Timestamp,
        /// `completed`, `failed`, `refused`, `interrupted`.
        status: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        done: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_done: Vec<String>,
    },
}

impl Record {
    pub fn run(&self) -> &str {
        match self {
            Record::Run { run, .. }
            | Record::Action { run, .. }
            | Record::Intent { run, .. }
            | Record::Outcome { run, .. }
            | Record::Check { run, .. }
            | Record::End { run, .. } => run,
        }
    }
}

/// An open journal: appends records, each on disk before the next call.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    run: String,
    seq: u64,
}

impl Journal {
    /// Opens (creating it and its directory if needed) the journal at
    /// `path` for appending, for run `run`. Owner-only on Unix: it holds
    /// IAM policies.
    pub fn open(path: &Path, run: &str) -> Result<Journal, JournalError> {
        let fail = |e: std::io::Error| JournalError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(fail)?;
        Ok(Journal {
            path: path.to_owned(),
            file,
            run: run.to_owned(),
            seq: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run(&self) -> &str {
        &self.run
    }

    /// The next sequence number of this run.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Writes one record and syncs it to disk.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let fail = |e: std::io::Error| JournalError::Write {
            path: self.path.display().to_string(),
            message: e.to_string(),
        };
        // Attacker-controlled strings (principals, bindings) are in the records: escaped so
        // that `cat journal.jsonl` cannot be reordered by them.
        let mut line =
            crate::render::safe_json::to_vec(record).map_err(|e| fail(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(fail)?;
        self.file.flush().map_err(fail)?;
        self.file.sync_data().map_err(fail)?;
        Ok(())
    }
}

/// A run id: the start time and the process id.
pub fn run_id(now: Timestamp) -> String {
    format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// The default journal: `journal-<time>.jsonl` under the user's state
/// directory (`$XDG_STATE_HOME/kms-responder`, else
/// `~/.local/state/kms-responder`; `%LOCALAPPDATA%\kms-responder` on
/// Windows); `None` when there is no home to put it in.
pub fn default_path(now: Timestamp) -> Option<PathBuf> {
    let base = state_dir()?;
    Some(base.join("kms-responder").join(format!(
        "journal-{}-{}.jsonl",
        now.strftime("%Y%m%dT%H%M%SZ"),
        std::process::id()
    )))
}

fn state_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(windows) {
        return non_empty("LOCALAPPDATA");
    }
    // XDG says a relative path is to be ignored.
    non_empty("XDG_STATE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|h| h.join(".local").join("state")))
}

/// Reads every record of a journal. A torn last line (a crash mid-write)
/// is ignored; any other bad line is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    let file = File::open(path).map_err(|e| JournalError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| JournalError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if Some(i) == last && !line.trim_end().ends_with('}') => {}
            Err(e) => {
                return Err(JournalError::Parse {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

    use super::*;

    #[test]
    fn records_round_trip_and_a_torn_tail_is_ignored() {
        let dir =
            std::env::temp_dir().join(format!("kms-responder-journal-{}", std::process::id()));
        let path = dir.join("j.jsonl");
        let _ = std::fs::remove_file(&path);
        let now = Timestamp::UNIX_EPOCH;
        let mut j = Journal::open(&path, "r1").unwrap();
        let run = Record::Run {
            run: "r1".into(),
            time: now,
            command: "respond".into(),
            tool: "kms-responder".into(),
            version: "0".into(),
            principal: "anonymous".into(),
            format: FORMAT,
            playbook: None,
            alerts: vec![],
            undoes: None,
        };
        let intent = Record::Intent {
            run: "r1".into(),
            seq: 2,
            action_seq: 1,
            time: now,
            op: Op::SetVersionState {
                version: "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
                    .into(),
                from: "ENABLED".into(),
                to: "DISABLED".into(),
            },
            prior: Observed::default(),
        };
        j.append(&run).unwrap();
        j.append(&intent).unwrap();
        drop(j);
        // A crash in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"record\":\"outcome\",\"run\":\"r1\",\"se")
            .unwrap();
        drop(f);
        assert_eq!(read(&path).unwrap(), vec![run, intent]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read it: {mode:o}");
        }
        std::fs::write(&path, "{\"record\":\"nonsense\"}\n{}\n").unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.to_string().contains(":1: not a journal record"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
