//! The proof of fidelity: Google's own clients and Google's own published schemas, pointed at
//! `gcp-mock`, cannot tell it from Google.
//!
//! 1. Schema conformance, field by field, of every read and write and error answer for every
//!    bundled scenario (`conformance`).
//! 2. Real recorded KMS responses, served by the mock and read back through the official Rust
//!    client and as raw JSON (`recordings`).
//! 3. Real audit log entries read back through the official Logging client (`audit_logs`).
//! 4. Wire behaviours of the real services, driven by the official clients (`wire`).
//!
//! Tests named `mock_bug_*` demonstrate a divergence from real Google found while writing
//! this suite; they fail until the mock is fixed (see the comment on each).

#![expect(clippy::unwrap_used)]

#[path = "fidelity/support.rs"]
mod support;

#[path = "fidelity/conformance.rs"]
mod conformance;

#[path = "fidelity/recordings.rs"]
mod recordings;

#[path = "fidelity/audit_logs.rs"]
mod audit_logs;

/// Part 4: wire behaviours with the official clients.
#[path = "fidelity/wire.rs"]
mod wire;

/// Divergences from real Google found by this suite: each test fails until the mock is fixed.
#[path = "fidelity/mock_bugs.rs"]
mod mock_bugs;

use std::collections::BTreeSet;

/// The checks used everywhere below do catch what they claim to (so a green run means
/// something).
#[test]
fn the_wire_checks_catch_what_google_never_sends() {
    use gcp_mock::discovery::Api;
    use serde_json::json;
    let key = |extra: serde_json::Value| {
        let mut k = json!({"name": "projects/p/locations/l/keyRings/r/cryptoKeys/k", "purpose": "ENCRYPT_DECRYPT"});
        for (f, v) in extra.as_object().unwrap() {
            k[f] = v.clone();
        }
        k
    };
    assert_eq!(
        support::conformance_problems(Api::CloudKms, "CryptoKey", &key(json!({}))),
        Vec::<String>::new()
    );
    for (bad, expect) in [
        (json!({"labels": null}), "null"),
        (json!({"purpose": 1}), "enum"),
        (json!({"purpose": "ENCRYPT"}), "enum"),
        (
            json!({"create_time": "2026-01-01T00:00:00Z"}),
            "create_time",
        ),
        (json!({"rotationPeriod": "90d"}), "rotationPeriod"),
        (json!({"createTime": "2026-01-01 00:00:00"}), "createTime"),
        (json!({"importOnly": false}), "default value"),
        (json!({"nextRotationTime": ""}), "nextRotationTime"),
    ] {
        let problems = support::conformance_problems(Api::CloudKms, "CryptoKey", &key(bad.clone()));
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{bad} not caught ({expect}): {problems:?}"
        );
    }
    // int64 travels as a string; Struct payloads may hold anything.
    let entry = |http: serde_json::Value| json!({"logName": "projects/p/logs/x", "httpRequest": http, "jsonPayload": {"snake_key": null}});
    assert!(
        support::conformance_problems(
            Api::Logging,
            "LogEntry",
            &entry(json!({"requestSize": "12"}))
        )
        .is_empty()
    );
    assert!(
        !support::conformance_problems(
            Api::Logging,
            "LogEntry",
            &entry(json!({"requestSize": 12}))
        )
        .is_empty()
    );
    // The error envelope check.
    let answer = |status: u16, body: serde_json::Value| support::Answer { status, body };
    let good =
        json!({"error": {"code": 404, "message": "CryptoKey x not found.", "status": "NOT_FOUND"}});
    support::assert_error(&answer(404, good.clone()), 404, "NOT_FOUND", "good");
    for (status, bad) in [
        (
            404,
            json!({"error": {"code": 5, "message": "m", "status": "NOT_FOUND"}}),
        ),
        (
            404,
            json!({"error": {"code": 404, "message": "m", "status": 5}}),
        ),
        (
            404,
            json!({"error": {"code": 404, "message": "", "status": "NOT_FOUND"}}),
        ),
        (
            404,
            json!({"error": {"code": 404, "message": "m", "status": "NOT_FOUND", "details": [{"reason": "X"}]}}),
        ),
        (
            404,
            json!({"error": {"code": 404, "message": "m", "status": "NOT_FOUND"}, "extra": 1}),
        ),
        (400, good.clone()),
    ] {
        let caught = std::panic::catch_unwind(|| {
            support::assert_error(&answer(status, bad.clone()), 404, "NOT_FOUND", "bad")
        });
        assert!(caught.is_err(), "{bad} passed the envelope check");
    }
}

#[test]
fn every_bundled_scenario_has_a_conformance_test() {
    let covered: BTreeSet<&str> = [
        "benign-ci",
        "suspicious-human-offhours",
        "ransomware-precursor",
        "data-access-off",
    ]
    .into();
    let bundled: BTreeSet<&str> = gcp_mock::BUNDLED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        bundled, covered,
        "add a conformance_* test for each new bundled scenario"
    );
}

