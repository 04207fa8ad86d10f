//! The plan: which calls each chosen action makes on which key, what it
//! will break, and what to know before saying yes. Pure: it works on a
//! [`World`] (what the investigation saw, or a fresh read), simulating each
//! action so the next one is planned on the state the previous one leaves.
//!
//! The same functions plan the dry run and, right before each action, the
//! calls actually made on a fresh read (see `actions`), so what runs is what
//! was shown, or the run stops.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::findings::{Action, Verdict};
use crate::sanitize;

use super::policy::MemberSelector;
use super::state::{Grant, KeyState, Policy, Rotation, VersionInfo, World, version_id};
use super::subject::Subject;

/// The name a version created by the plan goes by until it exists.
pub const NEW_VERSION_ID: &str = "new";

/// A rotation made this long after the suspect activity on a key counts
/// as a rotation since (so `rotate` is already in effect).
const ROTATED_SINCE_SLACK: SignedDuration = SignedDuration::from_mins(5);

/// Said wherever rotation is offered or planned.
pub const ROTATION_WARNING: &str = "rotation does not re-encrypt existing data: what was encrypted with the old versions stays so, and they still decrypt it until they are disabled";

/// Said wherever destruction is offered or planned.
pub const DESTROY_WARNING: &str = "the key may be the only way to decrypt data an attacker re-encrypted with it (a ransomware step): destroying it can make that data unrecoverable";

/// One call, with what it changes from and to. The journal records these;
/// `undo` reverses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// PATCH a version's state (ENABLED ⇄ DISABLED).
    SetVersionState {
        version: String,
        from: String,
        to: String,
    },
    /// Create a new version of `key` (Google-generated material).
    CreateVersion { key: String },
    /// Make `to` the primary; `to` is `None` in a plan when it is the
    /// version the preceding `create_version` makes.
    SetPrimary {
        key: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// Set (or clear) the automatic rotation schedule.
    SetRotation {
        key: String,
        from: Rotation,
        to: Rotation,
    },
    /// Remove grants from a key's or key ring's policy (read, modify, write
    /// with the etag).
    SetIamPolicy {
        resource: String,
        remove: Vec<Grant>,
    },
    /// Schedule a version for destruction.
    DestroyVersion { version: String, from: String },
    /// Cancel a scheduled destruction (the version comes back DISABLED).
    RestoreVersion { version: String },
    /// Put grants back into a policy (undo of `set_iam_policy`).
    RestoreIamPolicy { resource: String, add: Vec<Grant> },
}

impl Op {
    /// The resource the call changes.
    pub fn resource(&self) -> &str {
        match self {
            Op::SetVersionState { version, .. }
            | Op::DestroyVersion { version, .. }
            | Op::RestoreVersion { version } => version,
            Op::CreateVersion { key }
            | Op::SetPrimary { key, .. }
            | Op::SetRotation { key, .. } => key,
            Op::SetIamPolicy { resource, .. } | Op::RestoreIamPolicy { resource, .. } => resource,
        }
    }

