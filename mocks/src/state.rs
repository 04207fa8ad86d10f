//! The mock's world and the rules the real services enforce on it.
//!
//! Resources are kept in their REST JSON form, which is both how scenarios
//! are written and how answers go out. Each operation here is what one API
//! method does: it validates like Google, changes state, and appends the
//! Admin Activity entry the real service would write.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::audit::{AdminWrite, Caller, kms_admin_entry, policy_delta};
use crate::error::{ApiError, Code};
use crate::filter::Filter;
use crate::names::{KmsName, leaf, parent};
use crate::scenario::Scenario;
use crate::wire::{
    etag, fingerprint, format_duration, format_time, page_token, parse_duration, parse_time,
    read_page_token,
};

/// 30 days: what KMS uses when a key was created without destroyScheduledDuration.
const DEFAULT_DESTROY_SCHEDULED: SignedDuration = SignedDuration::from_secs(30 * 24 * 3600);
const MIN_ROTATION: SignedDuration = SignedDuration::from_secs(24 * 3600);
const MAX_ROTATION: SignedDuration = SignedDuration::from_secs(876_000 * 3600);
/// The etag IAM answers for a resource that never had a policy.
const EMPTY_POLICY_ETAG: &str = "ACAB";

/// One log entry with its timestamp parsed once, for ordering and filters.
#[derive(Debug, Clone)]
struct StoredEntry {
    at: Timestamp,
    entry: Value,
}

/// The whole mutable world.
#[derive(Debug)]
pub struct State {
    organization: Option<String>,
    projects: Vec<Map<String, Value>>,
    folders: Vec<Map<String, Value>>,
    key_rings: BTreeMap<String, Map<String, Value>>,
    /// Keys without their `primary`, which is derived from `primaries` on read.
    crypto_keys: BTreeMap<String, Map<String, Value>>,
    primaries: BTreeMap<String, u64>,
    versions: BTreeMap<String, BTreeMap<u64, Map<String, Value>>>,
    policies: BTreeMap<String, Map<String, Value>>,
    /// Sorted by timestamp; appends are at "now", so they stay sorted.
    log_entries: Vec<StoredEntry>,
    protected_resources: Vec<Map<String, Value>>,
    writes: u64,
}

/// A parsed `entries.list` request.
#[derive(Debug)]
pub struct ListEntries<'a> {
    pub resource_names: &'a [String],
    pub filter: &'a str,
    pub descending: bool,
    pub page_size: usize,
    pub page_token: &'a str,
}

fn str_field<'a>(m: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    m.get(field).and_then(Value::as_str)
}

