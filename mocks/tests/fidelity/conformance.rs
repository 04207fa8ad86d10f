//! Part 1: every answer the mock gives for a bundled scenario, read and write, success and
//! error, checked field by field against Google's discovery documents and wire conventions.

use std::collections::{BTreeMap, BTreeSet};

use gcp_mock::Scenario;
use gcp_mock::discovery::Api;
use google_cloud_gax::paginator::Paginator as _;
use google_cloud_iam_v1::model::GetPolicyOptions;
use serde_json::{Map, Value, json};

use crate::recordings;
use crate::support::*;

const KMS: Api = Api::CloudKms;
const LOGGING: Api = Api::Logging;
const INVENTORY: Api = Api::KmsInventory;

fn names(items: &[Map<String, Value>]) -> Vec<String> {
    items
        .iter()
        .map(|m| {
            m.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn parent_of(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.truncate(parts.len().saturating_sub(2));
    parts.join("/")
}

/// Resource Manager v3 `Project` (no discovery document is vendored for it).
fn assert_project(p: &Value, what: &str) {
    const FIELDS: &[&str] = &[
        "name",
        "projectId",
        "parent",
        "state",
        "displayName",
        "createTime",
        "updateTime",
        "deleteTime",
        "etag",
        "labels",
    ];
    let obj = p
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {p}"));
    for k in obj.keys() {
        assert!(
            FIELDS.contains(&k.as_str()),
            "{what}: {k} is not a field of a v3 Project"
        );
    }
    let name = str_of(p, "name");
    assert!(
        name.strip_prefix("projects/")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "{what}: name {name:?} is not projects/<number>"
    );
    assert!(
        ["ACTIVE", "DELETE_REQUESTED", "STATE_UNSPECIFIED"].contains(&str_of(p, "state"))
            || p.get("state").is_none(),
        "{what}: state {p}"
    );
    let problems = wire_problems(p, "$");
    assert!(problems.is_empty(), "{what}: {problems:?}");
}

/// Reads every KMS list in pages of one, checking each page, and returns the items.
async fn paged_kms_list(raw: &Raw, path: &str, field: &str, schema: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let q = query(&[("pageSize", "1"), ("pageToken", &token)]);
        let page = raw.get_ok(&format!("{path}?{q}")).await;
        assert_conforms(
            KMS,
            schema,
            &tolerate_empty_attestation(&page),
            &format!("GET {path} page {pages}"),
        );
        items.extend(
            page.get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        );
        pages += 1;
        match page.get("nextPageToken").and_then(Value::as_str) {
            Some(t) => token = t.to_owned(),
            None => break,
        }
        assert!(pages < 1000, "{path}: endless paging");
    }
    items
}

/// What a scenario holds, to pick targets from.
struct World {
    scenario: Scenario,
}

impl World {
    fn project_ids(&self) -> BTreeSet<String> {
        names(&self.scenario.key_rings)
            .iter()
            .map(|n| n.split('/').nth(1).unwrap_or_default().to_owned())
            .collect()
    }

    /// A key whose lifecycle the mock can drive: symmetric, generated (not imported, not
    /// external), with an ENABLED primary.
    fn mutable_key(&self) -> Value {
        self.scenario
            .crypto_keys
            .iter()
            .map(|k| Value::Object(k.clone()))
            .find(|k| {
                str_of(k, "purpose") == "ENCRYPT_DECRYPT"
                    && k.get("importOnly") != Some(&json!(true))
                    && k.pointer("/versionTemplate/protectionLevel")
                        .and_then(Value::as_str)
                        != Some("EXTERNAL")
                    && k.pointer("/primary/state").and_then(Value::as_str) == Some("ENABLED")
            })
            .unwrap_or_else(|| panic!("{}: no key to mutate", self.scenario.name))
    }
}

pub async fn run(name: &str) {
    let scenario = bundled(name);
    let world = World {
        scenario: scenario.clone(),
    };
    let server = start(scenario.clone()).await;
    let raw = Raw::new(&server);

    reads(&world, &raw).await;
    sdk_reads(&world, &server).await;

    // The read phase sent only reads, and all of them succeeded.
    let ledger = server.requests();
    assert!(!ledger.is_empty());
    for e in &ledger {
        assert!(
            !e.mutating,
            "{name}: read phase sent a mutating request: {} {} ({})",
            e.http_method, e.path, e.method_id
        );
        assert_ne!(
            e.method_id, "unknown",
            "{name}: {} {} is not a served route",
            e.http_method, e.path
        );
        assert_eq!(
            e.status, 200,
            "{name}: {} {} answered {}",
            e.http_method, e.path, e.status
        );
    }
    server.clear_requests();

    mutations(&world, &raw).await;
    let mutating: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|e| e.mutating)
        .collect();
    let ids: BTreeSet<&str> = mutating
        .iter()
        .map(|e| e.method_id.rsplit('.').next().unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        [
            "create",
            "patch",
            "updatePrimaryVersion",
            "destroy",
            "restore",
            "setIamPolicy"
        ]
        .into(),
        "{name}: the ledger flags exactly the writes as mutating"
    );

    errors(&world, &raw).await;
}

async fn reads(world: &World, raw: &Raw) {
    let s = &world.scenario;
    let what = |x: &str| format!("{}: {x}", s.name);

    // Locations.
    for p in world.project_ids() {
        let path = format!("/v1/projects/{p}/locations");
        let list = raw
            .get_ok(&format!(
                "{path}?{}",
                query(&[("pageSize", "0"), ("pageToken", "")])
            ))
            .await;
        assert_conforms(KMS, "ListLocationsResponse", &list, &what(&path));
    }
    for ring in names(&s.key_rings) {
        let loc = parent_of(&ring);
        let got = raw.get_ok(&format!("/v1/{loc}")).await;
        assert_conforms(KMS, "Location", &got, &what(&loc));
    }

    // Key rings: list per location (paged by one), get each, its IAM policy.
    let by_parent: BTreeMap<String, BTreeSet<String>> =
        names(&s.key_rings)
            .into_iter()
            .fold(BTreeMap::new(), |mut m, r| {
                m.entry(parent_of(&r)).or_default().insert(r);
                m
            });
    for (parent, rings) in &by_parent {
        let path = format!("/v1/{parent}/keyRings");
        let listed = paged_kms_list(raw, &path, "keyRings", "ListKeyRingsResponse").await;
        let listed: BTreeSet<String> = listed
            .iter()
            .map(|r| str_of(r, "name").to_owned())
            .collect();
        assert_eq!(&listed, rings, "{}", what(&path));
        let whole = raw
            .get_ok(&format!(
                "{path}?{}",
                query(&[("pageSize", "0"), ("pageToken", "")])
            ))
            .await;
        assert_conforms(KMS, "ListKeyRingsResponse", &whole, &what(&path));
        assert_eq!(
            whole.get("totalSize"),
            Some(&json!(rings.len())),
            "{}: totalSize",
            what(&path)
        );
    }
    for ring in &s.key_rings {
        let name = str_of(&Value::Object(ring.clone()), "name").to_owned();
        let got = raw.get_ok(&format!("/v1/{name}")).await;
        assert_conforms(KMS, "KeyRing", &got, &what(&name));
        assert_same_json(&Value::Object(ring.clone()), &got, &what(&name));
        let policy = raw
            .get_ok(&format!(
                "/v1/{name}:getIamPolicy?options.requestedPolicyVersion=3"
            ))
            .await;
        assert_conforms(
            KMS,
            "Policy",
            &policy,
            &what(&format!("{name}:getIamPolicy")),
        );
        if let Some(p) = s.iam_policies.get(&name) {
            assert_same_json(
                &Value::Object(p.clone()),
                &policy,
                &what(&format!("{name}:getIamPolicy")),
            );
        }
        let path = format!("/v1/{name}/cryptoKeys");
        let keys = paged_kms_list(raw, &path, "cryptoKeys", "ListCryptoKeysResponse").await;
        let expected: BTreeSet<String> = names(&s.crypto_keys)
            .into_iter()
            .filter(|k| parent_of(k) == name)
            .collect();
        let keys: BTreeSet<String> = keys.iter().map(|k| str_of(k, "name").to_owned()).collect();
        assert_eq!(keys, expected, "{}", what(&path));
    }

    // Keys: get, versions (paged, filtered, each get), IAM policy.
    for key in &s.crypto_keys {
        let key = Value::Object(key.clone());
        let name = str_of(&key, "name").to_owned();
        let expected: Vec<&Map<String, Value>> = s
            .crypto_key_versions
            .iter()
            .filter(|v| parent_of(str_of(&Value::Object((*v).clone()), "name")) == name)
            .collect();
        let last_id = expected.len() as u64;

        // The scenario as Google would show it now: scheduled destructions whose time has
        // come happened, due rotations created new primaries.
        let now = jiff::Timestamp::now();
        let mut key_now = key.clone();
        let rotations = recordings::key_now_from(&mut key_now, last_id, now);
        let got = raw.get_ok(&format!("/v1/{name}")).await;
        assert_conforms(
            KMS,
            "CryptoKey",
            &tolerate_empty_attestation(&got),
            &what(&name),
        );
        let mut served = got.clone();
        if rotations > 0 && str_of(&key_now["primary"], "protectionLevel") == "HSM" {
            // A rotated HSM primary carries an attestation no scenario can predict.
            let attestation = served["primary"]
                .as_object_mut()
                .unwrap()
                .remove("attestation");
            assert!(
                attestation.is_some(),
                "{}: a new HSM version has an attestation",
                what(&name)
            );
        }
        assert_same_json(&key_now, &served, &what(&name));

        let path = format!("/v1/{name}/cryptoKeyVersions");
        let versions = paged_kms_list(
            raw,
            &path,
            "cryptoKeyVersions",
            "ListCryptoKeyVersionsResponse",
        )
        .await;
        assert_eq!(
            versions.len() as u64,
            last_id + rotations,
            "{}",
            what(&path)
        );
        for q in [
            query(&[("pageSize", "0"), ("pageToken", ""), ("view", "1")]),
            query(&[("filter", "state=ENABLED")]),
            query(&[("filter", "state!=DESTROYED"), ("view", "FULL")]),
        ] {
            let list = raw.get_ok(&format!("{path}?{q}")).await;
            assert_conforms(
                KMS,
                "ListCryptoKeyVersionsResponse",
                &tolerate_empty_attestation(&list),
                &what(&format!("{path}?{q}")),
            );
        }
        for v in expected {
            let vname = v.get("name").and_then(Value::as_str).unwrap_or_default();
            let got = raw.get_ok(&format!("/v1/{vname}")).await;
            assert_conforms(KMS, "CryptoKeyVersion", &got, &what(vname));
            let mut v_now = Value::Object(v.clone());
            recordings::version_now(&mut v_now, jiff::Timestamp::now());
            assert_same_json(&v_now, &got, &what(vname));
        }

        let policy = raw
            .get_ok(&format!(
                "/v1/{name}:getIamPolicy?options.requestedPolicyVersion=3"
            ))
            .await;
        assert_conforms(
            KMS,
            "Policy",
            &policy,
            &what(&format!("{name}:getIamPolicy")),
        );
        if let Some(p) = s.iam_policies.get(&name) {
            assert_same_json(
                &Value::Object(p.clone()),
                &policy,
                &what(&format!("{name}:getIamPolicy")),
            );
        }

        let perms = raw
            .post_ok(
                &format!("/v1/{name}:testIamPermissions"),
                &json!({"permissions": ["cloudkms.cryptoKeys.get"]}),
            )
            .await;
        assert_conforms(
            KMS,
            "TestIamPermissionsResponse",
            &perms,
            &what(&format!("{name}:testIamPermissions")),
        );

        // KMS Inventory, project and organization scope.
        let project = name.split('/').nth(1).unwrap_or_default();
        let mut scopes = vec![format!("projects/{project}")];
        scopes.extend(s.organization.clone());
        for scope in scopes {
            let path = format!("/v1/{scope}/protectedResources:search");
            let mut token = String::new();
            loop {
                let q = query(&[
                    ("cryptoKey", &name),
                    ("pageSize", "1"),
                    ("pageToken", &token),
                ]);
                let page = raw.get_ok(&format!("{path}?{q}")).await;
                assert_conforms(
                    INVENTORY,
                    "GoogleCloudKmsInventoryV1SearchProtectedResourcesResponse",
                    &page,
                    &what(&path),
                );
                match page.get("nextPageToken").and_then(Value::as_str) {
                    Some(t) => token = t.to_owned(),
                    None => break,
                }
            }
        }
    }

    // Logging: every entry, per log parent, in small pages, both orders.
    let parents: BTreeSet<String> = s
        .log_entries
        .iter()
        .filter_map(|e| {
            e.get("logName")?
                .as_str()?
                .split("/logs/")
                .next()
                .map(str::to_owned)
        })
        .collect();
    let mut seen = 0;
    for parent in &parents {
        for order in ["timestamp desc", "timestamp asc"] {
            let mut token = String::new();
            let mut last: Option<String> = None;
            loop {
                let body = json!({"resourceNames": [parent], "orderBy": order, "pageSize": 7, "pageToken": token});
                let page = raw.post_ok("/v2/entries:list", &body).await;
                assert_conforms(
                    LOGGING,
                    "ListLogEntriesResponse",
                    &page,
                    &what(&format!("entries:list {parent}")),
                );
                for e in page
                    .get("entries")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ts = str_of(e, "timestamp").to_owned();
                    if let Some(prev) = &last {
                        let (a, b) = (
                            prev.parse::<jiff::Timestamp>().unwrap(),
                            ts.parse::<jiff::Timestamp>().unwrap(),
                        );
                        assert!(
                            if order.ends_with("desc") {
                                a >= b
                            } else {
                                a <= b
                            },
                            "{}: {order} order",
                            what(parent)
                        );
                    }
                    last = Some(ts);
                    if order.ends_with("desc") {
                        seen += 1;
                    }
                }
                match page.get("nextPageToken").and_then(Value::as_str) {
                    Some(t) => token = t.to_owned(),
                    None => break,
                }
            }
        }
    }
    assert_eq!(
        seen,
        s.log_entries.len(),
        "{}: every scenario entry is listed once",
        s.name
    );
    for filter in [
        "protoPayload.serviceName=\"cloudkms.googleapis.com\"",
        "logName:\"cloudaudit.googleapis.com%2Factivity\" AND severity>=NOTICE",
        "timestamp>=\"2026-11-01T00:00:00Z\"",
    ] {
        let body = json!({"resourceNames": parents, "filter": filter, "orderBy": "timestamp desc", "pageSize": 1000});
        let page = raw.post_ok("/v2/entries:list", &body).await;
        assert_conforms(LOGGING, "ListLogEntriesResponse", &page, &what(filter));
    }

    // Resource Manager: projects by id and by number, their IAM policies; folders; organization.
    for p in &s.projects {
        let p = Value::Object(p.clone());
        for id in [
            str_of(&p, "projectId").to_owned(),
            str_of(&p, "name")
                .trim_start_matches("projects/")
                .to_owned(),
        ] {
            let got = raw.get_ok(&format!("/v3/projects/{id}")).await;
            assert_project(&got, &what(&format!("projects/{id}")));
            assert_same_json(&p, &got, &what(&format!("projects/{id}")));
            let policy = raw
                .post_ok(
                    &format!("/v3/projects/{id}:getIamPolicy"),
                    &json!({"options": {"requestedPolicyVersion": 3}}),
                )
                .await;
            assert_conforms(
                KMS,
                "Policy",
                &policy,
                &what(&format!("projects/{id}:getIamPolicy")),
            );
        }
        if let Some(folder) = p
            .get("parent")
            .and_then(Value::as_str)
            .filter(|f| f.starts_with("folders/"))
        {
            let policy = raw
                .post_ok(
                    &format!("/v3/{folder}:getIamPolicy"),
                    &json!({"options": {"requestedPolicyVersion": 3}}),
                )
                .await;
            assert_conforms(
                KMS,
                "Policy",
                &policy,
                &what(&format!("{folder}:getIamPolicy")),
            );
        }
    }
    if let Some(org) = &s.organization {
        let policy = raw
            .post_ok(
                &format!("/v3/{org}:getIamPolicy"),
                &json!({"options": {"requestedPolicyVersion": 3}}),
            )
            .await;
        assert_conforms(
            KMS,
            "Policy",
            &policy,
            &what(&format!("{org}:getIamPolicy")),
        );
    }
}

