//! The mock's controls for tests and benchmarks: fault injection, latency,
//! the Logging read quota, the request ledger and the state dump.

use std::time::{Duration, Instant};

use gcp_mock::{MockConfig, MockServer, Quota, Scenario};
use serde_json::{Value, json};

const KEY: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";

async fn start(config: MockConfig) -> MockServer {
    let scenario = Scenario::bundled("benign-ci")
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("benign-ci is bundled and valid"));
    MockServer::start(scenario, config, ([127, 0, 0, 1], 0).into())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn rules(specs: &[&str]) -> Vec<gcp_mock::FaultRule> {
    specs
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

async fn get(server: &MockServer, path: &str) -> Result<(u16, String), reqwest::Error> {
    let resp = client()
        .get(format!("{}{path}", server.url()))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}

#[tokio::test]
async fn a_status_fault_fires_the_given_number_of_times_in_googles_envelope() {
    let server = start(MockConfig {
        faults: rules(&["cloudkms.projects.locations.keyRings.cryptoKeys.get=503,times=2"]),
        ..MockConfig::default()
    })
    .await;
    let path = format!("/v1/{KEY}");
    for _ in 0..2 {
        let (status, body) = get(&server, &path).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 503);
        let body: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(body["error"]["status"], "UNAVAILABLE");
        assert_eq!(body["error"]["code"], 503);
    }
    let (status, _) = get(&server, &path).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    let ledger = server.requests();
    assert_eq!(ledger.iter().filter(|e| e.fault.is_some()).count(), 2);
    assert!(
        ledger
            .iter()
            .all(|e| e.method_id == "cloudkms.projects.locations.keyRings.cryptoKeys.get")
    );
}

#[tokio::test]
async fn an_injected_403_names_the_permission_the_real_service_checks() {
    let server = start(MockConfig {
        faults: rules(&["cloudkms.*.getIamPolicy=403"]),
        ..MockConfig::default()
    })
    .await;
    let (status, body) = get(&server, &format!("/v1/{KEY}:getIamPolicy"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 403);
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.ErrorInfo"
    );
    assert_eq!(
        body["error"]["details"][0]["metadata"]["permission"],
        "cloudkms.cryptoKeys.getIamPolicy"
    );
    // Other methods are untouched.
    assert_eq!(
        get(&server, &format!("/v1/{KEY}")).await.map(|r| r.0).ok(),
        Some(200)
    );
}

#[tokio::test]
async fn retry_after_hang_reset_and_malformed_faults() {
    let server = start(MockConfig {
        faults: rules(&[
            "cloudkms.projects.locations.keyRings.get=429,retry-after=7",
            "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.list=hang",
            "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.get=reset",
            "cloudkms.projects.locations.keyRings.list=malformed",
        ]),
        ..MockConfig::default()
    })
    .await;
    let ring = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr";
    let resp = client()
        .get(format!("{}/v1/{ring}", server.url()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );

    let started = Instant::now();
    let hung = get(&server, &format!("/v1/{KEY}/cryptoKeyVersions")).await;
    assert!(
        hung.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{hung:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));

    let reset = get(&server, &format!("/v1/{KEY}/cryptoKeyVersions/1")).await;
    assert!(reset.is_err(), "{reset:?}");

    let (status, body) = get(
        &server,
        "/v1/projects/acme-orders-prod/locations/us-central1/keyRings",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
}

#[tokio::test]
async fn latency_is_added_to_every_answer() {
    let server = start(MockConfig {
        latency: Duration::from_millis(150),
        ..MockConfig::default()
    })
    .await;
    let started = Instant::now();
    assert_eq!(
        get(&server, &format!("/v1/{KEY}")).await.map(|r| r.0).ok(),
        Some(200)
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn the_logging_quota_answers_429_resource_exhausted_past_its_budget() {
    let quota: Quota = "3/min".parse().unwrap_or_else(|e: String| panic!("{e}"));
    let server = start(MockConfig {
        logging_quota: Some(quota),
        ..MockConfig::default()
    })
    .await;
    let body = json!({"resourceNames": ["projects/acme-orders-prod"], "pageSize": 1});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = client()
            .post(format!("{}/v2/entries:list", server.url()))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        statuses.push(resp.status().as_u16());
        if resp.status().as_u16() == 429 {
            let err: Value = resp.json().await.unwrap_or_default();
            assert_eq!(err["error"]["status"], "RESOURCE_EXHAUSTED");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // The budget is per project.
    let other = json!({"resourceNames": ["projects/other-project"]});
    let resp = client()
        .post(format!("{}/v2/entries:list", server.url()))
        .json(&other)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        "0/min".parse::<Quota>().is_err()
            && "60".parse::<Quota>().is_err()
            && "60/week".parse::<Quota>().is_err()
    );
}

#[tokio::test]
async fn ledger_state_and_unknown_paths_over_http() {
    let server = start(MockConfig::default()).await;
    let (status, body) = get(&server, "/v1/projects/acme-orders-prod/nonsense")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap_or_default()["error"]["status"],
        "NOT_FOUND"
    );
    let patch = client()
        .patch(format!(
            "{}/v1/{KEY}/cryptoKeyVersions/1?updateMask=state",
            server.url()
        ))
        .header(gcp_mock::PRINCIPAL_HEADER, "responder@acme.example")
        .json(&json!({"state": 2}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(patch.status().as_u16(), 200);

    let (_, ledger) = get(&server, "/__mock/requests")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ledger: Value = serde_json::from_str(&ledger).unwrap_or_default();
    let requests = ledger["requests"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        requests.len(),
        2,
        "control endpoints are not recorded: {requests:?}"
    );
    assert_eq!(requests[0]["method_id"], "unknown");
    assert_eq!(
        requests[1]["method_id"],
        "cloudkms.projects.locations.keyRings.cryptoKeys.cryptoKeyVersions.patch"
    );
    assert_eq!(requests[1]["mutating"], true);
    assert_eq!(requests[1]["principal"], "responder@acme.example");
    assert_eq!(requests[1]["body"]["state"], 2);

    let (_, state) = get(&server, "/__mock/state")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state: Value = serde_json::from_str(&state).unwrap_or_default();
    let v1 = state["cryptoKeyVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == format!("{KEY}/cryptoKeyVersions/1"));
    assert_eq!(v1.map(|v| v["state"].clone()), Some("DISABLED".into()));
    let last = state["logEntries"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["protoPayload"]["methodName"], "UpdateCryptoKeyVersion");
    assert_eq!(
        last["protoPayload"]["authenticationInfo"]["principalEmail"],
        "responder@acme.example"
    );
    // The dump is itself a valid scenario.
    assert!(Scenario::parse("dump", "dump.json", &state.to_string()).is_ok());
}
