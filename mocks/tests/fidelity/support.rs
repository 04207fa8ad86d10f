//! Shared plumbing for the fidelity tests: starting the mock, the official clients pointed at
//! it, a raw JSON client, and the wire-format checks every answer must pass.

use std::collections::BTreeSet;

use gcp_mock::discovery::{Api, Discovery};
use gcp_mock::{MockConfig, MockServer, Scenario};
use serde_json::{Map, Value};

pub use google_cloud_kms_inventory_v1::client::KeyTrackingService;
pub use google_cloud_kms_v1::client::KeyManagementService;
pub use google_cloud_logging_v2::client::LoggingServiceV2;
pub use google_cloud_resourcemanager_v3::client::Projects;

/// The audit principal the mock records when a request does not name one.
pub const DEFAULT_PRINCIPAL: &str = "mock-operator@example.com";

/// A bundled scenario, which must load.
pub fn bundled(name: &str) -> Scenario {
    match Scenario::bundled(name) {
        Some(Ok(s)) => s,
        Some(Err(e)) => panic!("bundled scenario {name} does not load: {e}"),
        None => panic!("no bundled scenario {name}"),
    }
}

/// A scenario built in the test from JSON, which must load.
pub fn scenario_from(name: &str, world: &Value) -> Scenario {
    let text = serde_json::to_string_pretty(world).unwrap();
    match Scenario::parse(name, &format!("<in-test {name}>"), &text) {
        Ok(s) => s,
        Err(e) => panic!("the mock refused the in-test scenario {name}: {e}"),
    }
}

pub async fn start(scenario: Scenario) -> MockServer {
    MockServer::start(
        scenario,
        MockConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

pub async fn kms(server: &MockServer) -> KeyManagementService {
    KeyManagementService::builder()
        .with_endpoint(server.url())
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap()
}

pub async fn logging(server: &MockServer) -> LoggingServiceV2 {
    LoggingServiceV2::builder()
        .with_endpoint(server.url())
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap()
}

pub async fn inventory(server: &MockServer) -> KeyTrackingService {
    KeyTrackingService::builder()
        .with_endpoint(server.url())
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap()
}

pub async fn projects(server: &MockServer) -> Projects {
    Projects::builder()
        .with_endpoint(server.url())
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap()
}

/// One HTTP answer: status and parsed JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// A minimal JSON-over-HTTP client, to see exactly what the mock puts on the wire.
#[derive(Debug, Clone)]
pub struct Raw {
    http: reqwest::Client,
    base: String,
    user_agent: Option<&'static str>,
}

/// What the raw client says it is (every Google client library sends a User-Agent).
pub const USER_AGENT: &str = "gcp-mock-fidelity/1.0 (raw JSON)";

/// `k=v&...` with form encoding.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Raw {
    pub fn new(server: &MockServer) -> Raw {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Raw {
            http,
            base: server.url(),
            user_agent: Some(USER_AGENT),
        }
    }

    /// A client that sends no User-Agent header at all.
    pub fn without_user_agent(server: &MockServer) -> Raw {
        Raw {
            user_agent: None,
            ..Raw::new(server)
        }
    }

    /// `path` starts with `/`, and may carry a query string.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        principal: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path));
        if let Some(p) = principal {
            req = req.header(gcp_mock::PRINCIPAL_HEADER, p);
        }
        if let Some(ua) = self.user_agent {
            req = req.header("user-agent", ua);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: content-type {content_type:?} is not JSON"
        );
        let bytes = resp.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Answer { status, body }
    }

    /// A POST whose body is sent as is (e.g. malformed JSON).
    pub async fn post_text(&self, path: &str, text: &str) -> Answer {
        let resp = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(text.to_owned())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        Answer { status, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call("POST", path, Some(body), None).await
    }

    /// A 200 answer's body; panics with the body otherwise.
    pub async fn get_ok(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        a.body
    }

    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let a = self.post(path, body).await;
        assert_eq!(a.status, 200, "POST {path} {body}: {}", a.body);
        a.body
    }
}

// ---- wire-format checks ----

/// How the keys of an object are constrained.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// A message: camelCase field names.
    Message,
    /// A map (`labels`, `ErrorInfo.metadata`): any key, values are checked as usual.
    Map,
    /// A `google.protobuf.Struct` (`jsonPayload`): anything goes, `null` included.
    Free,
}

