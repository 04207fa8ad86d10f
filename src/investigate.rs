//! The investigation: which reads to make, concurrently, and how their
//! answers become evidence. Talks to Google only through [`crate::gcp::Gcp`].
//!
//! Every read starts as soon as what it needs is known, and waits for nothing else, so the wall
//! time is the longest chain of reads that depend on each other:
//!
//! - the key, its versions and the key and key ring policies need only the key's name;
//! - the log queries need the window, so they wait for the key only when its creation time
//!   anchors the window (no event time in the input);
//! - the project, its policy and the walk up the folders to the organization need only the
//!   project, so they also run while an alert without a key name is resolved from the log;
//! - the organization's policy and the KMS Inventory search (at organization scope) wait for
//!   the walk to reach the organization.
//!
//! For the bundled scenarios (project, one folder, organization) that is three dependent
//! requests whatever the input. Logging reads go through [`LogReads`]: a per-project budget, one
//! query for all keys of a project investigated at the same time, quota waits that resume from
//! the page token. One read failing only turns its piece into a [`Gap`].

mod logreads;
mod shared;

#[cfg(test)]
mod batch_tests;

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

pub use self::logreads::{Hold, LogReads, LogReadsConfig};
use self::shared::SharedRead;
use crate::audit::AuditEvent;
use crate::evidence::{
    AdminAction, CreatorActivity, DataAccessLogging, Gap, GapReason, IamEvidence, InheritedBinding,
    Investigation, KeyEvidence, Usage, UsageRow, Window,
};
use crate::gcp::{Folder, Gcp, GcpError, IamPolicy, LogQuery, Order, Project};
use crate::input::{KeySearch, Request, Subject};
use crate::keyname::KeyName;
use crate::logfilter;

/// Folders between a project and its organization that are followed at most.
const MAX_FOLDER_DEPTH: usize = 10;

/// Bounds and windows of an investigation.
#[derive(Debug, Clone)]
pub struct Options {
    /// How far before the anchor the log queries reach.
    pub lookback: SignedDuration,
    /// Pages of 1000 entries read at most per log query.
    pub max_pages: u32,
    /// Protected resources listed at most.
    pub max_protected_resources: usize,
    /// How Logging is read: the per-project budget, combining and quota waits. Investigations
    /// that run together must hold clones of one instance to share the budget and combine their
    /// queries: the commands build one from the command line (`--quota-wait`) for all their
    /// investigations; the default is one shared by the whole process ([`LogReads::shared`]).
    pub log_reads: LogReads,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lookback: SignedDuration::from_hours(7 * 24),
            max_pages: 10,
            max_protected_resources: 500,
            log_reads: LogReads::shared(),
        }
    }
}

/// What became of one request.
#[derive(Debug)]
pub enum Outcome {
    /// Each key investigated.
    Investigated(Vec<Investigation>),
    /// The alert named no key and the Admin Activity log showed no matching creation.
    NoKeyFound {
        request: Box<Request>,
        search: KeySearch,
        detail: String,
    },
}

/// Runs the investigation of one request.
pub async fn run(gcp: &Gcp, request: &Request, opts: &Options, now: Timestamp) -> Outcome {
    let search = match &request.subject {
        Subject::Keys { keys } => {
            return Outcome::Investigated(
                investigate_keys(gcp, request, keys, opts, now, None).await,
            );
        }
        Subject::Search(search) => search,
    };
    // The project is known before the key: its reads run while the log is searched.
    let project = ProjectReads::start(gcp, &search.project);
    let work = async {
        match find_created_keys(gcp, search, opts).await {
            Ok(keys) if !keys.is_empty() => Outcome::Investigated(
                investigate_keys(gcp, request, &keys, opts, now, Some(&project)).await,
            ),
            Ok(_) => Outcome::NoKeyFound {
                request: Box::new(request.clone()),
                search: search.clone(),
                detail: "no CreateCryptoKey entry in the Admin Activity log matches the alert's project, key name, principal and time window".into(),
            },
            Err(e) => Outcome::NoKeyFound {
                request: Box::new(request.clone()),
                search: search.clone(),
                detail: format!("the Admin Activity log could not be searched: {e}"),
            },
        }
    };
    let drive = project.drive();
    tokio::pin!(work, drive);
    tokio::select! {
        biased;
        outcome = &mut work => outcome,
        () = &mut drive => work.await,
    }
}

