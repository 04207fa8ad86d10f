//! `undo`: put back exactly what respond runs changed, from their journal.
//!
//! 1. The calls that took effect: intents with a `done` outcome; an intent
//!    without one (a crash, a timeout, a failure after the request left) is
//!    reconciled by reading the real state (a version in the intended
//!    state, a policy whose etag moved to exactly the intended grants...).
//! 2. Their net change per resource, in journal order: a version's first
//!    state before the run and last state after it; the same for a key's
//!    primary and rotation schedule, and a policy's grants.
//! 3. Per resource: already as before → nothing to do; as the run left it
//!    (state, or the policy's etag) → restore; anything else → refused,
//!    naming the resource, unless `--force`. Versions come first (so a
//!    former primary is enabled again before it becomes primary), then
//!    primaries, rotation schedules and policies.
//!
//! Versions the run created are left as they are: Cloud KMS cannot delete
//! a version, and disabling it could lock out data encrypted since.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use jiff::Timestamp;
use serde::Serialize;

use crate::gcp::{Gcp, GcpError};

use super::actions::{CallError, Executor, version_info};
use super::journal::{Journal, Observed, OutcomeStatus, Record};
use super::plan::Op;
use super::state::{Grant, Policy, Rotation, version_id};

/// What becomes of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndoStatus {
    /// As the run left it: will be (or was) put back.
    Restore,
    /// Already as before the run.
    AlreadyRestored,
    /// Changed since the run: not touched (use --force).
    Refused,
    /// Changed since the run, put back anyway (--force).
    Forced,
    /// Cannot be put back (e.g. destroyed).
    CannotRestore,
    /// Deliberately not undone (a version the run created).
    LeftAsIs,
    /// Put back and read back.
    Done,
    Failed,
    /// The undo stopped before it.
    NotRun,
}

/// One resource to put back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoItem {
    /// The version, key or policy resource.
    pub resource: String,
    /// `version`, `primary`, `rotation`, `policy` or `created-version`.
    pub kind: &'static str,
    pub status: UndoStatus,
    /// What the run changed, as a person reads it.
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The calls that put it back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<Op>,
    #[serde(skip)]
    target: Target,
}

/// What a resource goes back to, and what the run left it as.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Version {
        from: String,
        to: String,
    },
    Primary {
        key: String,
        from: Option<String>,
        to: String,
    },
    Rotation {
        key: String,
        from: Rotation,
        to: Rotation,
    },
    Policy {
        prior: Policy,
        /// The policy as the run's last write left it (its etag is the
        /// check); `None` when that is not known (reconciled).
        after: Option<Policy>,
        removed: Vec<Grant>,
    },
    None,
}

/// The undo of one journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndoPlan {
    pub journal: String,
    /// The respond runs undone.
    pub runs: Vec<String>,
    pub items: Vec<UndoItem>,
    /// Intents without an outcome, and how the real state settled them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reconciled: Vec<String>,
}

impl UndoPlan {
    pub fn refused(&self) -> bool {
        self.items.iter().any(|i| i.status == UndoStatus::Refused)
    }

    pub fn failed(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i.status, UndoStatus::Failed | UndoStatus::NotRun))
    }
}

/// Why the journal cannot be undone.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    #[error("the journal holds no respond run to undo")]
    NothingToUndo,
    #[error("cannot read the current state: {0}")]
    Read(#[from] GcpError),
}

/// The current state, read once per resource.
struct Current<'a> {
    gcp: &'a Gcp,
    versions: BTreeMap<String, String>,
    keys: BTreeMap<String, (Option<String>, Rotation)>,
    policies: BTreeMap<String, Policy>,
}