    /// The key the call belongs to (a policy's key, or its key ring).
    pub fn key(&self) -> &str {
        let r = self.resource();
        match r.find("/cryptoKeyVersions/") {
            Some(i) => r.get(..i).unwrap_or(r),
            None => r,
        }
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        let s = |t: &str| sanitize::text(t).into_owned();
        match self {
            Op::SetVersionState { version, from, to } => {
                format!("version {}: {from} → {to}", s(version_label(version)))
            }
            Op::CreateVersion { .. } => {
                "create a new version (Google-generated key material)".into()
            }
            Op::SetPrimary { from, to, .. } => format!(
                "make {} the primary (was {})",
                to.as_deref()
                    .map_or("the new version".to_owned(), |t| format!(
                        "version {}",
                        s(version_label(t))
                    )),
                from.as_deref().map_or("none".to_owned(), |f| format!(
                    "version {}",
                    s(version_label(f))
                ))
            ),
            Op::SetRotation { from, to, .. } => format!(
                "rotation schedule: {} → {}",
                describe_rotation(from),
                describe_rotation(to)
            ),
            Op::SetIamPolicy { resource, remove } => format!(
                "{}: remove {}",
                policy_label(resource),
                remove
                    .iter()
                    .map(describe_grant)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Op::DestroyVersion { version, from } => format!(
                "version {}: {from} → DESTROY_SCHEDULED",
                s(version_label(version))
            ),
            Op::RestoreVersion { version } => format!(
                "version {}: DESTROY_SCHEDULED → DISABLED (restore)",
                s(version_label(version))
            ),
            Op::RestoreIamPolicy { resource, add } => format!(
                "{}: add back {}",
                policy_label(resource),
                add.iter()
                    .map(describe_grant)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Whether this op (computed on a fresh read) is one the plan shows:
    /// the same call, on the same resource, changing no more. `created`
    /// names the version a planned `create_version` made, if any.
    pub fn within(&self, planned: &Op, created: Option<&str>) -> bool {
        let resolve = |name: &str| -> String {
            match created {
                Some(c) if version_id(name) == NEW_VERSION_ID => c.to_owned(),
                _ => name.to_owned(),
            }
        };
        match (self, planned) {
            (
                Op::SetVersionState { version, to, .. },
                Op::SetVersionState {
                    version: pv,
                    to: pt,
                    ..
                },
            ) => *version == resolve(pv) && to == pt,
            (Op::CreateVersion { key }, Op::CreateVersion { key: pk }) => key == pk,
            (
                Op::SetPrimary { key, to, .. },
                Op::SetPrimary {
                    key: pk, to: pt, ..
                },
            ) => key == pk && to.as_deref().map(&resolve) == pt.as_deref().map(&resolve),
            (
                Op::SetRotation { key, to, .. },
                Op::SetRotation {
                    key: pk, to: pt, ..
                },
            ) => key == pk && to.period_seconds == pt.period_seconds,
            (
                Op::SetIamPolicy { resource, remove },
                Op::SetIamPolicy {
                    resource: pr,
                    remove: prm,
                },
            ) => resource == pr && remove.iter().all(|g| prm.contains(g)),
            (Op::DestroyVersion { version, .. }, Op::DestroyVersion { version: pv, .. }) => {
                *version == resolve(pv)
            }
            _ => false,
        }
    }
}

/// `3`, or `new` for a version the plan creates.
fn version_label(name: &str) -> &str {
    version_id(name)
}

fn policy_label(resource: &str) -> String {
    let last = sanitize::text(resource.rsplit('/').next().unwrap_or(resource)).into_owned();
    if resource.contains("/cryptoKeys/") {
        format!("key policy of {last}")
    } else {
        format!("key ring policy of {last}")
    }
}

pub fn describe_grant(g: &Grant) -> String {
    let mut out = format!(
        "{} from {}",
        sanitize::text(&g.member),
        sanitize::text(&g.role)
    );
    if let Some(c) = &g.condition {
        out.push_str(&format!(" (condition {})", sanitize::text(c)));
    }
    out
}

pub fn describe_rotation(r: &Rotation) -> String {
    match (r.period_seconds, r.next_rotation_time) {
        (None, _) => "none".into(),
        (Some(p), next) => {
            let period = crate::playbook::format_duration(SignedDuration::from_secs(
                i64::try_from(p).unwrap_or(i64::MAX),
            ));
            match next {
                Some(t) => format!("every {period}, next {}", t.strftime("%Y-%m-%d %H:%M UTC")),
                None => format!("every {period}"),
            }
        }
    }
}

/// How a choice was made (shown in the plan and the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub action: Action,
    pub key: String,
    /// Why: "playbook step 1 (verdict == malicious)", "--action", "confirmed".
    pub origin: String,
    /// `rotate`: disable the versions enabled before the new one.
    #[serde(default)]
    pub disable_previous: bool,
    /// `revoke`: only these members (`None`: every candidate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// Kept in the plan but not run, and why (e.g. needs --allow-destroy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}

impl Choice {
    pub fn new(action: Action, key: impl Into<String>, origin: impl Into<String>) -> Choice {
        Choice {
            action,
            key: key.into(),
            origin: origin.into(),
            disable_previous: false,
            members: None,
            skip: None,
        }
    }
}

/// What becomes of a planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    /// It will make these changes.
    Change,
    /// Already in effect: nothing to do (recorded as a no-op).
    AlreadyDone,
    /// Cannot be done on this key (import-only, external, unreadable...).
    NotPossible,
    /// Outside what the playbook lets the tool touch.
    Refused,
    /// Kept out of this run (e.g. schedule-destroy without --allow-destroy).
    Skipped,
}

/// What disabling or destroying a key will break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breaks {
    /// Resources encrypted with the key (KMS Inventory).
    pub protected_resources: Vec<String>,
    /// Principals that used the key in the window, with what and when.
    pub recent_users: Vec<String>,
    /// When the lists are incomplete or unknown, why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// One action on one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedAction {
    pub action: Action,
    pub key: String,
    /// An affected key (another key the creator made), not the alert's.
    pub affected: bool,
    pub origin: String,
    pub status: PlanStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub ops: Vec<Op>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaks: Option<Breaks>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The choice it came from (the executor replans from it).
    #[serde(skip)]
    pub choice: Option<Choice>,
}

/// The plan for one subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasePlan {
    pub key: String,
    pub verdict: Verdict,
    pub verdict_rule: Option<String>,
    pub affected_keys: Vec<String>,
    pub actions: Vec<PlannedAction>,
}

impl CasePlan {
    /// Actions that will change something.
    pub fn changes(&self) -> impl Iterator<Item = &PlannedAction> {
        self.actions
            .iter()
            .filter(|a| a.status == PlanStatus::Change)
    }
}

/// Plans `choices` in order on `world` (simulated as it goes).
pub fn plan(subject: &Subject, choices: &[Choice], world: &World, now: Timestamp) -> CasePlan {
    let mut world = world.clone();
    let mut actions = Vec::new();
    for choice in choices {
        let planned = plan_action(subject, choice, &world, now);
        if planned.status == PlanStatus::Change {
            for op in &planned.ops {
                simulate(&mut world, op);
            }
        }
        actions.push(planned);
    }
    CasePlan {
        key: subject.key(),
        verdict: subject.case.assessment.verdict,
        verdict_rule: subject.case.assessment.verdict_rule.clone(),
        affected_keys: subject
            .affected_key_names()
            .iter()
            .map(ToString::to_string)
            .collect(),
        actions,
    }
}

/// The world as the investigations saw it.
pub fn world_of(subject: &Subject) -> World {
    let mut world = World::default();
    for (case, _) in subject.cases() {
        world.add_investigation(&case.investigation);
    }
    world
}

/// Applies an op to a simulated world.
pub fn simulate(world: &mut World, op: &Op) {
    match op {
        Op::SetVersionState { version, to, .. } => {
            if let Some(v) = key_of_mut(world, version).and_then(|k| k.version_mut(version)) {
                v.state.clone_from(to);
            }
        }
        Op::DestroyVersion { version, .. } => {
            if let Some(v) = key_of_mut(world, version).and_then(|k| k.version_mut(version)) {
                v.state = "DESTROY_SCHEDULED".into();
            }
        }
        Op::RestoreVersion { version } => {
            if let Some(v) = key_of_mut(world, version).and_then(|k| k.version_mut(version)) {
                v.state = "DISABLED".into();
            }
        }
        Op::CreateVersion { key } => {
            if let Some(k) = world.keys.get_mut(key) {
                k.versions.push(VersionInfo {
                    name: format!("{key}/cryptoKeyVersions/{NEW_VERSION_ID}"),
                    state: "ENABLED".into(),
                    create_time: None,
                    destroy_time: None,
                });
            }
        }
        Op::SetPrimary { key, to, .. } => {
            if let Some(k) = world.keys.get_mut(key) {
                k.primary = Some(
                    to.clone()
                        .unwrap_or_else(|| format!("{key}/cryptoKeyVersions/{NEW_VERSION_ID}")),
                );
            }
        }
        Op::SetRotation { key, to, .. } => {
            if let Some(k) = world.keys.get_mut(key) {
                k.rotation = to.clone();
            }
        }
        Op::SetIamPolicy { resource, remove } => {
            if let Some(Some(p)) = world.policies.get_mut(resource) {
                *p = p.without(remove);
            }
        }
        Op::RestoreIamPolicy { resource, add } => {
            if let Some(Some(p)) = world.policies.get_mut(resource) {
                let like = p.clone();
                *p = p.with(add, &like);
            }
        }
    }
}

fn key_of_mut<'w>(world: &'w mut World, version: &str) -> Option<&'w mut KeyState> {
    let key = version.split("/cryptoKeyVersions/").next()?;
    world.keys.get_mut(key)
}