/// Paging over an already ordered list, the way KMS and Inventory page.
fn paginate(
    items: Vec<Value>,
    page_size: usize,
    token: &str,
    query: &[&str],
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let fp = fingerprint(query);
    let start = if token.is_empty() {
        0
    } else {
        read_page_token(token, fp).ok_or_else(|| ApiError::invalid("Invalid page token."))?
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(page_size).collect();
    let end = start + page.len();
    let next = (end < total).then(|| page_token(fp, end));
    Ok((page, next))
}

impl State {
    pub fn new(s: Scenario) -> State {
        let mut state = State {
            organization: s.organization,
            projects: s.projects,
            folders: s.folders,
            key_rings: BTreeMap::new(),
            crypto_keys: BTreeMap::new(),
            primaries: BTreeMap::new(),
            versions: BTreeMap::new(),
            policies: s.iam_policies.into_iter().collect(),
            log_entries: Vec::new(),
            protected_resources: s.protected_resources,
            writes: 0,
        };
        for r in s.key_rings {
            if let Some(name) = str_field(&r, "name") {
                state.key_rings.insert(name.to_owned(), r);
            }
        }
        for mut k in s.crypto_keys {
            let Some(name) = str_field(&k, "name").map(str::to_owned) else {
                continue;
            };
            if let Some(p) = k.remove("primary")
                && let Some(id) = p
                    .get("name")
                    .and_then(Value::as_str)
                    .and_then(|n| leaf(n).parse().ok())
            {
                state.primaries.insert(name.clone(), id);
            }
            state.crypto_keys.insert(name, k);
        }
        for v in s.crypto_key_versions {
            let Some(name) = str_field(&v, "name") else {
                continue;
            };
            let Ok(id) = leaf(name).parse::<u64>() else {
                continue;
            };
            state
                .versions
                .entry(parent(name).to_owned())
                .or_default()
                .insert(id, v);
        }
        let mut entries: Vec<StoredEntry> = s
            .log_entries
            .into_iter()
            .filter_map(|e| {
                let at = parse_time(str_field(&e, "timestamp")?)?;
                Some(StoredEntry {
                    at,
                    entry: Value::Object(e),
                })
            })
            .collect();
        entries.sort_by_key(|e| e.at);
        state.log_entries = entries;
        state
    }

    /// Applies what time does on its own: scheduled destructions complete and
    /// keys with a rotation schedule rotate, as KMS would have by `now`.
    pub fn advance_to(&mut self, now: Timestamp) {
        for versions in self.versions.values_mut() {
            for v in versions.values_mut() {
                if str_field(v, "state") != Some("DESTROY_SCHEDULED") {
                    continue;
                }
                let Some(due) = str_field(v, "destroyTime").and_then(parse_time) else {
                    continue;
                };
                if due <= now {
                    v.insert("state".into(), json!("DESTROYED"));
                    v.insert("destroyEventTime".into(), json!(format_time(due)));
                }
            }
        }
        let due: Vec<String> = self
            .crypto_keys
            .iter()
            .filter(|(_, k)| {
                str_field(k, "nextRotationTime")
                    .and_then(parse_time)
                    .is_some_and(|t| t <= now)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for key in due {
            self.auto_rotate(&key, now);
        }
    }

    fn auto_rotate(&mut self, key: &str, now: Timestamp) {
        let Some(k) = self.crypto_keys.get(key) else {
            return;
        };
        let period = str_field(k, "rotationPeriod").and_then(parse_duration);
        let Some(mut next) = str_field(k, "nextRotationTime").and_then(parse_time) else {
            return;
        };
        // Only symmetric keys rotate automatically; others keep the schedule untouched.
        if str_field(k, "purpose") != Some("ENCRYPT_DECRYPT") {
            return;
        }
        while next <= now {
            if let Ok(v) = self.new_version(key, next) {
                self.primaries.insert(key.to_owned(), v);
            }
            match period.and_then(|p| next.checked_add(p).ok()) {
                Some(n) => next = n,
                None => break,
            }
        }
        if let Some(k) = self.crypto_keys.get_mut(key) {
            if period.is_some() {
                k.insert("nextRotationTime".into(), json!(format_time(next)));
            } else {
                k.remove("nextRotationTime");
            }
        }
    }

    fn next_insert_id(&mut self) -> String {
        self.writes += 1;
        format!(
            "{:x}{:06x}",
            0x1a2b_3c00_u64 + self.writes,
            self.writes * 7919
        )
    }

    fn log(&mut self, write: AdminWrite<'_>, caller: &Caller, now: Timestamp) {
        let id = self.next_insert_id();
        let entry = kms_admin_entry(write, caller, now, &id);
        let at = self.log_entries.last().map_or(now, |e| e.at.max(now));
        self.log_entries.push(StoredEntry { at, entry });
    }

    // ---- Cloud KMS: reads ----

    pub fn list_locations(&self, project: &str) -> Vec<Value> {
        let mut locations: Vec<String> = self
            .key_rings
            .keys()
            .filter_map(|n| KmsName::parse(n))
            .filter(|n| n.project() == project)
            .map(|n| n.location().to_owned())
            .collect();
        for l in [
            "global",
            "us",
            "europe",
            "us-central1",
            "us-east1",
            "europe-west1",
        ] {
            locations.push(l.to_owned());
        }
        locations.sort();
        locations.dedup();
        locations
            .into_iter()
            .map(|l| location(project, &l))
            .collect()
    }

    pub fn get_key_ring(&self, name: &str) -> Result<Value, ApiError> {
        self.key_rings
            .get(name)
            .map(|r| Value::Object(r.clone()))
            .ok_or_else(|| ApiError::not_found("KeyRing", name))
    }

    pub fn list_key_rings(
        &self,
        parent_name: &str,
        page_size: usize,
        token: &str,
    ) -> Result<Value, ApiError> {
        let items: Vec<Value> = self
            .key_rings
            .iter()
            .filter(|(n, _)| parent(n) == parent_name)
            .map(|(_, r)| Value::Object(r.clone()))
            .collect();
        let total = items.len();
        let (page, next) = paginate(items, page_size, token, &["keyRings", parent_name])?;
        Ok(list_body("keyRings", page, next, total))
    }

    pub fn get_crypto_key(&self, name: &str) -> Result<Value, ApiError> {
        let k = self.key(name)?;
        let mut k = k.clone();
        if let Some(v) = self
            .primaries
            .get(name)
            .and_then(|id| self.versions.get(name)?.get(id))
        {
            k.insert("primary".into(), Value::Object(v.clone()));
        }
        Ok(Value::Object(k))
    }

    pub fn list_crypto_keys(
        &self,
        ring: &str,
        page_size: usize,
        token: &str,
    ) -> Result<Value, ApiError> {
        if !self.key_rings.contains_key(ring) {
            return Err(ApiError::not_found("KeyRing", ring));
        }
        let items = self
            .crypto_keys
            .keys()
            .filter(|n| parent(n) == ring)
            .map(|n| self.get_crypto_key(n))
            .collect::<Result<Vec<_>, _>>()?;
        let total = items.len();
        let (page, next) = paginate(items, page_size, token, &["cryptoKeys", ring])?;
        Ok(list_body("cryptoKeys", page, next, total))
    }

    pub fn get_version(&self, name: &str) -> Result<Value, ApiError> {
        self.version(name).map(|v| Value::Object(v.clone()))
    }

    /// A key by name, or Google's NOT_FOUND.
    fn key(&self, name: &str) -> Result<&Map<String, Value>, ApiError> {
        self.crypto_keys
            .get(name)
            .ok_or_else(|| ApiError::not_found("CryptoKey", name))
    }

    fn version(&self, name: &str) -> Result<&Map<String, Value>, ApiError> {
        leaf(name)
            .parse::<u64>()
            .ok()
            .and_then(|id| self.versions.get(parent(name))?.get(&id))
            .ok_or_else(|| ApiError::not_found("CryptoKeyVersion", name))
    }

    fn version_mut(&mut self, name: &str) -> Result<&mut Map<String, Value>, ApiError> {
        leaf(name)
            .parse::<u64>()
            .ok()
            .and_then(|id| self.versions.get_mut(parent(name))?.get_mut(&id))
            .ok_or_else(|| ApiError::not_found("CryptoKeyVersion", name))
    }

    /// `filter` supports what the tool and gcloud use: `state=NAME` / `state!=NAME`.
    pub fn list_versions(
        &self,
        key: &str,
        page_size: usize,
        token: &str,
        filter: &str,
        order_by: &str,
    ) -> Result<Value, ApiError> {
        if !self.crypto_keys.contains_key(key) {
            return Err(ApiError::not_found("CryptoKey", key));
        }
        let wanted = parse_state_filter(filter)?;
        let mut items: Vec<Value> = self
            .versions
            .get(key)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|v| match &wanted {
                None => true,
                Some((eq, state)) => (str_field(v, "state") == Some(state.as_str())) == *eq,
            })
            .map(|v| Value::Object(v.clone()))
            .collect();
        sort_versions(&mut items, order_by)?;
        let total = items.len();
        let (page, next) = paginate(
            items,
            page_size,
            token,
            &["versions", key, filter, order_by],
        )?;
        Ok(list_body("cryptoKeyVersions", page, next, total))
    }

    // ---- Cloud KMS: writes ----

    fn new_version(&mut self, key: &str, now: Timestamp) -> Result<u64, ApiError> {
        let k = self.key(key)?;
        let template = k
            .get("versionTemplate")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let protection = template
            .get("protectionLevel")
            .and_then(Value::as_str)
            .unwrap_or("SOFTWARE")
            .to_owned();
        let algorithm = template
            .get("algorithm")
            .and_then(Value::as_str)
            .unwrap_or("GOOGLE_SYMMETRIC_ENCRYPTION")
            .to_owned();
        let versions = self.versions.entry(key.to_owned()).or_default();
        let id = versions.keys().next_back().map_or(1, |last| last + 1);
        let mut v = Map::new();
        v.insert(
            "name".into(),
            json!(format!("{key}/cryptoKeyVersions/{id}")),
        );
        v.insert("state".into(), json!("ENABLED"));
        v.insert("protectionLevel".into(), json!(protection));
        v.insert("algorithm".into(), json!(algorithm));
        v.insert("createTime".into(), json!(format_time(now)));
        v.insert("generateTime".into(), json!(format_time(now)));
        if protection == "HSM" {
            v.insert(
                "attestation".into(),
                hsm_attestation(&format!("{key}/cryptoKeyVersions/{id}"), now),
            );
        }
        versions.insert(id, v);
        Ok(id)
    }

    pub fn create_version(
        &mut self,
        key: &str,
        body: &Value,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let k = self.key(key)?;
        if k.get("importOnly").and_then(Value::as_bool) == Some(true) {
            return Err(ApiError::precondition(format!(
                "CryptoKey {key} is import-only; new versions must be imported with ImportCryptoKeyVersion."
            )));
        }
        let id = self.new_version(key, now)?;
        let name = format!("{key}/cryptoKeyVersions/{id}");
        if let (Some(opts), Ok(v)) = (
            body.get("externalProtectionLevelOptions"),
            self.version_mut(&name),
        ) {
            v.insert("externalProtectionLevelOptions".into(), opts.clone());
        }
        let created = self.get_version(&name)?;
        let version_name =
            KmsName::parse(&name).ok_or_else(|| ApiError::invalid("bad key name"))?;
        self.log(
            AdminWrite {
                method: "CreateCryptoKeyVersion",
                resource: &version_name,
                resource_name: key,
                permission: "cloudkms.cryptoKeyVersions.create",
                request: json!({"parent": key, "cryptoKeyVersion": body}),
                request_type: "google.cloud.kms.v1.CreateCryptoKeyVersionRequest",
                service_data: None,
            },
            caller,
            now,
        );
        Ok(created)
    }

    pub fn patch_version(
        &mut self,
        name: &str,
        body: &Value,
        update_mask: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let fields: Vec<&str> = update_mask
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return Err(ApiError::invalid(
                "The request must contain an update_mask.",
            ));
        }
        if let Some(bad) = fields.iter().find(|f| {
            !matches!(
                **f,
                "state" | "externalProtectionLevelOptions" | "external_protection_level_options"
            )
        }) {
            return Err(ApiError::invalid(format!("Cannot update field: {bad}")));
        }
        let current = self.version(name)?.clone();
        let mut updated = current.clone();
        if fields.contains(&"state") {
            let to = body
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("CRYPTO_KEY_VERSION_STATE_UNSPECIFIED");
            if !matches!(to, "ENABLED" | "DISABLED") {
                return Err(ApiError::invalid(format!(
                    "CryptoKeyVersion.state may only be updated to ENABLED or DISABLED, not {to}."
                )));
            }
            let from = str_field(&current, "state").unwrap_or_default();
            if !matches!(from, "ENABLED" | "DISABLED") {
                return Err(ApiError::precondition(format!(
                    "{name} is not in state ENABLED or DISABLED (it is {from})."
                )));
            }
            updated.insert("state".into(), json!(to));
        }
        if fields.iter().any(|f| f.starts_with("external"))
            && let Some(o) = body.get("externalProtectionLevelOptions")
        {
            updated.insert("externalProtectionLevelOptions".into(), o.clone());
        }
        *self.version_mut(name)? = updated.clone();
        let resource = KmsName::parse(name).ok_or_else(|| ApiError::invalid("bad version name"))?;
        self.log(
            AdminWrite {
                method: "UpdateCryptoKeyVersion",
                resource: &resource,
                resource_name: name,
                permission: "cloudkms.cryptoKeyVersions.update",
                request: json!({"cryptoKeyVersion": with_name(body, name), "updateMask": update_mask}),
                request_type: "google.cloud.kms.v1.UpdateCryptoKeyVersionRequest",
                service_data: None,
            },
            caller,
            now,
        );
        Ok(Value::Object(updated))
    }

    pub fn destroy_version(
        &mut self,
        name: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let key = parent(name).to_owned();
        let after = self
            .crypto_keys
            .get(&key)
            .and_then(|k| str_field(k, "destroyScheduledDuration"))
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_DESTROY_SCHEDULED);
        let v = self.version_mut(name)?;
        let state = str_field(v, "state").unwrap_or_default().to_owned();
        if !matches!(state.as_str(), "ENABLED" | "DISABLED") {
            return Err(ApiError::precondition(format!(
                "{name} can only be scheduled for destruction from ENABLED or DISABLED (it is {state})."
            )));
        }
        let due = now.checked_add(after).unwrap_or(now);
        v.insert("state".into(), json!("DESTROY_SCHEDULED"));
        v.insert("destroyTime".into(), json!(format_time(due)));
        let out = Value::Object(v.clone());
        let resource = KmsName::parse(name).ok_or_else(|| ApiError::invalid("bad version name"))?;
        self.log(
            AdminWrite {
                method: "DestroyCryptoKeyVersion",
                resource: &resource,
                resource_name: name,
                permission: "cloudkms.cryptoKeyVersions.destroy",
                request: json!({"name": name}),
                request_type: "google.cloud.kms.v1.DestroyCryptoKeyVersionRequest",
                service_data: None,
            },
            caller,
            now,
        );
        Ok(out)
    }

    pub fn restore_version(
        &mut self,
        name: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let v = self.version_mut(name)?;
        let state = str_field(v, "state").unwrap_or_default().to_owned();
        if state != "DESTROY_SCHEDULED" {
            return Err(ApiError::precondition(format!(
                "{name} is not scheduled for destruction (it is {state})."
            )));
        }
        // Restored versions come back disabled, so nothing starts using them by surprise.
        v.insert("state".into(), json!("DISABLED"));
        v.remove("destroyTime");
        let out = Value::Object(v.clone());
        let resource = KmsName::parse(name).ok_or_else(|| ApiError::invalid("bad version name"))?;
        self.log(
            AdminWrite {
                method: "RestoreCryptoKeyVersion",
                resource: &resource,
                resource_name: name,
                permission: "cloudkms.cryptoKeyVersions.restore",
                request: json!({"name": name}),
                request_type: "google.cloud.kms.v1.RestoreCryptoKeyVersionRequest",
                service_data: None,
            },
            caller,
            now,
        );
        Ok(out)
    }

    pub fn update_primary(
        &mut self,
        key: &str,
        version_id: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let k = self.key(key)?;
        if str_field(k, "purpose") != Some("ENCRYPT_DECRYPT") {
            return Err(ApiError::precondition(format!(
                "CryptoKey {key} does not have purpose ENCRYPT_DECRYPT."
            )));
        }
        let id: u64 = version_id.parse().map_err(|_| {
            ApiError::invalid(format!("Invalid crypto_key_version_id: \"{version_id}\""))
        })?;
        let vname = format!("{key}/cryptoKeyVersions/{id}");
        let v = self.version(&vname)?;
        let state = str_field(v, "state").unwrap_or_default();
        if state != "ENABLED" {
            return Err(ApiError::precondition(format!(
                "{vname} is not enabled (it is {state})."
            )));
        }
        self.primaries.insert(key.to_owned(), id);
        let resource = KmsName::parse(key).ok_or_else(|| ApiError::invalid("bad key name"))?;
        self.log(
            AdminWrite {
                method: "UpdateCryptoKeyPrimaryVersion",
                resource: &resource,
                resource_name: key,
                permission: "cloudkms.cryptoKeys.update",
                request: json!({"name": key, "cryptoKeyVersionId": version_id}),
                request_type: "google.cloud.kms.v1.UpdateCryptoKeyPrimaryVersionRequest",
                service_data: None,
            },
            caller,
            now,
        );
        self.get_crypto_key(key)
    }

    pub fn patch_crypto_key(
        &mut self,
        key: &str,
        body: &Value,
        update_mask: &str,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        let fields: Vec<&str> = update_mask
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            return Err(ApiError::invalid(
                "The request must contain an update_mask.",
            ));
        }
        let k = self.key(key)?;
        let mut updated = k.clone();
        for field in &fields {
            let (json_name, value) = match *field {
                "rotationPeriod" | "rotation_period" => {
                    ("rotationPeriod", body.get("rotationPeriod"))
                }
                "nextRotationTime" | "next_rotation_time" => {
                    ("nextRotationTime", body.get("nextRotationTime"))
                }
                "labels" => ("labels", body.get("labels")),
                "versionTemplate.algorithm" | "version_template.algorithm" => {
                    let alg = body.pointer("/versionTemplate/algorithm").cloned();
                    let mut t = updated
                        .get("versionTemplate")
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    if let (Some(alg), Some(obj)) = (alg, t.as_object_mut()) {
                        obj.insert("algorithm".into(), alg);
                    }
                    updated.insert("versionTemplate".into(), t);
                    continue;
                }
                other => return Err(ApiError::invalid(format!("Cannot update field: {other}"))),
            };
            match value {
                Some(v) => updated.insert(json_name.into(), v.clone()),
                None => updated.remove(json_name),
            };
        }
        if let Some(p) = updated.get("rotationPeriod") {
            let period = p
                .as_str()
                .and_then(parse_duration)
                .ok_or_else(|| ApiError::invalid("Invalid rotation_period."))?;
            if str_field(&updated, "purpose") != Some("ENCRYPT_DECRYPT") {
                return Err(ApiError::invalid(
                    "Only ENCRYPT_DECRYPT keys support automatic rotation.",
                ));
            }
            if !(MIN_ROTATION..=MAX_ROTATION).contains(&period) {
                return Err(ApiError::invalid(
                    "rotation_period must be between 24 hours and 876,000 hours.",
                ));
            }
            updated.insert("rotationPeriod".into(), json!(format_duration(period)));
            if !updated.contains_key("nextRotationTime") {
                return Err(ApiError::invalid(
                    "next_rotation_time must be set when rotation_period is set.",
                ));
            }
        }
        if let Some(t) = updated.get("nextRotationTime") {
            let at = t
                .as_str()
                .and_then(parse_time)
                .ok_or_else(|| ApiError::invalid("Invalid next_rotation_time."))?;
            updated.insert("nextRotationTime".into(), json!(format_time(at)));
        }
        self.crypto_keys.insert(key.to_owned(), updated);
        let resource = KmsName::parse(key).ok_or_else(|| ApiError::invalid("bad key name"))?;
        self.log(
            AdminWrite {
                method: "UpdateCryptoKey",
                resource: &resource,
                resource_name: key,
                permission: "cloudkms.cryptoKeys.update",
                request: json!({"cryptoKey": with_name(body, key), "updateMask": update_mask}),
                request_type: "google.cloud.kms.v1.UpdateCryptoKeyRequest",
                service_data: None,
            },
            caller,
            now,
        );
        self.get_crypto_key(key)
    }

    // ---- IAM ----

    /// Whether an IAM resource exists (KMS key rings and keys, projects, folders, the org).
    fn iam_resource_exists(&self, resource: &str) -> bool {
        self.key_rings.contains_key(resource)
            || self.crypto_keys.contains_key(resource)
            || self
                .project(resource.trim_start_matches("projects/"))
                .is_some()
            || self.policies.contains_key(resource)
            || self.organization.as_deref() == Some(resource)
    }

    pub fn get_policy(&self, resource: &str, requested_version: i64) -> Result<Value, ApiError> {
        if !self.iam_resource_exists(resource) {
            return Err(ApiError::not_found("Resource", resource));
        }
        let key = self.policy_key(resource);
        let Some(p) = self.policies.get(&key) else {
            return Ok(json!({"version": 1, "etag": EMPTY_POLICY_ETAG}));
        };
        let has_conditions = p
            .get("bindings")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(|b| b.get("condition").is_some()));
        if has_conditions && requested_version < 3 {
            return Ok(Value::Object(downgrade_conditional(p)));
        }
        Ok(Value::Object(p.clone()))
    }

    /// Projects are addressed by id or by number; policies are stored by id.
    fn policy_key(&self, resource: &str) -> String {
        if let Some(id) = resource.strip_prefix("projects/")
            && let Some(p) = self.project(id)
            && let Some(pid) = str_field(p, "projectId")
        {
            return format!("projects/{pid}");
        }
        resource.to_owned()
    }

    pub fn set_policy(
        &mut self,
        resource: &str,
        body: &Value,
        caller: &Caller,
        now: Timestamp,
    ) -> Result<Value, ApiError> {
        if !self.iam_resource_exists(resource) {
            return Err(ApiError::not_found("Resource", resource));
        }
        let Some(policy) = body.get("policy").and_then(Value::as_object) else {
            return Err(ApiError::invalid(
                "Request contains an invalid argument: policy is required.",
            ));
        };
        let key = self.policy_key(resource);
        let current = self.policies.get(&key).cloned();
        let current_etag = current
            .as_ref()
            .and_then(|p| str_field(p, "etag"))
            .unwrap_or(EMPTY_POLICY_ETAG);
        if let Some(sent) = str_field(policy, "etag")
            && sent != current_etag
        {
            return Err(ApiError::new(
                Code::Aborted,
                "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.",
            ));
        }
        let mask = body
            .get("updateMask")
            .and_then(Value::as_str)
            .unwrap_or("bindings,etag");
        let mut next = current.clone().unwrap_or_default();
        let mut bindings = Vec::new();
        let mut conditional = false;
        for (i, b) in policy
            .get("bindings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let role = b.get("role").and_then(Value::as_str).unwrap_or_default();
            if !(role.starts_with("roles/") || role.contains("/roles/")) {
                return Err(ApiError::invalid(format!(
                    "Role ({role}) does not exist in the resource's hierarchy (bindings[{i}])."
                )));
            }
            let members: Vec<Value> = b
                .get("members")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for m in &members {
                let m = m.as_str().unwrap_or_default();
                if !valid_member(m) {
                    return Err(ApiError::invalid(format!(
                        "Invalid principal: {m} (bindings[{i}])."
                    )));
                }
            }
            if members.is_empty() {
                continue;
            }
            conditional |= b.get("condition").is_some();
            bindings.push(b.clone());
        }
        if mask.split(',').any(|f| f.trim() == "bindings") {
            if bindings.is_empty() {
                next.remove("bindings");
            } else {
                next.insert("bindings".into(), Value::Array(bindings));
            }
        }
        if mask.split(',').any(|f| f.trim() == "auditConfigs") {
            match policy.get("auditConfigs") {
                Some(a) => next.insert("auditConfigs".into(), a.clone()),
                None => next.remove("auditConfigs"),
            };
        }
        let version = policy.get("version").and_then(Value::as_i64).unwrap_or(1);
        if conditional && version < 3 {
            return Err(ApiError::invalid(
                "Conditional role bindings require policy version 3.",
            ));
        }
        next.insert(
            "version".into(),
            json!(if conditional { 3 } else { version.max(1) }),
        );
        self.writes += 1;
        next.insert("etag".into(), json!(etag(self.writes)));
        let old = current.map(Value::Object).unwrap_or_else(|| json!({}));
        let new = Value::Object(next.clone());
        self.policies.insert(key, next);
        if let Some(kms) = KmsName::parse(resource) {
            let permission = match kms {
                KmsName::KeyRing { .. } => "cloudkms.keyRings.setIamPolicy",
                _ => "cloudkms.cryptoKeys.setIamPolicy",
            };
            let mut request = body.clone();
            if let Some(obj) = request.as_object_mut() {
                obj.insert("resource".into(), json!(resource));
            }
            self.log(
                AdminWrite {
                    method: "SetIamPolicy",
                    resource: &kms,
                    resource_name: resource,
                    permission,
                    request,
                    request_type: "google.iam.v1.SetIamPolicyRequest",
                    service_data: Some(policy_delta(&old, &new)),
                },
                caller,
                now,
            );
        }
        Ok(new)
    }

    /// The caller holds every permission it asks about on resources that exist.
    pub fn test_permissions(&self, resource: &str, body: &Value) -> Result<Value, ApiError> {
        if !self.iam_resource_exists(resource) {
            return Err(ApiError::not_found("Resource", resource));
        }
        let perms: Vec<Value> = body
            .get("permissions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| p.as_str().is_some_and(|p| p.starts_with("cloudkms.")))
            .cloned()
            .collect();
        if perms.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({ "permissions": perms }))
    }

    // ---- Resource Manager ----

    pub fn project(&self, id_or_number: &str) -> Option<&Map<String, Value>> {
        self.projects.iter().find(|p| {
            str_field(p, "projectId") == Some(id_or_number)
                || str_field(p, "name") == Some(&format!("projects/{id_or_number}"))
        })
    }

    pub fn get_project(&self, id_or_number: &str) -> Result<Value, ApiError> {
        // Resource Manager does not reveal whether a project exists to callers who cannot see it.
        self.project(id_or_number)
            .map(|p| Value::Object(p.clone()))
            .ok_or_else(|| {
                ApiError::permission_denied(
                    "cloudresourcemanager.googleapis.com",
                    "resourcemanager.projects.get",
                    &format!("projects/{id_or_number}"),
                )
            })
    }

    /// A folder from the scenario's `folders`, or one the scenario only refers to
    /// (a project's parent, a policy), placed directly under the organization.
    pub fn get_folder(&self, name: &str) -> Result<Value, ApiError> {
        if let Some(f) = self
            .folders
            .iter()
            .find(|f| str_field(f, "name") == Some(name))
        {
            return Ok(Value::Object(f.clone()));
        }
        let referenced = self.policies.contains_key(name)
            || self
                .projects
                .iter()
                .any(|p| str_field(p, "parent") == Some(name));
        match (referenced, &self.organization) {
            (true, Some(org)) => Ok(json!({
                "name": name,
                "parent": org,
                "displayName": name.replace('/', "-"),
                "state": "ACTIVE",
            })),
            _ => Err(ApiError::permission_denied(
                "cloudresourcemanager.googleapis.com",
                "resourcemanager.folders.get",
                name,
            )),
        }
    }

    pub fn get_rm_policy(&self, resource: &str) -> Result<Value, ApiError> {
        let known = match resource.split_once('/') {
            Some(("projects", id)) => {
                self.project(id).is_some() || self.policies.contains_key(resource)
            }
            Some(("organizations", _)) => {
                self.organization.as_deref() == Some(resource)
                    || self.policies.contains_key(resource)
            }
            Some(("folders", _)) => {
                self.policies.contains_key(resource)
                    || self
                        .projects
                        .iter()
                        .any(|p| str_field(p, "parent") == Some(resource))
            }
            _ => false,
        };
        if !known {
            let kind = resource.split('/').next().unwrap_or("projects");
            return Err(ApiError::permission_denied(
                "cloudresourcemanager.googleapis.com",
                &format!("resourcemanager.{kind}.getIamPolicy"),
                resource,
            ));
        }
        Ok(self
            .policies
            .get(&self.policy_key(resource))
            .map(|p| Value::Object(p.clone()))
            .unwrap_or_else(|| json!({"version": 1, "etag": EMPTY_POLICY_ETAG})))
    }

    // ---- Logging ----

    pub fn list_entries(&self, req: &ListEntries<'_>) -> Result<Value, ApiError> {
        let filter = Filter::parse(req.filter)
            .map_err(|e| ApiError::invalid(format!("Invalid filter: {e}")))?;
        let prefixes: Vec<String> = req
            .resource_names
            .iter()
            .map(|r| format!("{r}/logs/"))
            .collect();
        let order = if req.descending { "desc" } else { "asc" };
        let mut query: Vec<&str> = vec![req.filter, order];
        query.extend(req.resource_names.iter().map(String::as_str));
        let fp = fingerprint(&query);
        let n = self.log_entries.len();
        // The token holds how many stored entries were already scanned, so each page
        // continues where the last stopped instead of re-filtering from the start.
        let scanned = if req.page_token.is_empty() {
            0
        } else {
            read_page_token(req.page_token, fp)
                .ok_or_else(|| ApiError::invalid("Invalid page token."))?
        };
        // Most filters start with `logName="..." AND`: that term is decided once per log, so
        // entries of other logs are skipped without evaluating the whole filter (as Logging's
        // own index does). The answers are the same; only scanning is cheaper.
        let log_gate = leading_log_name_term(req.filter);
        let mut log_verdicts: HashMap<&str, bool> = HashMap::new();
        let mut out = Vec::new();
        let mut pos = scanned;
        while pos < n && out.len() < req.page_size {
            let idx = if req.descending { n - 1 - pos } else { pos };
            pos += 1;
            let stored = &self.log_entries[idx];
            let log_name = stored
                .entry
                .get("logName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !prefixes.iter().any(|p| log_name.starts_with(p)) {
                continue;
            }
            if let Some(gate) = &log_gate
                && !*log_verdicts
                    .entry(log_name)
                    .or_insert_with(|| gate.matches(&json!({ "logName": log_name })))
            {
                continue;
            }
            if filter.matches(&stored.entry) {
                out.push(stored.entry.clone());
            }
        }
        let mut body = Map::new();
        if !out.is_empty() {
            body.insert("entries".into(), Value::Array(out));
        }
        if pos < n {
            body.insert("nextPageToken".into(), json!(page_token(fp, pos)));
        }
        Ok(Value::Object(body))
    }

    // ---- KMS Inventory ----

    pub fn search_protected(
        &self,
        scope: &str,
        crypto_key: &str,
        resource_types: &[String],
        page_size: usize,
        token: &str,
    ) -> Result<Value, ApiError> {
        if crypto_key.is_empty() {
            return Err(ApiError::invalid("crypto_key is required."));
        }
        if !matches!(KmsName::parse(crypto_key), Some(KmsName::CryptoKey { .. })) {
            return Err(ApiError::invalid(format!(
                "Invalid crypto_key: {crypto_key}"
            )));
        }
        let in_scope = |r: &Map<String, Value>| -> bool {
            if let Some(project) = scope.strip_prefix("projects/") {
                str_field(r, "projectId") == Some(project)
                    || str_field(r, "project") == Some(scope)
                    || self
                        .project(project)
                        .and_then(|p| str_field(p, "name"))
                        .is_some_and(|n| str_field(r, "project") == Some(n))
            } else {
                self.organization.as_deref() == Some(scope)
            }
        };
        let uses_key = |r: &Map<String, Value>| -> bool {
            let prefix = format!("{crypto_key}/cryptoKeyVersions/");
            str_field(r, "cryptoKeyVersion").is_some_and(|v| v.starts_with(&prefix))
                || r.get("cryptoKeyVersions")
                    .and_then(Value::as_array)
                    .is_some_and(|vs| {
                        vs.iter()
                            .any(|v| v.as_str().is_some_and(|v| v.starts_with(&prefix)))
                    })
        };
        let type_ok = |r: &Map<String, Value>| -> bool {
            resource_types.is_empty()
                || resource_types.iter().any(|t| {
                    let rt = str_field(r, "resourceType").unwrap_or_default();
                    match t.strip_suffix(".*") {
                        Some(prefix) => rt.starts_with(prefix),
                        None => rt == t,
                    }
                })
        };
        let items: Vec<Value> = self
            .protected_resources
            .iter()
            .filter(|r| in_scope(r) && uses_key(r) && type_ok(r))
            .map(|r| Value::Object(r.clone()))
            .collect();
        let mut q = vec![scope, crypto_key];
        q.extend(resource_types.iter().map(String::as_str));
        let (page, next) = paginate(items, page_size, token, &q)?;
        let mut body = Map::new();
        if !page.is_empty() {
            body.insert("protectedResources".into(), Value::Array(page));
        }
        if let Some(t) = next {
            body.insert("nextPageToken".into(), json!(t));
        }
        Ok(Value::Object(body))
    }

    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    /// The whole world in scenario form (what `GET /__mock/state` shows).
    pub fn dump(&self) -> Value {
        let keys: Vec<Value> = self
            .crypto_keys
            .keys()
            .filter_map(|k| self.get_crypto_key(k).ok())
            .collect();
        let versions: Vec<Value> = self
            .versions
            .values()
            .flat_map(|m| m.values())
            .map(|v| Value::Object(v.clone()))
            .collect();
        let mut out = Map::new();
        if let Some(org) = &self.organization {
            out.insert("organization".into(), json!(org));
        }
        out.insert(
            "projects".into(),
            Value::Array(self.projects.iter().cloned().map(Value::Object).collect()),
        );
        out.insert(
            "keyRings".into(),
            Value::Array(
                self.key_rings
                    .values()
                    .cloned()
                    .map(Value::Object)
                    .collect(),
            ),
        );
        out.insert("cryptoKeys".into(), Value::Array(keys));
        out.insert("cryptoKeyVersions".into(), Value::Array(versions));
        out.insert(
            "iamPolicies".into(),
            Value::Object(
                self.policies
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::Object(v.clone())))
                    .collect(),
            ),
        );
        out.insert(
            "logEntries".into(),
            Value::Array(self.log_entries.iter().map(|e| e.entry.clone()).collect()),
        );
        out.insert(
            "protectedResources".into(),
            Value::Array(
                self.protected_resources
                    .iter()
                    .cloned()
                    .map(Value::Object)
                    .collect(),
            ),
        );
        Value::Object(out)
    }

    /// Appends entries (e.g. a generated Data Access volume for benchmarks).
    pub fn append_entries(&mut self, entries: impl IntoIterator<Item = Value>) {
        for entry in entries {
            if let Some(at) = entry
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(parse_time)
            {
                self.log_entries.push(StoredEntry { at, entry });
            }
        }
        self.log_entries.sort_by_key(|e| e.at);
    }
}

