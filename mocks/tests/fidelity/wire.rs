//! Part 4: behaviours of the real services, driven through the official clients the way the
//! responder drives them (integer enums, `$alt=json;enum-encoding=int`, etags, preconditions,
//! the audit trail of every write), plus the Logging request validation.

use std::collections::BTreeSet;

use gcp_mock::MockServer;
use google_cloud_gax::error::Error as SdkError;
use google_cloud_gax::error::rpc::Code;
use google_cloud_iam_v1::model::{Binding, GetPolicyOptions};
use google_cloud_kms_v1::model as kms;
use google_cloud_kms_v1::model::crypto_key_version::CryptoKeyVersionState;
use google_cloud_logging_v2::model::LogEntry;
use google_cloud_wkt::FieldMask;
use serde_json::{Value, json};

use crate::support::*;

const PROJECT: &str = "acme-orders-prod";
const KEY: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-db-cmek";
const RING: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr";
const SOFTWARE_KEY: &str = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-prod-kr/cryptoKeys/orders-events-cmek";

fn v(key: &str, id: u64) -> String {
    format!("{key}/cryptoKeyVersions/{id}")
}

/// benign-ci with its rotation schedules moved a year past today, so that what these tests
/// count on (version ids, which version is primary) does not depend on the day they run.
async fn benign() -> MockServer {
    let text = gcp_mock::BUNDLED
        .iter()
        .find(|(n, _)| *n == "benign-ci")
        .unwrap()
        .1;
    let mut world: Value = serde_json::from_str(text).unwrap();
    let next = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(365 * 24))
        .unwrap()
        .round(jiff::Unit::Second)
        .unwrap();
    for k in world["cryptoKeys"].as_array_mut().unwrap() {
        if k.get("nextRotationTime").is_some() {
            k["nextRotationTime"] = json!(next.to_string());
        }
    }
    start(scenario_from("benign-ci-rotation-deferred", &world)).await
}

/// The error a call failed with: canonical code (from the envelope's `status`) and HTTP status.
fn expect_error<T: std::fmt::Debug>(
    r: Result<T, SdkError>,
    code: Code,
    http: u16,
    what: &str,
) -> SdkError {
    let err = match r {
        Ok(v) => panic!("{what}: expected {code:?}, got success {v:?}"),
        Err(e) => e,
    };
    assert_eq!(err.status().map(|s| s.code), Some(code), "{what}: {err}");
    assert_eq!(err.http_status_code(), Some(http), "{what}: {err}");
    assert!(!err.status().unwrap().message.is_empty(), "{what}: message");
    err
}

/// The newest audit entry about `resource` by `method`, as the Logging client sees it.
async fn newest_audit_entry(
    server: &MockServer,
    method: &str,
    resource: &str,
) -> (LogEntry, Value) {
    let client = logging(server).await;
    let page = client
        .list_log_entries()
        .set_resource_names([format!("projects/{PROJECT}")])
        .set_filter(format!(
            "logName=\"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity\" AND protoPayload.methodName=\"{method}\" AND protoPayload.resourceName=\"{resource}\""
        ))
        .set_order_by("timestamp desc")
        .set_page_size(1)
        .send()
        .await
        .unwrap();
    let entry = page
        .entries
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {method} entry for {resource}"));
    let payload = serde_json::to_value(entry.proto_payload().unwrap().as_ref()).unwrap();
    (entry, payload)
}

