//! Part 2: real Cloud KMS responses (Cloud Custodian flight recordings) served by the mock and
//! read back, raw and through the official Rust client.
//!
//! Each recording is one real request and its answer. For each, the test builds a world from
//! the recorded resources only, replays the recorded request, and requires the raw answer to be
//! the recorded body (the mock adds and drops nothing) and the typed answer to say what the
//! recorded body says. Recordings are years old, so the expected body is the recorded one as
//! Google would show it *today*: a version whose `destroyTime` has passed is DESTROYED (with
//! `destroyEventTime`), and a key whose `nextRotationTime` has passed has rotated (see
//! [`as_of_now`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use google_cloud_iam_v1::model as iam;
use google_cloud_iam_v1::model::GetPolicyOptions;
use google_cloud_kms_v1::model as kms;
use google_cloud_wkt::FieldMask;
use serde_json::{Map, Value, json};

use crate::support::*;

pub fn realdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/realdata")
}

/// One recorded request and its answer.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Path under `kms-api-responses/`.
    pub file: String,
    /// The flight (directory) it belongs to: one recording session.
    pub flight: String,
    pub method: &'static str,
    /// `/v1/...`, without the query.
    pub path: String,
    pub body: Value,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

pub fn recordings() -> Vec<Recording> {
    let root = realdata().join("kms-api-responses");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 30,
        "the recordings are missing from {}",
        root.display()
    );
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let flight = p
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let raw: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            assert_eq!(raw["headers"]["status"], "200", "{rel}");
            let body = raw["body"].clone();
            let file_name = p.file_name().unwrap().to_string_lossy().into_owned();
            let (method, path) = if file_name.starts_with("patch-") {
                // No content-location on the PATCH answer: the request path is the key's name.
                ("PATCH", format!("/v1/{}", str_of(&body, "name")))
            } else {
                let url = raw["headers"]["content-location"].as_str().unwrap();
                let path = url
                    .trim_start_matches("https://cloudkms.googleapis.com")
                    .split('?')
                    .next()
                    .unwrap()
                    .to_owned();
                // Quirk kept verbatim in the collection: the test3 recording names test2.
                let path = if file_name.contains("cryptoKeys-test3-getIamPolicy") {
                    path.replace("/cryptoKeys/test2:", "/cryptoKeys/test3:")
                } else {
                    path
                };
                ("GET", path)
            };
            Recording {
                file: rel,
                flight,
                method,
                path,
                body,
            }
        })
        .collect()
}

/// What a recorded request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Locations,
    Location,
    KeyRings,
    KeyRing,
    CryptoKeys,
    CryptoKey,
    PatchCryptoKey,
    Versions,
    Version,
    Policy,
}

pub fn kind(r: &Recording) -> Kind {
    let p = r.path.trim_start_matches("/v1/");
    let n = p.split('/').count();
    match () {
        _ if p.ends_with(":getIamPolicy") => Kind::Policy,
        _ if r.method == "PATCH" => Kind::PatchCryptoKey,
        _ if p.ends_with("/locations") => Kind::Locations,
        _ if n == 4 => Kind::Location,
        _ if p.ends_with("/keyRings") => Kind::KeyRings,
        _ if n == 6 => Kind::KeyRing,
        _ if p.ends_with("/cryptoKeys") => Kind::CryptoKeys,
        _ if n == 8 => Kind::CryptoKey,
        _ if p.ends_with("/cryptoKeyVersions") => Kind::Versions,
        _ => Kind::Version,
    }
}

fn parent(name: &str) -> String {
    let mut parts: Vec<&str> = name.split('/').collect();
    parts.truncate(parts.len().saturating_sub(2));
    parts.join("/")
}

fn items<'a>(body: &'a Value, field: &str) -> Vec<&'a Value> {
    body.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Every recorded key ring and key, by flight, to find the parents a recording does not carry.
struct Catalog {
    rings: BTreeMap<String, Value>,
    keys: BTreeMap<(String, String), Value>,
}

