//! Carrying out a plan: for each action, read the key fresh (the prior state
//! the journal records), replan on that read, refuse if it would change more
//! than the plan showed, make the calls one by one (each announced in the
//! journal before it is made, its outcome recorded after), then read back
//! and compare. A failure, a difference or Ctrl-C stops the run; the report
//! says what was done and what was not.

use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use serde::Serialize;

use crate::findings::Action;
use crate::gcp::{Gcp, GcpError, VersionState};
use crate::keyname::KeyName;

use super::journal::{Journal, JournalError, Observed, OutcomeStatus, Record};
use super::plan::{CasePlan, Op, PlanStatus, PlannedAction, key_ring_of, plan_action};
use super::state::{KeyState, Policy, Rotation, Snapshot, VersionInfo, World, read_snapshot};
use super::subject::Subject;

/// Attempts of one policy write when the etag goes stale under it.
const IAM_ATTEMPTS: u32 = 3;

/// What became of one planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResultStatus {
    /// Every call made and read back.
    Done,
    /// Already in effect (recorded as a no-op).
    AlreadyDone,
    NotPossible,
    Refused,
    Skipped,
    /// A call failed, or the read-back differed: the run stopped here.
    Failed,
    /// The key changed since the plan was shown in a way the plan did not
    /// cover: nothing was done on it, and the run stopped.
    ChangedSincePlan,
    /// Ctrl-C: the run stopped before or within this action.
    Interrupted,
    /// The run stopped before reaching it.
    NotRun,
}

/// One action's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    pub action: Action,
    pub key: String,
    pub status: ResultStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Calls made (described).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    /// Calls planned but not made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_done: Vec<String>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Completed,
    Failed,
    /// Stopped because a resource changed since the plan (or, for undo,
    /// since the run it undoes).
    Refused,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Refused => "refused",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// Why a call could not be made or did not work.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error(transparent)]
    Google(#[from] GcpError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Other(String),
}

/// Makes calls, journaling each one. Shared by the response and `undo`.
#[derive(Debug)]
pub struct Executor<'a> {
    pub(crate) gcp: &'a Gcp,
    pub(crate) journal: &'a mut Journal,
    /// Set by Ctrl-C: stop at the next call boundary.
    pub(crate) stop: &'a AtomicBool,
    pub(crate) now: Timestamp,
}

/// A call made, with what the read-back must show.
struct Applied {
    op: Op,
    /// For policy writes: the policy as written (its grants must stay).
    written: Option<Policy>,
}

