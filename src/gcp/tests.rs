//! Tests of the API layer against a tiny recording HTTP server on 127.0.0.1 that answers with
//! Google's real recorded bodies (shared/realdata), so what is checked is what the official
//! clients actually send and how they react, not what we think they do.
#![expect(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::config::{ResolvedEndpoints, parse_endpoint};
use super::error::permission_from_message;
use super::*;

// ---------------------------------------------------------------------------------------------
// Real data

fn realdata_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/realdata")
        .join(rel)
}

fn realdata(rel: &str) -> Value {
    let path = realdata_path(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The `.body` of a Cloud Custodian flight recording.
fn recorded_body(rel: &str) -> Value {
    realdata(&format!("kms-api-responses/cloud-custodian/{rel}"))["body"].clone()
}

const KEY: &str = "projects/cloud-custodian/locations/us-central1/keyRings/cloud-custodian/cryptoKeys/cloud-custodian";
const KEY_GET: &str = "kms-cryptokey-get/get-v1-projects-cloud-custodian-locations-us-central1-keyRings-cloud-custodian-cryptoKeys-cloud-custodian_1.json";
const KEY_RING_GET: &str = "kms-cryptokey-get/get-v1-projects-cloud-custodian-locations-us-central1-keyRings-cloud-custodian_1.json";
const VERSIONS_LIST: &str = "kms-cryptokey-version-query/get-v1-projects-cloud-custodian-locations-us-central1-keyRings-cloud-custodian-cryptoKeys-cloud-custodian-cryptoKeyVersions_1.json";
const KEY_IAM: &str = "kms-cryptokey-iam-policy/get-v1-projects-cloud-custodian-locations-global-keyRings-cloud-custodian-test-cryptoKeys-test1-getIamPolicy_1.json";
const IAM_KEY: &str =
    "projects/custodian/locations/global/keyRings/cloud-custodian-test/cryptoKeys/test1";

// ---------------------------------------------------------------------------------------------
// A recording HTTP/1.1 server

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Recorded {
    fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
    delay: Duration,
}

fn ok(body: Value) -> Canned {
    status(200, body)
}

fn status(code: u16, body: Value) -> Canned {
    raw(code, &body.to_string())
}

fn raw(code: u16, body: &str) -> Canned {
    Canned {
        status: code,
        body: body.to_string(),
        headers: Vec::new(),
        delay: Duration::ZERO,
    }
}

fn google_error(code: u16, status_name: &str, message: &str) -> Canned {
    status(
        code,
        json!({"error": {"code": code, "message": message, "status": status_name}}),
    )
}

type Handler = Arc<dyn Fn(&Recorded, usize) -> Canned + Send + Sync>;

struct TestServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server; `handler` gets each request and its 0-based index.
    async fn start(handler: impl Fn(&Recorded, usize) -> Canned + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream, handler, recorded).await;
                });
            }
        });
        TestServer {
            url,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    handler: Handler,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    // One request per connection: answering with `connection: close` keeps the parser trivial.
    let mut buf = Vec::new();
    let header_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default().to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    let request = Recorded {
        method,
        path,
        query,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    };
    let index = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    let canned = handler(&request, index);
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut response = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json; charset=UTF-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        canned.status,
        canned.body.len()
    );
    for (k, v) in &canned.headers {
        response.push_str(&format!("{k}: {v}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&canned.body);
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn fast_retry() -> RetryConfig {
    RetryConfig {
        attempt_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(2),
        max_attempts: 100,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
    }
}

fn config_for(url: &str, retry: RetryConfig) -> GcpConfig {
    GcpConfig {
        endpoints: Endpoints {
            all: Some(url.to_string()),
            ..Endpoints::default()
        },
        retry,
        ..GcpConfig::default()
    }
}

async fn connect(server: &TestServer) -> Gcp {
    Gcp::connect(&config_for(&server.url, fast_retry()))
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Requests the SDK sends, and conversion of real answers

#[tokio::test]
async fn get_crypto_key_sends_get_without_credentials_and_converts_real_answer() {
    let server = TestServer::start(|_, _| ok(recorded_body(KEY_GET))).await;
    let gcp = connect(&server).await;
    assert!(gcp.is_anonymous());

    let key = gcp.get_crypto_key(KEY).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, format!("/v1/{KEY}"));
    assert_eq!(r.query_value("$alt"), Some("json;enum-encoding=int"));
    assert!(
        !r.headers.contains_key("authorization"),
        "a token was sent to a loopback endpoint: {:?}",
        r.headers.keys()
    );

    assert_eq!(key.name, KEY);
    assert_eq!(key.purpose, "ENCRYPT_DECRYPT");
    assert_eq!(key.protection_level, "SOFTWARE");
    assert_eq!(key.algorithm, "GOOGLE_SYMMETRIC_ENCRYPTION");
    assert_eq!(
        key.create_time,
        Some("2019-04-22T14:38:20.559717266Z".parse().unwrap())
    );
    assert_eq!(key.rotation_period, None);
    assert!(!key.import_only);
    assert!(key.labels.is_empty());
    assert_eq!(key.crypto_key_backend, None);
    let primary = key.primary.unwrap();
    assert_eq!(primary.id, "1");
    assert_eq!(primary.state, "ENABLED");
    assert_eq!(primary.name, format!("{KEY}/cryptoKeyVersions/1"));
    assert_eq!(
        primary.generate_time,
        Some("2019-04-22T14:38:20.559717266Z".parse().unwrap())
    );
    assert_eq!(primary.destroy_time, None);
    assert_eq!(primary.import_job, None);
}

#[tokio::test]
async fn get_key_ring_converts_real_answer() {
    let server = TestServer::start(|_, _| ok(recorded_body(KEY_RING_GET))).await;
    let gcp = connect(&server).await;
    let ring = "projects/cloud-custodian/locations/us-central1/keyRings/cloud-custodian";
    let kr = gcp.get_key_ring(ring).await.unwrap();
    assert_eq!(kr.name, ring);
    assert_eq!(
        kr.create_time,
        Some("2019-04-22T14:33:47.954967760Z".parse().unwrap())
    );
    assert_eq!(server.requests()[0].path, format!("/v1/{ring}"));
}

#[tokio::test]
async fn list_crypto_keys_converts_rotation_and_labels() {
    let body = recorded_body(
        "kms-cryptokey-iam-policy/get-v1-projects-cloud-custodian-locations-global-keyRings-cloud-custodian-test-cryptoKeys_1.json",
    );
    let server = TestServer::start(move |_, _| ok(body.clone())).await;
    let gcp = connect(&server).await;
    let keys = gcp
        .list_crypto_keys("projects/custodian/locations/global/keyRings/cloud-custodian-test")
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        keys[0].rotation_period,
        Some(Duration::from_secs(8_467_200))
    );
    assert_eq!(
        keys[0].next_rotation_time,
        Some("2021-09-18T07:00:00.100909Z".parse().unwrap())
    );
    assert_eq!(keys[0].primary.as_ref().unwrap().id, "2");

    let body = recorded_body(
        "kms-cryptokey-label/get-v1-projects-cloud-custodian-locations-us-central1-keyRings-c7n-dataproc-kr-8f5962e0-cryptoKeys_1.json",
    );
    let server = TestServer::start(move |_, _| ok(body.clone())).await;
    let gcp = connect(&server).await;
    let keys = gcp
        .list_crypto_keys(
            "projects/cloud-custodian/locations/us-central1/keyRings/c7n-dataproc-kr-8f5962e0",
        )
        .await
        .unwrap();
    assert_eq!(keys[0].labels["goog-terraform-provisioned"], "true");
    assert_eq!(
        keys[0].destroy_scheduled_duration,
        Some(Duration::from_secs(2_592_000))
    );
    let primary = keys[0].primary.as_ref().unwrap();
    assert_eq!(primary.state, "DESTROY_SCHEDULED");
    assert_eq!(
        primary.destroy_time,
        Some("2026-03-07T16:12:24.628334Z".parse().unwrap())
    );
}

#[tokio::test]
async fn list_crypto_key_versions_follows_page_token() {
    let server = TestServer::start(|r, _| {
        if r.query_value("pageToken").unwrap_or_default().is_empty() {
            let mut page = recorded_body(VERSIONS_LIST);
            page["nextPageToken"] = json!("page-2");
            ok(page)
        } else {
            ok(json!({"cryptoKeyVersions": [{
                "name": format!("{KEY}/cryptoKeyVersions/2"),
                "state": "DISABLED",
                "protectionLevel": "HSM",
                "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
                "createTime": "2024-01-02T03:04:05Z"
            }]}))
        }
    })
    .await;
    let gcp = connect(&server).await;
    let versions = gcp.list_crypto_key_versions(KEY).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, format!("/v1/{KEY}/cryptoKeyVersions"));
    }
    assert_eq!(requests[0].query_value("pageToken"), Some(""));
    assert_eq!(requests[1].query_value("pageToken"), Some("page-2"));
    let ids: Vec<_> = versions
        .iter()
        .map(|v| (v.id.as_str(), v.state.as_str()))
        .collect();
    assert_eq!(ids, [("1", "ENABLED"), ("2", "DISABLED")]);
    assert_eq!(versions[1].protection_level, "HSM");
}