impl Catalog {
    fn new(all: &[Recording]) -> Catalog {
        let mut rings = BTreeMap::new();
        let mut keys = BTreeMap::new();
        for r in all {
            match kind(r) {
                Kind::KeyRing => {
                    rings.insert(str_of(&r.body, "name").to_owned(), r.body.clone());
                }
                Kind::KeyRings => {
                    for k in items(&r.body, "keyRings") {
                        rings.insert(str_of(k, "name").to_owned(), k.clone());
                    }
                }
                Kind::CryptoKey => {
                    keys.entry((r.flight.clone(), str_of(&r.body, "name").to_owned()))
                        .or_insert_with(|| r.body.clone());
                }
                Kind::CryptoKeys => {
                    for k in items(&r.body, "cryptoKeys") {
                        keys.entry((r.flight.clone(), str_of(k, "name").to_owned()))
                            .or_insert_with(|| k.clone());
                    }
                }
                _ => {}
            }
        }
        Catalog { rings, keys }
    }

    fn key(&self, flight: &str, name: &str) -> Value {
        self.keys
            .get(&(flight.to_owned(), name.to_owned()))
            .cloned()
            .unwrap_or_else(|| panic!("no recording of key {name} in flight {flight}"))
    }
}

/// A scenario holding exactly the given recorded resources. KMS numbers versions 1..N with no
/// gaps and never deletes one, so a key whose recorded primary is version N > 1 had versions
/// 1..N-1 too; those are not in any recording and are filled in as DISABLED placeholders
/// (never compared).
fn world(
    catalog: &Catalog,
    keys: &[Value],
    versions: &[Value],
    rings: &[Value],
    policies: &[(String, Value)],
) -> Value {
    let mut ring_map: BTreeMap<String, Value> = rings
        .iter()
        .map(|r| (str_of(r, "name").to_owned(), r.clone()))
        .collect();
    let mut version_map: BTreeMap<String, Value> = BTreeMap::new();
    let mut key_list = Vec::new();
    for v in versions {
        version_map.insert(str_of(v, "name").to_owned(), v.clone());
    }
    for k in keys {
        let name = str_of(k, "name").to_owned();
        let ring = parent(&name);
        ring_map.entry(ring.clone()).or_insert_with(|| {
            catalog
                .rings
                .get(&ring)
                .cloned()
                .unwrap_or_else(|| json!({"name": ring}))
        });
        let mut k = k.clone();
        if let Some(p) = k.get("primary").cloned() {
            let pname = str_of(&p, "name").to_owned();
            match version_map.get(&pname) {
                // A separately recorded version object is the newer truth for both.
                Some(v) => {
                    k["primary"] = v.clone();
                }
                None => {
                    version_map.insert(pname, p);
                }
            }
        }
        let top = version_map
            .keys()
            .filter(|v| parent(v) == name)
            .filter_map(|v| v.rsplit('/').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        for id in 1..top {
            let vname = format!("{name}/cryptoKeyVersions/{id}");
            version_map.entry(vname.clone()).or_insert_with(|| {
                json!({
                    "name": vname,
                    "state": "DISABLED",
                    "createTime": k["createTime"],
                    "protectionLevel": k.pointer("/versionTemplate/protectionLevel").cloned().unwrap_or(json!("SOFTWARE")),
                    "algorithm": k.pointer("/versionTemplate/algorithm").cloned().unwrap_or(json!("GOOGLE_SYMMETRIC_ENCRYPTION")),
                })
            });
        }
        key_list.push(k);
    }
    let policies: Map<String, Value> = policies.iter().cloned().collect();
    json!({
        "keyRings": ring_map.into_values().collect::<Vec<_>>(),
        "cryptoKeys": key_list,
        "cryptoKeyVersions": version_map.into_values().collect::<Vec<_>>(),
        "iamPolicies": policies,
    })
}

/// The world a recording needs to be replayed.
fn world_for(catalog: &Catalog, r: &Recording) -> Value {
    let b = &r.body;
    match kind(r) {
        Kind::KeyRings => world(
            catalog,
            &[],
            &[],
            &items(b, "keyRings")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>(),
            &[],
        ),
        Kind::KeyRing => world(catalog, &[], &[], std::slice::from_ref(b), &[]),
        Kind::CryptoKeys => {
            let ring = r
                .path
                .trim_start_matches("/v1/")
                .trim_end_matches("/cryptoKeys")
                .to_owned();
            let ring_obj = catalog
                .rings
                .get(&ring)
                .cloned()
                .unwrap_or_else(|| json!({"name": ring}));
            world(
                catalog,
                &items(b, "cryptoKeys")
                    .into_iter()
                    .cloned()
                    .collect::<Vec<_>>(),
                &[],
                &[ring_obj],
                &[],
            )
        }
        Kind::CryptoKey => world(catalog, std::slice::from_ref(b), &[], &[], &[]),
        Kind::Versions => {
            let key = r
                .path
                .trim_start_matches("/v1/")
                .trim_end_matches("/cryptoKeyVersions");
            let versions: Vec<Value> = items(b, "cryptoKeyVersions").into_iter().cloned().collect();
            world(catalog, &[catalog.key(&r.flight, key)], &versions, &[], &[])
        }
        Kind::Version => {
            let key = parent(str_of(b, "name"));
            world(
                catalog,
                &[catalog.key(&r.flight, &key)],
                std::slice::from_ref(b),
                &[],
                &[],
            )
        }
        Kind::Policy => {
            let key = r
                .path
                .trim_start_matches("/v1/")
                .trim_end_matches(":getIamPolicy")
                .to_owned();
            world(
                catalog,
                &[catalog.key(&r.flight, &key)],
                &[],
                &[],
                &[(key, b.clone())],
            )
        }
        Kind::PatchCryptoKey | Kind::Locations | Kind::Location => {
            unreachable!("replayed separately")
        }
    }
}

// ---- what Google shows today ----

/// A recorded version as of now: past its `destroyTime`, a scheduled destruction has happened.
pub fn version_now(v: &mut Value, now: jiff::Timestamp) {
    if str_of(v, "state") != "DESTROY_SCHEDULED" {
        return;
    }
    let Some(due) = v
        .get("destroyTime")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    else {
        return;
    };
    if due <= now {
        v["state"] = json!("DESTROYED");
        v["destroyEventTime"] = v["destroyTime"].clone();
    }
}

/// A recorded key as of now, when its versions so far end at its primary.
fn key_now(k: &mut Value, now: jiff::Timestamp) -> u64 {
    let primary = k
        .pointer("/primary/name")
        .and_then(Value::as_str)
        .and_then(|n| n.rsplit('/').next()?.parse().ok())
        .unwrap_or(0);
    key_now_from(k, primary, now)
}

/// A key as of now, given the id of its last version: each passed `nextRotationTime` created
/// a new ENABLED primary (from the version template, numbered after the last version) and
/// moved `nextRotationTime` on by `rotationPeriod` (a schedule without a period rotates once
/// and ends). Returns how many rotations happened.
pub fn key_now_from(k: &mut Value, last_id: u64, now: jiff::Timestamp) -> u64 {
    if let Some(p) = k.get_mut("primary") {
        version_now(p, now);
    }
    let Some(mut next) = k
        .get("nextRotationTime")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
    else {
        return 0;
    };
    if next > now || str_of(k, "purpose") != "ENCRYPT_DECRYPT" {
        return 0;
    }
    let period = k
        .get("rotationPeriod")
        .and_then(Value::as_str)
        .and_then(gcp_mock::wire::parse_duration);
    let name = str_of(k, "name").to_owned();
    let mut id = last_id;
    let mut rotations = 0;
    let mut last = next;
    while next <= now {
        id += 1;
        rotations += 1;
        last = next;
        match period {
            Some(p) => next = next.checked_add(p).unwrap(),
            None => break,
        }
    }
    k["primary"] = json!({
        "name": format!("{name}/cryptoKeyVersions/{id}"),
        "state": "ENABLED",
        "protectionLevel": k.pointer("/versionTemplate/protectionLevel").cloned().unwrap_or(json!("SOFTWARE")),
        "algorithm": k.pointer("/versionTemplate/algorithm").cloned().unwrap_or(json!("GOOGLE_SYMMETRIC_ENCRYPTION")),
        "createTime": last.to_string(),
        "generateTime": last.to_string(),
    });
    if period.is_some() {
        k["nextRotationTime"] = json!(next.to_string());
    } else {
        k.as_object_mut().unwrap().remove("nextRotationTime");
    }
    rotations
}

/// The recorded body as Google would answer the same request now.
fn as_of_now(kind: Kind, body: &Value, now: jiff::Timestamp) -> Value {
    let mut b = body.clone();
    match kind {
        Kind::CryptoKey | Kind::PatchCryptoKey => {
            key_now(&mut b, now);
        }
        Kind::CryptoKeys => {
            for k in b
                .get_mut("cryptoKeys")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                key_now(k, now);
            }
        }
        Kind::Version => version_now(&mut b, now),
        Kind::Versions => {
            for v in b
                .get_mut("cryptoKeyVersions")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                version_now(v, now);
            }
        }
        _ => {}
    }
    b
}