/// `logName="X"` alone, when a filter is `logName="X" AND ...`. AND binds loosest in the
/// Logging query language (NOT, then OR, then AND), so that term is then a conjunct of the whole
/// filter: an entry whose log fails it cannot match. It reads only `logName`.
fn leading_log_name_term(filter: &str) -> Option<Filter> {
    let rest = filter.trim_start().strip_prefix("logName=\"")?;
    let mut escaped = false;
    let close = rest.char_indices().find_map(|(i, c)| {
        if escaped {
            escaped = false;
            None
        } else if c == '\\' {
            escaped = true;
            None
        } else {
            (c == '"').then_some(i)
        }
    })?;
    let after = rest[close + 1..].trim_start().strip_prefix("AND")?;
    if !after.starts_with(|c: char| c.is_whitespace() || c == '(') {
        return None;
    }
    let term = format!("logName=\"{}", &rest[..=close]);
    Filter::parse(&term).ok()
}

/// The request message as the service logs it: the resource name from the
/// URL path fills `name` when the body left it out.
fn with_name(body: &Value, name: &str) -> Value {
    let mut body = body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.entry("name").or_insert_with(|| json!(name));
    }
    body
}

fn list_body(field: &str, page: Vec<Value>, next: Option<String>, total: usize) -> Value {
    let mut body = Map::new();
    if !page.is_empty() {
        body.insert(field.into(), Value::Array(page));
    }
    if let Some(t) = next {
        body.insert("nextPageToken".into(), json!(t));
    }
    if total > 0 {
        body.insert("totalSize".into(), json!(total));
    }
    Value::Object(body)
}