#[tokio::test]
async fn a_repeated_page_token_is_malformed_not_an_endless_loop() {
    let server =
        TestServer::start(|_, _| ok(json!({"cryptoKeyVersions": [], "nextPageToken": "same"})))
            .await;
    let gcp = connect(&server).await;
    let err = gcp.list_crypto_key_versions(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Malformed(_)), "{err:?}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn iam_policy_read_and_conditional_write_round_trip_the_etag() {
    let server = TestServer::start(|r, _| {
        if r.path.ends_with(":getIamPolicy") {
            ok(recorded_body(KEY_IAM))
        } else {
            let mut policy = r.json()["policy"].clone();
            policy["etag"] = json!("BwXE/gnR8t8=");
            ok(policy)
        }
    })
    .await;
    let gcp = connect(&server).await;

    let policy = gcp.get_iam_policy(IAM_KEY).await.unwrap();
    assert_eq!(policy.version, 1);
    assert_eq!(policy.etag, "BwXE/gnR8t4=");
    assert_eq!(policy.bindings.len(), 2);
    assert_eq!(policy.bindings[1].role, "roles/cloudkms.admin");
    assert_eq!(policy.bindings[1].members, ["allUsers"]);

    let mut changed = policy.clone();
    changed
        .bindings
        .retain(|b| b.role != "roles/cloudkms.admin");
    changed.bindings.push(Binding {
        role: "roles/cloudkms.viewer".to_string(),
        members: vec!["group:sec@example.com".to_string()],
        condition: Some(Condition {
            title: "until".to_string(),
            description: "temporary".to_string(),
            expression: "request.time < timestamp('2030-01-01T00:00:00Z')".to_string(),
        }),
    });
    let written = gcp.set_iam_policy(IAM_KEY, &changed).await.unwrap();

    let requests = server.requests();
    let get = &requests[0];
    assert_eq!(get.method, "GET");
    assert_eq!(get.path, format!("/v1/{IAM_KEY}:getIamPolicy"));
    assert_eq!(get.query_value("options.requestedPolicyVersion"), Some("3"));
    let set = &requests[1];
    assert_eq!(set.method, "POST");
    assert_eq!(set.path, format!("/v1/{IAM_KEY}:setIamPolicy"));
    let body = set.json();
    assert_eq!(body["updateMask"], "bindings");
    assert_eq!(
        body["policy"]["etag"], "BwXE/gnR8t4=",
        "etag must go back unchanged"
    );
    assert_eq!(
        body["policy"]["version"], 3,
        "conditions need a version 3 policy"
    );
    assert_eq!(
        body["policy"]["bindings"][1]["condition"]["expression"],
        "request.time < timestamp('2030-01-01T00:00:00Z')"
    );

    assert_eq!(written.etag, "BwXE/gnR8t8=");
    assert_eq!(written.bindings, changed.bindings);
}