/// The entry for a write made at `[before, after]` by `principal`.
async fn assert_audited(
    server: &MockServer,
    method: &str,
    resource: &str,
    principal: &str,
    window: (jiff::Timestamp, jiff::Timestamp),
) -> Value {
    let (entry, payload) = newest_audit_entry(server, method, resource).await;
    let what = format!("{method} on {resource}");
    let ts = entry.timestamp.as_ref().unwrap();
    let at = jiff::Timestamp::new(ts.seconds(), ts.nanos()).unwrap();
    assert!(
        at >= window.0 && at <= window.1,
        "{what}: logged at {at}, the write ran in [{}, {}]",
        window.0,
        window.1
    );
    assert_eq!(entry.severity.name(), Some("NOTICE"), "{what}");
    assert_eq!(
        payload["@type"], "type.googleapis.com/google.cloud.audit.AuditLog",
        "{what}"
    );
    assert_eq!(payload["serviceName"], "cloudkms.googleapis.com", "{what}");
    assert_eq!(payload["methodName"], method, "{what}");
    assert_eq!(payload["resourceName"], resource, "{what}");
    assert_eq!(
        payload["authenticationInfo"]["principalEmail"], principal,
        "{what}"
    );
    assert_eq!(
        payload["requestMetadata"]["callerIp"], "127.0.0.1",
        "{what}"
    );
    let auth = &payload["authorizationInfo"][0];
    assert_eq!(auth["granted"], true, "{what}");
    assert!(
        auth["permission"]
            .as_str()
            .unwrap()
            .starts_with("cloudkms."),
        "{what}"
    );
    assert_eq!(
        payload["resourceLocation"]["currentLocations"],
        json!(["us-central1"]),
        "{what}"
    );
    payload
}