/// What an HSM version carries: the HSM's (compressed) attestation statement
/// and the certificate chains that sign it. The mock's bytes are derived from
/// the version name and time so they are stable and distinct; they are not
/// signed by a real HSM, so a verifier would reject them as it should.
fn hsm_attestation(version: &str, now: Timestamp) -> Value {
    use base64::Engine as _;
    let seed = format_time(now);
    let mut statement = Vec::with_capacity(256);
    for i in 0..32u64 {
        statement.extend_from_slice(&fingerprint(&[version, &seed, &i.to_string()]).to_be_bytes());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = |label: &str| {
        let der: Vec<u8> = (0..48u64)
            .flat_map(|i| fingerprint(&[label, version, &i.to_string()]).to_be_bytes())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64.encode(der)
        )
    };
    json!({
        "format": "CAVIUM_V2_COMPRESSED",
        "content": b64.encode(&statement),
        "certChains": {
            "caviumCerts": [cert("cavium")],
            "googleCardCerts": [cert("google-card")],
            "googlePartitionCerts": [cert("google-partition")]
        }
    })
}

/// A KMS location as `locations.get` shows it: display name, the
/// `cloud.googleapis.com/*` labels and KMS's `LocationMetadata`.
fn location(project: &str, id: &str) -> Value {
    let (display, country) = match id {
        "global" => ("Global", ""),
        "us" => ("United States", "US"),
        "europe" => ("Europe", ""),
        "us-central1" => ("Iowa", "US"),
        "us-east1" => ("South Carolina", "US"),
        "us-east4" => ("Northern Virginia", "US"),
        "us-west1" => ("Oregon", "US"),
        "europe-west1" => ("Belgium", "BE"),
        "europe-west2" => ("London", "GB"),
        "europe-west3" => ("Frankfurt", "DE"),
        "europe-west4" => ("Netherlands", "NL"),
        "asia-east1" => ("Taiwan", "TW"),
        _ => ("", ""),
    };
    let mut labels = Map::new();
    labels.insert("cloud.googleapis.com/location".into(), json!(id));
    if !country.is_empty() {
        labels.insert("cloud.googleapis.com/country".into(), json!(country));
    }
    if id.contains('-') {
        labels.insert("cloud.googleapis.com/region".into(), json!(id));
    }
    let mut loc = Map::new();
    loc.insert(
        "name".into(),
        json!(format!("projects/{project}/locations/{id}")),
    );
    loc.insert("labels".into(), Value::Object(labels));
    loc.insert(
        "metadata".into(),
        json!({"@type": "type.googleapis.com/google.cloud.kms.v1.LocationMetadata", "hsmAvailable": true, "ekmAvailable": true}),
    );
    loc.insert("locationId".into(), json!(id));
    if !display.is_empty() {
        loc.insert("displayName".into(), json!(display));
    }
    Value::Object(loc)
}

