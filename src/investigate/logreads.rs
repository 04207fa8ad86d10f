//! Cloud Logging reads, shared by every investigation running in the process.
//!
//! Logging allows 60 `entries.list` calls per minute per project by default, and an on-call
//! engineer may investigate a whole batch of alerts at once. Three things keep a batch inside
//! that quota without failing or starting over:
//!
//! - **a per-project budget** ([`LogReadsConfig::quota`] calls per [`LogReadsConfig::per`]):
//!   every page of every query takes a slot first, so the tool itself never sends the call that
//!   would be refused. A slot is counted from when its answer arrived, which is never earlier
//!   than when the service counted the call, so the budget is never optimistic;
//! - **combined queries**: investigations that run at the same time and need the same project's
//!   Admin Activity entries share one query (each keeps the entries of its own window), and their
//!   Data Access queries become one filter with an `OR` over the keys (split when the filter would
//!   pass Logging's 20,000 characters), whose entries are handed back to each key as they stream;
//! - **quota waits that resume**: on `RESOURCE_EXHAUSTED` (another consumer of the same quota)
//!   the read waits for Google's hint, or until this process's oldest call in the window expires,
//!   then asks again for the page it did not get, with the page token it already has.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::audit::{AuditEvent, AuditLogKind};
use crate::evidence::UsageRow;
use crate::gcp::{Gcp, GcpError, LogQuery, Order};
use crate::keyname::KeyName;
use crate::logfilter;

/// Logging's limit on the length of a filter.
const MAX_FILTER_CHARS: usize = 20_000;
/// Members whose windows start further apart than this are not combined: the earliest window
/// would spend the shared page bound before reaching the later ones.
const COMBINE_SPAN: SignedDuration = SignedDuration::from_hours(7 * 24);
/// Entries per page (Google's maximum).
const PAGE_SIZE: i32 = 1000;
/// How many times a batch's gathering is extended while members keep joining.
const MAX_GATHER_ROUNDS: u32 = 16;
/// Caller IPs kept per usage row.
const MAX_CALLER_IPS: usize = 16;

/// How Logging is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReadsConfig {
    /// `entries.list` calls allowed per project per [`LogReadsConfig::per`].
    pub quota: u32,
    pub per: Duration,
    /// Combine the queries of investigations that run at the same time.
    pub combine: bool,
    /// How long the first query of a project waits for others to join it; extended while others
    /// keep arriving, up to 16 times. It delays only the log queries, which
    /// are not on the critical path (the walk up to the organization is longer).
    pub gather: Duration,
    /// The longest one query waits for Logging quota after being refused, before it gives up and
    /// the investigation reports a quota gap.
    pub max_quota_wait: Duration,
}

impl Default for LogReadsConfig {
    fn default() -> Self {
        LogReadsConfig {
            quota: 60,
            per: Duration::from_secs(60),
            combine: true,
            gather: Duration::from_millis(3),
            max_quota_wait: Duration::from_secs(300),
        }
    }
}