/// Investigates keys concurrently, the reads of each project shared by its keys.
async fn investigate_keys(
    gcp: &Gcp,
    request: &Request,
    keys: &[KeyName],
    opts: &Options,
    now: Timestamp,
    started: Option<&ProjectReads>,
) -> Vec<Investigation> {
    let mut projects: Vec<ProjectReads> = started.into_iter().cloned().collect();
    for k in keys {
        if !projects.iter().any(|p| p.id == k.project()) {
            projects.push(ProjectReads::start(gcp, k.project()));
        }
    }
    // Every key's project is in `projects`, so nothing is left out.
    let runs = keys.iter().filter_map(|k| {
        let project = projects.iter().find(|p| p.id == k.project())?;
        Some(investigate_key(gcp, request, k, opts, now, project))
    });
    futures::future::join_all(runs).await
}

/// A project's reads, awaited by each of its keys (and shared with the other investigations
/// running at the same time): the project and the walk up to its organization, the project's
/// policy, the organization's policy.
#[derive(Clone)]
struct ProjectReads {
    id: String,
    /// `projects/ID`.
    resource: String,
    ancestry: SharedRead<Ancestry>,
    project_iam: SharedRead<PolicyRead>,
    /// The organization and its policy.
    org_iam: SharedRead<Option<(String, Arc<PolicyRead>)>>,
}

/// The project and the containers above it.
struct Ancestry {
    project: Result<Project, GcpError>,
    /// Each folder's policy, nearest first (audit configs and bindings are inherited).
    folders: Vec<(String, Arc<FolderRead>)>,
    gaps: Vec<Gap>,
    organization: Option<String>,
    /// Why the containers above the project are not all known (the project or a folder could
    /// not be read, or the walk stopped at its depth): then the organization is unknown, and
    /// so are the audit configs and bindings inherited from above the last container read.
    /// `None` when the walk reached the organization, or the top of a project without one.
    incomplete: Option<Gap>,
}

/// A policy, or why it could not be read.
type PolicyRead = Result<IamPolicy, GcpError>;

/// A folder's policy and its parent, read together.
type FolderRead = (PolicyRead, Result<Folder, GcpError>);

impl ProjectReads {
    fn start(gcp: &Gcp, project_id: &str) -> ProjectReads {
        let id = project_id.to_owned();
        let resource = format!("projects/{id}");
        let ancestry = shared::read(gcp, "ancestry", &id, |gcp| {
            let id = id.clone();
            async move { walk_up(&gcp, &id).await }
        });
        let project_iam = shared::read(gcp, "project_iam", &id, |gcp| {
            let resource = resource.clone();
            async move { gcp.get_project_iam_policy(&resource).await }
        });
        let org_iam = shared::read(gcp, "org_iam_of_project", &id, |gcp| {
            let ancestry = ancestry.clone();
            async move {
                let org = ancestry.await.organization.clone()?;
                let policy = shared::read(&gcp, "org_iam", &org, |gcp| {
                    let org = org.clone();
                    async move { gcp.get_organization_iam_policy(&org).await }
                })
                .await;
                Some((org, policy))
            }
        });
        ProjectReads {
            id,
            resource,
            ancestry,
            project_iam,
            org_iam,
        }
    }

    /// Makes progress on every read (while the caller waits for something else).
    async fn drive(&self) {
        let _ = tokio::join!(
            self.ancestry.clone(),
            self.project_iam.clone(),
            self.org_iam.clone()
        );
    }
}