fn blank(subject: &Subject, choice: &Choice, status: PlanStatus, reason: String) -> PlannedAction {
    PlannedAction {
        action: choice.action,
        key: choice.key.clone(),
        affected: choice.key != subject.key(),
        origin: choice.origin.clone(),
        status,
        reason: Some(reason),
        ops: Vec::new(),
        breaks: None,
        warnings: Vec::new(),
        choice: Some(choice.clone()),
    }
}

/// Plans one choice on `world`.
pub fn plan_action(
    subject: &Subject,
    choice: &Choice,
    world: &World,
    now: Timestamp,
) -> PlannedAction {
    if let Some(why) = subject.refusal(&choice.key) {
        return blank(subject, choice, PlanStatus::Refused, why);
    }
    if let Some(why) = &choice.skip {
        return blank(subject, choice, PlanStatus::Skipped, why.clone());
    }
    let Some(state) = world.keys.get(&choice.key) else {
        return blank(
            subject,
            choice,
            PlanStatus::NotPossible,
            "the key could not be read (see the investigation's gaps)".into(),
        );
    };
    let mut planned = blank(subject, choice, PlanStatus::Change, String::new());
    planned.reason = None;
    let outcome = match choice.action {
        Action::Disable => plan_disable(state),
        Action::Rotate => plan_rotate(subject, choice, state, now),
        Action::Revoke => plan_revoke(subject, choice, world),
        Action::ScheduleDestroy => plan_destroy(state),
    };
    match outcome {
        Ok(ops) if ops.is_empty() => {
            planned.status = PlanStatus::AlreadyDone;
            planned.reason = Some(already_done(choice.action).into());
        }
        Ok(ops) => planned.ops = ops,
        Err(Why::AlreadyDone(reason)) => {
            planned.status = PlanStatus::AlreadyDone;
            planned.reason = Some(reason);
        }
        Err(Why::NotPossible(reason)) => {
            planned.status = PlanStatus::NotPossible;
            planned.reason = Some(reason);
        }
    }
    planned.warnings = warnings(choice.action, state);
    if matches!(choice.action, Action::Disable | Action::ScheduleDestroy) {
        planned.breaks = Some(breaks(subject, &choice.key));
    }
    if choice.action == Action::Revoke {
        planned
            .warnings
            .extend(project_grants_left(subject, choice));
    }
    planned
}