impl Current<'_> {
    async fn version(&mut self, name: &str) -> Result<String, GcpError> {
        if let Some(s) = self.versions.get(name) {
            return Ok(s.clone());
        }
        let state = match self.gcp.get_crypto_key_version(name).await {
            Ok(v) => v.state,
            Err(GcpError::NotFound { .. }) => "NOT_FOUND".into(),
            Err(e) => return Err(e),
        };
        self.versions.insert(name.to_owned(), state.clone());
        Ok(state)
    }

    async fn key(&mut self, name: &str) -> Result<(Option<String>, Rotation), GcpError> {
        if let Some(k) = self.keys.get(name) {
            return Ok(k.clone());
        }
        let k = self.gcp.get_crypto_key(name).await?;
        let out = (
            k.primary.as_ref().map(|p| p.name.clone()),
            Rotation {
                period_seconds: k.rotation_period.map(|d| d.as_secs()),
                next_rotation_time: k.next_rotation_time,
            },
        );
        self.keys.insert(name.to_owned(), out.clone());
        Ok(out)
    }

    async fn policy(&mut self, resource: &str) -> Result<Policy, GcpError> {
        if let Some(p) = self.policies.get(resource) {
            return Ok(p.clone());
        }
        let p = Policy::from_gcp(&self.gcp.get_iam_policy(resource).await?);
        self.policies.insert(resource.to_owned(), p.clone());
        Ok(p)
    }
}

/// A call that took effect, with what it changed from and to.
struct Effective {
    op: Op,
    prior: Observed,
    after: Option<Observed>,
}

/// Plans the undo of every respond run in `records` (reads only).
pub async fn plan(
    gcp: &Gcp,
    journal_path: &str,
    records: &[Record],
    force: bool,
) -> Result<UndoPlan, UndoError> {
    let runs: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Run { run, command, .. } if command == "respond" => Some(run.clone()),
            _ => None,
        })
        .collect();
    if runs.is_empty() {
        return Err(UndoError::NothingToUndo);
    }
    let mut current = Current {
        gcp,
        versions: BTreeMap::new(),
        keys: BTreeMap::new(),
        policies: BTreeMap::new(),
    };
    let mut reconciled = Vec::new();
    let mut effective: Vec<Effective> = Vec::new();
    let mut created: Vec<String> = Vec::new();
    for r in records {
        let Record::Intent {
            run,
            seq,
            op,
            prior,
            time,
            ..
        } = r
        else {
            continue;
        };
        if !runs.contains(run) {
            continue;
        }
        let outcome = records.iter().find_map(|o| match o {
            Record::Outcome {
                run: orun,
                seq: oseq,
                status,
                after,
                ..
            } if orun == run && oseq == seq => Some((*status, after.clone())),
            _ => None,
        });
        match outcome {
            Some((OutcomeStatus::Done, after)) => {
                if let (Op::CreateVersion { .. }, Some(v)) =
                    (op, after.as_ref().and_then(|a| a.version.as_ref()))
                {
                    created.push(v.name.clone());
                }
                effective.push(Effective {
                    op: op.clone(),
                    prior: prior.clone(),
                    after,
                });
            }
            Some((OutcomeStatus::Noop | OutcomeStatus::Aborted, _)) => {}
            Some((OutcomeStatus::Failed, _)) | None => {
                let (took, note) = reconcile(&mut current, op, prior, *time).await?;
                reconciled.push(format!(
                    "{} ({}): {note}",
                    op.describe(),
                    if outcome.is_some() {
                        "failed"
                    } else {
                        "no outcome recorded"
                    }
                ));
                if let Some(e) = took {
                    effective.push(e);
                }
            }
        }
    }
    let mut items = net_items(&effective);
    for v in &created {
        let state = current.version(v).await?;
        items.push(UndoItem {
            resource: v.clone(),
            kind: "created-version",
            status: UndoStatus::LeftAsIs,
            change: format!("version {} was created by the run", version_id(v)),
            reason: Some(format!(
                "Cloud KMS cannot delete a version, and disabling it could lock out data encrypted since: it is left {state}; disable it once nothing uses it"
            )),
            ops: Vec::new(),
            target: Target::None,
        });
    }
    for item in &mut items {
        classify(&mut current, item, force).await?;
    }
    Ok(UndoPlan {
        journal: journal_path.to_owned(),
        runs,
        items,
        reconciled,
    })
}

