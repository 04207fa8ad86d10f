//! The glue of `respond` and `undo`: arguments, the terminal, Ctrl-C, the
//! journal's path, output and exit codes. The only place here that uses
//! `anyhow`.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use jiff::Timestamp;

use crate::case::CaseOutcome;
use crate::cli::{InvestigateArgs, OutputArgs};
use crate::commands;
use crate::exit::{self, UsageError};
use crate::findings::Action;
use crate::gcp::{Gcp, GcpConfig};
use crate::investigate::Options;
use crate::render::Format;

use super::choose::{self, Flags};
use super::report::{self, ResponseDocument, UndoDocument};
use super::{Decision, Mode, RunStatus, Subject, TerminalPrompter};

/// An action named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionArg {
    /// Disable every enabled version of the key.
    Disable,
    /// New version made primary; rotation schedule when missing or too long.
    Rotate,
    /// Remove the creator, public and unexpected members from the key's and key ring's policies.
    Revoke,
    /// Schedule the key's versions for destruction (needs --allow-destroy when scripted).
    ScheduleDestroy,
}

impl From<ActionArg> for Action {
    fn from(a: ActionArg) -> Action {
        match a {
            ActionArg::Disable => Action::Disable,
            ActionArg::Rotate => Action::Rotate,
            ActionArg::Revoke => Action::Revoke,
            ActionArg::ScheduleDestroy => Action::ScheduleDestroy,
        }
    }
}

/// `kms-responder respond`.
#[derive(Debug, Args)]
pub struct RespondArgs {
    #[command(flatten)]
    pub investigation: InvestigateArgs,
    /// Never prompt: run the playbook's response steps whose conditions hold
    /// (or the --action ones); needed when not on a terminal.
    #[arg(long)]
    pub non_interactive: bool,
    /// Actions to take instead of the playbook's (repeatable, or comma-separated).
    #[arg(
        long = "action",
        value_enum,
        value_delimiter = ',',
        value_name = "ACTION"
    )]
    pub actions: Vec<ActionArg>,
    /// Make the changes (scripted mode); without it the plan is printed and
    /// nothing is sent that changes anything (a dry run).
    #[arg(long)]
    pub apply: bool,
    /// Let schedule-destroy run in scripted mode.
    #[arg(long)]
    pub allow_destroy: bool,
    /// Apply every action to the affected keys too (other keys the creator
    /// made in the window).
    #[arg(long)]
    pub affected_keys: bool,
    /// Journal to append to (default: journal-TIME.jsonl under the user's
    /// state directory, e.g. ~/.local/state/kms-responder/).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

/// `kms-responder undo`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The journal a respond run wrote.
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,
    /// Restore (without it: print what would be restored, change nothing).
    #[arg(long)]
    pub apply: bool,
    /// Restore also resources that changed since the run (by default refused).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn no_markdown(format: Format, command: &str) -> anyhow::Result<()> {
    if format == Format::Markdown {
        return Err(UsageError::new(
            format!("{command} writes text or JSON, not Markdown"),
            "use --format text or --format json",
        )
        .into());
    }
    Ok(())
}

/// Who makes the calls, for the journal: `anonymous` (a mock), the
/// impersonated service account, what the ADC file names, or `unknown`.
/// Only the account's e-mail is read from the file, never a secret.
fn principal(gcp: &Gcp, config: &GcpConfig) -> String {
    if gcp.is_anonymous() {
        return "anonymous".into();
    }
    if let Some(sa) = &config.impersonate_service_account {
        return sa.clone();
    }
    adc_principal().unwrap_or_else(|| "unknown".into())
}

fn adc_principal() -> Option<String> {
    let path = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
        .map(PathBuf::from)
        .or_else(|| {
            let base = if cfg!(windows) {
                std::env::var_os("APPDATA").map(PathBuf::from)
            } else {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config"))
            }?;
            Some(
                base.join("gcloud")
                    .join("application_default_credentials.json"),
            )
        })?;
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    if let Some(email) = json.get("client_email").and_then(|v| v.as_str()) {
        return Some(email.to_owned());
    }
    // impersonated_service_account and external_account files name the
    // target account in their impersonation URL: .../serviceAccounts/EMAIL:generateAccessToken
    let url = json
        .get("service_account_impersonation_url")
        .and_then(|v| v.as_str())?;
    let tail = url.rsplit("/serviceAccounts/").next()?;
    Some(tail.split(':').next()?.to_owned())
}

