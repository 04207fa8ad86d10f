//! Usage evidence: Data Access logs, and whether they exist at all.

use gcp_mock::MockConfig;

use crate::support::{alert, investigate_json, mock};

#[tokio::test(flavor = "multi_thread")]
async fn with_data_access_logs_off_usage_is_unknown_not_zero() {
    let server = mock("data-access-off", MockConfig::default()).await;
    let (code, report) = investigate_json(&server, &alert("data-access-off")).await;
    let inv = &report["reports"][0];
    assert_eq!(inv["usage"]["logging"]["state"], "disabled");
    assert_eq!(inv["usage"]["status"], "unknown");
    assert!(
        inv["usage"]["total_calls"].is_null(),
        "unknown, never zero: {}",
        inv["usage"]
    );
    // The audit configs were read and say logging is off: a fact, not missing evidence.
    assert_eq!(inv["gaps"], serde_json::json!([]), "{}", inv["gaps"]);
    assert_eq!(code, 0, "benign, everything read");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_of_a_key_does_not_include_a_key_whose_name_extends_it() {
    // benign-ci has orders-db-cmek and orders-db-cmek-backup, each with its own usage.
    let server = mock("benign-ci", MockConfig::default()).await;
    let (_, report) = investigate_json(&server, &alert("benign-ci")).await;
    let inv = &report["reports"][0];
    let state = server.state();
    let expected = state["logEntries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            e["logName"].as_str().is_some_and(|l| l.ends_with("%2Fdata_access"))
                && e["protoPayload"]["resourceName"]
                    .as_str()
                    .is_some_and(|r| r == "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek"
                        || r.starts_with("projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek/"))
        })
        .count();
    assert!(expected > 0);
    assert_eq!(inv["usage"]["total_calls"], expected);
}