/// The Logging reads of a process: budget, combining, quota waits. Cheap to clone (an `Arc`);
/// clones share everything.
#[derive(Clone)]
pub struct LogReads {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LogReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReads")
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

struct Inner {
    cfg: LogReadsConfig,
    budget: Budget,
    batches: Mutex<HashMap<BatchKey, Pending>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LogReads {
    pub fn new(cfg: LogReadsConfig) -> LogReads {
        LogReads {
            inner: Arc::new(Inner {
                budget: Budget::new(cfg.quota.max(1), cfg.per),
                cfg,
                batches: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The instance every [`super::Options::default`] carries, so that the investigations of one
    /// process share the per-project budget and combine their queries.
    pub fn shared() -> LogReads {
        static SHARED: OnceLock<LogReads> = OnceLock::new();
        SHARED
            .get_or_init(|| LogReads::new(LogReadsConfig::default()))
            .clone()
    }

    pub fn config(&self) -> &LogReadsConfig {
        &self.inner.cfg
    }

    /// Reads up to `max_pages` pages of `query`, handing each entry to `each` as its page
    /// arrives. Every page takes a budget slot; a refusal for quota waits and asks again for the
    /// same page. Returns the entries read and whether the bound stopped the read.
    pub(crate) async fn read_pages(
        &self,
        gcp: &Gcp,
        query: &LogQuery,
        max_pages: u32,
        each: impl FnMut(&Value),
    ) -> Result<(u64, bool), GcpError> {
        read_pages(&self.inner, gcp, query, max_pages, None, each).await
    }

    /// Every Cloud KMS admin action in `key`'s project since `start`, possibly read by a query
    /// shared with other keys of the project (whose entries start earlier; the caller keeps its
    /// own window).
    pub(crate) async fn activity(
        &self,
        gcp: &Gcp,
        key: &KeyName,
        start: Timestamp,
        max_pages: u32,
    ) -> Result<Arc<ActivityRead>, Arc<GcpError>> {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            key: key.clone(),
            start,
            max_pages,
            reply: Reply::Activity(tx),
        };
        self.submit(gcp, Kind::Activity, member).await;
        rx.await.unwrap_or_else(|_| Err(Arc::new(abandoned())))
    }

    /// Who used `key` since `start`, from Data Access entries, aggregated as they stream.
    pub(crate) async fn usage(
        &self,
        gcp: &Gcp,
        key: &KeyName,
        start: Timestamp,
        max_pages: u32,
    ) -> UsageRead {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            key: key.clone(),
            start,
            max_pages,
            reply: Reply::Usage(tx),
        };
        self.submit(gcp, Kind::Usage, member).await;
        rx.await.unwrap_or_else(|_| UsageRead {
            error: Some(Arc::new(abandoned())),
            ..UsageRead::default()
        })
    }

    /// Runs the member's query now (not combining), or adds it to its project's pending batch,
    /// starting the batch's leader when it is the first.
    async fn submit(&self, gcp: &Gcp, kind: Kind, member: Member) {
        if !self.inner.cfg.combine {
            run_batch(&self.inner, gcp, kind, vec![member], None).await;
            return;
        }
        let key = BatchKey {
            // The batch is answered through the first member's clients; only members holding
            // the very same `Gcp` (alive, since they borrow it) may join it.
            client: std::ptr::from_ref(gcp).addr(),
            kind,
            project: member.key.project().to_owned(),
        };
        let first = {
            let mut batches = lock(&self.inner.batches);
            let pending = batches.entry(key.clone()).or_insert_with(|| Pending {
                members: Vec::new(),
                joined: 0,
            });
            pending.members.push(member);
            pending.joined += 1;
            pending.joined == 1
        };
        if first {
            let inner = Arc::clone(&self.inner);
            let gcp = gcp.clone();
            tokio::spawn(async move { lead(inner, gcp, key).await });
        }
    }
}

fn abandoned() -> GcpError {
    GcpError::Other {
        code: "CANCELLED".into(),
        message: "the shared Logging read was abandoned".into(),
    }
}

// ---- the budget ----

/// Per-project sliding-window budget.
struct Budget {
    quota: u32,
    per: Duration,
    windows: Mutex<HashMap<String, Window>>,
    freed: Notify,
}

#[derive(Default)]
struct Window {
    in_flight: u32,
    /// When the answers of recent calls arrived, oldest first.
    recent: VecDeque<Instant>,
    /// Set after a refusal: nobody calls before.
    paused_until: Option<Instant>,
}

/// One budget slot, held while its call is in flight.
struct Permit<'a> {
    budget: &'a Budget,
    project: String,
    done: bool,
}

impl Budget {
    fn new(quota: u32, per: Duration) -> Budget {
        Budget {
            quota,
            per,
            windows: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        }
    }

    async fn acquire(&self, project: &str) -> Permit<'_> {
        loop {
            // Registered before looking, so a slot freed in between still wakes us.
            let freed = self.freed.notified();
            let wake = {
                let mut windows = lock(&self.windows);
                let w = windows.entry(project.to_owned()).or_default();
                let now = Instant::now();
                while w.recent.front().is_some_and(|t| now >= *t + self.per) {
                    w.recent.pop_front();
                }
                match w.paused_until {
                    Some(until) if now < until => Some(until),
                    _ => {
                        w.paused_until = None;
                        let used = w.in_flight as usize + w.recent.len();
                        if used < self.quota as usize {
                            w.in_flight += 1;
                            return Permit {
                                budget: self,
                                project: project.to_owned(),
                                done: false,
                            };
                        }
                        w.recent.front().map(|t| *t + self.per)
                    }
                }
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = freed => {}
                    }
                }
                None => freed.await,
            }
        }
    }