/// KMS list `orderBy`: `name`, `create_time` or `state`, each `asc` (default) or `desc`.
/// Versions are stored in id order, which is `name asc`.
fn sort_versions(items: &mut [Value], order_by: &str) -> Result<(), ApiError> {
    let spec: Vec<&str> = order_by.split_whitespace().collect();
    let (field, desc) = match spec.as_slice() {
        [] => return Ok(()),
        [f] => (*f, false),
        [f, "asc"] => (*f, false),
        [f, "desc"] => (*f, true),
        _ => return Err(ApiError::invalid(format!("Invalid order_by: {order_by}"))),
    };
    let id = |v: &Value| {
        v.get("name")
            .and_then(Value::as_str)
            .and_then(|n| leaf(n).parse::<u64>().ok())
            .unwrap_or(0)
    };
    match field {
        "name" => items.sort_by_key(|v| id(v)),
        "create_time" | "createTime" => items.sort_by_key(|v| {
            (
                v.get("createTime")
                    .and_then(Value::as_str)
                    .and_then(parse_time),
                id(v),
            )
        }),
        "state" => items.sort_by_key(|v| {
            (
                v.get("state")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                id(v),
            )
        }),
        _ => {
            return Err(ApiError::invalid(format!(
                "Invalid order_by field: {field}"
            )));
        }
    }
    if desc {
        items.reverse();
    }
    Ok(())
}