enum Why {
    AlreadyDone(String),
    NotPossible(String),
}

fn already_done(action: Action) -> &'static str {
    match action {
        Action::Disable => "no version of the key is enabled",
        Action::Rotate => "already rotated",
        Action::Revoke => "none of the members to revoke holds a role on the key or its key ring",
        Action::ScheduleDestroy => {
            "no version is enabled or disabled: all are scheduled for destruction or destroyed"
        }
    }
}

fn plan_disable(state: &KeyState) -> Result<Vec<Op>, Why> {
    Ok(state
        .versions
        .iter()
        .filter(|v| v.state == "ENABLED")
        .map(|v| Op::SetVersionState {
            version: v.name.clone(),
            from: v.state.clone(),
            to: "DISABLED".into(),
        })
        .collect())
}

fn plan_destroy(state: &KeyState) -> Result<Vec<Op>, Why> {
    Ok(state
        .versions
        .iter()
        .filter(|v| v.state == "ENABLED" || v.state == "DISABLED")
        .map(|v| Op::DestroyVersion {
            version: v.name.clone(),
            from: v.state.clone(),
        })
        .collect())
}

fn plan_rotate(
    subject: &Subject,
    choice: &Choice,
    state: &KeyState,
    now: Timestamp,
) -> Result<Vec<Op>, Why> {
    if state.import_only {
        return Err(Why::NotPossible(
            "import-only key: Cloud KMS cannot generate its versions; import new key material yourself (ImportCryptoKeyVersion), then make it primary".into(),
        ));
    }
    if state.is_external() {
        return Err(Why::NotPossible(format!(
            "{} key: its material lives in an external key manager; create a new key there, then add it as a new version",
            state.protection_level
        )));
    }
    let key = &state.key;
    let mut ops = Vec::new();
    let newest = if state.is_symmetric() {
        state.primary.as_deref().and_then(|p| state.version(p))
    } else {
        state.versions.iter().rfind(|v| v.state == "ENABLED")
    };
    let rotated_since = match (newest, subject.suspect_until(key)) {
        // A version the plan itself creates.
        (Some(v), _) if v.create_time.is_none() => true,
        (Some(v), Some(suspect)) => v
            .create_time
            .is_some_and(|t| t.duration_since(suspect) > ROTATED_SINCE_SLACK),
        _ => false,
    };
    if !rotated_since {
        ops.push(Op::CreateVersion { key: key.clone() });
        if state.is_symmetric() {
            ops.push(Op::SetPrimary {
                key: key.clone(),
                from: state.primary.clone(),
                to: None,
            });
        }
    }
    if state.is_symmetric() {
        let max = subject
            .policy
            .rotate
            .period
            .unwrap_or(subject.playbook.rotation_max);
        let max_secs = u64::try_from(max.as_secs()).unwrap_or(u64::MAX);
        let too_long = state.rotation.period_seconds.is_none_or(|p| p > max_secs);
        if too_long {
            ops.push(Op::SetRotation {
                key: key.clone(),
                from: state.rotation.clone(),
                to: Rotation {
                    period_seconds: Some(max_secs),
                    next_rotation_time: now.checked_add(max).ok(),
                },
            });
        }
    }
    if choice.disable_previous {
        ops.extend(
            state
                .versions
                .iter()
                .filter(|v| v.state == "ENABLED")
                .filter(|v| {
                    !(rotated_since && Some(v.name.as_str()) == newest.map(|n| n.name.as_str()))
                })
                .map(|v| Op::SetVersionState {
                    version: v.name.clone(),
                    from: v.state.clone(),
                    to: "DISABLED".into(),
                }),
        );
    }
    if ops.is_empty() {
        let what = if state.is_symmetric() {
            "already rotated: the primary version was made after the suspect activity, and the rotation schedule is within the playbook's maximum"
        } else {
            "already rotated: the newest enabled version was made after the suspect activity"
        };
        return Err(Why::AlreadyDone(what.into()));
    }
    Ok(ops)
}