#[tokio::test]
async fn stale_etag_maps_to_aborted_and_is_not_replayed() {
    let server = TestServer::start(|_, _| {
        google_error(
            409,
            "ABORTED",
            "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
        )
    })
    .await;
    let gcp = connect(&server).await;
    let policy = IamPolicy {
        version: 1,
        etag: "BwXE/gnR8t4=".to_string(),
        bindings: vec![],
        audit_configs: vec![],
    };
    let err = gcp.set_iam_policy(IAM_KEY, &policy).await.unwrap_err();
    assert!(matches!(err, GcpError::Aborted(_)), "{err:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn version_state_update_is_a_patch_with_state_mask() {
    let server = TestServer::start(|r, _| {
        let mut v = r.json();
        v["state"] = json!("DISABLED");
        ok(v)
    })
    .await;
    let gcp = connect(&server).await;
    let name = format!("{KEY}/cryptoKeyVersions/1");
    let v = gcp
        .update_crypto_key_version_state(&name, VersionState::Disabled)
        .await
        .unwrap();
    assert_eq!(v.state, "DISABLED");
    let r = &server.requests()[0];
    assert_eq!(r.method, "PATCH");
    assert_eq!(r.path, format!("/v1/{name}"));
    assert_eq!(r.query_value("updateMask"), Some("state"));
    assert_eq!(r.json(), json!({"name": name, "state": 2}));
}

#[tokio::test]
async fn version_state_update_is_retried_on_503() {
    let server = TestServer::start(|r, i| {
        if i == 0 {
            google_error(503, "UNAVAILABLE", "try again")
        } else {
            ok(r.json())
        }
    })
    .await;
    let gcp = connect(&server).await;
    let name = format!("{KEY}/cryptoKeyVersions/1");
    gcp.update_crypto_key_version_state(&name, VersionState::Enabled)
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn create_version_is_not_replayed_after_a_503() {
    let server = TestServer::start(|_, _| google_error(503, "UNAVAILABLE", "backend down")).await;
    let gcp = connect(&server).await;
    let err = gcp.create_crypto_key_version(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Unavailable(_)), "{err:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "a replay could create a second version");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/v1/{KEY}/cryptoKeyVersions"));
}

#[tokio::test]
async fn primary_rotation_destroy_restore_requests() {
    let server = TestServer::start(|r, _| {
        if r.path.ends_with(":updatePrimaryVersion") || r.method == "PATCH" {
            let mut k = recorded_body(KEY_GET);
            k["rotationPeriod"] = json!("86400s");
            ok(k)
        } else {
            ok(json!({
                "name": format!("{KEY}/cryptoKeyVersions/1"),
                "state": if r.path.ends_with(":destroy") { "DESTROY_SCHEDULED" } else { "DISABLED" },
                "destroyTime": "2030-01-01T00:00:00Z"
            }))
        }
    })
    .await;
    let gcp = connect(&server).await;
    let k = gcp.update_primary_version(KEY, "1").await.unwrap();
    assert_eq!(k.rotation_period, Some(Duration::from_secs(86_400)));
    let next: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    gcp.update_crypto_key_rotation(KEY, Some(Duration::from_secs(86_400)), Some(next))
        .await
        .unwrap();
    gcp.update_crypto_key_rotation(KEY, None, None)
        .await
        .unwrap();
    let version = format!("{KEY}/cryptoKeyVersions/1");
    let d = gcp.destroy_crypto_key_version(&version).await.unwrap();
    assert_eq!(d.state, "DESTROY_SCHEDULED");
    assert!(d.destroy_time.is_some());
    let r = gcp.restore_crypto_key_version(&version).await.unwrap();
    assert_eq!(r.state, "DISABLED");

    let requests = server.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, format!("/v1/{KEY}:updatePrimaryVersion"));
    assert_eq!(requests[0].json(), json!({"cryptoKeyVersionId": "1"}));

    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(requests[1].path, format!("/v1/{KEY}"));
    assert_eq!(
        requests[1].query_value("updateMask"),
        Some("rotationPeriod,nextRotationTime")
    );
    assert_eq!(
        requests[1].json(),
        json!({"name": KEY, "rotationPeriod": "86400s", "nextRotationTime": "2030-01-01T00:00:00Z"})
    );
    assert_eq!(
        requests[2].json(),
        json!({"name": KEY}),
        "None clears the schedule"
    );

    assert_eq!(requests[3].path, format!("/v1/{version}:destroy"));
    assert_eq!(requests[4].path, format!("/v1/{version}:restore"));
}