/// Settles an intent whose outcome is unknown from the real state.
async fn reconcile(
    current: &mut Current<'_>,
    op: &Op,
    prior: &Observed,
    time: Timestamp,
) -> Result<(Option<Effective>, String), UndoError> {
    let took = |after: Observed| Effective {
        op: op.clone(),
        prior: prior.clone(),
        after: Some(after),
    };
    Ok(match op {
        Op::SetVersionState { version, to, .. } => {
            let now = current.version(version).await?;
            if now == *to {
                (
                    Some(took(Observed::default())),
                    format!("the version is {now}: it took effect"),
                )
            } else {
                (
                    None,
                    format!("the version is {now}: it did not take effect"),
                )
            }
        }
        Op::DestroyVersion { version, .. } => {
            let now = current.version(version).await?;
            if now == "DESTROY_SCHEDULED" || now == "DESTROYED" {
                (
                    Some(took(Observed::default())),
                    format!("the version is {now}: it took effect"),
                )
            } else {
                (
                    None,
                    format!("the version is {now}: it did not take effect"),
                )
            }
        }
        Op::SetPrimary { key, to, .. } => {
            let (primary, _) = current.key(key).await?;
            if primary.is_some() && primary == *to {
                (
                    Some(took(Observed::default())),
                    "the primary is the intended version: it took effect".into(),
                )
            } else {
                (
                    None,
                    "the primary is not the intended version: it did not take effect".into(),
                )
            }
        }
        Op::SetRotation { key, to, .. } => {
            let (_, rotation) = current.key(key).await?;
            if rotation.period_seconds == to.period_seconds {
                (
                    Some(took(Observed::default())),
                    "the rotation schedule is the intended one: it took effect".into(),
                )
            } else {
                (
                    None,
                    "the rotation schedule is not the intended one: it did not take effect".into(),
                )
            }
        }
        Op::SetIamPolicy { resource, remove } => {
            let now = current.policy(resource).await?;
            match &prior.policy {
                Some(p) if p.etag == now.etag => (
                    None,
                    "the policy's etag is the one read before: it did not take effect".into(),
                ),
                Some(p) if p.without(remove).grants() == now.grants() => (
                    Some(took(Observed {
                        policy: Some(now.clone()),
                        ..Observed::default()
                    })),
                    "the policy holds exactly the intended grants: it took effect".into(),
                ),
                _ => (
                    Some(Effective {
                        op: op.clone(),
                        prior: prior.clone(),
                        after: None,
                    }),
                    "the policy changed, and not only as intended: whether the write took effect is unknown".into(),
                ),
            }
        }
        Op::CreateVersion { key } => (
            None,
            format!(
                "a version of {} may have been created at {} (versions are never removed by undo)",
                crate::sanitize::text(key),
                time.strftime("%Y-%m-%d %H:%M:%S UTC")
            ),
        ),
        Op::RestoreVersion { .. } | Op::RestoreIamPolicy { .. } => {
            (None, "an undo's own call: not undone".into())
        }
    })
}

