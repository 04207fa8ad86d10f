//! Scenarios: the world the mock serves, written as Google's own resources.
//!
//! A scenario is one JSON file whose parts are exactly what the REST APIs
//! return (so one can be assembled from real API output):
//! `{"organization", "projects", "keyRings", "cryptoKeys", "cryptoKeyVersions",
//! "iamPolicies", "logEntries", "protectedResources"}`. Loading checks every
//! resource against Google's discovery documents and the cross-resource rules
//! the real service guarantees, and names the file, the JSON path and the
//! problem when something is off.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use crate::discovery::{Api, Discovery};
use crate::names::{KmsName, parent};
use crate::wire::{parse_duration, parse_time};

/// A scenario that passed validation.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub organization: Option<String>,
    pub projects: Vec<Map<String, Value>>,
    /// Resource Manager v3 `Folder`s (optional: folders only referenced elsewhere sit under the organization).
    pub folders: Vec<Map<String, Value>>,
    pub key_rings: Vec<Map<String, Value>>,
    pub crypto_keys: Vec<Map<String, Value>>,
    pub crypto_key_versions: Vec<Map<String, Value>>,
    pub iam_policies: BTreeMap<String, Map<String, Value>>,
    pub log_entries: Vec<Map<String, Value>>,
    pub protected_resources: Vec<Map<String, Value>>,
}

/// Why a scenario was refused: file, JSON path, problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {path}: {problem}")]
pub struct ScenarioError {
    pub file: String,
    pub path: String,
    pub problem: String,
}

/// The scenarios shipped in `mocks/scenarios/`, compiled in so `demo` works anywhere.
pub const BUNDLED: &[(&str, &str)] = &[
    ("benign-ci", include_str!("../scenarios/benign-ci.json")),
    (
        "suspicious-human-offhours",
        include_str!("../scenarios/suspicious-human-offhours.json"),
    ),
    (
        "ransomware-precursor",
        include_str!("../scenarios/ransomware-precursor.json"),
    ),
    (
        "data-access-off",
        include_str!("../scenarios/data-access-off.json"),
    ),
];

/// The Lacework alert shipped beside each bundled scenario.
pub const BUNDLED_ALERTS: &[(&str, &str)] = &[
    (
        "benign-ci",
        include_str!("../scenarios/benign-ci.alert.json"),
    ),
    (
        "suspicious-human-offhours",
        include_str!("../scenarios/suspicious-human-offhours.alert.json"),
    ),
    (
        "ransomware-precursor",
        include_str!("../scenarios/ransomware-precursor.alert.json"),
    ),
    (
        "data-access-off",
        include_str!("../scenarios/data-access-off.alert.json"),
    ),
];

/// A scenario section with the discovery schema its items must match.
type Section<'a> = (&'a str, &'a Discovery, &'a str, &'a [Map<String, Value>]);

const SECTIONS: &[&str] = &[
    "organization",
    "projects",
    "folders",
    "keyRings",
    "cryptoKeys",
    "cryptoKeyVersions",
    "iamPolicies",
    "logEntries",
    "protectedResources",
];