fn is_camel_case(k: &str) -> bool {
    k == "@type"
        || (k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// RFC 3339 in UTC (`Z`), as Google writes timestamps.
pub fn is_rfc3339_utc(s: &str) -> bool {
    s.ends_with('Z') && s.parse::<jiff::Timestamp>().is_ok() && s.as_bytes().get(10) == Some(&b'T')
}

/// Protobuf JSON Duration as Google writes it: seconds with an `s` suffix.
pub fn is_google_duration(s: &str) -> bool {
    let Some(body) = s.strip_suffix('s') else {
        return false;
    };
    let body = body.strip_prefix('-').unwrap_or(body);
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (frac.is_empty() || !body.ends_with('.'))
}

fn is_enum_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

const ENUM_FIELDS: &[&str] = &[
    "state",
    "purpose",
    "protectionLevel",
    "algorithm",
    "severity",
    "permissionType",
    "action",
    "logType",
];

fn walk(v: &Value, path: &str, keys: Keys, out: &mut Vec<String>) {
    match v {
        Value::Null if keys != Keys::Free => {
            out.push(format!("{path}: null (Google omits unset fields)"))
        }
        Value::Array(items) => {
            let inner = if keys == Keys::Free {
                Keys::Free
            } else {
                Keys::Message
            };
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), inner, out);
            }
        }
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{path}.{k}");
                if keys == Keys::Free {
                    walk(child, &p, Keys::Free, out);
                    continue;
                }
                if keys == Keys::Message {
                    if !is_camel_case(k) {
                        out.push(format!("{p}: field name is not lowerCamelCase"));
                    }
                    field_rules(k, child, &p, out);
                }
                let next = match k.as_str() {
                    _ if keys == Keys::Map => Keys::Message,
                    "labels" | "metadata" => Keys::Map,
                    "jsonPayload" => Keys::Free,
                    _ => Keys::Message,
                };
                walk(child, &p, next, out);
            }
        }
        _ => {}
    }
}

/// Rules tied to well-known field names, inside and outside schema-described messages.
fn field_rules(k: &str, v: &Value, p: &str, out: &mut Vec<String>) {
    let is_time = k.ends_with("Time") || k == "time" || k == "timestamp" || k == "receiveTimestamp";
    if is_time {
        match v.as_str() {
            Some(s) if is_rfc3339_utc(s) => {}
            _ => out.push(format!("{p}: {v} is not an RFC 3339 UTC timestamp")),
        }
    }
    if k.ends_with("Duration") || k == "rotationPeriod" {
        match v.as_str() {
            Some(s) if is_google_duration(s) => {}
            _ => out.push(format!("{p}: {v} is not a duration like \"7776000s\"")),
        }
    }
    // proto3 JSON omits a singular field holding its default value.
    if matches!(v, Value::String(s) if s.is_empty())
        || *v == Value::Bool(false)
        || v.as_f64() == Some(0.0)
    {
        out.push(format!("{p}: {v} is a default value, which Google omits"));
    }
    if ENUM_FIELDS.contains(&k) {
        if let Some(s) = v.as_str() {
            if !is_enum_name(s) {
                out.push(format!("{p}: {s:?} is not an enum NAME"));
            }
        } else if v.is_number() {
            out.push(format!(
                "{p}: enum sent as a number ({v}); Google answers with names"
            ));
        }
    }
}

/// Wire-format problems of an answer: `null`s, non-camelCase field names, enums as numbers,
/// timestamps not RFC 3339 UTC, durations not `"Ns"`, fields holding their default value
/// (`""`, `0`, `false`: proto3 JSON omits them).
pub fn wire_problems(v: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    walk(v, path, Keys::Message, &mut out);
    out
}

/// `value` matches `schema` of `api` strictly (discovery document) and passes [`wire_problems`].
/// Everything [`assert_conforms`] objects to.
pub fn conformance_problems(api: Api, schema: &str, value: &Value) -> Vec<String> {
    let doc = Discovery::embedded(api);
    let mut problems: Vec<String> = doc
        .validate_strict(schema, value, "$")
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    problems.extend(wire_problems(value, "$"));
    problems
}

pub fn assert_conforms(api: Api, schema: &str, value: &Value, what: &str) {
    let problems = conformance_problems(api, schema, value);
    assert!(
        problems.is_empty(),
        "{what}: answer does not conform to {schema}:\n  {}\nanswer: {}",
        problems.join("\n  "),
        serde_json::to_string_pretty(value).unwrap()
    );
}

