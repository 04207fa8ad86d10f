//! The response's text and JSON: the case summary, the plan, the results
//! and the undo plan. Attacker-controlled text is sanitized where it is
//! formatted (see `plan::Op::describe` and below).

use serde::Serialize;

use crate::sanitize;

use super::actions::{ActionResult, ResultStatus, RunStatus, action_name};
use super::plan::{CasePlan, PlanStatus, PlannedAction};
use super::policy::verdict_name;
use super::subject::Subject;
use super::undo::{UndoPlan, UndoStatus};

/// The JSON form of a response (`--format json`).
#[derive(Debug, Serialize)]
pub struct ResponseDocument<'a> {
    pub kind: &'static str,
    pub format: u32,
    /// `dry-run`, `apply`, `declined` (interactive, answered no).
    pub mode: &'a str,
    pub principal: &'a str,
    pub journal: Option<String>,
    /// How the run ended (`apply` only).
    pub status: Option<RunStatus>,
    pub plans: Vec<&'a CasePlan>,
    pub results: &'a [ActionResult],
}

/// The JSON form of an undo.
#[derive(Debug, Serialize)]
pub struct UndoDocument<'a> {
    pub kind: &'static str,
    pub format: u32,
    /// `dry-run` or `apply`.
    pub mode: &'a str,
    pub principal: &'a str,
    pub plan: &'a UndoPlan,
}

fn s(t: &str) -> String {
    sanitize::text(t).into_owned()
}

/// The case in a few lines, before the questions.
pub fn summary(subject: &Subject) -> String {
    let a = &subject.case.assessment;
    let mut out = String::new();
    out.push_str(&format!("KEY       {}\n", s(&subject.key())));
    let mut verdict = verdict_name(a.verdict).to_uppercase();
    if let Some(rule) = &a.verdict_rule {
        verdict.push_str(&format!(" (rule {}", s(rule)));
        if !a.drivers.is_empty() {
            let d: Vec<&str> = a.drivers.iter().map(|d| d.as_str()).collect();
            verdict.push_str(&format!("; driven by {}", d.join(", ")));
        }
        verdict.push(')');
    }
    out.push_str(&format!("VERDICT   {verdict}\n"));
    if !a.findings.is_empty() {
        out.push_str(&format!("FINDINGS  {}\n", a.findings.len()));
        for f in &a.findings {
            out.push_str(&format!("  [{:?}] {}: {}\n", f.severity, f.id, s(&f.title)));
        }
    }
    if let Some(c) = subject.creator() {
        out.push_str(&format!("CREATOR   {}\n", s(c)));
    }
    let affected = subject.affected_key_names();
    if !affected.is_empty() {
        out.push_str(&format!(
            "AFFECTED  {} other key{} the creator made in the window:\n",
            affected.len(),
            if affected.len() == 1 { "" } else { "s" }
        ));
        for k in &affected {
            out.push_str(&format!("  {}\n", s(&k.to_string())));
        }
    }
    out
}

fn status_label(p: &PlannedAction) -> &'static str {
    match p.status {
        PlanStatus::Change => "will change",
        PlanStatus::AlreadyDone => "already done",
        PlanStatus::NotPossible => "not possible",
        PlanStatus::Refused => "refused",
        PlanStatus::Skipped => "skipped",
    }
}

/// One line: action, key, status.
pub fn one_line(p: &PlannedAction) -> String {
    let n = p.ops.len();
    match p.status {
        PlanStatus::Change => format!(
            "{} {}: {n} change{}",
            action_name(p.action),
            s(&p.key),
            if n == 1 { "" } else { "s" }
        ),
        _ => format!(
            "{} {}: {}{}",
            action_name(p.action),
            s(&p.key),
            status_label(p),
            p.reason
                .as_deref()
                .map(|r| format!(" ({})", s(r)))
                .unwrap_or_default()
        ),
    }
}

/// An action: what it will change, what it will break, what to know.
pub fn planned_block(p: &PlannedAction, number: Option<usize>) -> String {
    let mut out = String::new();
    let prefix = number.map(|n| format!("{n}. ")).unwrap_or_default();
    let affected = if p.affected { " (affected key)" } else { "" };
    out.push_str(&format!(
        "{prefix}{} {}{affected}  [{}]\n",
        action_name(p.action),
        s(&p.key),
        s(&p.origin)
    ));
    match p.status {
        PlanStatus::Change => {
            out.push_str("   will change:\n");
            for op in &p.ops {
                out.push_str(&format!("     - {}\n", op.describe()));
            }
        }
        _ => out.push_str(&format!(
            "   {}: {}\n",
            status_label(p),
            p.reason.as_deref().map(s).unwrap_or_default()
        )),
    }
    if let Some(b) = &p.breaks
        && p.status == PlanStatus::Change
    {
        out.push_str("   will break:\n");
        if b.protected_resources.is_empty() {
            out.push_str("     protected resources: none known\n");
        } else {
            out.push_str(&format!(
                "     protected resources ({}):\n",
                b.protected_resources.len()
            ));
            for r in &b.protected_resources {
                out.push_str(&format!("       {r}\n"));
            }
        }
        if b.recent_users.is_empty() {
            out.push_str("     recent users: none in the window\n");
        } else {
            out.push_str(&format!("     recent users ({}):\n", b.recent_users.len()));
            for u in &b.recent_users {
                out.push_str(&format!("       {u}\n"));
            }
        }
        for u in &b.unknown {
            out.push_str(&format!("     {u}\n"));
        }
    }
    if p.status == PlanStatus::Change || p.action == crate::findings::Action::ScheduleDestroy {
        for w in &p.warnings {
            out.push_str(&format!("   note: {w}\n"));
        }
    }
    out
}