impl Executor<'_> {
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn record(&mut self, record: &Record) -> Result<(), JournalError> {
        self.journal.append(record)
    }

    fn intent(&mut self, action_seq: u64, op: &Op, prior: Observed) -> Result<u64, JournalError> {
        let seq = self.journal.next_seq();
        let record = Record::Intent {
            run: self.journal.run().to_owned(),
            seq,
            action_seq,
            time: Timestamp::now(),
            op: op.clone(),
            prior,
        };
        self.journal.append(&record)?;
        Ok(seq)
    }

    fn outcome(
        &mut self,
        seq: u64,
        status: OutcomeStatus,
        after: Option<Observed>,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        let record = Record::Outcome {
            run: self.journal.run().to_owned(),
            seq,
            time: Timestamp::now(),
            status,
            after,
            error,
        };
        self.journal.append(&record)
    }

    /// Announces `op`, makes the call, records what became of it.
    async fn journaled<T>(
        &mut self,
        action_seq: u64,
        op: &Op,
        prior: Observed,
        call: impl Future<Output = Result<T, GcpError>>,
        observe: impl FnOnce(&T) -> Observed,
    ) -> Result<T, CallError> {
        let seq = self.intent(action_seq, op, prior)?;
        match call.await {
            Ok(v) => {
                self.outcome(seq, OutcomeStatus::Done, Some(observe(&v)), None)?;
                Ok(v)
            }
            Err(e) => {
                self.outcome(seq, OutcomeStatus::Failed, None, Some(e.to_string()))?;
                Err(e.into())
            }
        }
    }

    /// Sets a version's state.
    pub(crate) async fn set_version_state(
        &mut self,
        action_seq: u64,
        op: &Op,
        prior: Option<&VersionInfo>,
        version: &str,
        to: &str,
    ) -> Result<VersionInfo, CallError> {
        let state = match to {
            "ENABLED" => VersionState::Enabled,
            "DISABLED" => VersionState::Disabled,
            other => return Err(CallError::Other(format!("cannot set a version {other}"))),
        };
        let gcp = self.gcp;
        let v = self
            .journaled(
                action_seq,
                op,
                Observed {
                    version: prior.cloned(),
                    ..Observed::default()
                },
                gcp.update_crypto_key_version_state(version, state),
                |v| Observed {
                    version: Some(version_info(v)),
                    ..Observed::default()
                },
            )
            .await?;
        Ok(version_info(&v))
    }

    /// Restores a version scheduled for destruction (it comes back DISABLED).
    pub(crate) async fn restore_version(
        &mut self,
        action_seq: u64,
        op: &Op,
        prior: Option<&VersionInfo>,
        version: &str,
    ) -> Result<VersionInfo, CallError> {
        let gcp = self.gcp;
        let v = self
            .journaled(
                action_seq,
                op,
                Observed {
                    version: prior.cloned(),
                    ..Observed::default()
                },
                gcp.restore_crypto_key_version(version),
                |v| Observed {
                    version: Some(version_info(v)),
                    ..Observed::default()
                },
            )
            .await?;
        Ok(version_info(&v))
    }

    /// Makes `version` (a full name) the primary of `key`.
    pub(crate) async fn set_primary(
        &mut self,
        action_seq: u64,
        op: &Op,
        prior: Option<String>,
        key: &str,
        version: &str,
    ) -> Result<(), CallError> {
        let gcp = self.gcp;
        let id = super::state::version_id(version).to_owned();
        self.journaled(
            action_seq,
            op,
            Observed {
                primary: prior,
                ..Observed::default()
            },
            gcp.update_primary_version(key, &id),
            |k| Observed {
                primary: k.primary.as_ref().map(|p| p.name.clone()),
                ..Observed::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Sets (or clears) a key's rotation schedule.
    pub(crate) async fn set_rotation(
        &mut self,
        action_seq: u64,
        op: &Op,
        prior: &Rotation,
        key: &str,
        to: &Rotation,
    ) -> Result<(), CallError> {
        let gcp = self.gcp;
        let period = to.period_seconds.map(std::time::Duration::from_secs);
        self.journaled(
            action_seq,
            op,
            Observed {
                rotation: Some(prior.clone()),
                ..Observed::default()
            },
            gcp.update_crypto_key_rotation(key, period, to.next_rotation_time),
            |k| Observed {
                rotation: Some(Rotation {
                    period_seconds: k.rotation_period.map(|d| d.as_secs()),
                    next_rotation_time: k.next_rotation_time,
                }),
                ..Observed::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Read, modify, write a policy with its etag: `change` turns the
    /// current policy into the one to write (`None`: nothing left to do).
    /// On ABORTED (the etag went stale: someone changed the policy in
    /// between) the policy is read again and `change` re-applied, up to
    /// [`IAM_ATTEMPTS`] times. Returns the policy written, if any.
    pub(crate) async fn update_policy(
        &mut self,
        action_seq: u64,
        op: &Op,
        resource: &str,
        first: Option<Policy>,
        change: impl Fn(&Policy) -> Option<Policy>,
    ) -> Result<Option<Policy>, CallError> {
        let mut current = first;
        for attempt in 1..=IAM_ATTEMPTS {
            let policy = match current.take() {
                Some(p) => p,
                None => Policy::from_gcp(&self.gcp.get_iam_policy(resource).await?),
            };
            let Some(next) = change(&policy) else {
                let seq = self.intent(
                    action_seq,
                    op,
                    Observed {
                        policy: Some(policy),
                        ..Observed::default()
                    },
                )?;
                self.outcome(
                    seq,
                    OutcomeStatus::Noop,
                    None,
                    Some("nothing left to change in the policy as read".into()),
                )?;
                return Ok(None);
            };
            let seq = self.intent(
                action_seq,
                op,
                Observed {
                    policy: Some(policy.clone()),
                    ..Observed::default()
                },
            )?;
            match self.gcp.set_iam_policy(resource, &next.to_gcp()).await {
                Ok(written) => {
                    let written = Policy::from_gcp(&written);
                    self.outcome(
                        seq,
                        OutcomeStatus::Done,
                        Some(Observed {
                            policy: Some(written.clone()),
                            ..Observed::default()
                        }),
                        None,
                    )?;
                    return Ok(Some(written));
                }
                Err(GcpError::Aborted(m)) if attempt < IAM_ATTEMPTS => {
                    self.outcome(
                        seq,
                        OutcomeStatus::Aborted,
                        None,
                        Some(format!("aborted: {m}; reading the policy again")),
                    )?;
                }
                Err(e) => {
                    self.outcome(seq, OutcomeStatus::Failed, None, Some(e.to_string()))?;
                    return Err(e.into());
                }
            }
        }
        Err(CallError::Other(format!(
            "the policy of {resource} kept changing under the write ({IAM_ATTEMPTS} attempts)"
        )))
    }

    /// Runs the plans in order; stops the whole run at the first failure.
    pub async fn run(&mut self, work: &[(Subject, CasePlan)]) -> (RunStatus, Vec<ActionResult>) {
        let mut results = Vec::new();
        let mut status = RunStatus::Completed;
        for (subject, plan) in work {
            for planned in &plan.actions {
                if status != RunStatus::Completed {
                    results.push(not_run(planned));
                    continue;
                }
                let (s, result) = self.action(subject, plan, planned).await;
                status = s;
                results.push(result);
            }
        }
        let done: Vec<String> = results
            .iter()
            .flat_map(|r| {
                r.done
                    .iter()
                    .map(move |d| format!("{} {}: {d}", action_name(r.action), r.key))
            })
            .collect();
        let not_done: Vec<String> = results
            .iter()
            .flat_map(|r| {
                r.not_done
                    .iter()
                    .map(move |d| format!("{} {}: {d}", action_name(r.action), r.key))
            })
            .collect();
        let end = Record::End {
            run: self.journal.run().to_owned(),
            time: Timestamp::now(),
            status: status.as_str().into(),
            done,
            not_done,
        };
        if let Err(e) = self.record(&end)
            && status == RunStatus::Completed
        {
            status = RunStatus::Failed;
            results.push(ActionResult {
                action: Action::Disable,
                key: String::new(),
                status: ResultStatus::Failed,
                detail: Some(format!(
                    "the journal's last record could not be written: {e}"
                )),
                done: Vec::new(),
                not_done: Vec::new(),
            });
        }
        (status, results)
    }

    async fn action(
        &mut self,
        subject: &Subject,
        plan: &CasePlan,
        planned: &PlannedAction,
    ) -> (RunStatus, ActionResult) {
        let mut result = ActionResult {
            action: planned.action,
            key: planned.key.clone(),
            status: ResultStatus::Done,
            detail: None,
            done: Vec::new(),
            not_done: Vec::new(),
        };
        let action_seq = self.journal.next_seq();
        let plain = |status: &str, reason: Option<String>, run: &str| Record::Action {
            run: run.to_owned(),
            seq: action_seq,
            time: Timestamp::now(),
            action: planned.action,
            key: planned.key.clone(),
            status: status.into(),
            reason,
            prior: None,
            ops: Vec::new(),
        };
        let run_id = self.journal.run().to_owned();
        if planned.status != PlanStatus::Change {
            let (label, status) = match planned.status {
                PlanStatus::AlreadyDone => ("noop", ResultStatus::AlreadyDone),
                PlanStatus::NotPossible => ("not_possible", ResultStatus::NotPossible),
                PlanStatus::Refused => ("refused", ResultStatus::Refused),
                _ => ("skipped", ResultStatus::Skipped),
            };
            result.status = status;
            result.detail.clone_from(&planned.reason);
            if let Err(e) = self.record(&plain(label, planned.reason.clone(), &run_id)) {
                return fail(result, format!("{e}"), planned);
            }
            return (RunStatus::Completed, result);
        }
        let not_done_all = |r: &mut ActionResult| {
            r.not_done = planned.ops.iter().map(Op::describe).collect();
        };
        if self.stopped() {
            result.status = ResultStatus::Interrupted;
            result.detail = Some("stopped by Ctrl-C before this action".into());
            not_done_all(&mut result);
            return (RunStatus::Interrupted, result);
        }
        let Ok(key) = KeyName::parse(&planned.key) else {
            return fail(result, "not a key name".into(), planned);
        };
        let Some(choice) = planned.choice.clone() else {
            return fail(result, "the plan lost its choice".into(), planned);
        };
        // Fresh read: the prior state on record, and what the calls are planned on.
        let snapshot = match read_snapshot(self.gcp, &key).await {
            Ok(s) => s,
            Err(e) => {
                return fail(
                    result,
                    format!("cannot read the key's state first: {e}"),
                    planned,
                );
            }
        };
        let world = world_of_snapshot(&snapshot, &key);
        let fresh = plan_action(subject, &choice, &world, self.now);
        let created = created_version(plan, planned, &snapshot);
        match fresh.status {
            PlanStatus::Change => {}
            PlanStatus::AlreadyDone => {
                result.status = ResultStatus::AlreadyDone;
                result.detail.clone_from(&fresh.reason);
                if let Err(e) = self.record(&plain("noop", fresh.reason.clone(), &run_id)) {
                    return fail(result, format!("{e}"), planned);
                }
                return (RunStatus::Completed, result);
            }
            _ => {
                return fail(
                    result,
                    fresh
                        .reason
                        .unwrap_or_else(|| "cannot be done any more".into()),
                    planned,
                );
            }
        }
        let extra: Vec<String> = fresh
            .ops
            .iter()
            .filter(|op| !planned.ops.iter().any(|p| op.within(p, created.as_deref())))
            .map(Op::describe)
            .collect();
        if !extra.is_empty() {
            let reason = format!(
                "the key changed since the plan was shown: doing it now would also {}; nothing was done on it; run respond again to see a new plan",
                extra.join("; ")
            );
            let _ = self.record(&plain("refused", Some(reason.clone()), &run_id));
            result.status = ResultStatus::ChangedSincePlan;
            result.detail = Some(reason);
            not_done_all(&mut result);
            return (RunStatus::Refused, result);
        }
        let start = Record::Action {
            run: run_id.clone(),
            seq: action_seq,
            time: Timestamp::now(),
            action: planned.action,
            key: planned.key.clone(),
            status: "started".into(),
            reason: None,
            prior: Some(Box::new(snapshot.clone())),
            ops: fresh.ops.clone(),
        };
        if let Err(e) = self.record(&start) {
            return fail(result, format!("{e}"), planned);
        }
        let mut applied: Vec<Applied> = Vec::new();
        let mut new_version: Option<String> = None;
        for (i, op) in fresh.ops.iter().enumerate() {
            let remaining = |r: &mut ActionResult| {
                r.not_done = fresh.ops.iter().skip(i).map(Op::describe).collect();
            };
            if self.stopped() {
                result.status = ResultStatus::Interrupted;
                result.detail = Some("stopped by Ctrl-C between two calls".into());
                remaining(&mut result);
                return (RunStatus::Interrupted, result);
            }
            if let Some(why) = scope_refusal(subject, &choice.key, op) {
                result.status = ResultStatus::Refused;
                result.detail = Some(why);
                remaining(&mut result);
                return (RunStatus::Failed, result);
            }
            match self
                .apply(action_seq, op, &snapshot, &mut new_version)
                .await
            {
                Ok(a) => {
                    result.done.push(a.op.describe());
                    applied.push(a);
                }
                Err(e) => {
                    result.status = ResultStatus::Failed;
                    result.detail = Some(format!("{}: {e}", op.describe()));
                    remaining(&mut result);
                    return (RunStatus::Failed, result);
                }
            }
        }
        // Read back and compare.
        let after = read_snapshot(self.gcp, &key).await;
        let differences = match &after {
            Ok(after) => differences(planned.action, &applied, after, &key),
            Err(e) => vec![format!("the key could not be read back: {e}")],
        };
        let check = Record::Check {
            run: run_id,
            action_seq,
            time: Timestamp::now(),
            status: if differences.is_empty() {
                "ok".into()
            } else {
                "mismatch".into()
            },
            differences: differences.clone(),
        };
        if let Err(e) = self.record(&check) {
            return fail(result, format!("{e}"), planned);
        }
        if !differences.is_empty() {
            result.status = ResultStatus::Failed;
            result.detail = Some(format!(
                "the read-back differs from what was done: {}",
                differences.join("; ")
            ));
            return (RunStatus::Failed, result);
        }
        (RunStatus::Completed, result)
    }

    /// Makes one planned call; resolves "the new version" to the one made.
    async fn apply(
        &mut self,
        action_seq: u64,
        op: &Op,
        snapshot: &Snapshot,
        new_version: &mut Option<String>,
    ) -> Result<Applied, CallError> {
        let applied = |op: Op| Applied { op, written: None };
        match op {
            Op::SetVersionState { version, to, .. } => {
                let prior = snapshot.key.version(version);
                self.set_version_state(action_seq, op, prior, version, to)
                    .await?;
                Ok(applied(op.clone()))
            }
            Op::CreateVersion { key } => {
                let gcp = self.gcp;
                let v = self
                    .journaled(
                        action_seq,
                        op,
                        Observed {
                            primary: snapshot.key.primary.clone(),
                            ..Observed::default()
                        },
                        gcp.create_crypto_key_version(key),
                        |v| Observed {
                            version: Some(version_info(v)),
                            ..Observed::default()
                        },
                    )
                    .await?;
                *new_version = Some(v.name.clone());
                Ok(applied(op.clone()))
            }
            Op::SetPrimary { key, from, to } => {
                let Some(to) = to.clone().or_else(|| new_version.clone()) else {
                    return Err(CallError::Other("no new version to make primary".into()));
                };
                let resolved = Op::SetPrimary {
                    key: key.clone(),
                    from: from.clone(),
                    to: Some(to.clone()),
                };
                self.set_primary(action_seq, &resolved, from.clone(), key, &to)
                    .await?;
                Ok(applied(resolved))
            }
            Op::SetRotation { key, from, to } => {
                self.set_rotation(action_seq, op, from, key, to).await?;
                Ok(applied(op.clone()))
            }
            Op::SetIamPolicy { resource, remove } => {
                let first = if *resource == snapshot.key.key {
                    snapshot.key_policy.clone()
                } else {
                    snapshot.key_ring_policy.clone()
                };
                let remove = remove.clone();
                let written = self
                    .update_policy(action_seq, op, resource, Some(first), |current| {
                        let gone: Vec<_> = current
                            .grants()
                            .into_iter()
                            .filter(|g| remove.contains(g))
                            .collect();
                        (!gone.is_empty()).then(|| current.without(&gone))
                    })
                    .await?;
                Ok(Applied {
                    op: op.clone(),
                    written,
                })
            }
            Op::DestroyVersion { version, .. } => {
                let gcp = self.gcp;
                self.journaled(
                    action_seq,
                    op,
                    Observed {
                        version: snapshot.key.version(version).cloned(),
                        ..Observed::default()
                    },
                    gcp.destroy_crypto_key_version(version),
                    |v| Observed {
                        version: Some(version_info(v)),
                        ..Observed::default()
                    },
                )
                .await?;
                Ok(applied(op.clone()))
            }
            Op::RestoreVersion { version } => {
                let prior = snapshot.key.version(version);
                self.restore_version(action_seq, op, prior, version).await?;
                Ok(applied(op.clone()))
            }
            Op::RestoreIamPolicy { .. } => Err(CallError::Other(
                "restoring a policy is undo's, not a response's".into(),
            )),
        }
    }
}

pub(crate) fn version_info(v: &crate::gcp::CryptoKeyVersion) -> VersionInfo {
    VersionInfo {
        name: v.name.clone(),
        state: v.state.clone(),
        create_time: v.create_time,
        destroy_time: v.destroy_time,
    }
}

pub(crate) fn action_name(a: Action) -> &'static str {
    match a {
        Action::Disable => "disable",
        Action::Rotate => "rotate",
        Action::Revoke => "revoke",
        Action::ScheduleDestroy => "schedule-destroy",
    }
}

fn fail(
    mut result: ActionResult,
    detail: String,
    planned: &PlannedAction,
) -> (RunStatus, ActionResult) {
    result.status = ResultStatus::Failed;
    result.detail = Some(detail);
    result.not_done = planned.ops.iter().map(Op::describe).collect();
    (RunStatus::Failed, result)
}

fn not_run(planned: &PlannedAction) -> ActionResult {
    ActionResult {
        action: planned.action,
        key: planned.key.clone(),
        status: ResultStatus::NotRun,
        detail: Some("the run stopped before this action".into()),
        done: Vec::new(),
        not_done: planned.ops.iter().map(Op::describe).collect(),
    }
}

/// A world holding one freshly read key and its policies.
pub(crate) fn world_of_snapshot(snapshot: &Snapshot, key: &KeyName) -> World {
    let mut world = World::default();
    world.keys.insert(key.to_string(), snapshot.key.clone());
    world
        .policies
        .insert(key.to_string(), Some(snapshot.key_policy.clone()));
    world
        .policies
        .insert(key.key_ring(), Some(snapshot.key_ring_policy.clone()));
    world
}

/// The version an earlier `rotate` of this run made on the key, when the
/// plan refers to it as "the new version": the newest version the fresh
/// read shows, provided the plan created one on this key before `planned`.
fn created_version(
    plan: &CasePlan,
    planned: &PlannedAction,
    snapshot: &Snapshot,
) -> Option<String> {
    let before = plan
        .actions
        .iter()
        .take_while(|a| !std::ptr::eq(*a, planned))
        .any(|a| {
            a.status == PlanStatus::Change
                && a.ops
                    .iter()
                    .any(|op| matches!(op, Op::CreateVersion { key } if *key == planned.key))
        });
    if !before {
        return None;
    }
    snapshot
        .key
        .versions
        .iter()
        .max_by_key(|v| v.id().parse::<u64>().unwrap_or(0))
        .map(|v| v.name.clone())
}

/// Defence in depth: every call must be on the chosen key (or its key
/// ring's policy), and that key within the playbook's limits.
fn scope_refusal(subject: &Subject, key: &str, op: &Op) -> Option<String> {
    let target = op.key();
    let on_key =
        target == key || (target == key_ring_of(key) && matches!(op, Op::SetIamPolicy { .. }));
    if !on_key {
        return Some(format!(
            "refused: {} is not the key this action is about",
            crate::sanitize::text(target)
        ));
    }
    subject.refusal(key).map(|why| format!("refused: {why}"))
}

/// What the read-back must show after the calls made.
fn differences(
    action: Action,
    applied: &[Applied],
    after: &Snapshot,
    key: &KeyName,
) -> Vec<String> {
    let mut out = Vec::new();
    let state_of = |k: &KeyState, v: &str| k.version(v).map(|v| v.state.clone());
    for a in applied {
        match &a.op {
            Op::SetVersionState { version, to, .. } => {
                let got = state_of(&after.key, version);
                if got.as_deref() != Some(to.as_str()) {
                    out.push(format!(
                        "version {} is {} (expected {to})",
                        super::state::version_id(version),
                        got.as_deref().unwrap_or("missing")
                    ));
                }
            }
            Op::DestroyVersion { version, .. } => {
                let got = state_of(&after.key, version);
                if got.as_deref() != Some("DESTROY_SCHEDULED") {
                    out.push(format!(
                        "version {} is {} (expected DESTROY_SCHEDULED)",
                        super::state::version_id(version),
                        got.as_deref().unwrap_or("missing")
                    ));
                }
            }
            Op::RestoreVersion { version } => {
                let got = state_of(&after.key, version);
                if got.as_deref() == Some("DESTROY_SCHEDULED") {
                    out.push(format!(
                        "version {} is still DESTROY_SCHEDULED",
                        super::state::version_id(version)
                    ));
                }
            }
            Op::SetPrimary { to, .. } => {
                if after.key.primary != *to {
                    out.push(format!(
                        "the primary is {} (expected {})",
                        after.key.primary.as_deref().unwrap_or("none"),
                        to.as_deref().unwrap_or("the new version")
                    ));
                }
            }
            Op::SetRotation { to, .. } => {
                if after.key.rotation.period_seconds != to.period_seconds {
                    out.push(format!(
                        "the rotation schedule is {} (expected {})",
                        super::plan::describe_rotation(&after.key.rotation),
                        super::plan::describe_rotation(to)
                    ));
                }
            }
            Op::SetIamPolicy { resource, remove } => {
                let now = if *resource == key.to_string() {
                    &after.key_policy
                } else {
                    &after.key_ring_policy
                };
                let grants = now.grants();
                for g in remove.iter().filter(|g| grants.contains(g)) {
                    out.push(format!(
                        "{} still holds {} on {}",
                        crate::sanitize::text(&g.member),
                        crate::sanitize::text(&g.role),
                        crate::sanitize::text(resource)
                    ));
                }
                if let Some(w) = &a.written
                    && w.grants() != grants
                {
                    out.push(format!(
                        "the policy of {} changed again after the write (etag {} → {})",
                        crate::sanitize::text(resource),
                        crate::sanitize::text(&w.etag),
                        crate::sanitize::text(&now.etag)
                    ));
                }
            }
            Op::CreateVersion { .. } | Op::RestoreIamPolicy { .. } => {}
        }
    }
    if action == Action::Disable {
        for v in after.key.versions.iter().filter(|v| v.state == "ENABLED") {
            out.push(format!("version {} is ENABLED", v.id()));
        }
    }
    out
}
