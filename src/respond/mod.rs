//! Response: contain a key in a few keystrokes, or with none, and always be
//! able to put it back (`kms-responder respond`, `kms-responder undo`).
//!
//! - [`policy`]: the `response:` half of the playbook (steps, conditions,
//!   unattended actions, projects);
//! - [`subject`]: the alert's key and its affected keys, investigated;
//! - [`choose`]: which actions on which keys — the playbook's steps or
//!   `--action` (scripted), or asked through a [`prompt::Prompter`];
//! - [`plan`]: the calls each action makes, what it breaks (pure);
//! - [`actions`]: making the calls, journaled, read back;
//! - [`journal`]: JSON Lines, synced per record; [`undo`]: its reversal;
//! - [`report`]: text and JSON; `command`: the two commands' glue (anyhow).
//!
//! The library entry points are [`decide`] (choices and plan; prompts in
//! interactive mode; no call that changes anything) and [`execute`] (the
//! journaled run), so tests drive both with scripted answers.

pub mod actions;
pub mod choose;
mod command;
pub mod journal;
pub mod plan;
pub mod policy;
pub mod prompt;
pub mod report;
pub mod state;
pub mod subject;
pub mod undo;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use jiff::Timestamp;

use crate::gcp::Gcp;

pub use actions::{ActionResult, ResultStatus, RunStatus};
pub use choose::Flags;
pub use command::{RespondArgs, UndoArgs, demo_dry_run, respond_command, undo_command};
pub use plan::{CasePlan, Choice, PlanStatus};
pub use prompt::{Answer, PromptError, Prompter, ScriptedPrompter, TerminalPrompter};
pub use subject::Subject;

/// How the response is steered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Questions on a terminal; changes only after the final yes.
    Interactive,
    /// No questions: the playbook's steps or `--action`; changes only with `--apply`.
    Scripted { apply: bool },
}

/// What to do after the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Print the plan; change nothing.
    DryRun,
    /// Make the changes.
    Apply,
    /// The operator answered no to the final question.
    Declined,
}

/// The subjects with their plans, and what to do with them.
#[derive(Debug)]
pub struct Decided {
    pub work: Vec<(Subject, CasePlan)>,
    pub decision: Decision,
}

/// Chooses and plans; in interactive mode, asks (the plan is shown before
/// the final question). Reads nothing from Google and changes nothing:
/// the subjects carry what their investigations read.
pub fn decide(
    subjects: Vec<Subject>,
    mode: Mode,
    flags: &Flags,
    prompter: &mut dyn Prompter,
    now: Timestamp,
) -> Result<Decided, PromptError> {
    let mut work = Vec::new();
    for subject in subjects {
        let choices = match mode {
            Mode::Interactive => choose::interactive(&subject, flags, prompter, now)?,
            Mode::Scripted { .. } => choose::scripted(&subject, flags),
        };
        let plan = plan::plan(&subject, &choices, &plan::world_of(&subject), now);
        work.push((subject, plan));
    }
    let decision = match mode {
        Mode::Scripted { apply: true } => Decision::Apply,
        Mode::Scripted { apply: false } => Decision::DryRun,
        Mode::Interactive => {
            let plans: Vec<&CasePlan> = work.iter().map(|(_, p)| p).collect();
            let changes: usize = plans
                .iter()
                .map(|p| p.changes().map(|a| a.ops.len()).sum::<usize>())
                .sum();
            if changes == 0 {
                prompter.show("Nothing to change.");
                Decision::Declined
            } else {
                prompter.show(&report::plan_text(&plans, "THE PLAN"));
                if prompter.confirm(
                    &format!(
                        "Apply these {changes} change{} now?",
                        if changes == 1 { "" } else { "s" }
                    ),
                    false,
                )? {
                    Decision::Apply
                } else {
                    Decision::Declined
                }
            }
        }
    };
    Ok(Decided { work, decision })
}

/// The outcome of a journaled run.
#[derive(Debug)]
pub struct Execution {
    pub status: RunStatus,
    pub results: Vec<ActionResult>,
}

/// Runs the plans: opens the journal at `journal_path` (appending), writes
/// the run record, then each action (see [`actions`]). `stop` is set by
/// Ctrl-C; the run stops at the next call boundary.
pub async fn execute(
    gcp: &Gcp,
    work: &[(Subject, CasePlan)],
    journal_path: &Path,
    principal: &str,
    stop: &AtomicBool,
    now: Timestamp,
) -> Result<Execution, journal::JournalError> {
    let run = journal::run_id(now);
    let mut journal = journal::Journal::open(journal_path, &run)?;
    let playbook = work.first().map(|(s, _)| s.playbook.name.clone());
    journal.append(&journal::Record::Run {
        run: run.clone(),
        time: Timestamp::now(),
        command: "respond".into(),
        tool: "kms-responder".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        principal: principal.to_owned(),
        format: journal::FORMAT,
        playbook,
        alerts: work
            .iter()
            .map(|(s, p)| journal::AlertRef {
                id: s.case.investigation.request.id.clone(),
                alert_type: s.case.investigation.request.alert_type.clone(),
                key: p.key.clone(),
                verdict: policy::verdict_name(p.verdict).into(),
                affected_keys: p.affected_keys.clone(),
            })
            .collect(),
        undoes: None,
    })?;
    let mut executor = actions::Executor {
        gcp,
        journal: &mut journal,
        stop,
        now,
    };
    let (status, results) = executor.run(work).await;
    Ok(Execution { status, results })
}

/// Plans the undo of a journal and, with `apply`, carries it out
/// (appending the undo's own records to the same journal).
pub async fn undo_journal(
    gcp: &Gcp,
    path: &Path,
    apply: bool,
    force: bool,
    principal: &str,
    stop: &AtomicBool,
) -> Result<undo::UndoPlan, UndoFailure> {
    let records = journal::read(path)?;
    let shown = path.display().to_string();
    let mut plan = undo::plan(gcp, &shown, &records, force).await?;
    if !apply {
        return Ok(plan);
    }
    let now = Timestamp::now();
    let run = journal::run_id(now);
    let mut journal = journal::Journal::open(path, &run)?;
    journal.append(&journal::Record::Run {
        run,
        time: now,
        command: "undo".into(),
        tool: "kms-responder".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        principal: principal.to_owned(),
        format: journal::FORMAT,
        playbook: None,
        alerts: Vec::new(),
        undoes: Some(plan.runs.join(",")),
    })?;
    undo::apply(gcp, &mut journal, stop, &mut plan, force).await;
    Ok(plan)
}

/// Why an undo could not start.
#[derive(Debug, thiserror::Error)]
pub enum UndoFailure {
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error(transparent)]
    Undo(#[from] undo::UndoError),
}