/// The net change per resource, in first-seen order.
fn net_items(effective: &[Effective]) -> Vec<UndoItem> {
    let mut versions: Vec<(String, String, String)> = Vec::new();
    let mut primaries: Vec<(String, Option<String>, String)> = Vec::new();
    let mut rotations: Vec<(String, Rotation, Rotation)> = Vec::new();
    let mut policies: Vec<(String, Policy, Option<Policy>, Vec<Grant>)> = Vec::new();
    for e in effective {
        match &e.op {
            Op::SetVersionState { version, from, to } => {
                note_version(&mut versions, version, from, to);
            }
            Op::DestroyVersion { version, from } => {
                note_version(&mut versions, version, from, "DESTROY_SCHEDULED");
            }
            Op::SetPrimary { key, from, to } => {
                let Some(to) = to
                    .clone()
                    .or_else(|| e.after.as_ref().and_then(|a| a.primary.clone()))
                else {
                    continue;
                };
                match primaries.iter_mut().find(|(k, ..)| k == key) {
                    Some(p) => p.2 = to,
                    None => primaries.push((key.clone(), from.clone(), to)),
                }
            }
            Op::SetRotation { key, from, to } => {
                match rotations.iter_mut().find(|(k, ..)| k == key) {
                    Some(r) => r.2 = to.clone(),
                    None => rotations.push((key.clone(), from.clone(), to.clone())),
                }
            }
            Op::SetIamPolicy { resource, remove } => {
                let after = e.after.as_ref().and_then(|a| a.policy.clone());
                match policies.iter_mut().find(|(r, ..)| r == resource) {
                    Some(p) => {
                        p.2 = after;
                        for g in remove {
                            if !p.3.contains(g) {
                                p.3.push(g.clone());
                            }
                        }
                    }
                    None => {
                        let Some(prior) = e.prior.policy.clone() else {
                            continue;
                        };
                        policies.push((resource.clone(), prior, after, remove.clone()));
                    }
                }
            }
            Op::CreateVersion { .. } | Op::RestoreVersion { .. } | Op::RestoreIamPolicy { .. } => {}
        }
    }
    let mut items = Vec::new();
    for (version, from, to) in versions {
        items.push(UndoItem {
            change: format!("version {}: {from} → {to}", version_id(&version)),
            resource: version,
            kind: "version",
            status: UndoStatus::Restore,
            reason: None,
            ops: Vec::new(),
            target: Target::Version { from, to },
        });
    }
    for (key, from, to) in primaries {
        items.push(UndoItem {
            change: format!(
                "primary: version {} → version {}",
                from.as_deref().map_or("none", version_id),
                version_id(&to)
            ),
            resource: key.clone(),
            kind: "primary",
            status: UndoStatus::Restore,
            reason: None,
            ops: Vec::new(),
            target: Target::Primary { key, from, to },
        });
    }
    for (key, from, to) in rotations {
        items.push(UndoItem {
            change: format!(
                "rotation schedule: {} → {}",
                super::plan::describe_rotation(&from),
                super::plan::describe_rotation(&to)
            ),
            resource: key.clone(),
            kind: "rotation",
            status: UndoStatus::Restore,
            reason: None,
            ops: Vec::new(),
            target: Target::Rotation { key, from, to },
        });
    }
    for (resource, prior, after, removed) in policies {
        items.push(UndoItem {
            change: format!(
                "removed {}",
                removed
                    .iter()
                    .map(super::plan::describe_grant)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            resource,
            kind: "policy",
            status: UndoStatus::Restore,
            reason: None,
            ops: Vec::new(),
            target: Target::Policy {
                prior,
                after,
                removed,
            },
        });
    }
    items
}

fn note_version(list: &mut Vec<(String, String, String)>, version: &str, from: &str, to: &str) {
    match list.iter_mut().find(|(v, ..)| v == version) {
        Some(v) => v.2 = to.to_owned(),
        None => list.push((version.to_owned(), from.to_owned(), to.to_owned())),
    }
}

/// The calls that take a version from `now` back to `from`.
fn version_ops(version: &str, now: &str, from: &str) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut state = now.to_owned();
    if state == "DESTROY_SCHEDULED" {
        ops.push(Op::RestoreVersion {
            version: version.to_owned(),
        });
        state = "DISABLED".into();
    }
    if state != from && matches!(from, "ENABLED" | "DISABLED") {
        ops.push(Op::SetVersionState {
            version: version.to_owned(),
            from: state,
            to: from.to_owned(),
        });
    }
    ops
}