#[tokio::test]
async fn test_iam_permissions_is_a_retried_post() {
    let server = TestServer::start(|r, i| {
        if i == 0 {
            google_error(503, "UNAVAILABLE", "try again")
        } else {
            ok(json!({"permissions": [r.json()["permissions"][0].clone()]}))
        }
    })
    .await;
    let gcp = connect(&server).await;
    let held = gcp
        .test_iam_permissions(
            KEY,
            &[
                "cloudkms.cryptoKeyVersions.destroy".to_string(),
                "cloudkms.cryptoKeys.setIamPolicy".to_string(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(held, ["cloudkms.cryptoKeyVersions.destroy"]);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, format!("/v1/{KEY}:testIamPermissions"));
}

#[tokio::test]
async fn resource_manager_project_and_policies() {
    let server = TestServer::start(|r, _| {
        if r.path.ends_with(":getIamPolicy") {
            ok(json!({
                "version": 3,
                "etag": "BwYAAAAAAAA=",
                "bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}],
                "auditConfigs": [{
                    "service": "cloudkms.googleapis.com",
                    "auditLogConfigs": [
                        {"logType": "DATA_READ", "exemptedMembers": ["serviceAccount:ci@p.iam.gserviceaccount.com"]},
                        {"logType": "DATA_WRITE"}
                    ]
                }]
            }))
        } else {
            ok(json!({
                "name": "projects/123456789",
                "parent": "folders/42",
                "projectId": "my-project",
                "state": "ACTIVE",
                "displayName": "My Project",
                "createTime": "2020-01-01T00:00:00Z",
                "etag": "W/\"abc\""
            }))
        }
    })
    .await;
    let gcp = connect(&server).await;
    let p = gcp.get_project("my-project").await.unwrap();
    assert_eq!(
        p,
        Project {
            name: "projects/123456789".to_string(),
            project_id: "my-project".to_string(),
            parent: Some("folders/42".to_string()),
            display_name: "My Project".to_string(),
            state: "ACTIVE".to_string(),
        }
    );
    let pp = gcp
        .get_project_iam_policy("projects/my-project")
        .await
        .unwrap();
    assert_eq!(pp.audit_configs[0].service, "cloudkms.googleapis.com");
    assert_eq!(pp.audit_configs[0].log_configs[0].log_type, "DATA_READ");
    assert_eq!(
        pp.audit_configs[0].log_configs[0].exempted_members,
        ["serviceAccount:ci@p.iam.gserviceaccount.com"]
    );
    assert_eq!(pp.audit_configs[0].log_configs[1].log_type, "DATA_WRITE");
    gcp.get_folder_iam_policy("42").await.unwrap();
    gcp.get_organization_iam_policy("organizations/7")
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/v3/projects/my-project");
    for (r, path) in requests[1..].iter().zip([
        "/v3/projects/my-project:getIamPolicy",
        "/v3/folders/42:getIamPolicy",
        "/v3/organizations/7:getIamPolicy",
    ]) {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, path);
        assert_eq!(r.json(), json!({"options": {"requestedPolicyVersion": 3}}));
    }
}

#[tokio::test]
async fn protected_resources_search_stops_at_max_items() {
    let key = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
    let server = TestServer::start(move |r, _| {
        let token = r.query_value("pageToken").unwrap_or_default().to_string();
        let first = if token.is_empty() { 0 } else { 2 };
        let items: Vec<Value> = [first, first + 1]
            .iter()
            .map(|i| {
                json!({
                    "name": format!("//storage.googleapis.com/projects/_/buckets/b{i}"),
                    "project": "projects/123",
                    "projectId": "p",
                    "cloudProduct": "storage",
                    "resourceType": "storage.googleapis.com/Bucket",
                    "location": "us",
                    "labels": {"env": "prod"},
                    "cryptoKeyVersion": format!("{key}/cryptoKeyVersions/1"),
                    "cryptoKeyVersions": [format!("{key}/cryptoKeyVersions/1")],
                    "createTime": "2023-05-06T07:08:09Z"
                })
            })
            .collect();
        ok(json!({
            "protectedResources": items,
            "nextPageToken": if token.is_empty() { "p2" } else { "" }
        }))
    })
    .await;
    let gcp = connect(&server).await;

    let (all, truncated) = gcp
        .search_protected_resources("organizations/7", key, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert!(!truncated);
    assert_eq!(all[3].cloud_product, "storage");
    assert_eq!(all[3].labels["env"], "prod");
    assert_eq!(
        all[3].crypto_key_version.as_deref(),
        Some("projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1")
    );

    let (some, truncated) = gcp
        .search_protected_resources("projects/p", key, 3)
        .await
        .unwrap();
    assert_eq!(some.len(), 3);
    assert!(truncated);

    let requests = server.requests();
    let r = &requests[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/v1/organizations/7/protectedResources:search");
    assert_eq!(r.query_value("cryptoKey"), Some(key));
    assert_eq!(r.query_value("pageSize"), Some("10"));
    assert_eq!(requests[2].path, "/v1/projects/p/protectedResources:search");
}

// ---------------------------------------------------------------------------------------------
// Logging

#[tokio::test]
async fn list_log_entries_posts_query_and_returns_rest_json() {
    let entry = realdata("audit-logs/cloud-custodian/kms-cryptokey-create.json");
    let answer = entry.clone();
    let server = TestServer::start(move |r, i| {
        if i == 0 {
            // entries.list is a POST: it must still be retried as the read it is.
            return google_error(503, "UNAVAILABLE", "try again");
        }
        let token = r.json()["pageToken"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if token.is_empty() {
            ok(json!({"entries": [answer.clone()], "nextPageToken": "next-1"}))
        } else {
            ok(json!({"entries": [answer.clone()]}))
        }
    })
    .await;
    let gcp = connect(&server).await;
    let query = LogQuery {
        resource_names: vec!["projects/cloud-custodian".to_string()],
        filter: "protoPayload.methodName=\"CreateCryptoKey\"".to_string(),
        order: Order::Desc,
        page_size: 5000,
    };
    let page = gcp.list_log_entries(&query, None).await.unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0], entry);
    assert_eq!(page.next_page_token.as_deref(), Some("next-1"));
    let page = gcp
        .list_log_entries(&query, page.next_page_token)
        .await
        .unwrap();
    assert_eq!(page.next_page_token, None);

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let r = &requests[1];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v2/entries:list");
    assert_eq!(
        r.json(),
        json!({
            "resourceNames": ["projects/cloud-custodian"],
            "filter": "protoPayload.methodName=\"CreateCryptoKey\"",
            "orderBy": "timestamp desc",
            "pageSize": 1000
        })
    );
    assert_eq!(requests[2].json()["pageToken"], "next-1");
}

#[tokio::test]
async fn log_quota_exhaustion_keeps_retry_after_for_the_caller() {
    let server = TestServer::start(|_, _| {
        let mut c = google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'",
        );
        c.headers.push(("retry-after".to_string(), "7".to_string()));
        c
    })
    .await;
    let mut retry = fast_retry();
    retry.max_attempts = 3;
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let query = LogQuery {
        resource_names: vec!["projects/p".to_string()],
        filter: String::new(),
        order: Order::Asc,
        page_size: 10,
    };
    let err = gcp
        .list_log_entries(&query, Some("resume-here".to_string()))
        .await
        .unwrap_err();
    match err {
        GcpError::ResourceExhausted { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("{other:?}"),
    }
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "a Retry-After beyond the call's budget is not waited for: the caller gets it"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.json()["pageToken"] == "resume-here")
    );
}