/// The same reads through the official clients: every answer must parse.
async fn sdk_reads(world: &World, server: &gcp_mock::MockServer) {
    let s = &world.scenario;
    let kms = kms(server).await;
    let inv = inventory(server).await;
    let rm = projects(server).await;
    let log = logging(server).await;
    for ring in names(&s.key_rings) {
        let r = kms.get_key_ring().set_name(&ring).send().await.unwrap();
        assert_eq!(r.name, ring);
        let mut pages = kms
            .list_crypto_keys()
            .set_parent(&ring)
            .set_page_size(1)
            .by_page();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            n += page.unwrap().crypto_keys.len();
        }
        assert_eq!(
            n,
            names(&s.crypto_keys)
                .iter()
                .filter(|k| parent_of(k) == ring)
                .count(),
            "{ring}"
        );
    }
    for key in names(&s.crypto_keys) {
        let k = kms.get_crypto_key().set_name(&key).send().await.unwrap();
        assert_eq!(k.name, key);
        let versions = kms
            .list_crypto_key_versions()
            .set_parent(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            versions.total_size as usize,
            versions.crypto_key_versions.len(),
            "{key}"
        );
        for v in &versions.crypto_key_versions {
            let got = kms
                .get_crypto_key_version()
                .set_name(&v.name)
                .send()
                .await
                .unwrap();
            assert_eq!(&got, v, "{}: get and list agree", v.name);
        }
        kms.get_iam_policy()
            .set_resource(&key)
            .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
            .send()
            .await
            .unwrap();
        let project = key.split('/').nth(1).unwrap_or_default();
        inv.search_protected_resources()
            .set_scope(format!("projects/{project}"))
            .set_crypto_key(&key)
            .send()
            .await
            .unwrap();
    }
    for p in &s.projects {
        let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
        let got = rm.get_project().set_name(name).send().await.unwrap();
        assert_eq!(got.name, name);
        rm.get_iam_policy()
            .set_resource(name)
            .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
            .send()
            .await
            .unwrap();
    }
    let parents: BTreeSet<String> = s
        .log_entries
        .iter()
        .filter_map(|e| {
            e.get("logName")?
                .as_str()?
                .split("/logs/")
                .next()
                .map(str::to_owned)
        })
        .collect();
    let mut pages = log
        .list_log_entries()
        .set_resource_names(parents)
        .set_page_size(10)
        .by_page();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page.unwrap().entries.len();
    }
    assert_eq!(
        n,
        s.log_entries.len(),
        "{}: entries through the Logging client",
        s.name
    );
}

