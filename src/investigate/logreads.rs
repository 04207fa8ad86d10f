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
//!   then asks again for the page it did not get, with the page token it already has. The waits
//!   are bounded ([`LogReadsConfig::max_quota_wait`], `--quota-wait`): an incident responder
//!   would rather have a report with a quota gap than a tool that waits for minutes.

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
    /// How long one read may wait for Logging quota in all. The clock starts the first time the
    /// read meets a refusal (its own, or the pause another read of the project set after one);
    /// a wait that would end later than this after that moment is not taken: the read gives up
    /// and the investigation reports a quota gap. Pacing by [`LogReadsConfig::quota`] is not a
    /// quota wait and is not bounded by this.
    pub max_quota_wait: Duration,
}

impl Default for LogReadsConfig {
    fn default() -> Self {
        LogReadsConfig {
            quota: 60,
            per: Duration::from_secs(60),
            combine: true,
            gather: Duration::from_millis(3),
            max_quota_wait: Duration::from_secs(30),
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
    /// Live [`Hold`]s: while any is held, no combined query leaves.
    holds: Mutex<usize>,
    released: Notify,
}

/// Keeps every combined query waiting while the investigations of a batch are being started.
///
/// Starting fifty investigations takes a few milliseconds of CPU (each opens its reads), longer
/// on a busy machine; without a hold, a project's query could leave after the gathering window
/// with only the keys started so far, and the rest would need a query of their own. Released on
/// drop.
#[must_use = "the hold ends when dropped"]
pub struct Hold {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hold")
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut holds = lock(&self.inner.holds);
        *holds = holds.saturating_sub(1);
        if *holds == 0 {
            self.inner.released.notify_waiters();
        }
    }
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
                holds: Mutex::new(0),
                released: Notify::new(),
            }),
        }
    }

    /// Holds back combined queries until the returned [`Hold`] is dropped: hold, start every
    /// investigation of a batch (their first poll submits their queries), then drop it.
    pub fn hold(&self) -> Hold {
        *lock(&self.inner.holds) += 1;
        Hold {
            inner: Arc::clone(&self.inner),
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
        let clock = QuotaClock::new(self.inner.cfg.max_quota_wait);
        read_pages(&self.inner, gcp, query, max_pages, None, clock, each).await
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
            let clock = QuotaClock::new(self.inner.cfg.max_quota_wait);
            run_batch(&self.inner, gcp, kind, vec![member], None, clock).await;
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

/// One read's quota-wait clock: started the first time the read meets a refusal (its own, or a
/// pause of its project), after which no quota wait of the read may end later than `max` from
/// then. A deadline rather than a sum of waits, so that the read's whole time is bounded too:
/// the calls between waits fall inside it, and only the last call can end after it.
#[derive(Debug, Clone, Copy)]
struct QuotaClock {
    max: Duration,
    deadline: Option<Instant>,
}

impl QuotaClock {
    fn new(max: Duration) -> QuotaClock {
        QuotaClock {
            max,
            deadline: None,
        }
    }

    /// Whether a quota wait from `now` until `until` is allowed (starting the clock).
    fn allows(&mut self, now: Instant, until: Instant) -> bool {
        until <= *self.deadline.get_or_insert(now + self.max)
    }
}

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
    /// The refusal behind `paused_until`: Google's message and retry hint, reported by a read
    /// that gives up rather than wait for it.
    paused_by: Option<Refusal>,
}

/// What Google said when it refused a call for quota.
#[derive(Debug, Clone)]
struct Refusal {
    message: String,
    retry_after: Option<Duration>,
}

impl From<Refusal> for GcpError {
    fn from(r: Refusal) -> GcpError {
        GcpError::ResourceExhausted {
            message: r.message,
            retry_after: r.retry_after,
        }
    }
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

    /// Takes a slot for `project`, waiting for the window (pacing, unbounded) and for a pause
    /// after a refusal (quota, bounded by `clock`). `Err` (the refusal behind the pause) when the
    /// project is paused past the clock's deadline: the read gives up without waiting.
    async fn acquire(&self, project: &str, clock: &mut QuotaClock) -> Result<Permit<'_>, GcpError> {
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
                    Some(until) if now < until => {
                        if !clock.allows(now, until) {
                            let refusal = w.paused_by.clone().unwrap_or_else(|| Refusal {
                                message: "another read of the project was refused for quota".into(),
                                retry_after: None,
                            });
                            return Err(refusal.into());
                        }
                        Some(until)
                    }
                    _ => {
                        w.paused_until = None;
                        w.paused_by = None;
                        let used = w.in_flight as usize + w.recent.len();
                        if used < self.quota as usize {
                            w.in_flight += 1;
                            return Ok(Permit {
                                budget: self,
                                project: project.to_owned(),
                                done: false,
                            });
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
    fn refused(mut self, until: Instant, why: Refusal) {
        self.done = true;
        let mut windows = lock(&self.budget.windows);
        let w = windows.entry(self.project.clone()).or_default();
        w.in_flight = w.in_flight.saturating_sub(1);
        if w.paused_until.is_none_or(|p| until > p) {
            w.paused_until = Some(until);
            w.paused_by = Some(why);
        }
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

/// Pages through `query` within the budget; `first` is a slot already taken for page one, and
/// `clock` the quota waits already spent getting it.
async fn read_pages(
    inner: &Inner,
    gcp: &Gcp,
    query: &LogQuery,
    max_pages: u32,
    mut first: Option<Permit<'_>>,
    mut clock: QuotaClock,
    mut each: impl FnMut(&Value),
) -> Result<(u64, bool), GcpError> {
    let project = query.resource_names.first().cloned().unwrap_or_default();
    let mut token: Option<String> = None;
    let mut read = 0u64;
    let mut pages = 0u32;
    let mut backoff = Duration::from_secs(1);
    while pages < max_pages.max(1) {
        let permit = match first.take() {
            Some(p) => p,
            None => inner.budget.acquire(&project, &mut clock).await?,
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
                let refusal = Refusal {
                    message,
                    retry_after,
                };
                // Even when this read gives up, the other reads of the project do not send a
                // call before `until` that would only be refused.
                permit.refused(until, refusal.clone());
                if !clock.allows(now, until) {
                    return Err(refusal.into());
                }
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
    loop {
        let released = inner.released.notified();
        let mut released = std::pin::pin!(released);
        // Registered before the count is read, so a release in between is not missed.
        released.as_mut().enable();
        if *lock(&inner.holds) == 0 {
            break;
        }
        released.await;
    }
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
    let mut clock = QuotaClock::new(inner.cfg.max_quota_wait);
    // Without a slot (paused past the bound), the reads find the same pause and give up.
    let permit = inner.budget.acquire(&project, &mut clock).await.ok();
    let members = lock(&inner.batches)
        .remove(&key)
        .map(|p| p.members)
        .unwrap_or_default();
    run_batch(&inner, &gcp, key.kind, members, permit, clock).await;
}

/// Splits members into queries (window span, filter length) and answers each member.
async fn run_batch(
    inner: &Inner,
    gcp: &Gcp,
    kind: Kind,
    mut members: Vec<Member>,
    first: Option<Permit<'_>>,
    clock: QuotaClock,
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
                Kind::Activity => activity_group(inner, gcp, g, permit, clock).await,
                Kind::Usage => usage_group(inner, gcp, g, permit, clock).await,
            }
        }
    });
    futures::future::join_all(runs).await;
}

async fn activity_group(
    inner: &Inner,
    gcp: &Gcp,
    group: Vec<Member>,
    first: Option<Permit<'_>>,
    clock: QuotaClock,
) {
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
    let result = read_pages(inner, gcp, &query, max_pages, first, clock, |entry| {
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

async fn usage_group(
    inner: &Inner,
    gcp: &Gcp,
    group: Vec<Member>,
    first: Option<Permit<'_>>,
    clock: QuotaClock,
) {
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
    let result = read_pages(inner, gcp, &query, max_pages, first, clock, |entry| {
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

    fn refusal(hint_secs: Option<u64>) -> Refusal {
        Refusal {
            message: "quota exceeded".into(),
            retry_after: hint_secs.map(Duration::from_secs),
        }
    }

    async fn take<'a>(budget: &'a Budget, project: &str, clock: &mut QuotaClock) -> Permit<'a> {
        budget
            .acquire(project, clock)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_waits_for_the_window_instead_of_exceeding_it() {
        let budget = Budget::new(2, Duration::from_secs(60));
        // Pacing is not a quota wait: a clock of one second does not cut it short.
        let clock = &mut QuotaClock::new(Duration::from_secs(1));
        let t0 = Instant::now();
        drop(take(&budget, "projects/p", clock).await);
        drop(take(&budget, "projects/p", clock).await);
        // Another project has its own window.
        drop(take(&budget, "projects/q", clock).await);
        assert_eq!(Instant::now(), t0);
        drop(take(&budget, "projects/p", clock).await);
        assert_eq!(Instant::now() - t0, Duration::from_secs(60));
        assert!(clock.deadline.is_none(), "no refusal was met");
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_calls_count_and_a_refusal_pauses_the_project() {
        let budget = Budget::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        let mut first = QuotaClock::new(Duration::from_secs(30));
        let held = take(&budget, "projects/p", &mut first).await;
        let mut clock = QuotaClock::new(Duration::from_secs(30));
        {
            let waiting = take(&budget, "projects/p", &mut clock);
            tokio::pin!(waiting);
            assert!(
                futures::poll!(waiting.as_mut()).is_pending(),
                "the only slot is in flight"
            );
            held.refused(t0 + Duration::from_secs(5), refusal(None));
            drop(waiting.await);
        }
        assert_eq!(Instant::now() - t0, Duration::from_secs(5));
        assert_eq!(
            clock.deadline,
            Some(t0 + Duration::from_secs(30)),
            "meeting another read's pause starts the read's quota clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_past_the_quota_wait_is_not_waited_for() {
        let budget = Budget::new(60, Duration::from_secs(60));
        let t0 = Instant::now();
        let mut clock = QuotaClock::new(Duration::from_secs(10));
        take(&budget, "projects/p", &mut clock)
            .await
            .refused(t0 + Duration::from_secs(4), refusal(None));
        // Within the bound: waited for.
        let p = take(&budget, "projects/p", &mut clock).await;
        assert_eq!(Instant::now() - t0, Duration::from_secs(4));
        // The deadline counts from the first pause met (t0), not from this one: a pause until
        // t0 + 11 s passes it, so the read gives up at once.
        p.refused(t0 + Duration::from_secs(11), refusal(Some(7)));
        match budget.acquire("projects/p", &mut clock).await {
            Err(GcpError::ResourceExhausted {
                message,
                retry_after,
            }) => {
                // Google's words and hint, from the refusal behind the pause.
                assert_eq!(message, "quota exceeded");
                assert_eq!(retry_after, Some(Duration::from_secs(7)));
            }
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("waited past the bound"),
        }
        assert_eq!(Instant::now() - t0, Duration::from_secs(4), "no wait");
        // A read whose clock starts now may wait for it.
        let mut fresh = QuotaClock::new(Duration::from_secs(10));
        drop(take(&budget, "projects/p", &mut fresh).await);
        assert_eq!(Instant::now() - t0, Duration::from_secs(11));
    }

    #[test]
    fn the_quota_clock_is_a_deadline_from_the_first_refusal() {
        let t0 = Instant::now();
        let mut clock = QuotaClock::new(Duration::from_secs(30));
        assert!(clock.allows(t0, t0 + Duration::from_secs(30)));
        let later = t0 + Duration::from_secs(20);
        assert!(clock.allows(later, t0 + Duration::from_secs(30)));
        assert!(!clock.allows(later, t0 + Duration::from_secs(31)));
        let mut none = QuotaClock::new(Duration::ZERO);
        assert!(!none.allows(t0, t0 + Duration::from_millis(1)));
    }
}