/// The API path of a log entry: Google's JSON → the SDK's serde `LogEntry` → our JSON. It must
/// give back exactly what an alert carries, so one parser reads both.
#[test]
fn real_log_entries_round_trip_through_the_sdk_model() {
    let mut files = vec![
        "audit-logs/cloud-custodian/kms-cryptokey-create.json".to_string(),
        "audit-logs/cloud-custodian/kms-cryptokey-version-create.json".to_string(),
        "audit-logs/cloud-custodian/kms-keyring-create.json".to_string(),
        "audit-logs/google-cloudevents/LogEntryData-bigqueryjobcompleted.json".to_string(),
        "audit-logs/google-cloudevents/LogEntryData-monitoringCreateTimeSeries.json".to_string(),
        "audit-logs/google-cloudevents/LogEntryData-pubsubCreateTopic.json".to_string(),
    ];
    for i in 1..=11 {
        files.push(format!("audit-logs/plaso/split/line-{i:02}.json"));
    }
    for file in files {
        let original = realdata(&file);
        let sdk: google_cloud_logging_v2::model::LogEntry =
            serde_json::from_value(original.clone()).unwrap();
        let back = convert::log_entry(&sdk).unwrap();
        assert_eq!(back, original, "{file}");
    }
    // The headline case, checked field by field as the parser will read it.
    let original = realdata("audit-logs/cloud-custodian/kms-cryptokey-create.json");
    let sdk: google_cloud_logging_v2::model::LogEntry =
        serde_json::from_value(original.clone()).unwrap();
    assert!(sdk.proto_payload().is_some());
    let back = convert::log_entry(&sdk).unwrap();
    assert_eq!(back["severity"], "NOTICE");
    assert_eq!(
        back["protoPayload"]["@type"],
        "type.googleapis.com/google.cloud.audit.AuditLog"
    );
    assert_eq!(back["timestamp"], "2019-04-22T14:38:20.559673233Z");
}

#[test]
fn log_entry_fields_unknown_to_the_sdk_survive() {
    let original = json!({
        "logName": "projects/p/logs/x",
        "insertId": "1",
        "severity": "WARNING",
        "textPayload": "hello",
        "timestamp": "2024-01-01T00:00:00.5Z",
        "httpRequest": {"requestMethod": "GET", "status": 200, "latency": "0.250s", "requestSize": "12"},
        "sourceLocation": {"file": "a.rs", "line": "42"},
        "someFutureField": {"x": 1}
    });
    let sdk: google_cloud_logging_v2::model::LogEntry =
        serde_json::from_value(original.clone()).unwrap();
    let back = convert::log_entry(&sdk).unwrap();
    assert_eq!(back["severity"], "WARNING");
    assert_eq!(back["someFutureField"], json!({"x": 1}));
    assert_eq!(back["sourceLocation"]["line"], "42");
    assert_eq!(back["httpRequest"]["requestSize"], "12");
    assert_eq!(back["httpRequest"]["status"], 200);
    assert_eq!(back["textPayload"], "hello");
    // Google prints 0, 3, 6 or 9 fraction digits.
    assert_eq!(back["timestamp"], "2024-01-01T00:00:00.500Z");
}

// ---------------------------------------------------------------------------------------------
// Errors, retries and timeouts

#[tokio::test]
async fn always_503_fails_within_the_total_timeout_not_60s() {
    let server = TestServer::start(|_, _| google_error(503, "UNAVAILABLE", "down")).await;
    let gcp = connect(&server).await;
    let start = Instant::now();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, GcpError::Unavailable(_)), "{err:?}");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert!(server.requests().len() > 2, "503 on a read is retried");
}

#[tokio::test]
async fn attempt_limit_bounds_the_retries() {
    let server = TestServer::start(|_, _| google_error(503, "UNAVAILABLE", "down")).await;
    let mut retry = fast_retry();
    retry.max_attempts = 3;
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Unavailable(_)), "{err:?}");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_hanging_server_times_out_per_attempt_and_in_total() {
    let server = TestServer::start(|_, _| {
        let mut c = ok(recorded_body(KEY_GET));
        c.delay = Duration::from_secs(10);
        c
    })
    .await;
    let retry = RetryConfig {
        attempt_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_millis(1500),
        ..fast_retry()
    };
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let start = Instant::now();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    let elapsed = start.elapsed();
    assert!(matches!(err, GcpError::Timeout), "{err:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert!(
        server.requests().len() >= 2,
        "a read that timed out is retried"
    );
}