impl Scenario {
    /// Loads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            path: "$".into(),
            problem: format!("cannot read the file: {e}"),
        })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("scenario")
            .to_owned();
        Self::parse(&name, &file, &text)
    }

    /// A bundled scenario by name.
    pub fn bundled(name: &str) -> Option<Result<Scenario, ScenarioError>> {
        BUNDLED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Self::parse(n, &format!("mocks/scenarios/{n}.json"), text))
    }

    /// Validates scenario text; `file` is only used in error messages.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let err = |path: &str, problem: String| ScenarioError {
            file: file.to_owned(),
            path: path.to_owned(),
            problem,
        };
        let root: Value = serde_json::from_str(text).map_err(|e| {
            err(
                "$",
                format!(
                    "not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let Value::Object(mut root) = root else {
            return Err(err("$", "a scenario must be a JSON object".into()));
        };
        if let Some(unknown) = root.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(err(
                &format!("$.{unknown}"),
                format!("unknown section (expected one of: {})", SECTIONS.join(", ")),
            ));
        }
        let organization = match root.remove("organization") {
            None => None,
            Some(Value::String(s)) if s.starts_with("organizations/") && s.len() > 14 => Some(s),
            Some(_) => {
                return Err(err(
                    "$.organization",
                    "must be a string like \"organizations/123\"".into(),
                ));
            }
        };
        let list = |root: &mut Map<String, Value>,
                    key: &str|
         -> Result<Vec<Map<String, Value>>, ScenarioError> {
            match root.remove(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        Value::Object(m) => Ok(m),
                        _ => Err(err(&format!("$.{key}[{i}]"), "must be an object".into())),
                    })
                    .collect(),
                Some(_) => Err(err(&format!("$.{key}"), "must be an array".into())),
            }
        };
        let scenario = Scenario {
            name: name.to_owned(),
            organization,
            projects: list(&mut root, "projects")?,
            folders: list(&mut root, "folders")?,
            key_rings: list(&mut root, "keyRings")?,
            crypto_keys: list(&mut root, "cryptoKeys")?,
            crypto_key_versions: list(&mut root, "cryptoKeyVersions")?,
            iam_policies: match root.remove("iamPolicies") {
                None => BTreeMap::new(),
                Some(Value::Object(m)) => m
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::Object(p) => Ok((k, p)),
                        _ => Err(err(
                            &format!("$.iamPolicies[\"{k}\"]"),
                            "must be a Policy object".into(),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(err(
                        "$.iamPolicies",
                        "must be an object keyed by resource name".into(),
                    ));
                }
            },
            log_entries: list(&mut root, "logEntries")?,
            protected_resources: list(&mut root, "protectedResources")?,
        };
        scenario
            .check_schemas()
            .map_err(|(path, problem)| err(&path, problem))?;
        scenario
            .check_consistency()
            .map_err(|(path, problem)| err(&path, problem))?;
        Ok(scenario)
    }

    /// Every resource against its schema in Google's discovery documents.
    fn check_schemas(&self) -> Result<(), (String, String)> {
        let kms = Discovery::embedded(Api::CloudKms);
        let logging = Discovery::embedded(Api::Logging);
        let inventory = Discovery::embedded(Api::KmsInventory);
        let sections: [Section<'_>; 5] = [
            ("keyRings", kms, "KeyRing", &self.key_rings),
            ("cryptoKeys", kms, "CryptoKey", &self.crypto_keys),
            (
                "cryptoKeyVersions",
                kms,
                "CryptoKeyVersion",
                &self.crypto_key_versions,
            ),
            ("logEntries", logging, "LogEntry", &self.log_entries),
            (
                "protectedResources",
                inventory,
                "GoogleCloudKmsInventoryV1ProtectedResource",
                &self.protected_resources,
            ),
        ];
        for (section, doc, schema, items) in sections {
            for (i, item) in items.iter().enumerate() {
                let value = Value::Object(item.clone());
                if let Some(v) = doc
                    .validate_strict(schema, &value, &format!("$.{section}[{i}]"))
                    .into_iter()
                    .next()
                {
                    return Err((v.path, v.problem));
                }
            }
        }
        for (resource, policy) in &self.iam_policies {
            let value = Value::Object(policy.clone());
            if let Some(v) = kms
                .validate_strict("Policy", &value, &format!("$.iamPolicies[\"{resource}\"]"))
                .into_iter()
                .next()
            {
                return Err((v.path, v.problem));
            }
        }
        for (i, folder) in self.folders.iter().enumerate() {
            check_folder(folder)
                .map_err(|(field, problem)| (format!("$.folders[{i}].{field}"), problem))?;
        }
        for (i, project) in self.projects.iter().enumerate() {
            check_project(project)
                .map_err(|(field, problem)| (format!("$.projects[{i}].{field}"), problem))?;
        }
        Ok(())
    }

    /// The rules the real service guarantees between resources.
    fn check_consistency(&self) -> Result<(), (String, String)> {
        let name_of =
            |m: &Map<String, Value>| m.get("name").and_then(Value::as_str).map(str::to_owned);
        let mut rings = BTreeSet::new();
        for (i, r) in self.key_rings.iter().enumerate() {
            let path = format!("$.keyRings[{i}].name");
            let name = name_of(r).ok_or((path.clone(), "missing".to_owned()))?;
            if !matches!(KmsName::parse(&name), Some(KmsName::KeyRing { .. })) {
                return Err((
                    path,
                    format!("\"{name}\" is not projects/P/locations/L/keyRings/R"),
                ));
            }
            if !rings.insert(name.clone()) {
                return Err((path, format!("duplicate key ring \"{name}\"")));
            }
        }
        let mut keys = BTreeMap::new();
        for (i, k) in self.crypto_keys.iter().enumerate() {
            let path = format!("$.cryptoKeys[{i}].name");
            let name = name_of(k).ok_or((path.clone(), "missing".to_owned()))?;
            if !matches!(KmsName::parse(&name), Some(KmsName::CryptoKey { .. })) {
                return Err((
                    path,
                    format!("\"{name}\" is not .../keyRings/R/cryptoKeys/K"),
                ));
            }
            if !rings.contains(parent(&name)) {
                return Err((
                    path,
                    format!("key ring \"{}\" is not in keyRings", parent(&name)),
                ));
            }
            if keys.insert(name.clone(), i).is_some() {
                return Err((path, format!("duplicate crypto key \"{name}\"")));
            }
            if let Some(d) = k.get("destroyScheduledDuration").and_then(Value::as_str)
                && parse_duration(d).is_none()
            {
                return Err((
                    format!("$.cryptoKeys[{i}].destroyScheduledDuration"),
                    "not a duration".into(),
                ));
            }
        }
        let mut versions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut version_objects = BTreeMap::new();
        for (i, v) in self.crypto_key_versions.iter().enumerate() {
            let path = format!("$.cryptoKeyVersions[{i}].name");
            let name = name_of(v).ok_or((path.clone(), "missing".to_owned()))?;
            let Some(KmsName::Version { version, .. }) = KmsName::parse(&name) else {
                return Err((
                    path,
                    format!("\"{name}\" is not .../cryptoKeys/K/cryptoKeyVersions/N"),
                ));
            };
            let key = parent(&name).to_owned();
            if !keys.contains_key(&key) {
                return Err((path, format!("crypto key \"{key}\" is not in cryptoKeys")));
            }
            if v.get("state").is_none() {
                return Err((format!("$.cryptoKeyVersions[{i}].state"), "missing".into()));
            }
            versions.entry(key).or_default().push(version);
            version_objects.insert(name, v);
        }
        for (key, ids) in &mut versions {
            ids.sort_unstable();
            for (expected, id) in (1u64..).zip(ids.iter()) {
                if *id != expected {
                    return Err((
                        "$.cryptoKeyVersions".into(),
                        format!(
                            "versions of \"{key}\" must be numbered 1, 2, 3... without gaps or repeats (found {id} where {expected} belongs)"
                        ),
                    ));
                }
            }
        }
        for (key, i) in &keys {
            let Some(primary) = self.crypto_keys[*i].get("primary") else {
                continue;
            };
            let path = format!("$.cryptoKeys[{i}].primary");
            let pname = primary
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if parent(pname) != key {
                return Err((
                    path,
                    format!("primary \"{pname}\" is not a version of this key"),
                ));
            }
            let Some(version) = version_objects.get(pname) else {
                return Err((
                    path,
                    format!("primary \"{pname}\" is not in cryptoKeyVersions"),
                ));
            };
            if Value::Object((*version).clone()) != *primary {
                return Err((
                    path,
                    "differs from the version object in cryptoKeyVersions".into(),
                ));
            }
            if self.crypto_keys[*i].get("purpose").and_then(Value::as_str)
                != Some("ENCRYPT_DECRYPT")
            {
                return Err((path, "only ENCRYPT_DECRYPT keys have a primary".into()));
            }
        }
        let mut insert_ids = BTreeSet::new();
        for (i, e) in self.log_entries.iter().enumerate() {
            let path = format!("$.logEntries[{i}]");
            for field in ["logName", "timestamp", "insertId"] {
                if e.get(field).and_then(Value::as_str).is_none() {
                    return Err((format!("{path}.{field}"), "missing".into()));
                }
            }
            let id = e
                .get("insertId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !insert_ids.insert(id.to_owned()) {
                return Err((
                    format!("{path}.insertId"),
                    format!("duplicate insertId \"{id}\""),
                ));
            }
            let ts = e
                .get("timestamp")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if parse_time(ts).is_none() {
                return Err((
                    format!("{path}.timestamp"),
                    format!("\"{ts}\" is not an RFC 3339 timestamp"),
                ));
            }
        }
        Ok(())
    }
}