/// Sets `stop` on Ctrl-C from now on: the run finishes the call in flight,
/// records it, and stops. A second Ctrl-C quits at once (the journal holds
/// the intent of the call in flight; `undo` reconciles it).
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!(
                "\nstopping after the call in flight (Ctrl-C again to quit at once; the journal has it)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(exit::FAILURE));
            }
        }
    });
    stop
}

fn write_out(output: &OutputArgs, text: &str) -> anyhow::Result<()> {
    match &output.file {
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("written to {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(doc: &T) -> anyhow::Result<String> {
    let mut text = crate::render::safe_json::to_string_pretty(doc)?;
    text.push('\n');
    Ok(text)
}

/// `kms-responder respond INPUT...`.
///
/// Exit codes: 0 done, a dry run printed, or nothing to do / declined;
/// 1 a call failed, a read-back differed or Ctrl-C stopped the run (the
/// report says what was done and what was not); 2 usage error (nothing was
/// sent to Google); 5 refused: a key changed since the plan was shown.
pub async fn respond_command(gcp_config: &GcpConfig, args: &RespondArgs) -> anyhow::Result<u8> {
    let output = &args.investigation.output;
    no_markdown(output.format, "respond")?;
    // Decided first: no terminal and no --non-interactive is a usage error
    // before anything is read or sent.
    let interactive = if args.non_interactive {
        false
    } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        true
    } else {
        return Err(UsageError::new(
            "not a terminal, so respond cannot ask what to do",
            "add --non-interactive to run the playbook's response steps (or --action ...), and --apply to make the changes",
        )
        .into());
    };
    let flags = Flags {
        actions: args.actions.iter().map(|a| Action::from(*a)).collect(),
        allow_destroy: args.allow_destroy,
        affected_keys: args.affected_keys,
    };
    let requests = commands::read_inputs(&args.investigation)?;
    let jobs = commands::plan(&requests, &args.investigation)?;
    for job in &jobs {
        choose::check_flags(
            &job.playbook.response_policy(),
            &job.playbook.name,
            &flags,
            interactive,
        )
        .map_err(|e| UsageError::new(e.message, e.hint))?;
    }
    let governing: Vec<(crate::input::Request, crate::playbook::Playbook, Options)> = jobs
        .iter()
        .map(|j| (j.request.clone(), j.playbook.clone(), j.options.clone()))
        .collect();
    let gcp = commands::connect(gcp_config).await?;
    let who = principal(&gcp, gcp_config);
    let outcomes = commands::investigate_all(&gcp, jobs).await;
    let now = Timestamp::now();
    let mut subjects = Vec::new();
    let mut missing = 0;
    for outcome in outcomes {
        match outcome {
            CaseOutcome::Case(case) => {
                let Some((_, playbook, options)) = governing
                    .iter()
                    .find(|(r, ..)| *r == case.investigation.request)
                else {
                    continue;
                };
                subjects.push(Subject::gather(&gcp, *case, playbook.clone(), options, now).await);
            }
            CaseOutcome::NoKeyFound { detail, .. } => {
                missing += 1;
                eprintln!("no key to respond to: {detail}");
            }
        }
    }
    if subjects.is_empty() {
        anyhow::bail!("no key was found to respond to");
    }
    let mode = if interactive {
        Mode::Interactive
    } else {
        Mode::Scripted { apply: args.apply }
    };
    let mut prompter = TerminalPrompter;
    let decided = match super::decide(subjects, mode, &flags, &mut prompter, now) {
        Ok(d) => d,
        Err(super::PromptError::Interrupted) => {
            eprintln!("stopped: nothing was changed");
            return Ok(exit::FAILURE);
        }
        Err(e) => return Err(anyhow::Error::new(e).context("the questions could not be asked")),
    };
    let plans: Vec<&super::CasePlan> = decided.work.iter().map(|(_, p)| p).collect();
    match decided.decision {
        Decision::DryRun | Decision::Declined => {
            let dry = decided.decision == Decision::DryRun;
            let text = match output.format {
                Format::Json => to_json(&ResponseDocument {
                    kind: "kms-responder/response",
                    format: 1,
                    mode: if dry { "dry-run" } else { "declined" },
                    principal: &who,
                    journal: None,
                    status: None,
                    plans,
                    results: &[],
                })?,
                _ if dry => report::plan_text(
                    &plans,
                    "RESPONSE PLAN (dry run: nothing was changed; add --apply to make these changes)",
                ),
                _ => "Nothing was changed.\n".to_owned(),
            };
            write_out(output, &text)?;
            return Ok(if missing > 0 { exit::FAILURE } else { exit::OK });
        }
        Decision::Apply => {}
    }
    let path = match &args.journal {
        Some(p) => p.clone(),
        None => super::journal::default_path(now).ok_or_else(|| {
            UsageError::new(
                "no state directory for the journal (neither XDG_STATE_HOME nor HOME is set)",
                "pass --journal FILE",
            )
        })?,
    };
    eprintln!("journal: {}", path.display());
    let stop = stop_on_ctrl_c();
    let execution = super::execute(&gcp, &decided.work, &path, &who, &stop, now)
        .await
        .context("nothing was changed")?;
    let shown = path.display().to_string();
    let text = match output.format {
        Format::Json => to_json(&ResponseDocument {
            kind: "kms-responder/response",
            format: 1,
            mode: "apply",
            principal: &who,
            journal: Some(shown.clone()),
            status: Some(execution.status),
            plans,
            results: &execution.results,
        })?,
        _ => report::results_text(execution.status, &execution.results, Some(&shown)),
    };
    write_out(output, &text)?;
    Ok(match execution.status {
        RunStatus::Completed if missing == 0 => exit::OK,
        RunStatus::Refused => exit::REFUSED,
        _ => exit::FAILURE,
    })
}

/// `kms-responder undo JOURNAL`.
///
/// Exit codes: 0 restored (or, as a dry run, restorable), or nothing to
/// restore; 1 a call failed or a read-back differed; 2 usage error (the
/// journal is missing, unreadable or holds no respond run); 5 some
/// resource changed since the run and was refused (see `--force`).
pub async fn undo_command(gcp_config: &GcpConfig, args: &UndoArgs) -> anyhow::Result<u8> {
    no_markdown(args.output.format, "undo")?;
    let records = super::journal::read(&args.journal).map_err(|e| {
        UsageError::new(e.to_string(), "give the journal file a respond run printed")
    })?;
    if !records
        .iter()
        .any(|r| matches!(r, super::journal::Record::Run { command, .. } if command == "respond"))
    {
        return Err(UsageError::new(
            format!("{} holds no respond run to undo", args.journal.display()),
            "give the journal file a `respond --apply` run printed",
        )
        .into());
    }
    let gcp = commands::connect(gcp_config).await?;
    let who = principal(&gcp, gcp_config);
    let stop = if args.apply {
        stop_on_ctrl_c()
    } else {
        Arc::new(AtomicBool::new(false))
    };
    let plan = super::undo_journal(&gcp, &args.journal, args.apply, args.force, &who, &stop)
        .await
        .context("cannot undo")?;
    let text = match args.output.format {
        Format::Json => to_json(&UndoDocument {
            kind: "kms-responder/undo",
            format: 1,
            mode: if args.apply { "apply" } else { "dry-run" },
            principal: &who,
            plan: &plan,
        })?,
        _ => report::undo_text(&plan, args.apply),
    };
    write_out(&args.output, &text)?;
    Ok(if plan.failed() {
        exit::FAILURE
    } else if plan.refused() {
        exit::REFUSED
    } else {
        exit::OK
    })
}

/// `demo`'s ending: the response plan for the scenario's cases, as a dry
/// run (reads only: the playbook's steps, never a call that changes
/// anything). Text to stdout when the report went there as text, else to
/// stderr so a JSON report stays one document.
pub async fn demo_dry_run(
    gcp: &Gcp,
    outcomes: &[CaseOutcome],
    output: &OutputArgs,
) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let mut subjects = Vec::new();
    for outcome in outcomes {
        let CaseOutcome::Case(case) = outcome else {
            continue;
        };
        let playbook =
            crate::playbook::for_alert_type(case.investigation.request.alert_type.as_deref())
                .context("the bundled playbook")?;
        let options = Options {
            lookback: playbook.lookback,
            max_pages: playbook.max_log_pages,
            ..Options::default()
        };
        subjects.push(Subject::gather(gcp, (**case).clone(), playbook, &options, now).await);
    }
    let mut silent = super::ScriptedPrompter::default();
    let decided = super::decide(
        subjects,
        Mode::Scripted { apply: false },
        &Flags::default(),
        &mut silent,
        now,
    )?;
    let plans: Vec<&super::CasePlan> = decided.work.iter().map(|(_, p)| p).collect();
    let text = report::plan_text(
        &plans,
        "\nRESPONSE PLAN (dry run: nothing was changed; `kms-responder respond ALERT --non-interactive --apply` makes these changes)",
    );
    if output.format == Format::Text && output.file.is_none() {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    } else {
        eprint!("{text}");
    }
    Ok(())
}