    /// When this process's oldest call still counted for `project` stops counting.
    fn window_frees(&self, project: &str) -> Option<Instant> {
        let windows = lock(&self.windows);
        windows
            .get(project)
            .and_then(|w| w.recent.front())
            .map(|t| *t + self.per)
    }
}

impl Permit<'_> {
    /// The call was refused for quota: it did not count, but nobody calls before `until`.
    fn refused(mut self, until: Instant) {
        self.done = true;
        let mut windows = lock(&self.budget.windows);
        let w = windows.entry(self.project.clone()).or_default();
        w.in_flight = w.in_flight.saturating_sub(1);
        w.paused_until = Some(w.paused_until.map_or(until, |p| p.max(until)));
        drop(windows);
        self.budget.freed.notify_waiters();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut windows = lock(&self.budget.windows);
        let w = windows.entry(self.project.clone()).or_default();
        w.in_flight = w.in_flight.saturating_sub(1);
        w.recent.push_back(Instant::now());
        drop(windows);
        self.budget.freed.notify_waiters();
    }
}

/// Pages through `query` within the budget; `first` is a slot already taken for page one.
async fn read_pages(
    inner: &Inner,
    gcp: &Gcp,
    query: &LogQuery,
    max_pages: u32,
    mut first: Option<Permit<'_>>,
    mut each: impl FnMut(&Value),
) -> Result<(u64, bool), GcpError> {
    let project = query.resource_names.first().cloned().unwrap_or_default();
    let mut token: Option<String> = None;
    let mut read = 0u64;
    let mut pages = 0u32;
    let mut backoff = Duration::from_secs(1);
    let mut give_up_at: Option<Instant> = None;
    while pages < max_pages.max(1) {
        let permit = match first.take() {
            Some(p) => p,
            None => inner.budget.acquire(&project).await,
        };
        match gcp.list_log_entries(query, token.clone()).await {
            Ok(page) => {
                drop(permit);
                pages += 1;
                for entry in &page.entries {
                    read += 1;
                    each(entry);
                }
                token = page.next_page_token;
                if token.is_none() {
                    return Ok((read, false));
                }
            }
            Err(GcpError::ResourceExhausted {
                message,
                retry_after,
            }) => {
                // Another consumer of the project's quota: wait for Google's hint, or until our
                // own oldest call leaves the window, then ask for the same page again.
                let now = Instant::now();
                let hinted = retry_after
                    .map(|d| now + d)
                    .or_else(|| inner.budget.window_frees(&project))
                    .unwrap_or(now);
                let until = hinted.max(now + backoff);
                backoff = (backoff * 2).min(inner.cfg.per);
                let limit = *give_up_at.get_or_insert(now + inner.cfg.max_quota_wait);
                if until > limit {
                    drop(permit);
                    return Err(GcpError::ResourceExhausted {
                        message,
                        retry_after,
                    });
                }
                permit.refused(until);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((read, true))
}

// ---- combining ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Activity,
    Usage,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BatchKey {
    client: usize,
    kind: Kind,
    project: String,
}

struct Pending {
    members: Vec<Member>,
    /// Members that ever joined (to see whether others are still arriving).
    joined: usize,
}

struct Member {
    key: KeyName,
    start: Timestamp,
    max_pages: u32,
    reply: Reply,
}

enum Reply {
    Activity(oneshot::Sender<Result<Arc<ActivityRead>, Arc<GcpError>>>),
    Usage(oneshot::Sender<UsageRead>),
}

/// Admin Activity entries of a project, oldest first.
#[derive(Debug, Default)]
pub(crate) struct ActivityRead {
    pub events: Vec<AuditEvent>,
    pub truncated: bool,
}

/// One key's usage, aggregated from the Data Access entries as they streamed.
#[derive(Debug, Default)]
pub(crate) struct UsageRead {
    pub total_calls: u64,
    pub rows: BTreeMap<(String, String), UsageRow>,
    pub truncated: bool,
    /// The page bound of the query that read them.
    pub page_bound: u32,
    /// Why the read stopped early, if it did (the counts so far are kept).
    pub error: Option<Arc<GcpError>>,
}

impl UsageRead {
    fn add(&mut self, e: &AuditEvent) {
        self.total_calls += 1;
        let row = self
            .rows
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
            && row.caller_ips.len() < MAX_CALLER_IPS
        {
            row.caller_ips.push(e.caller_ip.clone());
        }
    }
}

/// The leader of a project's batch: lets the others join, takes the first budget slot (more may
/// join while it waits for one), then answers everyone who joined.
async fn lead(inner: Arc<Inner>, gcp: Gcp, key: BatchKey) {
    let gather = inner.cfg.gather;
    let mut seen = 1;
    for _ in 0..MAX_GATHER_ROUNDS {
        tokio::time::sleep(gather).await;
        let joined = lock(&inner.batches).get(&key).map_or(0, |p| p.joined);
        if joined == seen {
            break;
        }
        seen = joined;
    }
    let project = format!("projects/{}", key.project);
    let permit = inner.budget.acquire(&project).await;
    let members = lock(&inner.batches)
        .remove(&key)
        .map(|p| p.members)
        .unwrap_or_default();
    run_batch(&inner, &gcp, key.kind, members, Some(permit)).await;
}

/// Splits members into queries (window span, filter length) and answers each member.
async fn run_batch(
    inner: &Inner,
    gcp: &Gcp,
    kind: Kind,
    mut members: Vec<Member>,
    first: Option<Permit<'_>>,
) {
    members.sort_by_key(|m| m.start);
    let mut groups: Vec<Vec<Member>> = Vec::new();
    for m in members {
        let fits = groups.last().is_some_and(|g| {
            let span_ok = g
                .first()
                .is_some_and(|f| m.start.duration_since(f.start) <= COMBINE_SPAN);
            let len_ok = match kind {
                Kind::Activity => true,
                Kind::Usage => {
                    let mut keys: Vec<&KeyName> = g.iter().map(|x| &x.key).collect();
                    keys.push(&m.key);
                    usage_filter(&keys, g.first().map_or(m.start, |f| f.start))
                        .chars()
                        .count()
                        <= MAX_FILTER_CHARS
                }
            };
            span_ok && len_ok
        });
        match groups.last_mut() {
            Some(g) if fits => g.push(m),
            _ => groups.push(vec![m]),
        }
    }
    let mut first = first;
    let runs = groups.into_iter().map(|g| {
        let permit = first.take();
        async move {
            match kind {
                Kind::Activity => activity_group(inner, gcp, g, permit).await,
                Kind::Usage => usage_group(inner, gcp, g, permit).await,
            }
        }
    });
    futures::future::join_all(runs).await;
}

async fn activity_group(inner: &Inner, gcp: &Gcp, group: Vec<Member>, first: Option<Permit<'_>>) {
    let Some(lead) = group.first() else { return };
    let start = lead.start;
    let query = LogQuery {
        resource_names: vec![format!("projects/{}", lead.key.project())],
        filter: logfilter::kms_admin_activity(&lead.key, start),
        order: Order::Asc,
        page_size: PAGE_SIZE,
    };
    let max_pages = group.iter().map(|m| m.max_pages).max().unwrap_or(1);
    let mut events = Vec::new();
    let result = read_pages(inner, gcp, &query, max_pages, first, |entry| {
        if let Ok(e) = AuditEvent::from_json(entry) {
            events.push(e);
        }
    })
    .await;
    let answer = match result {
        Ok((_, truncated)) => Ok(Arc::new(ActivityRead { events, truncated })),
        Err(e) => Err(Arc::new(e)),
    };
    for m in group {
        if let Reply::Activity(tx) = m.reply {
            let _ = tx.send(answer.clone());
        }
    }
}

async fn usage_group(inner: &Inner, gcp: &Gcp, group: Vec<Member>, first: Option<Permit<'_>>) {
    let Some(lead) = group.first() else { return };
    let start = lead.start;
    let keys: Vec<&KeyName> = group.iter().map(|m| &m.key).collect();
    let query = LogQuery {
        resource_names: vec![format!("projects/{}", lead.key.project())],
        filter: usage_filter(&keys, start),
        order: Order::Asc,
        page_size: PAGE_SIZE,
    };
    let max_pages = group.iter().map(|m| m.max_pages).max().unwrap_or(1);
    // Demultiplexing: key name -> the members asking about it (the same key may be asked twice).
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, m) in group.iter().enumerate() {
        by_key.entry(m.key.to_string()).or_default().push(i);
    }
    let mut reads: Vec<UsageRead> = group
        .iter()
        .map(|_| UsageRead {
            page_bound: max_pages,
            ..UsageRead::default()
        })
        .collect();
    let result = read_pages(inner, gcp, &query, max_pages, first, |entry| {
        let Ok(e) = AuditEvent::from_json(entry) else {
            return;
        };
        if e.log != AuditLogKind::DataAccess {
            return;
        }
        let key = e
            .resource_name
            .split_once("/cryptoKeyVersions/")
            .map_or(e.resource_name.as_str(), |(k, _)| k);
        for &i in by_key.get(key).into_iter().flatten() {
            if e.timestamp.is_none_or(|t| t >= group[i].start) {
                reads[i].add(&e);
            }
        }
    })
    .await;
    let (truncated, error) = match result {
        Ok((_, truncated)) => (truncated, None),
        Err(e) => (false, Some(Arc::new(e))),
    };
    for (m, mut read) in group.into_iter().zip(reads) {
        read.truncated = truncated;
        read.error = error.clone();
        if let Reply::Usage(tx) = m.reply {
            let _ = tx.send(read);
        }
    }
}

/// Data Access entries about any of `keys` (or their versions) since `since`. For one key,
/// exactly [`logfilter::key_usage`].
pub(crate) fn usage_filter(keys: &[&KeyName], since: Timestamp) -> String {
    match keys {
        [] => String::new(),
        [one] => logfilter::key_usage(one, since),
        [first, ..] => {
            let names: Vec<String> = keys
                .iter()
                .map(|k| {
                    let name = k.to_string();
                    format!(
                        "protoPayload.resourceName={} OR protoPayload.resourceName:{}",
                        logfilter::quote(&name),
                        logfilter::quote(&format!("{name}/cryptoKeyVersions/")),
                    )
                })
                .collect();
            format!(
                "logName={} AND ({}) AND timestamp>={}",
                logfilter::quote(&format!(
                    "projects/{}/logs/cloudaudit.googleapis.com%2Fdata_access",
                    first.project()
                )),
                names.join(" OR "),
                logfilter::quote(&since.to_string()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> KeyName {
        KeyName::parse(&format!(
            "projects/p1/locations/us/keyRings/r/cryptoKeys/{k}"
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn one_key_usage_filter_is_the_single_key_filter() {
        let since: Timestamp = "2026-11-20T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let k = key("a");
        assert_eq!(usage_filter(&[&k], since), logfilter::key_usage(&k, since));
        let b = key("b");
        let both = usage_filter(&[&k, &b], since);
        assert_eq!(
            both,
            r#"logName="projects/p1/logs/cloudaudit.googleapis.com%2Fdata_access" AND (protoPayload.resourceName="projects/p1/locations/us/keyRings/r/cryptoKeys/a" OR protoPayload.resourceName:"projects/p1/locations/us/keyRings/r/cryptoKeys/a/cryptoKeyVersions/" OR protoPayload.resourceName="projects/p1/locations/us/keyRings/r/cryptoKeys/b" OR protoPayload.resourceName:"projects/p1/locations/us/keyRings/r/cryptoKeys/b/cryptoKeyVersions/") AND timestamp>="2026-11-20T00:00:00Z""#
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_waits_for_the_window_instead_of_exceeding_it() {
        let budget = Budget::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        drop(budget.acquire("projects/p").await);
        drop(budget.acquire("projects/p").await);
        // Another project has its own window.
        drop(budget.acquire("projects/q").await);
        assert_eq!(Instant::now(), t0);
        drop(budget.acquire("projects/p").await);
        assert_eq!(Instant::now() - t0, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_calls_count_and_a_refusal_pauses_the_project() {
        let budget = Budget::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        let held = budget.acquire("projects/p").await;
        let waiting = budget.acquire("projects/p");
        tokio::pin!(waiting);
        assert!(
            futures::poll!(waiting.as_mut()).is_pending(),
            "the only slot is in flight"
        );
        held.refused(t0 + Duration::from_secs(5));
        let _next = waiting.await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(5));
    }
}