/// Members `revoke` would remove from `key`'s and its key ring's
/// policies, with why each is there (for prompts), in a stable order.
pub fn revoke_candidates(subject: &Subject, key: &str, world: &World) -> Vec<(String, String)> {
    let ring = key_ring_of(key);
    let granted: Vec<String> = [world.policy(key), world.policy(&ring)]
        .into_iter()
        .flatten()
        .flat_map(|p| p.grants())
        .map(|g| g.member)
        .collect();
    let (external, drivers) = subject.finding_members(key);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |member: &str, why: &str| {
        if granted.iter().any(|g| g.eq_ignore_ascii_case(member))
            && !out.iter().any(|(m, _)| m.eq_ignore_ascii_case(member))
        {
            let actual = granted
                .iter()
                .find(|g| g.eq_ignore_ascii_case(member))
                .cloned()
                .unwrap_or_else(|| member.to_owned());
            out.push((actual, why.to_owned()));
        }
    };
    for selector in &subject.policy.revoke.members {
        match selector {
            MemberSelector::Creator => {
                if let Some(email) = subject.creator() {
                    for prefix in ["user:", "serviceAccount:"] {
                        add(&format!("{prefix}{email}"), "the key's creator");
                    }
                }
            }
            MemberSelector::Public => {
                for m in ["allUsers", "allAuthenticatedUsers"] {
                    add(m, "public");
                }
            }
            MemberSelector::External => {
                for m in &external {
                    add(m, "outside the trusted domains");
                }
            }
            MemberSelector::Drivers => {
                for m in &drivers {
                    add(m, "its grant drove the verdict");
                }
            }
        }
    }
    out
}