#[tokio::test]
async fn integer_enums_from_the_rust_client_are_stored_as_names() {
    let server = benign().await;
    let client = kms(&server).await;
    let name = v(SOFTWARE_KEY, 1);
    let got = client
        .update_crypto_key_version()
        .set_crypto_key_version(
            kms::CryptoKeyVersion::new()
                .set_name(&name)
                .set_state(CryptoKeyVersionState::Disabled),
        )
        .set_update_mask(FieldMask::default().set_paths(["state"]))
        .send()
        .await
        .unwrap();
    assert_eq!(got.state, CryptoKeyVersionState::Disabled);

    // The client sent the number, in a PATCH with updateMask=state and $alt=...enum-encoding=int.
    let sent = server.requests().into_iter().last().unwrap();
    assert_eq!(sent.http_method, "PATCH");
    assert_eq!(
        sent.body.as_ref().unwrap()["state"],
        json!(2),
        "the Rust client sends enums as numbers"
    );
    assert!(
        sent.query
            .contains(&("updateMask".to_owned(), "state".to_owned())),
        "{:?}",
        sent.query
    );
    assert!(
        sent.query
            .contains(&("$alt".to_owned(), "json;enum-encoding=int".to_owned())),
        "{:?}",
        sent.query
    );

    // Stored, and served, as the name.
    let stored = server.state();
    let stored = stored["cryptoKeyVersions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name.as_str())
        .unwrap();
    assert_eq!(stored["state"], "DISABLED");
    assert_eq!(
        Raw::new(&server).get_ok(&format!("/v1/{name}")).await["state"],
        "DISABLED"
    );
    let again = client
        .get_crypto_key_version()
        .set_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(again.state, CryptoKeyVersionState::Disabled);
}

#[tokio::test]
async fn alt_enum_encoding_int_is_ignored_and_enums_are_answered_as_names() {
    let server = benign().await;
    let raw = Raw::new(&server);
    let plain = raw.get_ok(&format!("/v1/{KEY}")).await;
    let with_alt = raw
        .get_ok(&format!(
            "/v1/{KEY}?{}",
            query(&[("$alt", "json;enum-encoding=int")])
        ))
        .await;
    assert_eq!(plain, with_alt);
    assert_eq!(with_alt["purpose"], "ENCRYPT_DECRYPT");
    assert_eq!(with_alt["primary"]["state"], "ENABLED");
    assert_eq!(with_alt["versionTemplate"]["protectionLevel"], "HSM");

    let client = kms(&server).await;
    let key = client.get_crypto_key().set_name(KEY).send().await.unwrap();
    assert_eq!(key.purpose.name(), Some("ENCRYPT_DECRYPT"));
    let sent = server.requests().into_iter().last().unwrap();
    assert!(
        sent.query
            .contains(&("$alt".to_owned(), "json;enum-encoding=int".to_owned())),
        "{:?}",
        sent.query
    );
    let versions = client
        .list_crypto_key_versions()
        .set_parent(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.crypto_key_versions.len(), 1);
    let sent = server.requests().into_iter().last().unwrap();
    for q in ["pageSize", "pageToken", "$alt"] {
        assert!(
            sent.query.iter().any(|(k, _)| k == q),
            "list sent {q}: {:?}",
            sent.query
        );
    }
}

#[tokio::test]
async fn stale_etag_on_set_iam_policy_is_aborted_409() {
    let server = benign().await;
    let client = kms(&server).await;
    let read = client
        .get_iam_policy()
        .set_resource(KEY)
        .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
        .send()
        .await
        .unwrap();
    let mut policy = read.clone();
    policy.bindings.push(
        Binding::new()
            .set_role("roles/cloudkms.viewer")
            .set_members(["user:auditor@acme.example"]),
    );
    let written = client
        .set_iam_policy()
        .set_resource(KEY)
        .set_policy(policy.clone())
        .set_update_mask(FieldMask::default().set_paths(["bindings"]))
        .send()
        .await
        .unwrap();
    assert_ne!(written.etag, read.etag, "a write returns a new etag");
    assert_eq!(written.bindings.len(), read.bindings.len() + 1);

    // The same read-modify-write again, with the etag now stale.
    let r = client
        .set_iam_policy()
        .set_resource(KEY)
        .set_policy(policy)
        .send()
        .await;
    expect_error(r, Code::Aborted, 409, "stale etag");
    let now = client
        .get_iam_policy()
        .set_resource(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(now.etag, written.etag, "the refused write changed nothing");
}

#[tokio::test]
async fn missing_resources_are_not_found_404() {
    let server = benign().await;
    let client = kms(&server).await;
    let missing = format!("{RING}/cryptoKeys/does-not-exist");
    expect_error(
        client.get_crypto_key().set_name(&missing).send().await,
        Code::NotFound,
        404,
        "missing key",
    );
    expect_error(
        client
            .get_crypto_key_version()
            .set_name(v(KEY, 7))
            .send()
            .await,
        Code::NotFound,
        404,
        "missing version",
    );
    expect_error(
        client
            .list_crypto_key_versions()
            .set_parent(&missing)
            .send()
            .await,
        Code::NotFound,
        404,
        "versions of a missing key",
    );
    expect_error(
        client
            .get_key_ring()
            .set_name("projects/acme-orders-prod/locations/us-central1/keyRings/nope")
            .send()
            .await,
        Code::NotFound,
        404,
        "missing key ring",
    );
}

#[tokio::test]
async fn promoting_a_disabled_version_fails_precondition_and_changes_nothing() {
    let server = benign().await;
    let client = kms(&server).await;
    let created = client
        .create_crypto_key_version()
        .set_parent(KEY)
        .set_crypto_key_version(kms::CryptoKeyVersion::new())
        .send()
        .await
        .unwrap();
    client
        .update_crypto_key_version()
        .set_crypto_key_version(
            kms::CryptoKeyVersion::new()
                .set_name(&created.name)
                .set_state(CryptoKeyVersionState::Disabled),
        )
        .set_update_mask(FieldMask::default().set_paths(["state"]))
        .send()
        .await
        .unwrap();
    let r = client
        .update_crypto_key_primary_version()
        .set_name(KEY)
        .set_crypto_key_version_id("2")
        .send()
        .await;
    expect_error(
        r,
        Code::FailedPrecondition,
        400,
        "promote a DISABLED version",
    );
    let key = client.get_crypto_key().set_name(KEY).send().await.unwrap();
    assert_eq!(
        key.primary.unwrap().name,
        v(KEY, 1),
        "the primary did not move"
    );

    // Enabled again, it can be promoted.
    client
        .update_crypto_key_version()
        .set_crypto_key_version(
            kms::CryptoKeyVersion::new()
                .set_name(&created.name)
                .set_state(CryptoKeyVersionState::Enabled),
        )
        .set_update_mask(FieldMask::default().set_paths(["state"]))
        .send()
        .await
        .unwrap();
    let key = client
        .update_crypto_key_primary_version()
        .set_name(KEY)
        .set_crypto_key_version_id("2")
        .send()
        .await
        .unwrap();
    assert_eq!(key.primary.unwrap().name, created.name);
}

#[tokio::test]
async fn creating_versions_keeps_the_primary_and_numbers_them_sequentially() {
    let server = benign().await;
    let client = kms(&server).await;
    let gke = "projects/acme-orders-prod/locations/us-central1/keyRings/orders-core-kr/cryptoKeys/orders-gke-secrets";
    for key in [KEY, gke] {
        let before = client.get_crypto_key().set_name(key).send().await.unwrap();
        let versions = client
            .list_crypto_key_versions()
            .set_parent(key)
            .send()
            .await
            .unwrap();
        let last: u64 = versions
            .crypto_key_versions
            .iter()
            .map(|x| x.name.rsplit('/').next().unwrap().parse().unwrap())
            .max()
            .unwrap();
        for step in 1..=2 {
            let created = client
                .create_crypto_key_version()
                .set_parent(key)
                .set_crypto_key_version(kms::CryptoKeyVersion::new())
                .send()
                .await
                .unwrap();
            assert_eq!(created.name, v(key, last + step), "the next sequential id");
            assert_eq!(created.state, CryptoKeyVersionState::Enabled);
            let template = before.version_template.as_ref().unwrap();
            assert_eq!(
                created.protection_level, template.protection_level,
                "from the version template"
            );
            assert_eq!(
                created.algorithm, template.algorithm,
                "from the version template"
            );
            assert!(created.create_time.is_some() && created.generate_time.is_some());
        }
        let after = client.get_crypto_key().set_name(key).send().await.unwrap();
        assert_eq!(
            after.primary, before.primary,
            "{key}: creating a version does not change the primary"
        );
        assert_eq!(
            after.next_rotation_time, before.next_rotation_time,
            "manual rotation does not move nextRotationTime"
        );
    }
}

#[tokio::test]
async fn destroy_schedules_after_the_key_duration_and_restore_leaves_it_disabled() {
    let server = benign().await;
    let client = kms(&server).await;
    let key = client.get_crypto_key().set_name(KEY).send().await.unwrap();
    let after = key
        .destroy_scheduled_duration
        .as_ref()
        .map_or(30 * 24 * 3600, |d| d.seconds());
    assert_eq!(after, 2_592_000);
    let name = v(KEY, 1);
    let before = jiff::Timestamp::now();
    let destroyed = client
        .destroy_crypto_key_version()
        .set_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(destroyed.state, CryptoKeyVersionState::DestroyScheduled);
    let due = destroyed.destroy_time.as_ref().expect("destroyTime is set");
    let expected = before.as_second() + after;
    assert!(
        (due.seconds() - expected).abs() <= 5,
        "destroyTime {} is now + {after}s ± 5 s ({expected})",
        due.seconds()
    );
    assert!(destroyed.destroy_event_time.is_none());

    // Only ENABLED or DISABLED versions can be scheduled.
    expect_error(
        client
            .destroy_crypto_key_version()
            .set_name(&name)
            .send()
            .await,
        Code::FailedPrecondition,
        400,
        "destroy twice",
    );
    // A scheduled version cannot be enabled by PATCH.
    expect_error(
        client
            .update_crypto_key_version()
            .set_crypto_key_version(
                kms::CryptoKeyVersion::new()
                    .set_name(&name)
                    .set_state(CryptoKeyVersionState::Enabled),
            )
            .set_update_mask(FieldMask::default().set_paths(["state"]))
            .send()
            .await,
        Code::FailedPrecondition,
        400,
        "enable a DESTROY_SCHEDULED version",
    );

    let restored = client
        .restore_crypto_key_version()
        .set_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(restored.state, CryptoKeyVersionState::Disabled);
    assert!(
        restored.destroy_time.is_none(),
        "a restored version is no longer scheduled"
    );
    expect_error(
        client
            .restore_crypto_key_version()
            .set_name(&name)
            .send()
            .await,
        Code::FailedPrecondition,
        400,
        "restore a version that is not scheduled",
    );
}

#[tokio::test]
async fn every_write_is_audited_at_once_with_the_callers_principal() {
    let server = benign().await;
    let client = kms(&server).await;
    let raw = Raw::new(&server);
    let responder = "responder-bot@acme-secops.iam.gserviceaccount.com";
    let now = jiff::Timestamp::now;
    let start = now();
    let key_name = KEY.to_owned();

    // UpdateCryptoKeyVersion, by the client (default principal).
    let t0 = now();
    client
        .update_crypto_key_version()
        .set_crypto_key_version(
            kms::CryptoKeyVersion::new()
                .set_name(v(KEY, 1))
                .set_state(CryptoKeyVersionState::Disabled),
        )
        .set_update_mask(FieldMask::default().set_paths(["state"]))
        .send()
        .await
        .unwrap();
    let p = assert_audited(
        &server,
        "UpdateCryptoKeyVersion",
        &v(KEY, 1),
        DEFAULT_PRINCIPAL,
        (t0, now()),
    )
    .await;
    assert_eq!(
        p["request"]["@type"],
        "type.googleapis.com/google.cloud.kms.v1.UpdateCryptoKeyVersionRequest"
    );
    assert_eq!(
        p["request"]["cryptoKeyVersion"]["state"], "DISABLED",
        "the request is logged with enum names"
    );

    // CreateCryptoKeyVersion, raw with the principal header: logged against the parent key.
    let t0 = now();
    let a = raw
        .call(
            "POST",
            &format!("/v1/{KEY}/cryptoKeyVersions"),
            Some(&json!({})),
            Some(responder),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let p = assert_audited(
        &server,
        "CreateCryptoKeyVersion",
        &key_name,
        responder,
        (t0, now()),
    )
    .await;
    assert_eq!(
        p["authenticationInfo"]["principalSubject"],
        format!("serviceAccount:{responder}")
    );
    assert_eq!(
        p["authorizationInfo"][0]["permission"],
        "cloudkms.cryptoKeyVersions.create"
    );

    // UpdateCryptoKeyPrimaryVersion, by the client.
    let t0 = now();
    client
        .update_crypto_key_primary_version()
        .set_name(KEY)
        .set_crypto_key_version_id("2")
        .send()
        .await
        .unwrap();
    let p = assert_audited(
        &server,
        "UpdateCryptoKeyPrimaryVersion",
        &key_name,
        DEFAULT_PRINCIPAL,
        (t0, now()),
    )
    .await;
    assert_eq!(p["request"]["cryptoKeyVersionId"], "2");

    // DestroyCryptoKeyVersion, raw with the header; RestoreCryptoKeyVersion by the client.
    let t0 = now();
    let a = raw
        .call(
            "POST",
            &format!("/v1/{}:destroy", v(KEY, 1)),
            Some(&json!({})),
            Some(responder),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_audited(
        &server,
        "DestroyCryptoKeyVersion",
        &v(KEY, 1),
        responder,
        (t0, now()),
    )
    .await;
    let t0 = now();
    client
        .restore_crypto_key_version()
        .set_name(v(KEY, 1))
        .send()
        .await
        .unwrap();
    assert_audited(
        &server,
        "RestoreCryptoKeyVersion",
        &v(KEY, 1),
        DEFAULT_PRINCIPAL,
        (t0, now()),
    )
    .await;

    // SetIamPolicy with its policyDelta: raw on the key ring, then by the client on the key.
    let policy = raw
        .get_ok(&format!(
            "/v1/{RING}:getIamPolicy?options.requestedPolicyVersion=3"
        ))
        .await;
    let mut bindings = policy.get("bindings").cloned().unwrap_or(json!([]));
    bindings
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "roles/cloudkms.viewer", "members": ["group:secops@acme.example"]}));
    let body = json!({"policy": {"version": policy["version"], "etag": policy["etag"], "bindings": bindings}, "updateMask": "bindings"});
    let t0 = now();
    let a = raw
        .call(
            "POST",
            &format!("/v1/{RING}:setIamPolicy"),
            Some(&body),
            Some(responder),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let p = assert_audited(&server, "SetIamPolicy", RING, responder, (t0, now())).await;
    assert_eq!(
        p["serviceData"]["policyDelta"]["bindingDeltas"],
        json!([{"action": "ADD", "role": "roles/cloudkms.viewer", "member": "group:secops@acme.example"}])
    );
    assert_eq!(
        p["serviceData"]["@type"],
        "type.googleapis.com/google.iam.v1.logging.AuditData"
    );

    let read = client
        .get_iam_policy()
        .set_resource(KEY)
        .send()
        .await
        .unwrap();
    let mut changed = read.clone();
    let removed = changed.bindings.remove(0);
    let t0 = now();
    client
        .set_iam_policy()
        .set_resource(KEY)
        .set_policy(changed)
        .set_update_mask(FieldMask::default().set_paths(["bindings"]))
        .send()
        .await
        .unwrap();
    let p = assert_audited(
        &server,
        "SetIamPolicy",
        &key_name,
        DEFAULT_PRINCIPAL,
        (t0, now()),
    )
    .await;
    let deltas: Vec<(String, String, String)> = p["serviceData"]["policyDelta"]["bindingDeltas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                str_of(d, "action").to_owned(),
                str_of(d, "role").to_owned(),
                str_of(d, "member").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = removed
        .members
        .iter()
        .map(|m| ("REMOVE".to_owned(), removed.role.clone(), m.clone()))
        .collect();
    assert_eq!(deltas, expected);

    // UpdateCryptoKey (rotation schedule), by the client.
    let next = google_cloud_wkt::Timestamp::new(now().as_second() + 7 * 24 * 3600, 0).unwrap();
    let t0 = now();
    let k = client
        .update_crypto_key()
        .set_crypto_key(
            kms::CryptoKey::new()
                .set_name(KEY)
                .set_rotation_period(google_cloud_wkt::Duration::new(30 * 24 * 3600, 0).unwrap())
                .set_next_rotation_time(next),
        )
        .set_update_mask(FieldMask::default().set_paths(["rotation_period", "next_rotation_time"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        k.rotation_period().map(|d| d.seconds()),
        Some(30 * 24 * 3600)
    );
    assert_eq!(k.next_rotation_time, Some(next));
    assert_audited(
        &server,
        "UpdateCryptoKey",
        &key_name,
        DEFAULT_PRINCIPAL,
        (t0, now()),
    )
    .await;

    // Each write left exactly one entry, and the ledger recorded who asked.
    let client_log = logging(&server).await;
    let page = client_log
        .list_log_entries()
        .set_resource_names([format!("projects/{PROJECT}")])
        .set_filter(format!("timestamp>=\"{start}\""))
        .set_page_size(100)
        .send()
        .await
        .unwrap();
    let methods: Vec<String> = page
        .entries
        .iter()
        .map(|e| {
            serde_json::to_value(e.proto_payload().unwrap().as_ref()).unwrap()["methodName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        methods,
        [
            "UpdateCryptoKeyVersion",
            "CreateCryptoKeyVersion",
            "UpdateCryptoKeyPrimaryVersion",
            "DestroyCryptoKeyVersion",
            "RestoreCryptoKeyVersion",
            "SetIamPolicy",
            "SetIamPolicy",
            "UpdateCryptoKey",
        ]
    );
    let principals: BTreeSet<String> = server
        .requests()
        .into_iter()
        .filter(|e| e.mutating)
        .map(|e| e.principal)
        .collect();
    assert_eq!(
        principals,
        [DEFAULT_PRINCIPAL.to_owned(), responder.to_owned()].into()
    );
}

#[tokio::test]
async fn logging_refuses_page_size_over_1000() {
    let server = benign().await;
    let client = logging(&server).await;
    let base = || {
        client
            .list_log_entries()
            .set_resource_names([format!("projects/{PROJECT}")])
    };
    expect_error(
        base().set_page_size(1001).send().await,
        Code::InvalidArgument,
        400,
        "pageSize 1001",
    );
    expect_error(
        base().set_page_size(-1).send().await,
        Code::InvalidArgument,
        400,
        "pageSize -1",
    );
    let page = base().set_page_size(1000).send().await.unwrap();
    let in_project = bundled("benign-ci")
        .log_entries
        .iter()
        .filter(|e| {
            e.get("logName")
                .and_then(Value::as_str)
                .is_some_and(|l| l.starts_with(&format!("projects/{PROJECT}/logs/")))
        })
        .count();
    assert_eq!(
        page.entries.len(),
        in_project,
        "1000 is allowed, and one page holds the whole project"
    );
    assert!(page.next_page_token.is_empty());
}

#[tokio::test]
async fn logging_refuses_order_by_anything_but_timestamp() {
    let server = benign().await;
    let client = logging(&server).await;
    let base = || {
        client
            .list_log_entries()
            .set_resource_names([format!("projects/{PROJECT}")])
    };
    for order in [
        "severity",
        "timestamp sideways",
        "insertId desc",
        "receiveTimestamp desc",
    ] {
        expect_error(
            base().set_order_by(order).send().await,
            Code::InvalidArgument,
            400,
            order,
        );
    }
    for order in ["timestamp", "timestamp asc", "timestamp desc"] {
        base()
            .set_order_by(order)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{order}: {e}"));
    }
}

#[tokio::test]
async fn logging_refuses_unparsable_filters_instead_of_matching_everything() {
    let server = benign().await;
    let client = logging(&server).await;
    let base = || {
        client
            .list_log_entries()
            .set_resource_names([format!("projects/{PROJECT}")])
    };
    for filter in [
        "severity>=((",
        "protoPayload.methodName=",
        "protoPayload.methodName=\"CreateCryptoKey",
        "AND",
        "severity>=LOUD",
        "timestamp>=\"yesterday\"",
        "noSuchField=\"x\"",
        "unknown_function(\"x\")",
        "protoPayload.methodName=~\"(\"",
    ] {
        expect_error(
            base().set_filter(filter).send().await,
            Code::InvalidArgument,
            400,
            filter,
        );
    }
    // Control: a valid filter narrows the result.
    let all = base()
        .set_page_size(1000)
        .send()
        .await
        .unwrap()
        .entries
        .len();
    let some = base()
        .set_filter("protoPayload.methodName=\"CreateCryptoKey\"")
        .set_page_size(1000)
        .send()
        .await
        .unwrap()
        .entries
        .len();
    assert!(some > 0 && some < all, "{some} of {all}");
}

/// An investigation's worth of reads through every official client sends no mutating request.
#[tokio::test]
async fn reads_through_the_official_clients_send_no_mutating_request() {
    let server = benign().await;
    let initial = server.state();
    let k = kms(&server).await;
    k.get_key_ring().set_name(RING).send().await.unwrap();
    k.list_key_rings()
        .set_parent("projects/acme-orders-prod/locations/us-central1")
        .send()
        .await
        .unwrap();
    k.list_crypto_keys().set_parent(RING).send().await.unwrap();
    k.get_crypto_key().set_name(KEY).send().await.unwrap();
    k.list_crypto_key_versions()
        .set_parent(KEY)
        .send()
        .await
        .unwrap();
    k.get_crypto_key_version()
        .set_name(v(KEY, 1))
        .send()
        .await
        .unwrap();
    for r in [KEY, RING] {
        k.get_iam_policy()
            .set_resource(r)
            .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
            .send()
            .await
            .unwrap();
    }
    logging(&server)
        .await
        .list_log_entries()
        .set_resource_names([format!("projects/{PROJECT}")])
        .set_filter("protoPayload.serviceName=\"cloudkms.googleapis.com\"")
        .set_order_by("timestamp desc")
        .send()
        .await
        .unwrap();
    inventory(&server)
        .await
        .search_protected_resources()
        .set_scope("organizations/583920174622")
        .set_crypto_key(KEY)
        .send()
        .await
        .unwrap();
    let rm = projects(&server).await;
    rm.get_project()
        .set_name("projects/418273645091")
        .send()
        .await
        .unwrap();
    rm.get_iam_policy()
        .set_resource("projects/acme-orders-prod")
        .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
        .send()
        .await
        .unwrap();

    let ledger = server.requests();
    assert_eq!(ledger.len(), 12);
    for e in &ledger {
        assert!(
            !e.mutating,
            "{} {} ({}) is flagged mutating",
            e.http_method, e.path, e.method_id
        );
        assert_eq!(e.status, 200, "{} {}", e.http_method, e.path);
        let post_read =
            e.method_id == "logging.entries.list" || e.method_id.ends_with("projects.getIamPolicy");
        assert_eq!(
            e.http_method,
            if post_read { "POST" } else { "GET" },
            "{}",
            e.method_id
        );
    }
    let ids: BTreeSet<&str> = ledger.iter().map(|e| e.method_id.as_str()).collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert_eq!(server.state(), initial, "the world is unchanged");
}