/// What IAM answers a client that asked for a policy version below 3 when
/// the policy has conditions: version 1, conditions hidden, and each
/// conditional role renamed `ROLE_withcond_HASH` so the client cannot mistake
/// it for an unconditional grant (and cannot write it back).
fn downgrade_conditional(policy: &Map<String, Value>) -> Map<String, Value> {
    let mut out = policy.clone();
    if let Some(Value::Array(bindings)) = out.get_mut("bindings") {
        for b in bindings.iter_mut() {
            let Some(obj) = b.as_object_mut() else {
                continue;
            };
            let Some(condition) = obj.remove("condition") else {
                continue;
            };
            let role = obj
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let hash = fingerprint(&[&role, &condition.to_string()]);
            obj.insert(
                "role".into(),
                json!(format!("{role}_withcond_{:020x}", u128::from(hash))),
            );
        }
    }
    out.insert("version".into(), json!(1));
    out
}

/// The version-list filters KMS users actually send: `state=NAME` or `state!=NAME`.
fn parse_state_filter(filter: &str) -> Result<Option<(bool, String)>, ApiError> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let (field, equal, value) = if let Some((a, b)) = f.split_once("!=") {
        (a, false, b)
    } else if let Some((a, b)) = f.split_once('=') {
        (a, true, b)
    } else {
        return Err(ApiError::invalid(format!("Invalid filter: {filter}")));
    };
    if field.trim() != "state" {
        return Err(ApiError::invalid(format!("Invalid filter: {filter}")));
    }
    Ok(Some((equal, value.trim().trim_matches('"').to_owned())))
}