#[tokio::test]
async fn conformance_benign_ci() {
    conformance::run("benign-ci").await;
}

#[tokio::test]
async fn conformance_suspicious_human_offhours() {
    conformance::run("suspicious-human-offhours").await;
}

#[tokio::test]
async fn conformance_ransomware_precursor() {
    conformance::run("ransomware-precursor").await;
}

#[tokio::test]
async fn conformance_data_access_off() {
    conformance::run("data-access-off").await;
}

// ---- Part 2: real recorded KMS responses ----

async fn replay_all(kinds: &[recordings::Kind]) -> usize {
    let all = recordings::recordings();
    let mut n = 0;
    for r in all.iter().filter(|r| kinds.contains(&recordings::kind(r))) {
        recordings::replay(&all, r).await;
        n += 1;
    }
    n
}

#[tokio::test]
async fn recorded_key_rings_read_back_unchanged() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[KeyRings, KeyRing]).await, 7);
}

#[tokio::test]
async fn recorded_crypto_keys_read_back_as_google_shows_them_today() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[CryptoKeys, CryptoKey]).await, 14);
}

#[tokio::test]
async fn recorded_versions_read_back_unchanged() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[Versions, Version]).await, 2);
}

#[tokio::test]
async fn recorded_iam_policies_read_back_with_bindings_and_etag_bytes() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[Policy]).await, 3);
}

#[tokio::test]
async fn recorded_label_patch_replays_to_the_recorded_answer() {
    recordings::replay_patch(&recordings::recordings()).await;
}

/// Every recording is replayed by one of the tests above (locations: see the mock_bug test),
/// and the time rules the expectations apply did come into play on real data.
#[test]
fn every_recording_is_replayed_and_time_has_passed_for_some() {
    use recordings::Kind::*;
    let all = recordings::recordings();
    let mut by_kind = std::collections::BTreeMap::new();
    for r in &all {
        *by_kind
            .entry(format!("{:?}", recordings::kind(r)))
            .or_insert(0) += 1;
    }
    let expected: std::collections::BTreeMap<String, i32> = [
        (Locations, 2),
        (Location, 2),
        (KeyRings, 5),
        (KeyRing, 2),
        (CryptoKeys, 11),
        (CryptoKey, 3),
        (PatchCryptoKey, 1),
        (Versions, 1),
        (Version, 1),
        (Policy, 3),
    ]
    .into_iter()
    .map(|(k, n)| (format!("{k:?}"), n))
    .collect();
    assert_eq!(by_kind, expected);
    let (destroyed, rotations) = recordings::time_effects(&all, jiff::Timestamp::now());
    assert!(
        destroyed >= 4,
        "recorded DESTROY_SCHEDULED versions past their destroyTime: {destroyed}"
    );
    assert!(
        rotations >= 3 * 20,
        "rotations due since the 2021 recordings: {rotations}"
    );
}

// ---- Part 3: real audit entries through the Logging client ----

#[tokio::test]
async fn real_audit_entries_page_back_in_timestamp_order_through_the_logging_client() {
    let real = audit_logs::real_entries();
    let server = audit_logs::serve(&real).await;
    let client = support::logging(&server).await;
    let parents = audit_logs::parents(&real);
    assert_eq!(
        parents,
        [
            "projects/cloud-custodian",
            "projects/fake-project",
            "projects/ketchup"
        ]
    );

    let (got, pages) = audit_logs::list_all(&client, &parents, "", "timestamp desc", 3).await;
    assert!(
        pages >= 5,
        "14 entries in pages of 3 take at least 5 pages ({pages})"
    );
    let expected = audit_logs::sorted_desc(&real);
    let ids: Vec<&str> = got.iter().map(|e| e.insert_id.as_str()).collect();
    let want: Vec<&str> = expected
        .iter()
        .map(|r| support::str_of(&r.entry, "insertId"))
        .collect();
    assert_eq!(ids, want, "all entries, newest first");
    for (g, o) in got.iter().zip(&expected) {
        audit_logs::check_entry(g, o);
    }

    // Raw: the served entries are the originals, byte for byte modulo key order.
    let raw = support::Raw::new(&server);
    let page = raw
        .post_ok("/v2/entries:list", &serde_json::json!({"resourceNames": parents, "orderBy": "timestamp desc", "pageSize": 1000}))
        .await;
    let served = page["entries"].as_array().unwrap();
    assert_eq!(served.len(), expected.len());
    assert!(page.get("nextPageToken").is_none());
    for (s, o) in served.iter().zip(&expected) {
        support::assert_same_json(&o.entry, s, &o.file);
    }

    let (asc, _) = audit_logs::list_all(&client, &parents, "", "timestamp asc", 4).await;
    let asc_ids: Vec<&str> = asc.iter().rev().map(|e| e.insert_id.as_str()).collect();
    assert_eq!(asc_ids, want, "timestamp asc is the reverse");

    // One project only.
    let (ketchup, _) = audit_logs::list_all(
        &client,
        &["projects/ketchup".to_owned()],
        "",
        "timestamp desc",
        1,
    )
    .await;
    assert_eq!(ketchup.len(), 1);
    assert_eq!(
        ketchup[0].log_name,
        "projects/ketchup/logs/cloudaudit.googleapis.com%2Factivity"
    );
}

