//! Investigations running together against the mock: combined Logging queries answer each key
//! exactly as a query of its own would, the per-project budget keeps the tool inside the quota,
//! and a refusal for quota waits and resumes from the page token.

#![expect(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use gcp_mock::{LedgerEntry, MockConfig, MockServer, Quota, Scenario};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;
use crate::gcp::{CredentialsMode, Endpoints, GcpConfig};
use crate::input::SourceKind;

const PAYMENTS: &str = "projects/acme-payments-prod/locations/us-east1/keyRings";
const ORDERS_KEY: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";

async fn mock(scenario: &str, config: MockConfig) -> MockServer {
    let s = Scenario::bundled(scenario).unwrap().unwrap();
    MockServer::start(s, config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap()
}

async fn connect(server: &MockServer) -> Gcp {
    Gcp::connect(&GcpConfig {
        endpoints: Endpoints {
            all: Some(server.url()),
            ..Endpoints::default()
        },
        credentials: CredentialsMode::Anonymous,
        ..GcpConfig::default()
    })
    .await
    .unwrap()
}

fn request(key: &str, event: &str) -> Request {
    Request {
        source: SourceKind::KeyName,
        id: None,
        alert_type: None,
        event_time: Some(event.parse().unwrap()),
        subject: Subject::Keys {
            keys: vec![KeyName::parse(key).unwrap()],
        },
    }
}

fn options(cfg: LogReadsConfig) -> Options {
    Options {
        log_reads: LogReads::new(cfg),
        ..Options::default()
    }
}

fn investigated(outcome: Outcome) -> Investigation {
    match outcome {
        Outcome::Investigated(mut list) if list.len() == 1 => list.remove(0),
        other => panic!("{other:?}"),
    }
}

fn log_reads(ledger: &[LedgerEntry]) -> Vec<&LedgerEntry> {
    ledger
        .iter()
        .filter(|e| e.method_id == "logging.entries.list")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn combined_queries_answer_each_key_as_its_own_query_would() {
    let server = mock("ransomware-precursor", MockConfig::default()).await;
    let gcp = connect(&server).await;
    let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
    // Different windows: the combined query starts at the earliest, each key keeps its own.
    let requests = [
        request(
            &format!("{PAYMENTS}/ops-recovery-kr/cryptoKeys/ledger-exports-v2"),
            "2026-11-26T01:12:41Z",
        ),
        request(
            &format!("{PAYMENTS}/ops-recovery-kr/cryptoKeys/escrow-ext"),
            "2026-11-26T01:31:00Z",
        ),
        request(
            &format!("{PAYMENTS}/payments-core-kr/cryptoKeys/payments-ledger-cmek"),
            "2026-11-21T08:00:00Z",
        ),
    ];
    let alone = options(LogReadsConfig {
        combine: false,
        ..LogReadsConfig::default()
    });
    let mut solo = Vec::new();
    for r in &requests {
        solo.push(investigated(run(&gcp, r, &alone, now).await));
    }
    assert_eq!(
        log_reads(&server.requests()).len(),
        6,
        "two queries per key"
    );
    assert!(
        solo.iter().filter(|i| i.creator.is_some()).count() >= 2,
        "{solo:#?}"
    );
    assert!(solo.iter().any(|i| i.usage.total_calls > 0));

    server.clear_requests();
    // A generous gathering window: this test is about what combined queries answer, and on a
    // loaded machine the default few milliseconds may pass before the other keys are polled
    // (they would then read alone: correct, but not what is tested here).
    let together = options(LogReadsConfig {
        gather: Duration::from_millis(250),
        ..LogReadsConfig::default()
    });
    let runs = requests.iter().map(|r| run(&gcp, r, &together, now));
    let combined: Vec<Investigation> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(investigated)
        .collect();
    let ledger = server.requests();
    let reads = log_reads(&ledger);
    assert_eq!(
        reads.len(),
        2,
        "one Admin Activity and one Data Access query for the project: {reads:#?}"
    );
    assert_eq!(combined, solo);
    // The project, folder and organization were read once for the three keys.
    for shared in [
        "cloudresourcemanager.projects.get",
        "cloudresourcemanager.folders.get",
        "cloudresourcemanager.organizations.getIamPolicy",
    ] {
        let n = ledger.iter().filter(|e| e.method_id == shared).count();
        assert_eq!(n, 1, "{shared} read {n} times");
    }
}

/// `n` Data Access entries for the benign-ci key, a second apart from 2026-11-25.
fn usage_entries(n: usize) -> Vec<Value> {
    let start: Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
    (0..n)
        .map(|i| {
            let t = start
                .checked_add(SignedDuration::from_secs(i64::try_from(i).unwrap()))
                .unwrap();
            json!({
                "protoPayload": {
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "status": {},
                    "authenticationInfo": {"principalEmail": "orders-api@acme-orders-prod.iam.gserviceaccount.com"},
                    "requestMetadata": {"callerIp": "gce-internal-ip"},
                    "serviceName": "cloudkms.googleapis.com",
                    "methodName": "Encrypt",
                    "resourceName": format!("{ORDERS_KEY}/cryptoKeyVersions/1"),
                },
                "insertId": format!("bulk{i:06}"),
                "resource": {"type": "cloudkms_cryptokey", "labels": {"project_id": "acme-orders-prod"}},
                "timestamp": t.to_string(),
                "severity": "INFO",
                "logName": "projects/acme-orders-prod/logs/cloudaudit.googleapis.com%2Fdata_access",
            })
        })
        .collect()
}

fn page_token(e: &LedgerEntry) -> String {
    e.body
        .as_ref()
        .and_then(|b| b.get("pageToken"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn orders_with_two_usage_pages(quota: Quota) -> MockServer {
    let server = mock(
        "benign-ci",
        MockConfig {
            logging_quota: Some(quota),
            ..MockConfig::default()
        },
    )
    .await;
    server.with_state(|s| s.append_entries(usage_entries(1500)));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_keeps_the_tool_inside_the_quota() {
    let per = Duration::from_secs(2);
    let server = orders_with_two_usage_pages(Quota { requests: 2, per }).await;
    let gcp = connect(&server).await;
    let opts = options(LogReadsConfig {
        quota: 2,
        per,
        ..LogReadsConfig::default()
    });
    let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
    let started = std::time::Instant::now();
    let inv = investigated(
        run(
            &gcp,
            &request(ORDERS_KEY, "2026-11-24T14:23:47Z"),
            &opts,
            now,
        )
        .await,
    );
    let ledger = server.requests();
    let reads = log_reads(&ledger);
    assert!(
        reads.iter().all(|e| e.status == 200),
        "the tool never sends a call the quota refuses: {reads:#?}"
    );
    assert_eq!(reads.len(), 3, "activity, usage page 1, usage page 2");
    assert!(
        started.elapsed() >= per,
        "the third call waited for the window"
    );
    assert_eq!(inv.usage.total_calls, 12 + 1500);
    assert!(!inv.usage.truncated);
    assert!(inv.gaps.is_empty(), "{:?}", inv.gaps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_quota_waits_and_resumes_from_the_page_token() {
    let per = Duration::from_secs(2);
    let server = orders_with_two_usage_pages(Quota { requests: 2, per }).await;
    let gcp = connect(&server).await;
    // The tool believes it has more quota than it does (another consumer uses the rest).
    let opts = options(LogReadsConfig {
        quota: 60,
        per,
        ..LogReadsConfig::default()
    });
    let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
    let inv = investigated(
        run(
            &gcp,
            &request(ORDERS_KEY, "2026-11-24T14:23:47Z"),
            &opts,
            now,
        )
        .await,
    );
    assert!(inv.gaps.is_empty(), "no refusal surfaces: {:?}", inv.gaps);
    assert_eq!(inv.usage.total_calls, 12 + 1500);
    let ledger = server.requests();
    let reads = log_reads(&ledger);
    assert!(reads.iter().any(|e| e.status == 429), "{reads:#?}");
    let ok: Vec<&&LedgerEntry> = reads.iter().filter(|e| e.status == 200).collect();
    assert_eq!(ok.len(), 3, "nothing was read twice: {reads:#?}");
    let refused = reads
        .iter()
        .find(|e| e.status == 429)
        .map(|e| page_token(e))
        .unwrap();
    assert!(
        !refused.is_empty(),
        "the refused call was the second page of the usage query"
    );
    assert!(
        ok.iter().any(|e| page_token(e) == refused),
        "the same page was asked for again, with its token"
    );
}