/// IAM member syntax: `type:value`, or the two special members.
fn valid_member(m: &str) -> bool {
    if matches!(m, "allUsers" | "allAuthenticatedUsers") {
        return true;
    }
    let Some((kind, value)) = m.split_once(':') else {
        return false;
    };
    !value.is_empty()
        && matches!(
            kind,
            "user"
                | "serviceAccount"
                | "group"
                | "domain"
                | "principal"
                | "principalSet"
                | "deleted"
                | "projectOwner"
                | "projectEditor"
                | "projectViewer"
        )
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn the_leading_log_name_term_is_taken_only_when_it_is_a_conjunct() {
        let activity = json!({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity"});
        let data = json!({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"});
        let gate = leading_log_name_term(
            r#"logName="projects/p/logs/cloudaudit.googleapis.com%2Factivity" AND (a OR b)"#,
        )
        .unwrap();
        assert!(gate.matches(&activity));
        assert!(!gate.matches(&data));
        let escaped = leading_log_name_term(r#"logName="x\"y" AND z"#).unwrap();
        assert!(escaped.matches(&json!({"logName": "x\"y"})));
        for not_a_conjunct in [
            r#"logName="a" OR b"#,
            r#"logName="a""#,
            r#"logName="a" ANDb"#,
            r#"NOT logName="a" AND b"#,
            r#"logName:"a" AND b"#,
        ] {
            assert!(
                leading_log_name_term(not_a_conjunct).is_none(),
                "{not_a_conjunct}"
            );
        }
    }

    #[test]
    fn skipping_other_logs_changes_no_answer() {
        let scenario = Scenario::bundled("ransomware-precursor").unwrap().unwrap();
        let state = State::new(scenario);
        let resources = vec!["projects/acme-payments-prod".to_owned()];
        for filter in [
            r#"logName="projects/acme-payments-prod/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.serviceName="cloudkms.googleapis.com""#,
            r#"logName="projects/acme-payments-prod/logs/cloudaudit.googleapis.com%2Fdata_access" AND (protoPayload.methodName="Encrypt" OR protoPayload.methodName="Decrypt")"#,
        ] {
            // The same filter with the logName term second is not gated: the answers must agree.
            let (first, rest) = filter.split_once(" AND ").unwrap();
            let ungated = format!("{rest} AND {first}");
            let page = |f: &str, token: &str| {
                state
                    .list_entries(&ListEntries {
                        resource_names: &resources,
                        filter: f,
                        descending: false,
                        page_size: 7,
                        page_token: token,
                    })
                    .unwrap()
            };
            let (mut a, mut b) = (page(filter, ""), page(&ungated, ""));
            let mut pages = 0;
            loop {
                assert_eq!(a.get("entries"), b.get("entries"), "{filter}");
                assert!(
                    a.get("entries").is_some() || pages > 0,
                    "{filter} matched nothing"
                );
                pages += 1;
                match (a.get("nextPageToken"), b.get("nextPageToken")) {
                    (Some(ta), Some(tb)) => {
                        let (ta, tb) = (
                            ta.as_str().unwrap().to_owned(),
                            tb.as_str().unwrap().to_owned(),
                        );
                        a = page(filter, &ta);
                        b = page(&ungated, &tb);
                    }
                    (None, None) => break,
                    other => panic!("{filter}: {other:?}"),
                }
            }
        }
    }
}
