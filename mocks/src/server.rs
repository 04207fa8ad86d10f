//! The HTTP/1.1 server: routing, latency, faults, quotas and the request ledger.
//!
//! Built on hyper directly (not a framework) because fault injection needs to
//! do what frameworks hide: drop a connection without an answer, or never
//! answer at all.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audit::Caller;
use crate::enums;
use crate::error::{ApiError, Code};
use crate::faults::{ActiveFault, FaultKind, FaultRule};
use crate::routes::{Route, resolve};
use crate::scenario::Scenario;
use crate::state::{ListEntries, State};

/// Header a test may set to say who is calling (the audit log's principal).
pub const PRINCIPAL_HEADER: &str = "x-gcp-mock-principal";
/// Request bodies above this are refused, as Google's front end does.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// A per-project request budget, like Logging's read quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub requests: u32,
    pub per: Duration,
}

impl std::str::FromStr for Quota {
    type Err = String;

    /// `60/min`, `10/s`, `1000/h`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, unit) = s
            .split_once('/')
            .ok_or("expected N/min, N/s or N/h (e.g. 60/min)")?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a whole number"))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "m" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => return Err(format!("unknown unit {other:?}: use s, min or h")),
        };
        if requests == 0 {
            return Err("a quota of 0 would refuse everything".into());
        }
        Ok(Quota { requests, per })
    }
}

/// How the mock behaves, beyond the scenario.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Added before every API answer.
    pub latency: Duration,
    pub faults: Vec<FaultRule>,
    /// `entries.list` calls allowed per project per window.
    pub logging_quota: Option<Quota>,
    /// Who the audit log says made a write, when the request does not say.
    pub default_principal: String,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            latency: Duration::ZERO,
            faults: Vec::new(),
            logging_quota: None,
            default_principal: "mock-operator@example.com".into(),
        }
    }
}

/// One request as the ledger keeps it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerEntry {
    pub seq: u64,
    /// Discovery method id, or `unknown` for paths the mock does not serve.
    pub method_id: String,
    pub http_method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub mutating: bool,
    /// HTTP status answered; 0 when the connection was dropped or never answered.
    pub status: u16,
    /// The fault rule that fired, if any.
    pub fault: Option<String>,
    /// The scheme of the `authorization` header (`Bearer`, ...) when one was sent; the
    /// credentials themselves are never recorded.
    pub authorization: Option<String>,
    /// Microseconds since the server started.
    pub started_us: u64,
    pub finished_us: u64,
    pub principal: String,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    ledger: Mutex<Vec<LedgerEntry>>,
    faults: Mutex<Vec<ActiveFault>>,
    quota_windows: Mutex<HashMap<String, VecDeque<Instant>>>,
    config: MockConfig,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in one handler must not take the whole mock down with poisoned locks.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running mock. Dropping it stops the server.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// What the handler asks hyper to do with the connection.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// Marks a response whose body is to be cut short (the `truncated` fault): the headers announce
/// the whole body, the first half is sent, then the connection is dropped.
#[derive(Debug, Clone)]
struct Truncate;

/// A response body: whole, or cut short by the `truncated` fault.
#[derive(Debug)]
enum MockBody {
    Whole(Full<Bytes>),
    /// The part still to send (then the connection fails), and the announced length.
    Cut(Option<Bytes>, u64),
}

impl MockBody {
    fn from_response(resp: Response<Full<Bytes>>) -> Response<MockBody> {
        if resp.extensions().get::<Truncate>().is_none() {
            return resp.map(MockBody::Whole);
        }
        let (parts, body) = resp.into_parts();
        let whole = body.size_hint().exact().unwrap_or(0);
        let bytes = body.collect_now().unwrap_or_default();
        let half = bytes.slice(..bytes.len() / 2);
        Response::from_parts(parts, MockBody::Cut(Some(half), whole))
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = DropConnection;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, DropConnection>>> {
        match self.get_mut() {
            MockBody::Whole(full) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            MockBody::Cut(part, _) => Poll::Ready(Some(match part.take() {
                Some(bytes) => Ok(Frame::data(bytes)),
                None => Err(DropConnection),
            })),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Whole(full) => full.is_end_stream(),
            MockBody::Cut(..) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Whole(full) => full.size_hint(),
            MockBody::Cut(_, whole) => SizeHint::with_exact(*whole),
        }
    }
}

/// `Full` holds one chunk: take it without polling.
trait CollectNow {
    fn collect_now(self) -> Option<Bytes>;
}

impl CollectNow for Full<Bytes> {
    fn collect_now(self) -> Option<Bytes> {
        let mut body = self;
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().ok(),
            _ => None,
        }
    }
}