/// KNOWN MOCK BUG, tolerated here so the rest of each answer is still checked (the failing
/// test is `mock_bug_hsm_versions_have_an_empty_attestation`): HSM versions the mock creates
/// carry `"attestation": {"content": ""}`. Drops exactly that `content` wherever it occurs.
/// Remove this once the mock is fixed.
fn tolerate_empty_attestation(v: &Value) -> Value {
    let mut v = v.clone();
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(a)) = m.get_mut("attestation")
                    && a.get("content") == Some(&json!(""))
                {
                    a.remove("content");
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

async fn mutations(world: &World, raw: &Raw) {
    let s = &world.scenario;
    let what = |x: &str| format!("{}: {x}", s.name);
    let since = jiff::Timestamp::now();
    let key = world.mutable_key();
    let key_name = str_of(&key, "name").to_owned();
    let old_primary = key
        .pointer("/primary/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();

    // Create a version.
    let created = raw
        .post_ok(&format!("/v1/{key_name}/cryptoKeyVersions"), &json!({}))
        .await;
    assert_conforms(
        KMS,
        "CryptoKeyVersion",
        &tolerate_empty_attestation(&created),
        &what("create version"),
    );
    let new_version = str_of(&created, "name").to_owned();
    let new_id = new_version
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();

    // Disable it (names) and enable it again (numbers, as the typed clients send).
    for (state, sent) in [("DISABLED", json!("DISABLED")), ("ENABLED", json!(1))] {
        let a = raw
            .call(
                "PATCH",
                &format!("/v1/{new_version}?updateMask=state"),
                Some(&json!({"name": new_version, "state": sent})),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_conforms(
            KMS,
            "CryptoKeyVersion",
            &tolerate_empty_attestation(&a.body),
            &what(&format!("PATCH state {state}")),
        );
        assert_eq!(str_of(&a.body, "state"), state);
    }

    // Make it primary.
    let k = raw
        .post_ok(
            &format!("/v1/{key_name}:updatePrimaryVersion"),
            &json!({"cryptoKeyVersionId": new_id}),
        )
        .await;
    assert_conforms(
        KMS,
        "CryptoKey",
        &tolerate_empty_attestation(&k),
        &what("updatePrimaryVersion"),
    );
    assert_eq!(
        k.pointer("/primary/name").and_then(Value::as_str),
        Some(new_version.as_str())
    );

    // Destroy the old primary and restore it.
    let d = raw
        .post_ok(&format!("/v1/{old_primary}:destroy"), &json!({}))
        .await;
    assert_conforms(KMS, "CryptoKeyVersion", &d, &what("destroy"));
    assert_eq!(str_of(&d, "state"), "DESTROY_SCHEDULED");
    let r = raw
        .post_ok(&format!("/v1/{old_primary}:restore"), &json!({}))
        .await;
    assert_conforms(KMS, "CryptoKeyVersion", &r, &what("restore"));
    assert_eq!(str_of(&r, "state"), "DISABLED");

    // IAM: read-modify-write with the etag, on the key and on its key ring.
    for resource in [key_name.clone(), parent_of(&key_name)] {
        let mut policy = raw
            .get_ok(&format!(
                "/v1/{resource}:getIamPolicy?options.requestedPolicyVersion=3"
            ))
            .await;
        let bindings = policy
            .as_object_mut()
            .unwrap()
            .entry("bindings")
            .or_insert_with(|| json!([]));
        bindings.as_array_mut().unwrap().push(
            json!({"role": "roles/cloudkms.viewer", "members": ["user:fidelity-check@acme.example"]}),
        );
        let set = raw
            .post_ok(
                &format!("/v1/{resource}:setIamPolicy"),
                &json!({"policy": policy, "updateMask": "bindings"}),
            )
            .await;
        assert_conforms(
            KMS,
            "Policy",
            &set,
            &what(&format!("{resource}:setIamPolicy")),
        );
        assert_ne!(
            set.get("etag"),
            policy.get("etag"),
            "a write returns a new etag"
        );
    }

    // Rotation schedule.
    let next = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 30))
        .unwrap();
    let a = raw
        .call(
            "PATCH",
            &format!("/v1/{key_name}?{}", query(&[("updateMask", "rotationPeriod,nextRotationTime")])),
            Some(&json!({"name": key_name, "rotationPeriod": "7776000s", "nextRotationTime": next.to_string()})),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_conforms(
        KMS,
        "CryptoKey",
        &tolerate_empty_attestation(&a.body),
        &what("PATCH rotation"),
    );
    assert_eq!(str_of(&a.body, "rotationPeriod"), "7776000s");

    // The audit entries the writes appended are valid LogEntries too.
    let project = key_name.split('/').nth(1).unwrap_or_default();
    let body = json!({
        "resourceNames": [format!("projects/{project}")],
        "filter": format!("protoPayload.resourceName:\"{key_name}\" AND timestamp>=\"{since}\""),
        "orderBy": "timestamp desc",
        "pageSize": 50,
    });
    let page = raw.post_ok("/v2/entries:list", &body).await;
    assert_conforms(
        LOGGING,
        "ListLogEntriesResponse",
        &page,
        &what("audit entries of the writes"),
    );
    let methods: BTreeSet<&str> = page
        .get("entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.pointer("/protoPayload/methodName")?.as_str())
        .collect();
    for m in [
        "CreateCryptoKeyVersion",
        "UpdateCryptoKeyVersion",
        "UpdateCryptoKeyPrimaryVersion",
        "DestroyCryptoKeyVersion",
        "RestoreCryptoKeyVersion",
        "SetIamPolicy",
        "UpdateCryptoKey",
    ] {
        assert!(
            methods.contains(m),
            "{}: no {m} audit entry (have {methods:?})",
            s.name
        );
    }
}

async fn errors(world: &World, raw: &Raw) {
    let s = &world.scenario;
    let what = |x: &str| format!("{}: {x}", s.name);
    let key = world.mutable_key();
    let key_name = str_of(&key, "name").to_owned();
    let ring = parent_of(&key_name);

    let a = raw.get(&format!("/v1/{ring}/cryptoKeys/no-such-key")).await;
    assert_error(&a, 404, "NOT_FOUND", &what("missing key"));
    let a = raw
        .get(&format!("/v1/{key_name}/cryptoKeyVersions/999"))
        .await;
    assert_error(&a, 404, "NOT_FOUND", &what("missing version"));
    let a = raw
        .get(&format!("/v1/{ring}/cryptoKeys/no-such-key:getIamPolicy"))
        .await;
    assert_error(&a, 404, "NOT_FOUND", &what("policy of a missing key"));

    let stale = json!({"policy": {"version": 1, "etag": "BwXE/gnR8t4=", "bindings": []}, "updateMask": "bindings"});
    let a = raw
        .post(&format!("/v1/{key_name}:setIamPolicy"), &stale)
        .await;
    assert_error(&a, 409, "ABORTED", &what("stale etag"));

    let created = raw
        .post_ok(&format!("/v1/{key_name}/cryptoKeyVersions"), &json!({}))
        .await;
    let v = str_of(&created, "name").to_owned();
    let a = raw
        .call(
            "PATCH",
            &format!("/v1/{v}?updateMask=state"),
            Some(&json!({"state": "DISABLED"})),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    let id = v.rsplit('/').next().unwrap_or_default();
    let a = raw
        .post(
            &format!("/v1/{key_name}:updatePrimaryVersion"),
            &json!({"cryptoKeyVersionId": id}),
        )
        .await;
    assert_error(
        &a,
        400,
        "FAILED_PRECONDITION",
        &what("promote a DISABLED version"),
    );
    let a = raw
        .call(
            "PATCH",
            &format!("/v1/{v}?updateMask=state"),
            Some(&json!({"state": "DESTROYED"})),
            None,
        )
        .await;
    assert_error(&a, 400, "INVALID_ARGUMENT", &what("PATCH state DESTROYED"));
    let a = raw
        .call(
            "PATCH",
            &format!("/v1/{v}"),
            Some(&json!({"state": "ENABLED"})),
            None,
        )
        .await;
    assert_error(
        &a,
        400,
        "INVALID_ARGUMENT",
        &what("PATCH without updateMask"),
    );
    let a = raw
        .call(
            "PATCH",
            &format!("/v1/{v}?updateMask=state"),
            Some(&json!({"state": 99})),
            None,
        )
        .await;
    assert_error(&a, 400, "INVALID_ARGUMENT", &what("unknown enum number"));

    let project = key_name.split('/').nth(1).unwrap_or_default();
    let list = |extra: Value| {
        let mut b = json!({"resourceNames": [format!("projects/{project}")]});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            b[k] = v;
        }
        b
    };
    for (body, label) in [
        (list(json!({"pageSize": 1001})), "pageSize 1001"),
        (list(json!({"orderBy": "severity"})), "orderBy severity"),
        (list(json!({"filter": "severity>=(("})), "unparsable filter"),
        (
            list(json!({"filter": "noSuchField=\"x\""})),
            "unknown LogEntry field",
        ),
        (json!({"resourceNames": []}), "no resource names"),
        (list(json!({"pageToken": "not-a-token"})), "bad page token"),
    ] {
        let a = raw.post("/v2/entries:list", &body).await;
        assert_error(&a, 400, "INVALID_ARGUMENT", &what(label));
    }

    let a = raw
        .get(&format!("/v1/projects/{project}/protectedResources:search"))
        .await;
    assert_error(
        &a,
        400,
        "INVALID_ARGUMENT",
        &what("search without cryptoKey"),
    );

    let a = raw.get("/v3/projects/no-such-project-4242").await;
    assert_error(
        &a,
        403,
        "PERMISSION_DENIED",
        &what("RM get of an unknown project"),
    );
    let a = raw
        .post("/v3/projects/no-such-project-4242:getIamPolicy", &json!({}))
        .await;
    assert_error(
        &a,
        403,
        "PERMISSION_DENIED",
        &what("RM getIamPolicy of an unknown project"),
    );

    let a = raw
        .get("/v1/projects/p/locations/l/keyRings/r/cryptoKeys/k/extra/path")
        .await;
    assert_error(&a, 404, "NOT_FOUND", &what("unknown URL"));
    let a = raw
        .call(
            "POST",
            &format!("/v1/{key_name}/cryptoKeyVersions"),
            None,
            None,
        )
        .await;
    assert_eq!(
        a.status, 200,
        "an empty body is an empty message: {}",
        a.body
    );
    let resp = raw
        .post_text(&format!("/v1/{key_name}/cryptoKeyVersions"), "{not json")
        .await;
    assert_error(&resp, 400, "INVALID_ARGUMENT", &what("malformed JSON body"));
}