#[tokio::test]
async fn real_kms_entries_filter_by_service_and_method_through_the_logging_client() {
    let real = audit_logs::real_entries();
    let server = audit_logs::serve(&real).await;
    let client = support::logging(&server).await;
    let parents = audit_logs::parents(&real);
    let kms: Vec<audit_logs::Real> = audit_logs::sorted_desc(&real)
        .into_iter()
        .filter(|r| r.file.contains("cloud-custodian"))
        .collect();

    let (got, pages) = audit_logs::list_all(
        &client,
        &parents,
        "protoPayload.serviceName=\"cloudkms.googleapis.com\"",
        "timestamp desc",
        1,
    )
    .await;
    assert!(pages >= 3, "pages of one entry ({pages})");
    let files: Vec<&str> = kms.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "audit-logs/cloud-custodian/kms-cryptokey-version-create.json",
            "audit-logs/cloud-custodian/kms-cryptokey-create.json",
            "audit-logs/cloud-custodian/kms-keyring-create.json",
        ]
    );
    assert_eq!(got.len(), 3);
    for (g, o) in got.iter().zip(&kms) {
        audit_logs::check_entry(g, o);
    }

    let (got, _) = audit_logs::list_all(
        &client,
        &parents,
        "protoPayload.methodName=\"CreateCryptoKey\"",
        "timestamp desc",
        2,
    )
    .await;
    assert_eq!(
        got.len(),
        1,
        "CreateCryptoKey only, not CreateCryptoKeyVersion"
    );
    audit_logs::check_entry(&got[0], &kms[1]);
    let payload = serde_json::to_value(got[0].proto_payload().unwrap().as_ref()).unwrap();
    assert_eq!(
        payload["resourceName"],
        "projects/cloud-custodian/locations/us-central1/keyRings/cloud-custodian/cryptoKeys/cloud-custodian"
    );
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"],
        "alex.karpitski@gmail.com"
    );
    assert_eq!(
        payload["request"]["cryptoKey"]["purpose"],
        "ENCRYPT_DECRYPT"
    );

    // The same query with the by_item paginator of the SDK.
    use google_cloud_gax::paginator::ItemPaginator as _;
    let mut items = client
        .list_log_entries()
        .set_resource_names(parents.clone())
        .set_filter("protoPayload.serviceName=\"cloudkms.googleapis.com\" AND resource.type=\"cloudkms_cryptokey\"")
        .set_order_by("timestamp desc")
        .set_page_size(1)
        .by_item();
    let mut n = 0;
    while let Some(e) = items.next().await {
        let e = e.unwrap();
        assert_eq!(e.insert_id, "2scovuea8f16");
        n += 1;
    }
    assert_eq!(n, 1);
}

#[tokio::test]
async fn real_delegation_chain_survives_the_logging_client() {
    let real = audit_logs::real_entries();
    let server = audit_logs::serve(&real).await;
    let client = support::logging(&server).await;
    let parents = audit_logs::parents(&real);
    let line10 = real
        .iter()
        .find(|r| r.file.ends_with("line-10.json"))
        .unwrap();

    let filter = "protoPayload.authenticationInfo.serviceAccountDelegationInfo.firstPartyPrincipal.principalEmail=\"service-account-two@fake-project.com\"";
    let (got, _) = audit_logs::list_all(&client, &parents, filter, "timestamp desc", 5).await;
    assert_eq!(got.len(), 1);
    audit_logs::check_entry(&got[0], line10);
    let payload = serde_json::to_value(got[0].proto_payload().unwrap().as_ref()).unwrap();
    let chain: Vec<&str> = payload["authenticationInfo"]["serviceAccountDelegationInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["firstPartyPrincipal"]["principalEmail"].as_str().unwrap())
        .collect();
    assert_eq!(
        chain,
        [
            "service-account-one@fake-project.com",
            "service-account-two@fake-project.com"
        ],
        "delegation order kept"
    );
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"],
        "fake-account@fake-project.com"
    );

    // Every entry with a delegation chain, by presence.
    let (got, _) = audit_logs::list_all(
        &client,
        &parents,
        "protoPayload.authenticationInfo.serviceAccountDelegationInfo:*",
        "timestamp asc",
        5,
    )
    .await;
    let ids: Vec<&str> = got.iter().map(|e| e.insert_id.as_str()).collect();
    assert_eq!(ids, ["-duywnve29mpi", "1awjxggeaxqgz"]);
    let line11 = real
        .iter()
        .find(|r| r.file.ends_with("line-11.json"))
        .unwrap();
    audit_logs::check_entry(&got[1], line11);
}
