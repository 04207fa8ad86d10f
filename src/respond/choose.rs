//! Which actions to take on which keys: from the playbook's steps or
//! `--action` (scripted), or asked one by one (interactive).

use jiff::Timestamp;

use crate::findings::Action;

use super::actions::action_name;
use super::plan::{Choice, PlanStatus, plan_action, revoke_candidates, simulate, world_of};
use super::policy::ResponsePolicy;
use super::prompt::{PromptError, Prompter};
use super::report;
use super::subject::Subject;

/// What the command line says about the response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `--action`: these instead of the playbook's steps or recommendations.
    pub actions: Vec<Action>,
    /// `--allow-destroy`: schedule-destroy may run in scripted mode.
    pub allow_destroy: bool,
    /// `--affected-keys`: every action applies to the affected keys too.
    pub affected_keys: bool,
}

/// A flag the playbook does not allow, with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FlagError {
    pub message: String,
    pub hint: String,
}

/// Checks the flags against the playbook before anything is sent: in
/// scripted mode every `--action` must be one the playbook lets run
/// unattended, and schedule-destroy needs `--allow-destroy`.
pub fn check_flags(
    policy: &ResponsePolicy,
    playbook_name: &str,
    flags: &Flags,
    interactive: bool,
) -> Result<(), FlagError> {
    if interactive {
        return Ok(());
    }
    for a in &flags.actions {
        if *a == Action::ScheduleDestroy && !flags.allow_destroy {
            return Err(FlagError {
                message: "schedule-destroy never runs unattended without --allow-destroy".into(),
                hint: "add --allow-destroy if destruction is really intended, or run interactively on a terminal (it asks for the key's id)".into(),
            });
        }
        if !policy.allows_unattended(*a) {
            return Err(FlagError {
                message: format!(
                    "playbook {} does not let {} run unattended",
                    crate::sanitize::text(playbook_name),
                    action_name(*a)
                ),
                hint: "add it to the playbook's response.unattended, or run interactively on a terminal".into(),
            });
        }
    }
    Ok(())
}

/// The scripted choices: `--action`, else the playbook's steps whose
/// conditions hold. Call [`check_flags`] first.
pub fn scripted(subject: &Subject, flags: &Flags) -> Vec<Choice> {
    let affected: Vec<String> = subject
        .affected_key_names()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut out: Vec<Choice> = Vec::new();
    let mut push = |c: Choice| {
        if !out.iter().any(|o| o.action == c.action && o.key == c.key) {
            out.push(c);
        }
    };
    let rotate_default = subject.policy.rotate.disable_previous;
    if !flags.actions.is_empty() {
        for a in &flags.actions {
            let keys = std::iter::once(subject.key())
                .chain(affected.iter().filter(|_| flags.affected_keys).cloned());
            for key in keys {
                let mut c = Choice::new(*a, key, "--action");
                c.disable_previous = rotate_default;
                push(c);
            }
        }
        return out;
    }
    for (i, step) in subject.policy.steps.iter().enumerate() {
        if !subject.holds(&step.when) {
            continue;
        }
        let with_affected = step.affected_keys || flags.affected_keys;
        let keys = std::iter::once(subject.key())
            .chain(affected.iter().filter(|_| with_affected).cloned());
        for key in keys {
            let mut c = Choice::new(
                step.action,
                key,
                format!("playbook step {} (when {})", i + 1, step.when),
            );
            c.disable_previous = rotate_default;
            if step.action == Action::ScheduleDestroy && !flags.allow_destroy {
                c.skip = Some("schedule-destroy needs --allow-destroy".into());
            }
            push(c);
        }
    }
    out
}