/// Decides an item against the current state.
async fn classify(
    current: &mut Current<'_>,
    item: &mut UndoItem,
    force: bool,
) -> Result<(), GcpError> {
    let refuse_or_force = |item: &mut UndoItem, why: String, ops: Vec<Op>| {
        if force {
            item.status = UndoStatus::Forced;
            item.reason = Some(format!("{why}; restored anyway (--force)"));
            item.ops = ops;
        } else {
            item.status = UndoStatus::Refused;
            item.reason = Some(format!(
                "refused: {} changed since the run: {why}; pass --force to restore it anyway",
                crate::sanitize::text(&item.resource)
            ));
            item.ops = Vec::new();
        }
    };
    match item.target.clone() {
        Target::Version { from, to } => {
            let now = current.version(&item.resource).await?;
            if now == from {
                item.status = UndoStatus::AlreadyRestored;
                item.reason = Some(format!("the version is {now} again"));
            } else if now == to {
                item.status = UndoStatus::Restore;
                item.ops = version_ops(&item.resource, &now, &from);
            } else if matches!(now.as_str(), "DESTROYED" | "NOT_FOUND") {
                item.status = UndoStatus::CannotRestore;
                item.reason = Some(format!("the version is {now}: it cannot be restored"));
            } else {
                let ops = version_ops(&item.resource, &now, &from);
                refuse_or_force(
                    item,
                    format!("the version is {now}, the run left it {to}"),
                    ops,
                );
            }
        }
        Target::Primary { key, from, to } => {
            let (primary, _) = current.key(&key).await?;
            let Some(from) = from else {
                item.status = UndoStatus::LeftAsIs;
                item.reason = Some("the key had no primary before the run".into());
                return Ok(());
            };
            let op = Op::SetPrimary {
                key: key.clone(),
                from: primary.clone(),
                to: Some(from.clone()),
            };
            if primary.as_deref() == Some(from.as_str()) {
                item.status = UndoStatus::AlreadyRestored;
                item.reason = Some(format!(
                    "version {} is the primary again",
                    version_id(&from)
                ));
            } else if primary.as_deref() == Some(to.as_str()) {
                item.status = UndoStatus::Restore;
                item.ops = vec![op];
            } else {
                refuse_or_force(
                    item,
                    format!(
                        "the primary is version {}, the run left version {}",
                        primary.as_deref().map_or("none", version_id),
                        version_id(&to)
                    ),
                    vec![op],
                );
            }
        }
        Target::Rotation { key, from, to } => {
            let (_, rotation) = current.key(&key).await?;
            let op = Op::SetRotation {
                key: key.clone(),
                from: rotation.clone(),
                to: from.clone(),
            };
            if rotation.period_seconds == from.period_seconds {
                item.status = UndoStatus::AlreadyRestored;
                item.reason = Some("the rotation schedule is as before".into());
            } else if rotation.period_seconds == to.period_seconds {
                item.status = UndoStatus::Restore;
                item.ops = vec![op];
            } else {
                refuse_or_force(
                    item,
                    format!(
                        "the rotation schedule is {}, the run left {}",
                        super::plan::describe_rotation(&rotation),
                        super::plan::describe_rotation(&to)
                    ),
                    vec![op],
                );
            }
        }
        Target::Policy {
            prior,
            after,
            removed,
        } => {
            let now = current.policy(&item.resource).await?;
            let missing: Vec<Grant> = removed
                .iter()
                .filter(|g| !now.grants().contains(g))
                .cloned()
                .collect();
            let op = Op::RestoreIamPolicy {
                resource: item.resource.clone(),
                add: missing.clone(),
            };
            if now.grants() == prior.grants() {
                item.status = UndoStatus::AlreadyRestored;
                item.reason = Some("the policy holds the same grants as before the run".into());
            } else if after.as_ref().is_some_and(|a| a.etag == now.etag) {
                item.status = UndoStatus::Restore;
                item.ops = vec![op];
            } else {
                let why = match &after {
                    Some(a) => format!(
                        "its etag is {}, the run left {}",
                        crate::sanitize::text(&now.etag),
                        crate::sanitize::text(&a.etag)
                    ),
                    None => "whether the run's write took effect is unknown".into(),
                };
                refuse_or_force(item, why, vec![op]);
            }
        }
        Target::None => {}
    }
    Ok(())
}