/// Resource Manager v3 `Folder` (not in the vendored discovery documents).
fn check_folder(f: &Map<String, Value>) -> Result<(), (String, String)> {
    const FIELDS: &[&str] = &[
        "name",
        "parent",
        "displayName",
        "state",
        "createTime",
        "updateTime",
        "deleteTime",
        "etag",
    ];
    if let Some(k) = f.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err((
            k.clone(),
            format!("unknown field (a v3 Folder has: {})", FIELDS.join(", ")),
        ));
    }
    match f.get("name").and_then(Value::as_str) {
        Some(n)
            if n.strip_prefix("folders/")
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) => {}
        _ => return Err(("name".into(), "must be \"folders/<number>\"".into())),
    }
    let parent_ok = f
        .get("parent")
        .and_then(Value::as_str)
        .is_some_and(|s| s.starts_with("organizations/") || s.starts_with("folders/"));
    if !parent_ok {
        return Err((
            "parent".into(),
            "must be \"organizations/N\" or \"folders/N\"".into(),
        ));
    }
    Ok(())
}

/// Resource Manager v3 `Project` (not in the vendored discovery documents).
fn check_project(p: &Map<String, Value>) -> Result<(), (String, String)> {
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
    if let Some(k) = p.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err((
            k.clone(),
            format!("unknown field (a v3 Project has: {})", FIELDS.join(", ")),
        ));
    }
    match p.get("name").and_then(Value::as_str) {
        Some(n)
            if n.strip_prefix("projects/")
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())) => {}
        _ => return Err(("name".into(), "must be \"projects/<number>\"".into())),
    }
    if p.get("projectId")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(("projectId".into(), "missing".into()));
    }
    if let Some(parent) = p.get("parent") {
        let ok = parent
            .as_str()
            .is_some_and(|s| s.starts_with("organizations/") || s.starts_with("folders/"));
        if !ok {
            return Err((
                "parent".into(),
                "must be \"organizations/N\" or \"folders/N\"".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled_text(name: &str) -> &'static str {
        BUNDLED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    }

    /// Applies `edit` to a bundled scenario and returns the load error.
    fn error_after(edit: impl FnOnce(&mut Value)) -> ScenarioError {
        let mut v: Value = serde_json::from_str(bundled_text("benign-ci")).unwrap_or_default();
        edit(&mut v);
        match Scenario::parse("t", "t.json", &v.to_string()) {
            Ok(_) => panic!("the edited scenario was accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn every_bundled_scenario_and_alert_is_valid() {
        for (name, text) in BUNDLED {
            if let Err(e) = Scenario::parse(name, name, text) {
                panic!("{e}");
            }
        }
        for (name, text) in BUNDLED_ALERTS {
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{name}");
        }
    }

    #[test]
    fn errors_name_the_file_the_json_path_and_the_problem() {
        let e = error_after(|v| v["surprise"] = Value::Bool(true));
        assert_eq!((e.file.as_str(), e.path.as_str()), ("t.json", "$.surprise"));
        assert!(e.problem.contains("unknown section"), "{e}");

        let e = error_after(|v| v["cryptoKeys"][0]["purpose"] = "ENCRYPT".into());
        assert_eq!(e.path, "$.cryptoKeys[0].purpose");
        assert!(e.problem.contains("ENCRYPT_DECRYPT"), "{e}");

        let e = error_after(|v| v["cryptoKeyVersions"][0]["createTime"] = "yesterday".into());
        assert_eq!(e.path, "$.cryptoKeyVersions[0].createTime", "{e}");

        let e = error_after(|v| {
            v["logEntries"][1]["insertId"] = v["logEntries"][0]["insertId"].clone()
        });
        assert_eq!(e.path, "$.logEntries[1].insertId", "{e}");
        assert!(e.problem.contains("duplicate"), "{e}");

        let e = error_after(|v| {
            if let Some(p) = v["cryptoKeys"]
                .as_array_mut()
                .and_then(|k| k.iter_mut().find(|k| k.get("primary").is_some()))
            {
                p["primary"]["state"] = "DISABLED".into();
            }
        });
        assert!(e.path.ends_with(".primary"), "{e}");

        let e = error_after(|v| {
            if let Some(first) = v["cryptoKeyVersions"][0]["name"]
                .as_str()
                .map(str::to_owned)
            {
                let renamed = format!("{}/cryptoKeyVersions/9", parent(&first));
                v["cryptoKeyVersions"][0]["name"] = renamed.into();
            }
        });
        assert!(
            e.problem.contains("1, 2, 3") || e.path.contains("primary"),
            "{e}"
        );

        let e = error_after(|v| {
            v["cryptoKeys"][0]["name"] =
                "projects/x/locations/l/keyRings/missing/cryptoKeys/k".into()
        });
        assert_eq!(e.path, "$.cryptoKeys[0].name");
        assert!(
            e.to_string().starts_with("t.json: $.cryptoKeys[0].name: "),
            "{e}"
        );
    }

    #[test]
    fn invalid_json_is_reported_with_line_and_column() {
        let e = match Scenario::parse("t", "t.json", "{\n  \"keyRings\": [,]\n}") {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        };
        assert!(e.problem.contains("line 2"), "{e}");
    }
}