impl MockServer {
    /// Binds `addr` (use port 0 for a free port) and serves in the background
    /// on the current Tokio runtime.
    pub async fn start(
        scenario: Scenario,
        config: MockConfig,
        addr: SocketAddr,
    ) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let faults = config
            .faults
            .iter()
            .cloned()
            .map(ActiveFault::new)
            .collect();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(scenario)),
            ledger: Mutex::new(Vec::new()),
            faults: Mutex::new(faults),
            quota_windows: Mutex::new(HashMap::new()),
            config,
            started: Instant::now(),
        });
        let (stop, mut stopped) = watch::channel(false);
        let server_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let shared = Arc::clone(&server_shared);
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let shared = Arc::clone(&shared);
                                async move {
                                    handle(shared, peer, req)
                                        .await
                                        .map(MockBody::from_response)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    _ = stopped.changed() => break,
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            connections.abort_all();
        });
        Ok(MockServer {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to point clients at, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every API request so far, in arrival order.
    pub fn requests(&self) -> Vec<LedgerEntry> {
        lock(&self.shared.ledger).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.ledger).clear();
    }

    /// The current world in scenario form.
    pub fn state(&self) -> Value {
        lock(&self.shared.state).dump()
    }

    /// Direct access to the world, e.g. to add a large log volume for a benchmark.
    pub fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.shared.state))
    }

    pub fn add_fault(&self, rule: FaultRule) {
        lock(&self.shared.faults).push(ActiveFault::new(rule));
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Stops accepting and drops open connections.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn micros_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn json_response(status: u16, body: &Value, retry_after: Option<u64>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json; charset=UTF-8")
        .header("vary", "Origin, X-Origin, Referer")
        .header("server", "ESF");
    if let Some(s) = retry_after {
        builder = builder.header("retry-after", s.to_string());
    }
    let text = serde_json::to_vec(body).unwrap_or_default();
    builder
        .body(Full::new(Bytes::from(text)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn error_response(err: &ApiError) -> Response<Full<Bytes>> {
    json_response(err.code.http_status(), &err.body(), err.retry_after)
}

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    let path = percent_encoding::percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let caller = Caller {
        principal: header(PRINCIPAL_HEADER)
            .unwrap_or_else(|| shared.config.default_principal.clone()),
        ip: peer.ip().to_string(),
        user_agent: header("user-agent").unwrap_or_default(),
    };
    let authorization = header("authorization").map(|v| {
        v.split_whitespace()
            .next()
            .unwrap_or_default()
            .chars()
            .take(16)
            .collect::<String>()
    });
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(error_response(&ApiError::invalid(
                "Request payload is too large or was interrupted.",
            )));
        }
    };

    if let Some(control) = path.strip_prefix("/__mock/") {
        return Ok(control_endpoint(&shared, &method, control));
    }

    let started_us = micros_since(shared.started);
    let route = resolve(&method, &path);
    let mut parsed_body = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(&body).ok()
    };
    let mut entry = LedgerEntry {
        seq: 0,
        method_id: route.as_ref().map_or("unknown", |r| r.id).to_owned(),
        http_method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: parsed_body.clone(),
        mutating: route.as_ref().is_some_and(|r| r.mutating),
        status: 0,
        fault: None,
        authorization,
        started_us,
        finished_us: 0,
        principal: caller.principal.clone(),
    };
    let seq = {
        let mut ledger = lock(&shared.ledger);
        entry.seq = ledger.len() as u64 + 1;
        ledger.push(entry.clone());
        entry.seq
    };
    let finish = |status: u16, fault: Option<String>| {
        let mut ledger = lock(&shared.ledger);
        if let Some(e) = ledger.iter_mut().rev().find(|e| e.seq == seq) {
            e.status = status;
            e.fault = fault;
            e.finished_us = micros_since(shared.started);
        }
    };

    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }

    let Some(route) = route else {
        let err = ApiError::new(
            Code::NotFound,
            format!("The requested URL {raw_path} ({method}) was not found on this server."),
        );
        finish(404, None);
        return Ok(error_response(&err));
    };

    let fired = {
        let mut faults = lock(&shared.faults);
        faults
            .iter_mut()
            .filter(|f| f.rule.applies_to(route.id))
            .find_map(|f| f.fire().then(|| f.rule.clone()))
    };
    let mut truncate = false;
    let mut hang_after = false;
    if let Some(rule) = fired {
        let label = Some(rule.to_string());
        // Recorded at once: a client that gives up on a `delay` or `hang` drops the connection,
        // and this handler with it, before `finish` runs.
        if let Some(e) = lock(&shared.ledger).iter_mut().rev().find(|e| e.seq == seq) {
            e.fault.clone_from(&label);
        }
        match rule.kind {
            FaultKind::Status {
                status,
                retry_after,
            } => {
                let code = Code::from_http_status(status).unwrap_or(Code::Internal);
                let mut err = if code == Code::PermissionDenied {
                    let domain = route.id.split('.').next().unwrap_or("googleapis.com");
                    let resource = if route.name.is_empty() {
                        "projects/_".to_owned()
                    } else {
                        route.name.clone()
                    };
                    ApiError::permission_denied(
                        &format!("{domain}.googleapis.com"),
                        route.permission,
                        &resource,
                    )
                } else {
                    ApiError::new(code, injected_message(code))
                };
                err.retry_after = retry_after;
                finish(status, label);
                return Ok(error_response(&err));
            }
            FaultKind::Hang => {
                finish(0, label);
                // Never answer; the client's attempt timeout is what ends this.
                std::future::pending::<()>().await;
                return Err(DropConnection);
            }
            FaultKind::Delay { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                entry.fault = label;
            }
            FaultKind::Reset => {
                finish(0, label);
                return Err(DropConnection);
            }
            FaultKind::Malformed => {
                finish(200, label);
                let mut resp = json_response(200, &json!({}), None);
                *resp.body_mut() = Full::new(Bytes::from_static(b"{\"name\": \"projects/"));
                return Ok(resp);
            }
            FaultKind::Truncated => {
                // The request runs (a write lands); only its answer is cut.
                entry.fault = label;
                truncate = true;
            }
            FaultKind::HangAfterApply => {
                entry.fault = label;
                hang_after = true;
            }
        }
    }

    if route.id == "logging.entries.list"
        && let Some(err) = check_quota(&shared, parsed_body.as_ref())
    {
        finish(429, None);
        return Ok(error_response(&err));
    }

    if !body.is_empty() && parsed_body.is_none() {
        let err = ApiError::invalid("Invalid JSON payload received. Unexpected token.");
        finish(400, entry.fault.clone());
        return Ok(error_response(&err));
    }
    if let Some(b) = parsed_body.as_mut()
        && let Err(path) = enums::normalize(b, "")
    {
        let err = ApiError::invalid(format!(
            "Invalid value at '{path}': not a value of its enum."
        ));
        finish(400, entry.fault.clone());
        return Ok(error_response(&err));
    }
    let body = parsed_body.unwrap_or_else(|| json!({}));
    let now = Timestamp::now();
    let result = {
        let mut state = lock(&shared.state);
        state.advance_to(now);
        dispatch(&mut state, &route, &query, &body, &caller, now)
    };
    let mut resp = match result {
        Ok(v) => {
            finish(200, entry.fault.clone());
            json_response(200, &v, None)
        }
        Err(e) => {
            finish(e.code.http_status(), entry.fault.clone());
            error_response(&e)
        }
    };
    if truncate {
        resp.extensions_mut().insert(Truncate);
    }
    if hang_after {
        // The write landed; the answer never comes (the client's timeout, or its death, ends it).
        std::future::pending::<()>().await;
    }
    Ok(resp)
}