fn plan_revoke(subject: &Subject, choice: &Choice, world: &World) -> Result<Vec<Op>, Why> {
    let key = &choice.key;
    let ring = key_ring_of(key);
    let candidates: Vec<String> = revoke_candidates(subject, key, world)
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| {
            choice
                .members
                .as_ref()
                .is_none_or(|chosen| chosen.iter().any(|c| c.eq_ignore_ascii_case(m)))
        })
        .collect();
    let mut ops = Vec::new();
    for resource in [key.clone(), ring] {
        let Some(policy) = world.policies.get(&resource) else {
            continue;
        };
        let Some(policy) = policy else {
            return Err(Why::NotPossible(format!(
                "the {} could not be read",
                policy_label(&resource)
            )));
        };
        let remove: Vec<Grant> = policy
            .grants()
            .into_iter()
            .filter(|g| candidates.iter().any(|c| c.eq_ignore_ascii_case(&g.member)))
            .collect();
        if !remove.is_empty() {
            ops.push(Op::SetIamPolicy { resource, remove });
        }
    }
    Ok(ops)
}

/// Members the plan would revoke that keep a grant at the project or
/// above: revoke never changes those policies, so say so.
fn project_grants_left(subject: &Subject, choice: &Choice) -> Vec<String> {
    let Some(case) = subject.case_of(&choice.key) else {
        return Vec::new();
    };
    let world = world_of(subject);
    let members: Vec<String> = revoke_candidates(subject, &choice.key, &world)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let mut out = Vec::new();
    for g in crate::assess::grants(&case.investigation) {
        let above = !g.resource.contains("/keyRings/");
        if above && members.iter().any(|m| m.eq_ignore_ascii_case(&g.member)) {
            out.push(format!(
                "{} also holds {} on {}: revoke changes only the key's and key ring's policies",
                sanitize::text(&g.member),
                sanitize::text(&g.role),
                sanitize::text(&g.resource)
            ));
        }
    }
    out
}

pub fn key_ring_of(key: &str) -> String {
    match key.find("/cryptoKeys/") {
        Some(i) => key.get(..i).unwrap_or(key).to_owned(),
        None => key.to_owned(),
    }
}

fn warnings(action: Action, state: &KeyState) -> Vec<String> {
    match action {
        Action::Disable => vec![
            "anything that encrypts or decrypts with the key fails until its versions are enabled again (kms-responder undo)".into(),
        ],
        Action::Rotate => {
            let mut w = vec![ROTATION_WARNING.to_owned()];
            if !state.is_symmetric() {
                w.push(format!(
                    "{} key: a new version is created, but such keys have no primary version: its consumers must switch to the new version (and its public key) themselves",
                    state.purpose
                ));
            }
            w
        }
        Action::Revoke => Vec::new(),
        Action::ScheduleDestroy => vec![
            DESTROY_WARNING.to_owned(),
            destroy_delay(state),
        ],
    }
}

/// The destroyScheduledDuration, said plainly.
pub fn destroy_delay(state: &KeyState) -> String {
    match state.destroy_scheduled_duration_seconds {
        Some(secs) => format!(
            "destroyScheduledDuration is {} ({secs}s): the versions are destroyed that long after scheduling; until then `kms-responder undo` can restore them (they come back DISABLED)",
            crate::playbook::format_duration(SignedDuration::from_secs(
                i64::try_from(secs).unwrap_or(i64::MAX)
            ))
        ),
        None => "destroyScheduledDuration is unknown (Google's default is 30d); until it passes `kms-responder undo` can restore the versions".into(),
    }
}