/// Carries out the plan: each item is decided again on a fresh read right
/// before its calls (a change since the plan refuses it, unless forced),
/// each call journaled, then read back.
pub async fn apply(
    gcp: &Gcp,
    journal: &mut Journal,
    stop: &AtomicBool,
    plan: &mut UndoPlan,
    force: bool,
) {
    let mut exec = Executor {
        gcp,
        journal,
        stop,
        now: Timestamp::now(),
    };
    let mut stopped = false;
    for item in &mut plan.items {
        if !matches!(item.status, UndoStatus::Restore | UndoStatus::Forced) {
            continue;
        }
        if stopped || exec.stopped() {
            stopped = true;
            item.status = UndoStatus::NotRun;
            item.reason = Some("the undo stopped before this (Ctrl-C or a failure)".into());
            continue;
        }
        let mut fresh = Current {
            gcp,
            versions: BTreeMap::new(),
            keys: BTreeMap::new(),
            policies: BTreeMap::new(),
        };
        if let Err(e) = classify(&mut fresh, item, force).await {
            item.status = UndoStatus::Failed;
            item.reason = Some(format!("cannot read it again: {e}"));
            stopped = true;
            continue;
        }
        if !matches!(item.status, UndoStatus::Restore | UndoStatus::Forced) {
            continue;
        }
        let seq = exec.journal.next_seq();
        match restore(&mut exec, seq, item, force).await {
            Ok(()) => {
                let check = read_back(gcp, item).await;
                let record = Record::Check {
                    run: exec.journal.run().to_owned(),
                    action_seq: seq,
                    time: Timestamp::now(),
                    status: if check.is_empty() { "ok" } else { "mismatch" }.into(),
                    differences: check.clone(),
                };
                let journaled = exec.record(&record);
                if check.is_empty() && journaled.is_ok() {
                    item.status = UndoStatus::Done;
                } else {
                    item.status = UndoStatus::Failed;
                    let mut why = check;
                    if let Err(e) = journaled {
                        why.push(e.to_string());
                    }
                    item.reason = Some(format!("the read-back differs: {}", why.join("; ")));
                    stopped = true;
                }
            }
            Err(e) => {
                item.status = UndoStatus::Failed;
                item.reason = Some(e.to_string());
                stopped = true;
            }
        }
    }
    let status = if plan.failed() {
        "failed"
    } else if plan.refused() {
        "refused"
    } else if stopped {
        "interrupted"
    } else {
        "completed"
    };
    let end = Record::End {
        run: exec.journal.run().to_owned(),
        time: Timestamp::now(),
        status: status.into(),
        done: plan
            .items
            .iter()
            .filter(|i| i.status == UndoStatus::Done)
            .map(|i| format!("{}: {}", i.resource, i.change))
            .collect(),
        not_done: plan
            .items
            .iter()
            .filter(|i| {
                matches!(
                    i.status,
                    UndoStatus::Refused | UndoStatus::Failed | UndoStatus::NotRun
                )
            })
            .map(|i| format!("{}: {}", i.resource, i.change))
            .collect(),
    };
    let _ = exec.record(&end);
}

async fn restore(
    exec: &mut Executor<'_>,
    seq: u64,
    item: &UndoItem,
    force: bool,
) -> Result<(), CallError> {
    for op in &item.ops {
        match op {
            Op::RestoreVersion { version } => {
                let prior = exec.gcp.get_crypto_key_version(version).await.ok();
                exec.restore_version(seq, op, prior.as_ref().map(version_info).as_ref(), version)
                    .await?;
            }
            Op::SetVersionState { version, to, .. } => {
                let prior = exec.gcp.get_crypto_key_version(version).await.ok();
                exec.set_version_state(
                    seq,
                    op,
                    prior.as_ref().map(version_info).as_ref(),
                    version,
                    to,
                )
                .await?;
            }
            Op::SetPrimary { key, from, to } => {
                let Some(to) = to else { continue };
                exec.set_primary(seq, op, from.clone(), key, to).await?;
            }
            Op::SetRotation { key, from, to } => {
                exec.set_rotation(seq, op, from, key, to).await?;
            }
            Op::RestoreIamPolicy { resource, add } => {
                let Target::Policy { prior, after, .. } = &item.target else {
                    continue;
                };
                let expected = after.as_ref().map(|a| a.etag.clone());
                let changed_under_us = Cell::new(false);
                exec.update_policy(seq, op, resource, None, |now| {
                    if now.grants() == prior.grants() {
                        return None;
                    }
                    if expected.as_deref() == Some(now.etag.as_str()) {
                        // Exactly as the run left it: the bindings go back as they were.
                        let mut back = prior.clone();
                        back.etag.clone_from(&now.etag);
                        back.audit_configs.clone_from(&now.audit_configs);
                        return Some(back);
                    }
                    if force {
                        let missing: Vec<Grant> = add
                            .iter()
                            .filter(|g| !now.grants().contains(g))
                            .cloned()
                            .collect();
                        return (!missing.is_empty()).then(|| now.with(&missing, prior));
                    }
                    changed_under_us.set(true);
                    None
                })
                .await?;
                if changed_under_us.get() {
                    return Err(CallError::Other(format!(
                        "refused: the policy of {} changed while it was being restored; pass --force to restore the removed grants anyway",
                        crate::sanitize::text(resource)
                    )));
                }
            }
            other => {
                return Err(CallError::Other(format!(
                    "undo does not make the call {}",
                    other.describe()
                )));
            }
        }
    }
    Ok(())
}