#[tokio::test]
async fn connection_refused_maps_to_connect_quickly() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gcp = Gcp::connect(&config_for(&url, fast_retry())).await.unwrap();
    let start = Instant::now();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Connect(_)), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn permission_denied_names_the_permission_and_is_not_retried() {
    let server = TestServer::start(|_, _| {
        google_error(
            403,
            "PERMISSION_DENIED",
            &format!("Permission 'cloudkms.cryptoKeys.get' denied on resource '{KEY}' (or it may not exist)."),
        )
    })
    .await;
    let gcp = connect(&server).await;
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    match &err {
        GcpError::PermissionDenied {
            permission,
            message,
        } => {
            assert_eq!(permission.as_deref(), Some("cloudkms.cryptoKeys.get"));
            assert!(message.contains("denied on resource"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("permission denied: "));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn permission_from_error_info_metadata() {
    let server = TestServer::start(|_, _| {
        status(
            403,
            json!({"error": {
                "code": 403,
                "message": "The caller does not have permission",
                "status": "PERMISSION_DENIED",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "cloudresourcemanager.googleapis.com",
                    "metadata": {"permission": "resourcemanager.projects.getIamPolicy"}
                }]
            }}),
        )
    })
    .await;
    let gcp = connect(&server).await;
    let err = gcp.get_project_iam_policy("p").await.unwrap_err();
    match err {
        GcpError::PermissionDenied { permission, .. } => {
            assert_eq!(
                permission.as_deref(),
                Some("resourcemanager.projects.getIamPolicy")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn not_found_names_the_resource() {
    let server = TestServer::start(|_, _| {
        google_error(404, "NOT_FOUND", &format!("CryptoKey {KEY} not found."))
    })
    .await;
    let gcp = connect(&server).await;
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    match err {
        GcpError::NotFound { resource } => assert_eq!(resource, KEY),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn failed_precondition_and_invalid_argument() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            google_error(
                400,
                "FAILED_PRECONDITION",
                "CryptoKeyVersion is not enabled.",
            )
        } else {
            google_error(400, "INVALID_ARGUMENT", "bad filter")
        }
    })
    .await;
    let gcp = connect(&server).await;
    let err = gcp.update_primary_version(KEY, "2").await.unwrap_err();
    assert!(matches!(err, GcpError::FailedPrecondition(_)), "{err:?}");
    let err = gcp
        .list_log_entries(
            &LogQuery {
                resource_names: vec!["projects/p".to_string()],
                filter: "(".to_string(),
                order: Order::Asc,
                page_size: 1,
            },
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GcpError::InvalidArgument(_)), "{err:?}");
}

#[tokio::test]
async fn malformed_bodies_map_to_malformed() {
    let server = TestServer::start(|_, i| match i {
        0 => raw(200, "this is not json"),
        _ => ok(json!({"name": 5})),
    })
    .await;
    let gcp = connect(&server).await;
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Malformed(_)), "{err:?}");
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    assert!(matches!(err, GcpError::Malformed(_)), "{err:?}");
    assert_eq!(
        server.requests().len(),
        2,
        "a malformed answer is not retried"
    );
}

#[tokio::test]
async fn a_non_google_error_page_maps_by_http_status() {
    let server = TestServer::start(|_, _| raw(502, "<html>Bad Gateway</html>")).await;
    let mut retry = fast_retry();
    retry.max_attempts = 2;
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    match err {
        GcpError::Unavailable(m) => assert!(m.contains("Bad Gateway"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_name_outside_the_path_templates_is_refused_before_sending() {
    let server = TestServer::start(|_, _| ok(json!({}))).await;
    let gcp = connect(&server).await;
    let err = gcp.get_crypto_key("not-a-key").await.unwrap_err();
    assert!(matches!(err, GcpError::InvalidArgument(_)), "{err:?}");
    assert!(server.requests().is_empty());
}

#[test]
fn permission_is_parsed_from_google_messages() {
    assert_eq!(
        permission_from_message(
            "Permission 'cloudkms.cryptoKeyVersions.destroy' denied on resource 'x' (or it may not exist)."
        )
        .as_deref(),
        Some("cloudkms.cryptoKeyVersions.destroy")
    );
    assert_eq!(
        permission_from_message("The caller does not have permission"),
        None
    );
    assert_eq!(
        permission_from_message("Permission 'two words' denied"),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn endpoints_need_a_scheme_and_https_unless_loopback() {
    let err = parse_endpoint("kms", "127.0.0.1:8080", false).unwrap_err();
    assert!(err.to_string().contains("scheme"), "{err}");
    let err = parse_endpoint("kms", "ftp://127.0.0.1", false).unwrap_err();
    assert!(err.to_string().contains("scheme"), "{err}");

    let err = parse_endpoint("kms", "http://kms.example.com", false).unwrap_err();
    assert!(matches!(err, GcpError::Config(_)));
    assert!(
        err.to_string().contains("--allow-insecure-endpoint"),
        "{err}"
    );
    let e = parse_endpoint("kms", "http://kms.example.com", true).unwrap();
    assert!(!e.https && !e.loopback);
    // 10.x is private, not loopback: still refused.
    assert!(parse_endpoint("kms", "http://10.0.0.1:80", false).is_err());

    for loopback in [
        "http://127.0.0.1:8080",
        "http://127.5.6.7",
        "http://localhost:1/prefix",
        "http://LOCALHOST",
        "http://[::1]:9000",
    ] {
        let e = parse_endpoint("kms", loopback, false).unwrap();
        assert!(e.loopback, "{loopback}");
    }
    let e = parse_endpoint("kms", "https://cloudkms.googleapis.com", false).unwrap();
    assert!(e.https && !e.loopback);
    assert!(parse_endpoint("kms", "http://user:pw@127.0.0.1", false).is_err());
    assert!(parse_endpoint("kms", "http://127.0.0.1:99999", false).is_err());
    assert!(parse_endpoint("kms", "http://", false).is_err());
}

#[test]
fn auto_credentials_are_anonymous_only_when_every_endpoint_is_loopback() {
    let mut e = Endpoints {
        all: Some("http://127.0.0.1:1".to_string()),
        ..Endpoints::default()
    };
    assert!(
        ResolvedEndpoints::resolve(&e, false)
            .unwrap()
            .all_loopback()
    );
    e.logging = Some("https://logging.googleapis.com".to_string());
    assert!(
        !ResolvedEndpoints::resolve(&e, false)
            .unwrap()
            .all_loopback()
    );
    // A service left on Google's default is not loopback either.
    let e = Endpoints {
        kms: Some("http://127.0.0.1:1".to_string()),
        ..Endpoints::default()
    };
    assert!(
        !ResolvedEndpoints::resolve(&e, false)
            .unwrap()
            .all_loopback()
    );
    // Per-service overrides win over `all`.
    let e = Endpoints {
        all: Some("http://127.0.0.1:1".to_string()),
        kms: Some("http://kms.example.com".to_string()),
        ..Endpoints::default()
    };
    assert!(ResolvedEndpoints::resolve(&e, false).is_err());
}

#[tokio::test]
async fn impersonation_with_anonymous_credentials_is_refused() {
    let mut cfg = config_for("http://127.0.0.1:1", fast_retry());
    cfg.impersonate_service_account = Some("sa@p.iam.gserviceaccount.com".to_string());
    let err = Gcp::connect(&cfg).await.unwrap_err();
    assert!(matches!(err, GcpError::Config(_)), "{err:?}");
    cfg.credentials = CredentialsMode::Anonymous;
    assert!(Gcp::connect(&cfg).await.is_err());
}

#[tokio::test]
async fn bad_retry_settings_are_config_errors() {
    let mut retry = fast_retry();
    retry.max_backoff = Duration::from_millis(1);
    let err = Gcp::connect(&config_for("http://127.0.0.1:1", retry))
        .await
        .unwrap_err();
    assert!(matches!(err, GcpError::Config(_)), "{err:?}");
}

#[test]
fn base64_etags_round_trip() {
    for etag in ["BwXE/gnR8t4=", "BwYAAAAAAAA=", "ACAB", "", "YQ==", "YWI="] {
        assert_eq!(base64::encode(&base64::decode(etag).unwrap()), etag);
    }
    assert_eq!(
        base64::decode("BwXE_gnR8t4").unwrap(),
        base64::decode("BwXE/gnR8t4=").unwrap()
    );
    assert_eq!(base64::encode(b"hello"), "aGVsbG8=");
    assert!(base64::decode("not base64!").is_none());
    assert!(base64::decode("A").is_none());
}

#[test]
fn domain_types_serialize_for_the_report() {
    let v = CryptoKeyVersion {
        name: format!("{KEY}/cryptoKeyVersions/1"),
        id: "1".to_string(),
        state: "ENABLED".to_string(),
        protection_level: "SOFTWARE".to_string(),
        algorithm: "GOOGLE_SYMMETRIC_ENCRYPTION".to_string(),
        create_time: Some("2019-04-22T14:38:20Z".parse().unwrap()),
        generate_time: None,
        destroy_time: None,
        destroy_event_time: None,
        import_job: None,
        import_time: None,
        external_key_uri: None,
    };
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["create_time"], "2019-04-22T14:38:20Z");
    assert_eq!(j["state"], "ENABLED");
}

// ---------------------------------------------------------------------------------------------
// Retry hints, secrets and credentials per endpoint

#[tokio::test]
async fn retry_after_is_honoured_between_attempts() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            let mut c = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.");
            c.headers.push(("retry-after".to_string(), "1".to_string()));
            c
        } else {
            ok(recorded_body(KEY_GET))
        }
    })
    .await;
    let retry = RetryConfig {
        total_timeout: Duration::from_secs(3),
        ..fast_retry()
    };
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let start = Instant::now();
    gcp.get_crypto_key(KEY).await.unwrap();
    let elapsed = start.elapsed();
    // Without the hint the backoff is at most 100 ms here.
    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_millis(2500), "took {elapsed:?}");
    assert_eq!(server.requests().len(), 2);
}

/// One call is throttled with `Retry-After: 5` while calls to other methods of the same client,
/// on both worker threads and at the same moment, fail once with a plain 503. The hint must delay
/// its own call only: a hint taken by another call's backoff would make that call wait 5 s (and
/// the hinted call retry early); a hint applied client-wide would delay them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_hint_delays_only_its_own_call() {
    let attempts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let seen = Arc::clone(&attempts);
    let key_path = format!("/v1/{KEY}");
    const RING: &str = "projects/cloud-custodian/locations/us-central1/keyRings/cloud-custodian";
    let server = TestServer::start(move |r, _| {
        let n = {
            let mut all = seen.lock().unwrap();
            let n = all.entry(r.path.clone()).or_default();
            *n += 1;
            *n
        };
        let mut answer = if r.path == key_path {
            if n == 1 {
                let mut c = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.");
                c.headers.push(("retry-after".to_string(), "5".to_string()));
                c
            } else {
                ok(recorded_body(KEY_GET))
            }
        } else if n == 1 {
            google_error(503, "UNAVAILABLE", "try again")
        } else if r.path.ends_with("/cryptoKeyVersions") {
            ok(recorded_body(VERSIONS_LIST))
        } else if r.path.contains("getIamPolicy") {
            ok(recorded_body(KEY_IAM))
        } else {
            ok(recorded_body(KEY_RING_GET))
        };
        // The other calls fail while the throttled one sleeps on its hint: when a hint left
        // behind, or one applied to the whole client, would be picked up.
        if n == 1 {
            answer.delay = if r.path == key_path {
                Duration::from_millis(50)
            } else {
                Duration::from_millis(500)
            };
        }
        answer
    })
    .await;
    let retry = RetryConfig {
        attempt_timeout: Duration::from_secs(3),
        // Room for the 5 s hint: the hinted call waits instead of giving up at once.
        total_timeout: Duration::from_secs(10),
        max_attempts: 4,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let timed = |what: &'static str| {
        let gcp = gcp.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let ok = match what {
                "key" => gcp.get_crypto_key(KEY).await.map(drop),
                "versions" => gcp.list_crypto_key_versions(KEY).await.map(drop),
                "iam" => gcp.get_iam_policy(KEY).await.map(drop),
                _ => gcp.get_key_ring(RING).await.map(drop),
            };
            (what, ok, start.elapsed())
        })
    };
    let calls = [timed("key"), timed("versions"), timed("iam"), timed("ring")];
    let mut hint_free = Vec::new();
    for call in calls {
        let (what, result, elapsed) = call.await.unwrap();
        assert!(result.is_ok(), "{what}: {result:?}");
        if what == "key" {
            assert!(
                elapsed >= Duration::from_millis(4500),
                "the throttled call retried after {elapsed:?}, before its Retry-After of 5 s"
            );
        } else {
            hint_free.push((what, elapsed));
        }
    }
    // Their own backoff is at most 200 ms; 3 s leaves room for a loaded machine, and is far
    // from the 5 s a leaked hint would cost.
    assert!(
        hint_free.iter().all(|(_, e)| *e < Duration::from_secs(3)),
        "a call without a hint waited for another call's: {hint_free:?}"
    );
    let attempts = attempts.lock().unwrap();
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert!(
        attempts.values().all(|n| *n == 2),
        "each retried once: {attempts:?}"
    );
}