fn injected_message(code: Code) -> &'static str {
    match code {
        Code::Unavailable => "The service is currently unavailable.",
        Code::ResourceExhausted => "Quota exceeded.",
        Code::DeadlineExceeded => "Deadline exceeded.",
        Code::Internal => "Internal error encountered.",
        Code::NotFound => "Requested entity was not found.",
        Code::Aborted => "The operation was aborted.",
        Code::Unauthenticated => "Request had invalid authentication credentials.",
        _ => "Injected fault.",
    }
}

/// Logging's read quota: per project, a sliding window.
fn check_quota(shared: &Shared, body: Option<&Value>) -> Option<ApiError> {
    let quota = shared.config.logging_quota?;
    let project = body
        .and_then(|b| b.get("resourceNames"))
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(Value::as_str)
        .unwrap_or("projects/_")
        .to_owned();
    let now = Instant::now();
    let mut windows = lock(&shared.quota_windows);
    let window = windows.entry(project.clone()).or_default();
    while window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= quota.per)
    {
        window.pop_front();
    }
    if window.len() >= quota.requests as usize {
        let err = ApiError::new(
            Code::ResourceExhausted,
            format!(
                "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'logging.googleapis.com' for consumer '{project}'."
            ),
        )
        .with_error_info(
            "RATE_LIMIT_EXCEEDED",
            "googleapis.com",
            json!({"service": "logging.googleapis.com", "consumer": project, "quota_metric": "logging.googleapis.com/read_requests", "quota_limit": "ReadRequestsPerMinutePerProject", "quota_limit_value": quota.requests.to_string()}),
        );
        return Some(err);
    }
    window.push_back(now);
    None
}

fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `pageSize`: 0 or absent means the service default; above the maximum is coerced
/// (KMS, Inventory) — Logging refuses it instead, see `list_entries`.
fn page_size(query: &[(String, String)], default: usize, max: usize) -> Result<usize, ApiError> {
    match query_value(query, "pageSize") {
        None | Some("") | Some("0") => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(max).min(max)),
            _ => Err(ApiError::invalid(format!("Invalid page_size: {v}"))),
        },
    }
}

fn dispatch(
    state: &mut State,
    route: &Route,
    query: &[(String, String)],
    body: &Value,
    caller: &Caller,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let name = route.name.as_str();
    let token = query_value(query, "pageToken").unwrap_or_default();
    let method = route.id.rsplit('.').next().unwrap_or_default();
    let kind = route.id.rsplit_once('.').map(|x| x.0).unwrap_or_default();
    let requested_version = |q: &[(String, String)]| -> i64 {
        query_value(q, "options.requestedPolicyVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    match (kind, method) {
        ("logging.entries", "list") => list_entries(state, body),
        ("cloudresourcemanager.folders", "get") => state.get_folder(name),
        ("cloudresourcemanager.projects", "get") => {
            state.get_project(name.trim_start_matches("projects/"))
        }
        (
            "cloudresourcemanager.projects"
            | "cloudresourcemanager.folders"
            | "cloudresourcemanager.organizations",
            "getIamPolicy",
        ) => state.get_rm_policy(name),
        (_, "search") => {
            let types: Vec<String> = query
                .iter()
                .filter(|(k, _)| k == "resourceTypes")
                .map(|(_, v)| v.clone())
                .collect();
            let size = page_size(query, 500, 500)?;
            state.search_protected(
                name,
                query_value(query, "cryptoKey").unwrap_or_default(),
                &types,
                size,
                token,
            )
        }
        ("cloudkms.projects.locations", "list") => {
            Ok(json!({"locations": state.list_locations(name.trim_start_matches("projects/"))}))
        }
        ("cloudkms.projects.locations", "get") => {
            let project = name.split('/').nth(1).unwrap_or_default();
            state
                .list_locations(project)
                .into_iter()
                .find(|l| l.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| ApiError::not_found("Location", name))
        }
        ("cloudkms.projects.locations.keyRings", "list") => {
            state.list_key_rings(name, page_size(query, 1000, 1000)?, token)
        }
        ("cloudkms.projects.locations.keyRings", "get") => state.get_key_ring(name),
        ("cloudkms.projects.locations.keyRings.cryptoKeys", "list") => {
            state.list_crypto_keys(name, page_size(query, 1000, 1000)?, token)
        }
        ("cloudkms.projects.locations.keyRings.cryptoKeys", "get") => state.get_crypto_key(name),
        ("cloudkms.projects.locations.keyRings.cryptoKeys", "patch") => state.patch_crypto_key(
            name,
            body,
            query_value(query, "updateMask").unwrap_or_default(),
            caller,
            now,
        ),
        ("cloudkms.projects.locations.keyRings.cryptoKeys", "updatePrimaryVersion") => {
            let id = body
                .get("cryptoKeyVersionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            state.update_primary(name, id, caller, now)
        }
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "list") => state
            .list_versions(
                name,
                page_size(query, 1000, 1000)?,
                token,
                query_value(query, "filter").unwrap_or_default(),
                query_value(query, "orderBy").unwrap_or_default(),
            ),
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "create") => {
            state.create_version(name, body, caller, now)
        }
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "get") => {
            state.get_version(name)
        }
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "patch") => state
            .patch_version(
                name,
                body,
                query_value(query, "updateMask").unwrap_or_default(),
                caller,
                now,
            ),
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "destroy") => {
            state.destroy_version(name, caller, now)
        }
        ("cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions", "restore") => {
            state.restore_version(name, caller, now)
        }
        (_, "getIamPolicy") => state.get_policy(name, requested_version(query)),
        (_, "setIamPolicy") => state.set_policy(name, body, caller, now),
        (_, "testIamPermissions") => state.test_permissions(name, body),
        _ => Err(ApiError::new(
            Code::Unimplemented,
            format!("{} is not implemented by the mock.", route.id),
        )),
    }
}