/// The project, then each folder's policy and parent, up to the organization.
async fn walk_up(gcp: &Gcp, project_id: &str) -> Ancestry {
    let project = gcp.get_project(project_id).await;
    let mut folders = Vec::new();
    let mut gaps = Vec::new();
    let mut organization = None;
    let mut incomplete = project.as_ref().err().map(|e| {
        let mut gap = Gap::from_error("project", e);
        gap.detail = format!("the project could not be read: {}", gap.detail);
        gap
    });
    let mut next = project.as_ref().ok().and_then(|p| p.parent.clone());
    for depth in 0..=MAX_FOLDER_DEPTH {
        match next.take() {
            Some(folder) if depth == MAX_FOLDER_DEPTH && folder.starts_with("folders/") => {
                incomplete = Some(Gap {
                    evidence: "hierarchy".into(),
                    reason: GapReason::Error,
                    detail: format!(
                        "more than {MAX_FOLDER_DEPTH} folders above the project: the walk stopped at {folder}"
                    ),
                });
                gaps.extend(incomplete.clone());
            }
            Some(folder) if folder.starts_with("folders/") => {
                let read = shared::read(gcp, "folder", &folder, |gcp| {
                    let folder = folder.clone();
                    async move {
                        tokio::join!(gcp.get_folder_iam_policy(&folder), gcp.get_folder(&folder))
                    }
                })
                .await;
                match &read.1 {
                    Ok(f) => next = f.parent.clone(),
                    Err(e) => {
                        let gap = Gap::from_error(&format!("hierarchy.{folder}"), e);
                        incomplete = Some(Gap {
                            detail: format!("{folder} could not be read: {}", gap.detail),
                            ..gap.clone()
                        });
                        gaps.push(gap);
                    }
                }
                folders.push((folder, read));
            }
            Some(o) if o.starts_with("organizations/") => {
                organization = Some(o);
                break;
            }
            _ => break,
        }
    }
    Ancestry {
        project,
        folders,
        gaps,
        organization,
        incomplete,
    }
}

/// CreateCryptoKey entries in the alert's project and window (a little slack
/// either side, since alert windows are rounded), narrowed by key id and principal.
async fn find_created_keys(
    gcp: &Gcp,
    search: &KeySearch,
    opts: &Options,
) -> Result<Vec<KeyName>, GcpError> {
    let slack = SignedDuration::from_mins(15);
    let mut filter = format!(
        "logName={} AND protoPayload.serviceName=\"cloudkms.googleapis.com\" AND protoPayload.methodName=\"CreateCryptoKey\" AND timestamp>={} AND timestamp<={}",
        logfilter::quote(&format!(
            "projects/{}/logs/cloudaudit.googleapis.com%2Factivity",
            search.project
        )),
        logfilter::quote(
            &search
                .start
                .checked_sub(slack)
                .unwrap_or(Timestamp::MIN)
                .to_string()
        ),
        logfilter::quote(
            &search
                .end
                .checked_add(slack)
                .unwrap_or(Timestamp::MAX)
                .to_string()
        ),
    );
    if let Some(p) = &search.principal {
        filter.push_str(&format!(
            " AND protoPayload.authenticationInfo.principalEmail={}",
            logfilter::quote(p)
        ));
    }
    let query = LogQuery {
        resource_names: vec![format!("projects/{}", search.project)],
        filter,
        order: Order::Asc,
        page_size: 1000,
    };
    let mut found = Vec::new();
    opts.log_reads
        .read_pages(gcp, &query, opts.max_pages, |entry| {
            let Ok(event) = AuditEvent::from_json(entry) else {
                return;
            };
            let Ok(key) = KeyName::parse(&event.resource_name) else {
                return;
            };
            let id_ok = search.key_id.as_deref().is_none_or(|id| key.key_id() == id);
            if event.status_code == 0 && id_ok && !found.contains(&key) {
                found.push(key);
            }
        })
        .await?;
    Ok(found)
}