/// The actions offered interactively: `--action`, else those the playbook
/// recommends for the verdict and its steps whose conditions hold.
fn offered(subject: &Subject, flags: &Flags) -> Vec<Action> {
    if !flags.actions.is_empty() {
        return flags.actions.clone();
    }
    let mut out: Vec<Action> = Vec::new();
    let recommended = subject
        .case
        .assessment
        .recommended_actions
        .iter()
        .map(|r| r.action);
    let stepped = subject
        .policy
        .steps
        .iter()
        .filter(|s| subject.holds(&s.when))
        .map(|s| s.action);
    for a in recommended.chain(stepped) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn key_id(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Asks, action by action, what to do: shows what each will change and
/// break, then confirms. Nothing is changed here.
pub fn interactive(
    subject: &Subject,
    flags: &Flags,
    prompter: &mut dyn Prompter,
    now: Timestamp,
) -> Result<Vec<Choice>, PromptError> {
    prompter.show(&report::summary(subject));
    let actions = offered(subject, flags);
    if actions.is_empty() {
        prompter.show(&format!(
            "The playbook recommends no action for verdict {}: nothing to do (pass --action to choose one).",
            super::policy::verdict_name(subject.case.assessment.verdict)
        ));
        return Ok(Vec::new());
    }
    let mut world = world_of(subject);
    let mut choices: Vec<Choice> = Vec::new();
    let origin = "confirmed at the prompt";
    for action in actions {
        let key = subject.key();
        let mut choice = Choice::new(action, key.clone(), origin);
        choice.disable_previous = subject.policy.rotate.disable_previous;
        let proposal = plan_action(subject, &choice, &world, now);
        prompter.show(&report::planned_block(&proposal, None));
        if proposal.status == PlanStatus::Change && ask(subject, &mut choice, &world, prompter)? {
            let accepted = plan_action(subject, &choice, &world, now);
            if accepted.status == PlanStatus::Change {
                for op in &accepted.ops {
                    simulate(&mut world, op);
                }
                choices.push(choice.clone());
            }
        }
        // The same action on the affected keys.
        let mut candidates = Vec::new();
        for affected in subject.affected_key_names() {
            let mut c = Choice::new(
                action,
                affected.to_string(),
                format!("{origin} (affected key)"),
            );
            c.disable_previous = choice.disable_previous;
            let p = plan_action(subject, &c, &world, now);
            if p.status == PlanStatus::Change {
                candidates.push((c, p));
            }
        }
        if candidates.is_empty() {
            continue;
        }
        let picked: Vec<usize> = if action == Action::ScheduleDestroy {
            let mut picked = Vec::new();
            for (i, (c, p)) in candidates.iter().enumerate() {
                prompter.show(&report::planned_block(p, None));
                let typed = prompter.text(&format!(
                    "Type the key id ({}) to schedule its versions for destruction, or press Enter to skip",
                    key_id(&c.key)
                ))?;
                if typed.trim() == key_id(&c.key) {
                    picked.push(i);
                } else {
                    prompter.show("Not confirmed: skipped.");
                }
            }
            picked
        } else {
            let items: Vec<String> = candidates
                .iter()
                .map(|(_, p)| report::one_line(p))
                .collect();
            prompter.show(&format!(
                "{} other key{} made by the same principal in the window:",
                candidates.len(),
                if candidates.len() == 1 { "" } else { "s" }
            ));
            for (_, p) in &candidates {
                prompter.show(&report::planned_block(p, None));
            }
            prompter.choose(
                &format!("Also {} these keys?", action_name(action)),
                &items,
                &vec![true; items.len()],
            )?
        };
        for i in picked {
            if let Some((c, _)) = candidates.get(i) {
                let p = plan_action(subject, c, &world, now);
                if p.status == PlanStatus::Change {
                    for op in &p.ops {
                        simulate(&mut world, op);
                    }
                    choices.push(c.clone());
                }
            }
        }
    }
    Ok(choices)
}

/// The questions of one action on the alert's key; true when accepted.
fn ask(
    subject: &Subject,
    choice: &mut Choice,
    world: &super::state::World,
    prompter: &mut dyn Prompter,
) -> Result<bool, PromptError> {
    let id = key_id(&choice.key).to_owned();
    match choice.action {
        Action::Disable => prompter.confirm(&format!("Disable the key {id}?"), false),
        Action::Rotate => {
            let enabled = world.keys.get(&choice.key).map_or(0, |k| {
                k.versions.iter().filter(|v| v.state == "ENABLED").count()
            });
            if !prompter.confirm(&format!("Rotate the key {id}?"), false)? {
                return Ok(false);
            }
            if enabled > 0 {
                choice.disable_previous = prompter.confirm(
                    "Also disable the previous versions (data encrypted with them can no longer be read until they are enabled again)?",
                    choice.disable_previous,
                )?;
            }
            Ok(true)
        }
        Action::Revoke => {
            let candidates = revoke_candidates(subject, &choice.key, world);
            let items: Vec<String> = candidates
                .iter()
                .map(|(m, why)| {
                    format!(
                        "{} ({})",
                        crate::sanitize::text(m),
                        crate::sanitize::text(why)
                    )
                })
                .collect();
            let picked = prompter.choose(
                &format!("Remove which members from the policies of {id} and its key ring?"),
                &items,
                &vec![true; items.len()],
            )?;
            if picked.is_empty() {
                prompter.show("No member chosen: revoke skipped.");
                return Ok(false);
            }
            choice.members = Some(
                picked
                    .iter()
                    .filter_map(|i| candidates.get(*i).map(|(m, _)| m.clone()))
                    .collect(),
            );
            Ok(true)
        }
        Action::ScheduleDestroy => {
            let typed = prompter.text(&format!(
                "Type the key id ({id}) to schedule its versions for destruction, or press Enter to skip"
            ))?;
            if typed.trim() == id {
                Ok(true)
            } else {
                prompter.show("Not confirmed: schedule-destroy skipped.");
                Ok(false)
            }
        }
    }
}