/// Google's error envelope: `{"error": {"code": <HTTP status>, "message", "status": <NAME>,
/// "details": [{"@type": ...}]}}`, nothing else, and `error` minus `status` a valid `Status`.
pub fn assert_error(answer: &Answer, http: u16, status: &str, what: &str) {
    let body = &answer.body;
    assert_eq!(answer.status, http, "{what}: HTTP status ({body})");
    let outer = body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: error body is not an object: {body}"));
    assert_eq!(
        outer.keys().collect::<Vec<_>>(),
        vec!["error"],
        "{what}: envelope keys ({body})"
    );
    let error = outer["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: error is not an object: {body}"));
    let allowed: BTreeSet<&str> = ["code", "message", "status", "details"].into();
    for k in error.keys() {
        assert!(
            allowed.contains(k.as_str()),
            "{what}: unexpected envelope field {k} ({body})"
        );
    }
    assert_eq!(
        error.get("code").and_then(Value::as_u64),
        Some(u64::from(http)),
        "{what}: error.code ({body})"
    );
    assert_eq!(
        error.get("status").and_then(Value::as_str),
        Some(status),
        "{what}: error.status ({body})"
    );
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        !message.is_empty(),
        "{what}: error.message must be a non-empty string ({body})"
    );
    if let Some(details) = error.get("details") {
        let details = details
            .as_array()
            .unwrap_or_else(|| panic!("{what}: details is not an array ({body})"));
        assert!(
            !details.is_empty(),
            "{what}: an empty details array is omitted by Google ({body})"
        );
        for d in details {
            let t = d.get("@type").and_then(Value::as_str).unwrap_or_default();
            assert!(
                t.starts_with("type.googleapis.com/google.rpc."),
                "{what}: detail without a google.rpc @type: {d}"
            );
            if t.ends_with("google.rpc.ErrorInfo") {
                assert!(
                    d.get("reason")
                        .and_then(Value::as_str)
                        .is_some_and(is_enum_name),
                    "{what}: ErrorInfo.reason {d}"
                );
                assert!(
                    d.get("domain")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.contains('.')),
                    "{what}: ErrorInfo.domain {d}"
                );
                for (k, v) in d
                    .get("metadata")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    assert!(
                        v.is_string(),
                        "{what}: ErrorInfo.metadata[{k}] must be a string: {d}"
                    );
                }
            }
        }
    }
    let mut status_msg: Map<String, Value> = error.clone();
    status_msg.remove("status");
    assert_conforms(Api::CloudKms, "Status", &Value::Object(status_msg), what);
}

/// Object equality regardless of key order (serde_json's `preserve_order` makes `==`
/// order-insensitive for maps already; this names the first difference for the message).
pub fn first_difference(expected: &Value, got: &Value, path: &str) -> Option<String> {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, av) in a {
                match b.get(k) {
                    None => return Some(format!("{path}.{k}: missing (expected {av})")),
                    Some(bv) => {
                        if let Some(d) = first_difference(av, bv, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            b.keys()
                .find(|k| !a.contains_key(*k))
                .map(|k| format!("{path}.{k}: added by the mock ({})", b[k]))
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Some(format!(
                    "{path}: {} items expected, {} served",
                    a.len(),
                    b.len()
                ));
            }
            a.iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
        }
        _ => (expected != got).then(|| format!("{path}: expected {expected}, served {got}")),
    }
}

pub fn assert_same_json(expected: &Value, got: &Value, what: &str) {
    if let Some(d) = first_difference(expected, got, "$") {
        panic!(
            "{what}: served JSON differs from the expected body: {d}\nexpected: {}\nserved:   {}",
            serde_json::to_string(expected).unwrap(),
            serde_json::to_string(got).unwrap()
        );
    }
}

// ---- typed-value helpers ----

/// A JSON RFC 3339 string as (seconds, nanos).
pub fn json_time(v: &Value) -> Option<(i64, i32)> {
    let t: jiff::Timestamp = v.as_str()?.parse().ok()?;
    Some((t.as_second(), t.subsec_nanosecond()))
}

pub fn sdk_time(t: Option<&google_cloud_wkt::Timestamp>) -> Option<(i64, i32)> {
    t.map(|t| (t.seconds(), t.nanos()))
}

/// A JSON duration `"Ns"` as (seconds, nanos).
pub fn json_duration(v: &Value) -> Option<(i64, i32)> {
    let d = gcp_mock::wire::parse_duration(v.as_str()?)?;
    Some((d.as_secs(), d.subsec_nanos()))
}

pub fn sdk_duration(d: Option<&google_cloud_wkt::Duration>) -> Option<(i64, i32)> {
    d.map(|d| (d.seconds(), d.nanos()))
}

pub fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or_default()
}