/// How many recorded versions have since been destroyed, and how many rotations have since
/// happened, across all key and key-list recordings.
pub fn time_effects(all: &[Recording], now: jiff::Timestamp) -> (usize, u64) {
    let mut destroyed = 0;
    let mut rotations = 0;
    for r in all {
        let keys: Vec<Value> = match kind(r) {
            Kind::CryptoKey | Kind::PatchCryptoKey => vec![r.body.clone()],
            Kind::CryptoKeys => items(&r.body, "cryptoKeys").into_iter().cloned().collect(),
            _ => continue,
        };
        for mut k in keys {
            let before = k.pointer("/primary/state").cloned();
            rotations += key_now(&mut k, now);
            if before == Some(json!("DESTROY_SCHEDULED"))
                && k.pointer("/primary/state") == Some(&json!("DESTROYED"))
            {
                destroyed += 1;
            }
        }
    }
    (destroyed, rotations)
}

/// Hand-trimmed list recordings: `totalSize` counts items that were cut from the file (no
/// `nextPageToken`, fewer items than `totalSize`). The mock rightly counts what it holds.
fn trimmed(kind: Kind, body: &Value) -> bool {
    let field = match kind {
        Kind::KeyRings => "keyRings",
        Kind::CryptoKeys => "cryptoKeys",
        Kind::Versions => "cryptoKeyVersions",
        _ => return false,
    };
    body.get("nextPageToken").is_none()
        && body
            .get("totalSize")
            .and_then(Value::as_u64)
            .is_some_and(|t| t as usize != items(body, field).len())
}