/// What the resource must look like after its restore.
async fn read_back(gcp: &Gcp, item: &UndoItem) -> Vec<String> {
    let mut out = Vec::new();
    match &item.target {
        Target::Version { from, .. } => match gcp.get_crypto_key_version(&item.resource).await {
            Ok(v) if v.state == *from => {}
            Ok(v) => out.push(format!("the version is {} (expected {from})", v.state)),
            Err(e) => out.push(format!("cannot read it back: {e}")),
        },
        Target::Primary { from, .. } => match gcp.get_crypto_key(&item.resource).await {
            Ok(k) if k.primary.as_ref().map(|p| &p.name) == from.as_ref() => {}
            Ok(k) => out.push(format!(
                "the primary is {} (expected {})",
                k.primary.as_ref().map_or("none", |p| version_id(&p.name)),
                from.as_deref().map_or("none", version_id)
            )),
            Err(e) => out.push(format!("cannot read it back: {e}")),
        },
        Target::Rotation { from, .. } => match gcp.get_crypto_key(&item.resource).await {
            Ok(k) if k.rotation_period.map(|d| d.as_secs()) == from.period_seconds => {}
            Ok(_) => out.push("the rotation schedule is not the one before the run".into()),
            Err(e) => out.push(format!("cannot read it back: {e}")),
        },
        Target::Policy { prior, removed, .. } => match gcp.get_iam_policy(&item.resource).await {
            Ok(p) => {
                let grants = Policy::from_gcp(&p).grants();
                if item.status == UndoStatus::Forced {
                    for g in removed.iter().filter(|g| !grants.contains(g)) {
                        out.push(format!(
                            "{} is still missing",
                            super::plan::describe_grant(g)
                        ));
                    }
                } else if grants != prior.grants() {
                    out.push("the policy's grants differ from those before the run".into());
                }
            }
            Err(e) => out.push(format!("cannot read it back: {e}")),
        },
        Target::None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";

    #[test]
    fn a_version_goes_back_by_the_shortest_calls() {
        assert_eq!(
            version_ops(V1, "DISABLED", "ENABLED"),
            vec![Op::SetVersionState {
                version: V1.into(),
                from: "DISABLED".into(),
                to: "ENABLED".into(),
            }]
        );
        assert_eq!(
            version_ops(V1, "DESTROY_SCHEDULED", "ENABLED"),
            vec![
                Op::RestoreVersion { version: V1.into() },
                Op::SetVersionState {
                    version: V1.into(),
                    from: "DISABLED".into(),
                    to: "ENABLED".into(),
                }
            ]
        );
        assert_eq!(
            version_ops(V1, "DESTROY_SCHEDULED", "DISABLED"),
            vec![Op::RestoreVersion { version: V1.into() }]
        );
    }

    #[test]
    fn the_net_change_keeps_the_first_state_and_the_last() {
        let effective = |op: Op| Effective {
            op,
            prior: Observed::default(),
            after: None,
        };
        let items = net_items(&[
            effective(Op::SetVersionState {
                version: V1.into(),
                from: "ENABLED".into(),
                to: "DISABLED".into(),
            }),
            effective(Op::DestroyVersion {
                version: V1.into(),
                from: "DISABLED".into(),
            }),
        ]);
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].target,
            Target::Version {
                from: "ENABLED".into(),
                to: "DESTROY_SCHEDULED".into(),
            }
        );
    }
}