async fn investigate_key(
    gcp: &Gcp,
    request: &Request,
    key: &KeyName,
    opts: &Options,
    now: Timestamp,
    project: &ProjectReads,
) -> Investigation {
    let name = key.to_string();
    let mut gaps = Vec::new();

    // The key is read with the rest, unless its creation time must anchor the window: then
    // the log queries wait for it (and only they do).
    let key_read = async {
        match request.event_time {
            Some(_) => Some(gcp.get_crypto_key(&name).await),
            None => None,
        }
    };
    let logs = async {
        let (anchored_key, anchor, anchor_kind) = match request.event_time {
            Some(t) => (None, t, "alert event time"),
            None => {
                let k = gcp.get_crypto_key(&name).await;
                match k.as_ref().ok().and_then(|k| k.create_time) {
                    Some(t) => (Some(k), t, "key creation time"),
                    None => (Some(k), now, "now (key creation time unknown)"),
                }
            }
        };
        let window = Window {
            start: anchor.checked_sub(opts.lookback).unwrap_or(Timestamp::MIN),
            end: now,
            anchor: anchor_kind,
        };
        let (activity, usage) = tokio::join!(
            opts.log_reads
                .activity(gcp, key, window.start, opts.max_pages),
            opts.log_reads.usage(gcp, key, window.start, opts.max_pages),
        );
        (anchored_key, window, activity, usage)
    };
    let ring_iam = shared::read(gcp, "key_ring_iam", &key.key_ring(), |gcp| {
        let ring = key.key_ring();
        async move { gcp.get_iam_policy(&ring).await }
    });
    // KMS Inventory is searched in the organization; with no organization above the project,
    // in the project. When the organization is unknown (the walk up failed), the project is
    // still searched, as the best available, and a gap says the list is partial.
    let inventory = async {
        let ancestry = project.ancestry.clone().await;
        let scope = ancestry
            .organization
            .clone()
            .unwrap_or_else(|| project.resource.clone());
        gcp.search_protected_resources(&scope, &name, opts.max_protected_resources)
            .await
    };

    // The log queries first: polled first, they join their project's combined queries before
    // the other investigations of a batch have started.
    let (
        (anchored_key, window, activity_res, usage_read),
        key_res,
        versions_res,
        key_iam,
        ring_iam,
        ancestry,
        project_iam,
        org_iam,
        inventory,
    ) = tokio::join!(
        logs,
        key_read,
        gcp.list_crypto_key_versions(&name),
        gcp.get_iam_policy(&name),
        ring_iam,
        project.ancestry.clone(),
        project.project_iam.clone(),
        project.org_iam.clone(),
        inventory,
    );
    let key_res = match (key_res, anchored_key) {
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => Err(GcpError::Other {
            code: "INTERNAL".into(),
            message: "the key was not read".into(),
        }),
    };
    let project_resource = project.resource.clone();

    let mut parent_policies: Vec<(String, Result<IamPolicy, &GcpError>)> = ancestry
        .folders
        .iter()
        .map(|(f, read)| (f.clone(), read.0.as_ref().cloned()))
        .collect();
    if let Some((org, policy)) = org_iam.as_ref() {
        parent_policies.push((org.clone(), policy.as_ref().as_ref().cloned()));
    }
    gaps.extend(ancestry.gaps.iter().cloned());

    let key_evidence = match (key_res, versions_res) {
        (Ok(k), Ok(v)) => Some(KeyEvidence {
            key: k,
            versions: v,
        }),
        (Ok(k), Err(e)) => {
            gaps.push(Gap::from_error("key.versions", &e));
            Some(KeyEvidence {
                key: k,
                versions: Vec::new(),
            })
        }
        (Err(e), _) => {
            gaps.push(Gap::from_error("key", &e));
            None
        }
    };
    if let Err(e) = &ancestry.project {
        gaps.push(Gap::from_error("project", e));
    }
    let mut iam = IamEvidence::default();
    match key_iam {
        Ok(p) => iam.key = Some(p),
        Err(e) => gaps.push(Gap::from_error("iam.key", &e)),
    }
    match ring_iam.as_ref() {
        Ok(p) => iam.key_ring = Some(p.clone()),
        Err(e) => gaps.push(Gap::from_error("iam.key_ring", e)),
    }
    let mut audit_sources: Vec<(String, Option<IamPolicy>)> = Vec::new();
    // Why an audit config that could enable Data Access logging could not be read.
    let mut logging_unread: Vec<Gap> = Vec::new();
    if let Some(gap) = &ancestry.incomplete {
        // The containers above the last one read may enable it: unknown, not disabled.
        audit_sources.push(("the containers above the project".into(), None));
        logging_unread.push(gap.clone());
    }
    match project_iam.as_ref() {
        Ok(p) => {
            iam.project_kms_bindings = p
                .bindings
                .iter()
                .filter(|b| reaches_kms(&b.role))
                .cloned()
                .collect();
            audit_sources.push((project_resource.clone(), Some(p.clone())));
        }
        Err(e) => {
            let gap = Gap::from_error("iam.project", e);
            logging_unread.push(Gap {
                detail: format!("the policy of {project_resource}: {}", gap.detail),
                ..gap.clone()
            });
            gaps.push(gap);
            audit_sources.push((project_resource.clone(), None));
        }
    }
    for (container, policy) in parent_policies {
        match policy {
            Ok(policy) => {
                iam.inherited_kms_bindings.extend(
                    policy
                        .bindings
                        .iter()
                        .filter(|b| reaches_kms(&b.role))
                        .map(|b| InheritedBinding {
                            container: container.clone(),
                            binding: b.clone(),
                        }),
                );
                audit_sources.push((container, Some(policy)));
            }
            Err(e) => {
                let gap = Gap::from_error(
                    &format!("iam.{}", container.split('/').next().unwrap_or("parent")),
                    e,
                );
                logging_unread.push(Gap {
                    detail: format!("the policy of {container}: {}", gap.detail),
                    ..gap.clone()
                });
                gaps.push(gap);
                audit_sources.push((container, None));
            }
        }
    }
    let logging = data_access_logging(&audit_sources);
    if logging == DataAccessLogging::Unknown
        && let Some(first) = logging_unread.first()
    {
        // The first cause gives the reason (and the permission to ask for); the detail names
        // every read that was missing.
        let causes: Vec<&str> = logging_unread.iter().map(|g| g.detail.as_str()).collect();
        gaps.push(Gap {
            evidence: "usage.logging".into(),
            reason: first.reason.clone(),
            detail: format!(
                "whether Data Access audit logs are enabled for cloudkms.googleapis.com is unknown: {}",
                causes.join("; ")
            ),
        });
    }

    let (creator, creator_activity) = match activity_res {
        Ok(read) => {
            // A shared query may start before this window: keep this window's entries.
            let from = read
                .events
                .partition_point(|e| e.timestamp.is_some_and(|t| t < window.start));
            let activity = &read.events[from..];
            let creator = activity.iter().find(|e| e.is_creation_of(&name)).cloned();
            let act = creator
                .as_ref()
                .map(|c| creator_activity(c, activity, activity.len() as u64, read.truncated));
            if creator.is_none() {
                gaps.push(Gap {
                    evidence: "creator".into(),
                    reason: GapReason::NotFound,
                    detail: format!(
                        "no CreateCryptoKey entry for the key between {} and {} (Admin Activity logs are kept 400 days)",
                        window.start, window.end
                    ),
                });
            }
            (creator, act)
        }
        Err(e) => {
            gaps.push(Gap::from_error("creator", &e));
            (None, None)
        }
    };

    if let Some(e) = &usage_read.error {
        gaps.push(Gap::from_error("usage", e));
    }
    let usage_truncated = usage_read.truncated;
    // Data Access entries are kept 30 days by default (the _Default bucket),
    // Admin Activity 400 days: a window reaching further back cannot be complete.
    if now.duration_since(window.start) > SignedDuration::from_hours(30 * 24)
        && logging != DataAccessLogging::Disabled
    {
        gaps.push(Gap {
            evidence: "usage".into(),
            reason: GapReason::RetentionExceeded,
            detail: format!(
                "the window starts {}, but Data Access logs are kept 30 days by default: earlier use may be gone",
                window.start
            ),
        });
    }
    if now.duration_since(window.start) > SignedDuration::from_hours(400 * 24) {
        gaps.push(Gap {
            evidence: "creator".into(),
            reason: GapReason::RetentionExceeded,
            detail: "Admin Activity logs are kept 400 days: activity before that is gone".into(),
        });
    }
    // Data Access logging off is not a gap: the audit configs were read and say so. It is
    // `usage.logging` (disabled), the usage status (unknown, never zero) and the
    // usage-unknown finding.
    let mut rows: Vec<UsageRow> = usage_read.rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.principal.cmp(&b.principal))
    });
    let usage = Usage {
        logging,
        total_calls: usage_read.total_calls,
        rows,
        truncated: usage_truncated,
        page_bound: usage_read.page_bound,
    };

    let protected_resources = match inventory {
        Ok((list, _more)) => {
            if let Some(cause) = &ancestry.incomplete {
                gaps.push(Gap {
                    evidence: "protected_resources".into(),
                    reason: cause.reason.clone(),
                    detail: format!(
                        "protected resources searched in the project only: organization unknown ({})",
                        cause.detail
                    ),
                });
            }
            Some(list)
        }
        Err(e) => {
            gaps.push(Gap::from_error("protected_resources", &e));
            None
        }
    };

    Investigation {
        key_name: key.clone(),
        request: request.clone(),
        project: ancestry.project.as_ref().ok().cloned(),
        window,
        key: key_evidence,
        iam,
        creator,
        creator_activity,
        usage,
        protected_resources,
        gaps,
    }
}
/// Project roles that reach every key in the project.
fn reaches_kms(role: &str) -> bool {
    role.starts_with("roles/cloudkms.") || matches!(role, "roles/owner" | "roles/editor")
}

