//! The investigation: which reads to make, concurrently, and how their
//! answers become evidence. Talks to Google only through [`crate::gcp::Gcp`].
//!
//! Independent reads start together, so the wall time is the longest chain
//! of reads that depend on each other (at most three: the key when its
//! creation time anchors the window; the first wave; the project's parent).
//! One read failing only turns its piece into a [`Gap`].

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use crate::audit::{AuditEvent, AuditLogKind};
use crate::evidence::{
    AdminAction, CreatorActivity, DataAccessLogging, Gap, GapReason, IamEvidence, InheritedBinding,
    Investigation, KeyEvidence, Usage, UsageRow, Window,
};
use crate::gcp::{Gcp, GcpError, IamPolicy, LogQuery, Order};
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lookback: SignedDuration::from_hours(7 * 24),
            max_pages: 10,
            max_protected_resources: 500,
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
    let keys = match &request.subject {
        Subject::Keys { keys } => keys.clone(),
        Subject::Search(search) => match find_created_keys(gcp, search, opts).await {
            Ok(keys) if !keys.is_empty() => keys,
            Ok(_) => {
                return Outcome::NoKeyFound {
                    request: Box::new(request.clone()),
                    search: search.clone(),
                    detail: "no CreateCryptoKey entry in the Admin Activity log matches the alert's project, key name, principal and time window".into(),
                };
            }
            Err(e) => {
                return Outcome::NoKeyFound {
                    request: Box::new(request.clone()),
                    search: search.clone(),
                    detail: format!("the Admin Activity log could not be searched: {e}"),
                };
            }
        },
    };
    let runs = keys
        .iter()
        .map(|k| investigate_key(gcp, request, k, opts, now));
    Outcome::Investigated(futures::future::join_all(runs).await)
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
    let mut token = None;
    for _ in 0..opts.max_pages {
        let page = gcp.list_log_entries(&query, token).await?;
        for entry in &page.entries {
            let Ok(event) = AuditEvent::from_json(entry) else {
                continue;
            };
            let Ok(key) = KeyName::parse(&event.resource_name) else {
                continue;
            };
            let id_ok = search.key_id.as_deref().is_none_or(|id| key.key_id() == id);
            if event.status_code == 0 && id_ok && !found.contains(&key) {
                found.push(key);
            }
        }
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Reads pages of a query, feeding each entry to `each`, up to `max_pages`.
/// Returns (entries read, truncated).
async fn stream_entries(
    gcp: &Gcp,
    query: &LogQuery,
    max_pages: u32,
    mut each: impl FnMut(AuditEvent),
) -> Result<(u64, bool), GcpError> {
    let mut token = None;
    let mut read = 0u64;
    for _ in 0..max_pages {
        let page = gcp.list_log_entries(query, token).await?;
        for entry in &page.entries {
            read += 1;
            if let Ok(event) = AuditEvent::from_json(entry) {
                each(event);
            }
        }
        token = page.next_page_token;
        if token.is_none() {
            return Ok((read, false));
        }
    }
    Ok((read, true))
}

async fn investigate_key(
    gcp: &Gcp,
    request: &Request,
    key: &KeyName,
    opts: &Options,
    now: Timestamp,
) -> Investigation {
    let name = key.to_string();
    let mut gaps = Vec::new();

    // The window is anchored on the event; without one, on the key's creation,
    // which costs one read before the logs can be queried.
    let mut prefetched = None;
    let (anchor, anchor_kind) = match request.event_time {
        Some(t) => (t, "alert event time"),
        None => {
            let k = gcp.get_crypto_key(&name).await;
            let created = k.as_ref().ok().and_then(|k| k.create_time);
            prefetched = Some(k);
            match created {
                Some(t) => (t, "key creation time"),
                None => (now, "now (key creation time unknown)"),
            }
        }
    };
    let window = Window {
        start: anchor.checked_sub(opts.lookback).unwrap_or(Timestamp::MIN),
        end: now,
        anchor: anchor_kind,
    };

    let activity_query = LogQuery {
        resource_names: vec![format!("projects/{}", key.project())],
        filter: logfilter::kms_admin_activity(key, window.start),
        order: Order::Asc,
        page_size: 1000,
    };
    let usage_query = LogQuery {
        resource_names: vec![format!("projects/{}", key.project())],
        filter: logfilter::key_usage(key, window.start),
        order: Order::Asc,
        page_size: 1000,
    };
    let key_ring = key.key_ring();
    let project_resource = format!("projects/{}", key.project());

    let key_read = async {
        match prefetched {
            Some(k) => k,
            None => gcp.get_crypto_key(&name).await,
        }
    };
    let mut activity = Vec::new();
    let activity_read = stream_entries(gcp, &activity_query, opts.max_pages, |e| activity.push(e));
    let mut usage_rows: BTreeMap<(String, String), UsageRow> = BTreeMap::new();
    let mut total_calls = 0u64;
    let usage_read = stream_entries(gcp, &usage_query, opts.max_pages, |e| {
        if e.log != AuditLogKind::DataAccess {
            return;
        }
        total_calls += 1;
        let row = usage_rows
            .entry((e.principal.clone(), e.method.clone()))
            .or_insert_with(|| UsageRow {
                principal: e.principal.clone(),
                method: e.method.clone(),
                calls: 0,
                failures: 0,
                first: None,
                last: None,
                caller_ips: Vec::new(),
                sample_insert_ids: Vec::new(),
            });
        row.calls += 1;
        if e.status_code != 0 {
            row.failures += 1;
        }
        row.first = match (row.first, e.timestamp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        row.last = match (row.last, e.timestamp) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if row.sample_insert_ids.len() < UsageRow::SAMPLES && !e.insert_id.is_empty() {
            row.sample_insert_ids.push(e.insert_id.clone());
        }
        if !e.caller_ip.is_empty()
            && !row.caller_ips.contains(&e.caller_ip)
            && row.caller_ips.len() < 16
        {
            row.caller_ips.push(e.caller_ip.clone());
        }
    });

    let (
        key_res,
        versions_res,
        key_iam,
        ring_iam,
        project_res,
        project_iam,
        activity_res,
        usage_res,
    ) = tokio::join!(
        key_read,
        gcp.list_crypto_key_versions(&name),
        gcp.get_iam_policy(&name),
        gcp.get_iam_policy(&key_ring),
        gcp.get_project(key.project()),
        gcp.get_project_iam_policy(&project_resource),
        activity_read,
        usage_read,
    );

    // Then up the hierarchy: each folder's policy (audit configs are inherited)
    // and its parent, until the organization, whose scope KMS Inventory needs
    // for a complete answer (a key can protect resources in other projects).
    let mut parent_policies: Vec<(String, Result<IamPolicy, GcpError>)> = Vec::new();
    let mut hierarchy_gaps = Vec::new();
    let mut next = project_res.as_ref().ok().and_then(|p| p.parent.clone());
    let mut org = None;
    for _ in 0..MAX_FOLDER_DEPTH {
        match next.take() {
            Some(folder) if folder.starts_with("folders/") => {
                let (policy, parent) =
                    tokio::join!(gcp.get_folder_iam_policy(&folder), gcp.get_folder(&folder));
                parent_policies.push((folder.clone(), policy));
                match parent {
                    Ok(f) => next = f.parent,
                    Err(e) => {
                        hierarchy_gaps.push(Gap::from_error(&format!("hierarchy.{folder}"), &e))
                    }
                }
            }
            Some(o) if o.starts_with("organizations/") => {
                org = Some(o);
                break;
            }
            _ => break,
        }
    }
    let inventory_scope = org.clone().unwrap_or_else(|| project_resource.clone());
    let org_policy = async {
        match &org {
            Some(o) => Some((o.clone(), gcp.get_organization_iam_policy(o).await)),
            None => None,
        }
    };
    let (org_iam, inventory) = tokio::join!(
        org_policy,
        gcp.search_protected_resources(&inventory_scope, &name, opts.max_protected_resources),
    );
    parent_policies.extend(org_iam);
    gaps.extend(hierarchy_gaps);

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
    if let Err(e) = &project_res {
        gaps.push(Gap::from_error("project", e));
    }
    let mut iam = IamEvidence::default();
    match key_iam {
        Ok(p) => iam.key = Some(p),
        Err(e) => gaps.push(Gap::from_error("iam.key", &e)),
    }
    match ring_iam {
        Ok(p) => iam.key_ring = Some(p),
        Err(e) => gaps.push(Gap::from_error("iam.key_ring", &e)),
    }
    let mut audit_sources: Vec<(String, Option<IamPolicy>)> = Vec::new();
    match project_iam {
        Ok(p) => {
            iam.project_kms_bindings = p
                .bindings
                .iter()
                .filter(|b| reaches_kms(&b.role))
                .cloned()
                .collect();
            audit_sources.push((project_resource.clone(), Some(p)));
        }
        Err(e) => {
            gaps.push(Gap::from_error("iam.project", &e));
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
                gaps.push(Gap::from_error(
                    &format!("iam.{}", container.split('/').next().unwrap_or("parent")),
                    &e,
                ));
                audit_sources.push((container, None));
            }
        }
    }
    let logging = data_access_logging(&audit_sources);

    let (creator, creator_activity) = match activity_res {
        Ok((read, truncated)) => {
            let creator = activity.iter().find(|e| e.is_creation_of(&name)).cloned();
            let act = creator
                .as_ref()
                .map(|c| creator_activity(c, &activity, read, truncated));
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

    let usage_truncated = match usage_res {
        Ok((_, truncated)) => truncated,
        Err(e) => {
            gaps.push(Gap::from_error("usage", &e));
            false
        }
    };
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
    if logging == DataAccessLogging::Disabled {
        gaps.push(Gap {
            evidence: "usage".into(),
            reason: GapReason::LogsOff,
            detail: "Data Access audit logs are not enabled for cloudkms.googleapis.com: who used the key is unknown, not zero".into(),
        });
    }
    let mut rows: Vec<UsageRow> = usage_rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.calls
            .cmp(&a.calls)
            .then_with(|| a.principal.cmp(&b.principal))
    });
    let usage = Usage {
        logging,
        total_calls,
        rows,
        truncated: usage_truncated,
        page_bound: opts.max_pages,
    };

    let protected_resources = match inventory {
        Ok((list, _more)) => Some(list),
        Err(e) => {
            gaps.push(Gap::from_error("protected_resources", &e));
            None
        }
    };

    Investigation {
        key_name: key.clone(),
        request: request.clone(),
        project: project_res.ok(),
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