/// The whole plan, numbered.
pub fn plan_text(plans: &[&CasePlan], header: &str) -> String {
    let mut out = format!("{header}\n");
    let mut n = 0;
    for plan in plans {
        out.push_str(&format!(
            "\nKey {} — verdict {}\n",
            s(&plan.key),
            verdict_name(plan.verdict)
        ));
        if plan.actions.is_empty() {
            out.push_str("   no action: the playbook's steps do not apply to this verdict\n");
        }
        for a in &plan.actions {
            n += 1;
            out.push_str(&planned_block(a, Some(n)));
        }
    }
    let changes: usize = plans
        .iter()
        .map(|p| p.changes().map(|a| a.ops.len()).sum::<usize>())
        .sum();
    out.push_str(&format!(
        "\n{changes} change{} in all.\n",
        if changes == 1 { "" } else { "s" }
    ));
    out
}

/// What the run did.
pub fn results_text(status: RunStatus, results: &[ActionResult], journal: Option<&str>) -> String {
    let mut out = match status {
        RunStatus::Completed => "RESPONSE COMPLETED\n".to_owned(),
        RunStatus::Failed => {
            "RESPONSE STOPPED: a call failed or the read-back differed\n".to_owned()
        }
        RunStatus::Refused => {
            "RESPONSE STOPPED: a key changed since the plan was shown\n".to_owned()
        }
        RunStatus::Interrupted => "RESPONSE STOPPED by Ctrl-C\n".to_owned(),
    };
    for r in results {
        let (mark, label) = match r.status {
            ResultStatus::Done => ("✓", "done"),
            ResultStatus::AlreadyDone => ("=", "already done"),
            ResultStatus::NotPossible => ("·", "not possible"),
            ResultStatus::Refused => ("✗", "refused"),
            ResultStatus::Skipped => ("·", "skipped"),
            ResultStatus::Failed => ("✗", "FAILED"),
            ResultStatus::ChangedSincePlan => ("✗", "changed since the plan"),
            ResultStatus::Interrupted => ("✗", "interrupted"),
            ResultStatus::NotRun => ("-", "not run"),
        };
        out.push_str(&format!(
            "  {mark} {} {}: {label}",
            action_name(r.action),
            s(&r.key)
        ));
        if let Some(d) = &r.detail {
            out.push_str(&format!(": {}", s(d)));
        }
        out.push('\n');
        for d in &r.done {
            out.push_str(&format!("      done: {d}\n"));
        }
        for d in &r.not_done {
            out.push_str(&format!("      not done: {d}\n"));
        }
    }
    if let Some(j) = journal {
        out.push_str(&format!(
            "journal: {j}\n  to put it back: kms-responder undo {j} (a dry run; add --apply)\n"
        ));
    }
    out
}

/// The undo plan, or what the undo did.
pub fn undo_text(plan: &UndoPlan, applied: bool) -> String {
    let mut out = if applied {
        format!("UNDO of {}\n", s(&plan.journal))
    } else {
        format!(
            "UNDO PLAN for {} (dry run: nothing was changed; add --apply to restore)\n",
            s(&plan.journal)
        )
    };
    out.push_str(&format!("runs: {}\n", plan.runs.join(", ")));
    for r in &plan.reconciled {
        out.push_str(&format!("  reconciled: {}\n", s(r)));
    }
    if plan.items.is_empty() {
        out.push_str("  the runs changed nothing that undo restores\n");
    }
    for i in &plan.items {
        let label = match i.status {
            UndoStatus::Restore if applied => "not restored",
            UndoStatus::Restore => "will restore",
            UndoStatus::AlreadyRestored => "already as before",
            UndoStatus::Refused => "REFUSED",
            UndoStatus::Forced if applied => "not restored",
            UndoStatus::Forced => "will restore (forced)",
            UndoStatus::CannotRestore => "cannot restore",
            UndoStatus::LeftAsIs => "left as is",
            UndoStatus::Done => "restored",
            UndoStatus::Failed => "FAILED",
            UndoStatus::NotRun => "not run",
        };
        out.push_str(&format!(
            "  {} {} — {}: {label}\n",
            i.kind,
            s(&i.resource),
            s(&i.change)
        ));
        for op in &i.ops {
            if !applied || i.status == UndoStatus::Done {
                out.push_str(&format!("      - {}\n", op.describe()));
            }
        }
        if let Some(r) = &i.reason {
            out.push_str(&format!("      {}\n", s(r)));
        }
    }
    out
}