fn creator_activity(
    creator: &AuditEvent,
    activity: &[AuditEvent],
    read: u64,
    truncated: bool,
) -> CreatorActivity {
    let mut out = CreatorActivity {
        principal: creator.principal.clone(),
        entries_read: read,
        truncated,
        ..CreatorActivity::default()
    };
    for e in activity
        .iter()
        .filter(|e| e.principal == creator.principal && e.status_code == 0)
    {
        *out.actions.entry(e.method.clone()).or_default() += 1;
        if e.method == "CreateCryptoKey" && !out.keys_created.contains(&e.resource_name) {
            out.keys_created.push(e.resource_name.clone());
        }
        if let (Some(t), Some(c)) = (e.timestamp, creator.timestamp)
            && t < c
        {
            out.prior_admin = true;
        }
        out.first_admin = match (out.first_admin, e.timestamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if out.events.len() < CreatorActivity::MAX_LISTED {
            out.events.push(AdminAction {
                method: e.method.clone(),
                resource: e.resource_name.clone(),
                time: e.timestamp,
                insert_id: e.insert_id.clone(),
            });
        }
    }
    out
}

/// Data Access logging for Cloud KMS is on when any container in the
/// hierarchy enables DATA_READ or DATA_WRITE for `cloudkms.googleapis.com`
/// or `allServices`. A container whose policy could not be read makes an
/// otherwise-negative answer unknown.
fn data_access_logging(sources: &[(String, Option<IamPolicy>)]) -> DataAccessLogging {
    let mut by = Vec::new();
    let mut exempted = Vec::new();
    let mut unreadable = false;
    for (container, policy) in sources {
        let Some(policy) = policy else {
            unreadable = true;
            continue;
        };
        for cfg in policy
            .audit_configs
            .iter()
            .filter(|c| c.service == "allServices" || c.service == "cloudkms.googleapis.com")
        {
            for log in cfg
                .log_configs
                .iter()
                .filter(|l| l.log_type == "DATA_READ" || l.log_type == "DATA_WRITE")
            {
                if !by.contains(container) {
                    by.push(container.clone());
                }
                for m in &log.exempted_members {
                    if !exempted.contains(m) {
                        exempted.push(m.clone());
                    }
                }
            }
        }
    }
    if !by.is_empty() {
        DataAccessLogging::Enabled {
            by,
            exempted_members: exempted,
        }
    } else if unreadable {
        DataAccessLogging::Unknown
    } else {
        DataAccessLogging::Disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::{AuditConfig, AuditLogConfig};

    fn policy(service: &str, log_type: &str) -> IamPolicy {
        IamPolicy {
            version: 1,
            etag: "ACAB".into(),
            bindings: vec![],
            audit_configs: vec![AuditConfig {
                service: service.into(),
                log_configs: vec![AuditLogConfig {
                    log_type: log_type.into(),
                    exempted_members: vec![],
                }],
            }],
        }
    }

    #[test]
    fn data_access_logging_reads_the_hierarchy() {
        let on = data_access_logging(&[(
            "projects/p".into(),
            Some(policy("allServices", "DATA_READ")),
        )]);
        assert!(
            matches!(on, DataAccessLogging::Enabled { ref by, .. } if by == &["projects/p".to_owned()])
        );
        let other_service = data_access_logging(&[(
            "projects/p".into(),
            Some(policy("storage.googleapis.com", "DATA_READ")),
        )]);
        assert_eq!(other_service, DataAccessLogging::Disabled);
        let admin_only = data_access_logging(&[(
            "projects/p".into(),
            Some(policy("cloudkms.googleapis.com", "ADMIN_READ")),
        )]);
        assert_eq!(admin_only, DataAccessLogging::Disabled);
        let from_folder = data_access_logging(&[
            (
                "projects/p".into(),
                Some(policy("storage.googleapis.com", "DATA_READ")),
            ),
            (
                "folders/1".into(),
                Some(policy("cloudkms.googleapis.com", "DATA_WRITE")),
            ),
        ]);
        assert!(matches!(from_folder, DataAccessLogging::Enabled { .. }));
        let unknown = data_access_logging(&[
            ("projects/p".into(), Some(policy("x", "DATA_READ"))),
            ("folders/1".into(), None),
        ]);
        assert_eq!(unknown, DataAccessLogging::Unknown);
    }
}