#[tokio::test]
async fn retry_after_beyond_the_budget_fails_at_once_with_the_hint() {
    let server = TestServer::start(|_, _| {
        let mut c = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.");
        c.headers
            .push(("retry-after".to_string(), "60".to_string()));
        c
    })
    .await;
    let gcp = connect(&server).await;
    let start = Instant::now();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    let elapsed = start.elapsed();
    match &err {
        GcpError::ResourceExhausted { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(60)));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("retry after 60s"), "{err}");
    assert!(elapsed < Duration::from_secs(1), "waited {elapsed:?}");
    assert_eq!(server.requests().len(), 1, "no retry can fit in the budget");
}

#[test]
fn endpoint_errors_never_echo_user_info_or_query() {
    for (raw, secret) in [
        ("http://admin:s3cret-pw@127.0.0.1:8080", "s3cret-pw"),
        ("https://token-abc123@kms.example.com", "token-abc123"),
        ("http://kms.example.com/?key=AIzaSECRETKEY", "AIzaSECRETKEY"),
        ("http://kms.example.com/#access_token=ya29.xyz", "ya29.xyz"),
        (
            "https://kms.example.com/v1/?key=AIzaAFTERPATH",
            "AIzaAFTERPATH",
        ),
        ("ftp://u:p4ss@host", "p4ss"),
    ] {
        let err = parse_endpoint("kms", raw, false).unwrap_err().to_string();
        assert!(!err.contains(secret), "{err}");
        assert!(err.contains("REDACTED"), "{err}");
    }
    let err = parse_endpoint("kms", "http://example.com/\u{1b}[31m", false)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn credentials_errors_are_cut_before_secrets() {
    let e = config::credentials_error(
        "failed to refresh: status 400 body {\"error\":\"invalid_grant\",\"refresh_token\":\"1//SECRET\"}",
    );
    assert!(!e.contains("SECRET"), "{e}");
    assert!(e.contains("[REDACTED]"), "{e}");
    let e = config::credentials_error("proxy said: Authorization: Bearer ya29.a0SECRET\nmore");
    assert!(!e.contains("SECRET") && !e.contains('\n'), "{e}");
    assert_eq!(
        config::credentials_error("no credentials found"),
        "no credentials found"
    );
}

#[tokio::test]
async fn a_proxy_error_page_echoing_the_token_does_not_leak_it() {
    let server = TestServer::start(|_, _| {
        raw(
            502,
            "<html>Bad gateway. Request headers: authorization: Bearer ya29.LEAKED-TOKEN</html>",
        )
    })
    .await;
    let mut retry = fast_retry();
    retry.max_attempts = 1;
    let gcp = Gcp::connect(&config_for(&server.url, retry)).await.unwrap();
    let err = gcp.get_crypto_key(KEY).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("LEAKED"), "{err:?}");
}