// ---- typed comparisons ----

fn enum_name<E: EnumName>(e: &E) -> String {
    e.enum_name()
}

/// The SDK enums all have `name() -> Option<&str>`.
trait EnumName {
    fn enum_name(&self) -> String;
}

macro_rules! enum_names {
    ($($t:ty),*) => {$(
        impl EnumName for $t {
            fn enum_name(&self) -> String {
                self.name().map(str::to_owned).unwrap_or_else(|| format!("{:?}", self.value()))
            }
        }
    )*};
}

enum_names!(
    kms::crypto_key_version::CryptoKeyVersionState,
    kms::ProtectionLevel,
    kms::crypto_key_version::CryptoKeyVersionAlgorithm,
    kms::crypto_key::CryptoKeyPurpose
);

fn opt_str(j: &Value, f: &str) -> String {
    str_of(j, f).to_owned()
}

pub fn check_version(sdk: &kms::CryptoKeyVersion, j: &Value, what: &str) {
    let what = format!("{what} {}", str_of(j, "name"));
    assert_eq!(sdk.name, opt_str(j, "name"), "{what}: name");
    assert_eq!(enum_name(&sdk.state), opt_str(j, "state"), "{what}: state");
    assert_eq!(
        enum_name(&sdk.protection_level),
        opt_str(j, "protectionLevel"),
        "{what}: protectionLevel"
    );
    assert_eq!(
        enum_name(&sdk.algorithm),
        opt_str(j, "algorithm"),
        "{what}: algorithm"
    );
    for (field, got) in [
        ("createTime", &sdk.create_time),
        ("generateTime", &sdk.generate_time),
        ("destroyTime", &sdk.destroy_time),
        ("destroyEventTime", &sdk.destroy_event_time),
        ("importTime", &sdk.import_time),
    ] {
        let expected = j
            .get(field)
            .map(|v| json_time(v).unwrap_or_else(|| panic!("{what}: {field} {v}")));
        assert_eq!(sdk_time(got.as_ref()), expected, "{what}: {field}");
    }
    assert_eq!(sdk.import_job, opt_str(j, "importJob"), "{what}: importJob");
}