fn list_entries(state: &State, body: &Value) -> Result<Value, ApiError> {
    let resource_names: Vec<String> = body
        .get("resourceNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if resource_names.is_empty() {
        return Err(ApiError::invalid(
            "resource_names must contain at least one resource.",
        ));
    }
    for r in &resource_names {
        if !valid_log_parent(r) {
            return Err(ApiError::invalid(format!("Invalid resource name: \"{r}\"")));
        }
    }
    let filter = body
        .get("filter")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if filter.chars().count() > 20_000 {
        return Err(ApiError::invalid(
            "The filter is longer than 20000 characters.",
        ));
    }
    let descending = match body
        .get("orderBy")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
    {
        "" | "timestamp" | "timestamp asc" => false,
        "timestamp desc" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "Invalid order_by: \"{other}\". Only \"timestamp asc\" and \"timestamp desc\" are supported."
            )));
        }
    };
    let page_size = match body.get("pageSize") {
        None => 50,
        Some(v) => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(0) => 50,
            Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(50),
            _ => {
                return Err(ApiError::invalid(format!(
                    "Invalid page_size: {v}. It must be between 0 and 1000."
                )));
            }
        },
    };
    let token = body
        .get("pageToken")
        .and_then(Value::as_str)
        .unwrap_or_default();
    state.list_entries(&ListEntries {
        resource_names: &resource_names,
        filter,
        descending,
        page_size,
        page_token: token,
    })
}

/// `projects/P`, `organizations/O`, `folders/F`, `billingAccounts/B`, or a log view.
fn valid_log_parent(r: &str) -> bool {
    let segs: Vec<&str> = r.split('/').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match segs.as_slice() {
        [kind, id] => {
            matches!(
                *kind,
                "projects" | "organizations" | "folders" | "billingAccounts"
            ) && word(id)
        }
        [kind, id, "locations", l, "buckets", b, "views", v] => {
            matches!(
                *kind,
                "projects" | "organizations" | "folders" | "billingAccounts"
            ) && [id, l, b, v].iter().all(|s| word(s))
        }
        _ => false,
    }
}

fn control_endpoint(shared: &Shared, method: &str, what: &str) -> Response<Full<Bytes>> {
    match (method, what) {
        ("GET", "requests") => {
            json_response(200, &json!({ "requests": *lock(&shared.ledger) }), None)
        }
        ("DELETE", "requests") => {
            lock(&shared.ledger).clear();
            json_response(200, &json!({}), None)
        }
        ("GET", "state") => json_response(200, &lock(&shared.state).dump(), None),
        ("GET", "faults") => {
            let rules: Vec<String> = lock(&shared.faults)
                .iter()
                .map(|f| f.rule.to_string())
                .collect();
            json_response(200, &json!({ "faults": rules }), None)
        }
        _ => error_response(&ApiError::new(
            Code::NotFound,
            "Mock control endpoints: GET /__mock/requests, DELETE /__mock/requests, GET /__mock/state, GET /__mock/faults.",
        )),
    }
}