async fn header_of(creds: &google_cloud_auth::credentials::Credentials) -> Option<String> {
    use google_cloud_auth::credentials::CacheableResource;
    match creds.headers(Default::default()).await.unwrap() {
        CacheableResource::New { data, .. } => data
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
        CacheableResource::NotModified => None,
    }
}

#[tokio::test]
async fn auto_credentials_keep_loopback_clients_anonymous_when_others_use_adc() {
    let token_server = TestServer::start(|_, _| {
        ok(json!({"access_token": "ya29.FAKE-ACCESS", "expires_in": 3600, "token_type": "Bearer"}))
    })
    .await;
    let fake_adc = json!({
        "type": "authorized_user",
        "client_id": "fake-client.apps.googleusercontent.com",
        "client_secret": "FAKE-CLIENT-SECRET",
        "refresh_token": "1//FAKE-REFRESH-TOKEN",
        "token_uri": format!("{}/token", token_server.url),
    });
    let load = || {
        google_cloud_auth::credentials::user_account::Builder::new(fake_adc.clone())
            .build()
            .map_err(|e| e.to_string())
    };
    let endpoints = Endpoints {
        kms: Some("http://127.0.0.1:9".to_string()),
        logging: Some("https://logging.example.com".to_string()),
        ..Endpoints::default()
    };
    let resolved = ResolvedEndpoints::resolve(&endpoints, false).unwrap();
    let cfg = GcpConfig {
        endpoints,
        ..GcpConfig::default()
    };
    let creds = config::credentials_with(&cfg, &resolved, load).unwrap();
    assert!(!creds.anonymous);
    let kms = header_of(&creds.for_endpoint(resolved.kms.as_ref())).await;
    assert_eq!(kms, None, "a loopback endpoint gets no token in auto mode");
    let logging = header_of(&creds.for_endpoint(resolved.logging.as_ref())).await;
    assert_eq!(logging.as_deref(), Some("Bearer ya29.FAKE-ACCESS"));
    // Google's default endpoint (None) is remote.
    let inventory = header_of(&creds.for_endpoint(None)).await;
    assert_eq!(inventory.as_deref(), Some("Bearer ya29.FAKE-ACCESS"));

    // Explicit `adc` is the operator's choice (e.g. a local forwarding proxy): loopback gets it too.
    let adc = GcpConfig {
        credentials: CredentialsMode::Adc,
        ..cfg.clone()
    };
    let creds = config::credentials_with(&adc, &resolved, load).unwrap();
    let kms = header_of(&creds.for_endpoint(resolved.kms.as_ref())).await;
    assert_eq!(kms.as_deref(), Some("Bearer ya29.FAKE-ACCESS"));

    // Every endpoint loopback in auto mode: ADC is never even loaded.
    let all_local = Endpoints {
        all: Some("http://127.0.0.1:9".to_string()),
        ..Endpoints::default()
    };
    let resolved = ResolvedEndpoints::resolve(&all_local, false).unwrap();
    let creds = config::credentials_with(&cfg, &resolved, || panic!("ADC loaded")).unwrap();
    assert!(creds.anonymous);

    // A loader failure quoting secrets is cut.
    let err = config::credentials_with(&adc, &resolved, || {
        Err("bad file: {\"private_key\": \"-----BEGIN PRIVATE KEY-----MIIE\"}".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(!err.contains("MIIE") && !err.contains("BEGIN"), "{err}");
}