pub fn check_key(sdk: &kms::CryptoKey, j: &Value, what: &str) {
    let what = format!("{what} {}", str_of(j, "name"));
    assert_eq!(sdk.name, opt_str(j, "name"), "{what}: name");
    assert_eq!(
        enum_name(&sdk.purpose),
        opt_str(j, "purpose"),
        "{what}: purpose"
    );
    assert_eq!(
        sdk_time(sdk.create_time.as_ref()),
        j.get("createTime").and_then(json_time),
        "{what}: createTime"
    );
    assert_eq!(
        sdk_time(sdk.next_rotation_time.as_ref()),
        j.get("nextRotationTime").and_then(json_time),
        "{what}: nextRotationTime"
    );
    assert_eq!(
        sdk_duration(sdk.rotation_period().map(|b| b.as_ref())),
        j.get("rotationPeriod").and_then(json_duration),
        "{what}: rotationPeriod"
    );
    assert_eq!(
        sdk_duration(sdk.destroy_scheduled_duration.as_ref()),
        j.get("destroyScheduledDuration").and_then(json_duration),
        "{what}: destroyScheduledDuration"
    );
    let labels: BTreeMap<String, String> = sdk
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected: BTreeMap<String, String> = j
        .get("labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(labels, expected, "{what}: labels");
    let template = sdk
        .version_template
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no versionTemplate"));
    assert_eq!(
        enum_name(&template.protection_level),
        j.pointer("/versionTemplate/protectionLevel")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        "{what}: versionTemplate.protectionLevel"
    );
    assert_eq!(
        enum_name(&template.algorithm),
        j.pointer("/versionTemplate/algorithm")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        "{what}: versionTemplate.algorithm"
    );
    assert_eq!(
        sdk.import_only,
        j.get("importOnly") == Some(&json!(true)),
        "{what}: importOnly"
    );
    match (&sdk.primary, j.get("primary")) {
        (Some(p), Some(jp)) => check_version(p, jp, &format!("{what} primary")),
        (None, None) => {}
        (got, expected) => panic!("{what}: primary {got:?} vs {expected:?}"),
    }
}

pub fn check_ring(sdk: &kms::KeyRing, j: &Value, what: &str) {
    assert_eq!(sdk.name, opt_str(j, "name"), "{what}: name");
    assert_eq!(
        sdk_time(sdk.create_time.as_ref()),
        j.get("createTime").and_then(json_time),
        "{what}: createTime"
    );
}

pub fn check_policy(sdk: &iam::Policy, j: &Value, what: &str) {
    assert_eq!(
        i64::from(sdk.version),
        j.get("version").and_then(Value::as_i64).unwrap_or(0),
        "{what}: version"
    );
    let etag = base64::engine::general_purpose::STANDARD
        .decode(str_of(j, "etag"))
        .unwrap();
    assert_eq!(sdk.etag.as_ref(), etag.as_slice(), "{what}: etag bytes");
    let expected: Vec<(String, Vec<String>)> = j
        .get("bindings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|b| {
            let members = b["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_owned())
                .collect();
            (opt_str(b, "role"), members)
        })
        .collect();
    let got: Vec<(String, Vec<String>)> = sdk
        .bindings
        .iter()
        .map(|b| (b.role.clone(), b.members.clone()))
        .collect();
    assert_eq!(got, expected, "{what}: bindings");
}

// ---- the replay ----

/// Replays one recording against a mock holding its world.
pub async fn replay(catalog_of: &[Recording], r: &Recording) {
    let catalog = Catalog::new(catalog_of);
    let k = kind(r);
    let what = format!("recording {}", r.file);
    let scenario = scenario_from(&r.file, &world_for(&catalog, r));
    let server = start(scenario).await;
    let raw = Raw::new(&server);
    let client = kms(&server).await;

    let served = raw.get_ok(&r.path).await;
    let expected = as_of_now(k, &r.body, jiff::Timestamp::now());
    if trimmed(k, &expected) {
        let mut e = expected.clone();
        let mut s = served.clone();
        e.as_object_mut().unwrap().remove("totalSize");
        s.as_object_mut().unwrap().remove("totalSize");
        assert_same_json(&e, &s, &what);
    } else {
        assert_same_json(&expected, &served, &what);
    }

    let name = r.path.trim_start_matches("/v1/");
    match k {
        Kind::KeyRings => {
            let parent = name.trim_end_matches("/keyRings");
            let got = client
                .list_key_rings()
                .set_parent(parent)
                .send()
                .await
                .unwrap();
            let want = items(&expected, "keyRings");
            assert_eq!(got.key_rings.len(), want.len(), "{what}");
            for (g, w) in got.key_rings.iter().zip(want) {
                check_ring(g, w, &what);
            }
            assert_eq!(
                i64::from(got.total_size),
                served.get("totalSize").and_then(Value::as_i64).unwrap_or(0),
                "{what}"
            );
        }
        Kind::KeyRing => check_ring(
            &client.get_key_ring().set_name(name).send().await.unwrap(),
            &expected,
            &what,
        ),
        Kind::CryptoKeys => {
            let got = client
                .list_crypto_keys()
                .set_parent(name.trim_end_matches("/cryptoKeys"))
                .send()
                .await
                .unwrap();
            let want = items(&expected, "cryptoKeys");
            assert_eq!(got.crypto_keys.len(), want.len(), "{what}");
            for (g, w) in got.crypto_keys.iter().zip(want) {
                check_key(g, w, &what);
            }
        }
        Kind::CryptoKey => check_key(
            &client.get_crypto_key().set_name(name).send().await.unwrap(),
            &expected,
            &what,
        ),
        Kind::Versions => {
            let got = client
                .list_crypto_key_versions()
                .set_parent(name.trim_end_matches("/cryptoKeyVersions"))
                .send()
                .await
                .unwrap();
            let want = items(&expected, "cryptoKeyVersions");
            assert_eq!(got.crypto_key_versions.len(), want.len(), "{what}");
            for (g, w) in got.crypto_key_versions.iter().zip(want) {
                check_version(g, w, &what);
            }
        }
        Kind::Version => check_version(
            &client
                .get_crypto_key_version()
                .set_name(name)
                .send()
                .await
                .unwrap(),
            &expected,
            &what,
        ),
        Kind::Policy => {
            let got = client
                .get_iam_policy()
                .set_resource(name.trim_end_matches(":getIamPolicy"))
                .set_options(GetPolicyOptions::new().set_requested_policy_version(3))
                .send()
                .await
                .unwrap();
            check_policy(&got, &expected, &what);
        }
        Kind::PatchCryptoKey | Kind::Locations | Kind::Location => unreachable!(),
    }
}

/// The recorded PATCH (labels) replayed from the state its flight recorded before it.
pub async fn replay_patch(all: &[Recording]) {
    let patch = all
        .iter()
        .find(|r| kind(r) == Kind::PatchCryptoKey)
        .unwrap();
    let key_name = str_of(&patch.body, "name").to_owned();
    let before = all
        .iter()
        .filter(|r| r.flight == patch.flight && kind(r) == Kind::CryptoKeys)
        .flat_map(|r| {
            items(&r.body, "cryptoKeys")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .find(|k| str_of(k, "name") == key_name)
        .unwrap();
    assert_ne!(
        before["labels"], patch.body["labels"],
        "the flight recorded the key before the PATCH"
    );
    let catalog = Catalog::new(all);
    let expected = as_of_now(Kind::PatchCryptoKey, &patch.body, jiff::Timestamp::now());
    let what = format!("recording {}", patch.file);

    // Through the official client.
    let server = start(scenario_from(
        &patch.file,
        &world(&catalog, std::slice::from_ref(&before), &[], &[], &[]),
    ))
    .await;
    let client = kms(&server).await;
    let labels: Vec<(String, String)> = patch.body["labels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let got = client
        .update_crypto_key()
        .set_crypto_key(kms::CryptoKey::new().set_name(&key_name).set_labels(labels))
        .set_update_mask(FieldMask::default().set_paths(["labels"]))
        .send()
        .await
        .unwrap();
    check_key(&got, &expected, &what);
    assert_same_json(
        &expected,
        &Raw::new(&server).get_ok(&format!("/v1/{key_name}")).await,
        &what,
    );

    // Raw, as the discovery-based client that recorded it sent it.
    let server = start(scenario_from(
        &patch.file,
        &world(&catalog, std::slice::from_ref(&before), &[], &[], &[]),
    ))
    .await;
    let a = Raw::new(&server)
        .call(
            "PATCH",
            &format!("/v1/{key_name}?updateMask=labels&alt=json"),
            Some(&json!({"labels": patch.body["labels"]})),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_same_json(&expected, &a.body, &what);
}