/// What disabling `key` breaks: its protected resources and recent users.
pub fn breaks(subject: &Subject, key: &str) -> Breaks {
    let mut b = Breaks {
        protected_resources: Vec::new(),
        recent_users: Vec::new(),
        unknown: Vec::new(),
    };
    let Some(case) = subject.case_of(key) else {
        b.unknown
            .push("the key was not investigated: what uses it is unknown".into());
        return b;
    };
    let inv = &case.investigation;
    match &inv.protected_resources {
        Some(list) => {
            for r in list {
                b.protected_resources.push(format!(
                    "{} {}",
                    sanitize::text(&r.resource_type),
                    sanitize::text(&r.name)
                ));
            }
        }
        None => b
            .unknown
            .push("protected resources unknown: KMS Inventory could not be read".into()),
    }
    match &inv.usage.logging {
        crate::evidence::DataAccessLogging::Enabled { .. } => {
            let mut by: Vec<(String, u64, Option<Timestamp>, Vec<String>)> = Vec::new();
            for row in &inv.usage.rows {
                let entry = match by.iter_mut().find(|(p, ..)| *p == row.principal) {
                    Some(e) => e,
                    None => {
                        by.push((row.principal.clone(), 0, None, Vec::new()));
                        let last = by.len() - 1;
                        &mut by[last]
                    }
                };
                entry.1 += row.calls;
                entry.2 = entry.2.max(row.last);
                if !entry.3.contains(&row.method) {
                    entry.3.push(row.method.clone());
                }
            }
            for (principal, calls, last, methods) in by {
                let who = if principal.is_empty() {
                    "(no principal)".to_owned()
                } else {
                    sanitize::text(&principal).into_owned()
                };
                let mut line = format!(
                    "{who}: {} call{} ({})",
                    calls,
                    if calls == 1 { "" } else { "s" },
                    methods
                        .iter()
                        .map(|m| sanitize::text(m).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(t) = last {
                    line.push_str(&format!(", last {}", t.strftime("%Y-%m-%d %H:%M UTC")));
                }
                b.recent_users.push(line);
            }
            if inv.usage.truncated {
                b.unknown.push(
                    "recent users: the usage log read stopped at its bound; there may be more"
                        .into(),
                );
            }
        }
        crate::evidence::DataAccessLogging::Disabled => b
            .unknown
            .push("recent users unknown: Data Access audit logs are off for Cloud KMS".into()),
        crate::evidence::DataAccessLogging::Unknown => b
            .unknown
            .push("recent users unknown: whether Data Access logs are on could not be read".into()),
    }
    b
}

/// Grants of a policy that belong to the members given.
pub fn grants_of(policy: &Policy, members: &[String]) -> Vec<Grant> {
    policy
        .grants()
        .into_iter()
        .filter(|g| members.iter().any(|m| m.eq_ignore_ascii_case(&g.member)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "projects/p/locations/l/keyRings/r/cryptoKeys/k";

    fn state(to: &str, n: u32) -> Op {
        Op::SetVersionState {
            version: format!("{KEY}/cryptoKeyVersions/{n}"),
            from: "ENABLED".into(),
            to: to.into(),
        }
    }

    #[test]
    fn a_fresh_op_is_within_the_plan_only_when_it_changes_no_more() {
        assert!(state("DISABLED", 1).within(&state("DISABLED", 1), None));
        assert!(!state("DISABLED", 2).within(&state("DISABLED", 1), None));
        assert!(!state("ENABLED", 1).within(&state("DISABLED", 1), None));
        // "The new version" of the plan is the one the run created.
        let planned = Op::SetVersionState {
            version: format!("{KEY}/cryptoKeyVersions/{NEW_VERSION_ID}"),
            from: "ENABLED".into(),
            to: "DISABLED".into(),
        };
        let created = format!("{KEY}/cryptoKeyVersions/4");
        assert!(state("DISABLED", 4).within(&planned, Some(&created)));
        assert!(!state("DISABLED", 3).within(&planned, Some(&created)));
        let grant = |m: &str| Grant {
            role: "roles/r".into(),
            member: m.into(),
            condition: None,
        };
        let planned = Op::SetIamPolicy {
            resource: KEY.into(),
            remove: vec![grant("allUsers"), grant("user:a@x.example")],
        };
        let fewer = Op::SetIamPolicy {
            resource: KEY.into(),
            remove: vec![grant("allUsers")],
        };
        let more = Op::SetIamPolicy {
            resource: KEY.into(),
            remove: vec![grant("allUsers"), grant("user:b@x.example")],
        };
        assert!(fewer.within(&planned, None));
        assert!(!more.within(&planned, None));
    }

    #[test]
    fn ops_describe_themselves_safely() {
        let op = Op::SetIamPolicy {
            resource: KEY.into(),
            remove: vec![Grant {
                role: "roles/r".into(),
                member: "user:evil\u{1b}[31m@x.example".into(),
                condition: None,
            }],
        };
        let shown = op.describe();
        assert!(
            shown.starts_with("key policy of k: remove user:evil"),
            "{shown}"
        );
        assert!(!shown.contains('\u{1b}'), "{shown}");
        assert_eq!(
            Op::SetPrimary {
                key: KEY.into(),
                from: Some(format!("{KEY}/cryptoKeyVersions/1")),
                to: None,
            }
            .describe(),
            "make the new version the primary (was version 1)"
        );
    }
}
