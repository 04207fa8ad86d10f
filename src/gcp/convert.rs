//! Conversions between the SDK's models and the domain types of [`super::types`].
//!
//! This is the only place that reads SDK model fields, so an SDK upgrade that moves a field
//! breaks here and nowhere else.

use std::collections::BTreeMap;
use std::time::Duration;

use google_cloud_iam_v1::model as iam;
use google_cloud_kms_inventory_v1::model as inventory;
use google_cloud_kms_v1::model as kms;
use google_cloud_logging_v2::model as logging;
use google_cloud_resourcemanager_v3::model as rm;
use jiff::Timestamp;

use super::base64;
use super::error::GcpError;
use super::types::{
    AuditConfig, AuditLogConfig, Binding, Condition, CryptoKey, CryptoKeyVersion, Folder,
    IamPolicy, KeyRing, Project, ProtectedResource,
};

/// The NAME of an SDK enum value; the number when the SDK does not know the name (a value newer
/// than the SDK that arrived as an integer), so nothing is silently lost.
macro_rules! enum_name {
    ($e:expr) => {{
        let e = &$e;
        match e.name() {
            Some(n) => n.to_string(),
            None => e.value().map(|v| v.to_string()).unwrap_or_default(),
        }
    }};
}

pub(crate) fn timestamp(ts: Option<&google_cloud_wkt::Timestamp>) -> Option<Timestamp> {
    ts.and_then(|t| Timestamp::new(t.seconds(), t.nanos()).ok())
}

pub(crate) fn duration(d: Option<&google_cloud_wkt::Duration>) -> Option<Duration> {
    d.and_then(|d| Duration::try_from(*d).ok())
}

pub(crate) fn to_wkt_timestamp(ts: Timestamp) -> Result<google_cloud_wkt::Timestamp, GcpError> {
    google_cloud_wkt::Timestamp::new(ts.as_second(), ts.subsec_nanosecond())
        .map_err(|e| GcpError::InvalidArgument(format!("timestamp {ts}: {e}")))
}

pub(crate) fn to_wkt_duration(d: Duration) -> Result<google_cloud_wkt::Duration, GcpError> {
    google_cloud_wkt::Duration::try_from(d)
        .map_err(|e| GcpError::InvalidArgument(format!("duration {d:?}: {e}")))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn sorted<'a>(m: impl IntoIterator<Item = (&'a String, &'a String)>) -> BTreeMap<String, String> {
    m.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub(crate) fn key_ring(k: &kms::KeyRing) -> KeyRing {
    KeyRing {
        name: k.name.clone(),
        create_time: timestamp(k.create_time.as_ref()),
    }
}

pub(crate) fn crypto_key_version(v: &kms::CryptoKeyVersion) -> CryptoKeyVersion {
    CryptoKeyVersion {
        name: v.name.clone(),
        id: v.name.rsplit('/').next().unwrap_or_default().to_string(),
        state: enum_name!(v.state),
        protection_level: enum_name!(v.protection_level),
        algorithm: enum_name!(v.algorithm),
        create_time: timestamp(v.create_time.as_ref()),
        generate_time: timestamp(v.generate_time.as_ref()),
        destroy_time: timestamp(v.destroy_time.as_ref()),
        destroy_event_time: timestamp(v.destroy_event_time.as_ref()),
        import_job: non_empty(&v.import_job),
        import_time: timestamp(v.import_time.as_ref()),
        external_key_uri: v
            .external_protection_level_options
            .as_ref()
            .and_then(|o| non_empty(&o.external_key_uri)),
    }
}

pub(crate) fn crypto_key(k: &kms::CryptoKey) -> CryptoKey {
    let primary = k.primary.as_ref().map(crypto_key_version);
    let (protection_level, algorithm) = match (&k.version_template, &primary) {
        (Some(t), _) => (enum_name!(t.protection_level), enum_name!(t.algorithm)),
        (None, Some(p)) => (p.protection_level.clone(), p.algorithm.clone()),
        (None, None) => (String::new(), String::new()),
    };
    CryptoKey {
        name: k.name.clone(),
        purpose: enum_name!(k.purpose),
        create_time: timestamp(k.create_time.as_ref()),
        primary,
        rotation_period: duration(k.rotation_period().map(|b| b.as_ref())),
        next_rotation_time: timestamp(k.next_rotation_time.as_ref()),
        protection_level,
        algorithm,
        import_only: k.import_only,
        destroy_scheduled_duration: duration(k.destroy_scheduled_duration.as_ref()),
        labels: sorted(&k.labels),
        crypto_key_backend: non_empty(&k.crypto_key_backend),
    }
}

pub(crate) fn iam_policy(p: &iam::Policy) -> IamPolicy {
    IamPolicy {
        version: p.version,
        etag: base64::encode(&p.etag),
        bindings: p
            .bindings
            .iter()
            .map(|b| Binding {
                role: b.role.clone(),
                members: b.members.clone(),
                condition: b.condition.as_ref().map(|c| Condition {
                    title: c.title.clone(),
                    description: c.description.clone(),
                    expression: c.expression.clone(),
                }),
            })
            .collect(),
        audit_configs: p
            .audit_configs
            .iter()
            .map(|a| AuditConfig {
                service: a.service.clone(),
                log_configs: a
                    .audit_log_configs
                    .iter()
                    .map(|l| AuditLogConfig {
                        log_type: enum_name!(l.log_type),
                        exempted_members: l.exempted_members.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The SDK policy for `set_iam_policy`. The etag goes back byte for byte.
pub(crate) fn to_sdk_policy(p: &IamPolicy) -> Result<iam::Policy, GcpError> {
    let etag = base64::decode(&p.etag)
        .ok_or_else(|| GcpError::InvalidArgument(format!("etag {:?} is not base64", p.etag)))?;
    let bindings = p
        .bindings
        .iter()
        .map(|b| {
            let mut sdk = iam::Binding::new()
                .set_role(b.role.clone())
                .set_members(b.members.clone());
            if let Some(c) = &b.condition {
                // `Expr` lives in google-cloud-type, not a direct dependency: build it through
                // the field's own type.
                sdk.condition = Some(Default::default());
                if let Some(e) = sdk.condition.as_mut() {
                    e.title = c.title.clone();
                    e.description = c.description.clone();
                    e.expression = c.expression.clone();
                }
            }
            sdk
        })
        .collect::<Vec<_>>();
    // Conditional bindings are only accepted in a version 3 policy.
    let version = if p.bindings.iter().any(|b| b.condition.is_some()) {
        p.version.max(3)
    } else {
        p.version
    };
    let audit_configs = p.audit_configs.iter().map(|a| {
        iam::AuditConfig::new()
            .set_service(a.service.clone())
            .set_audit_log_configs(a.log_configs.iter().map(|l| {
                iam::AuditLogConfig::new()
                    .set_log_type(iam::audit_log_config::LogType::from(l.log_type.as_str()))
                    .set_exempted_members(l.exempted_members.clone())
            }))
    });
    let mut policy = iam::Policy::new()
        .set_version(version)
        .set_bindings(bindings)
        .set_audit_configs(audit_configs);
    policy.etag = etag.into();
    Ok(policy)
}

pub(crate) fn project(p: &rm::Project) -> Project {
    Project {
        name: p.name.clone(),
        project_id: p.project_id.clone(),
        parent: non_empty(&p.parent),
        display_name: p.display_name.clone(),
        state: enum_name!(p.state),
    }
}

pub(crate) fn folder(f: &rm::Folder) -> Folder {
    Folder {
        name: f.name.clone(),
        parent: non_empty(&f.parent),
        display_name: f.display_name.clone(),
        state: enum_name!(f.state),
    }
}

pub(crate) fn protected_resource(r: &inventory::ProtectedResource) -> ProtectedResource {
    ProtectedResource {
        name: r.name.clone(),
        project: r.project.clone(),
        project_id: r.project_id.clone(),
        cloud_product: r.cloud_product.clone(),
        resource_type: r.resource_type.clone(),
        location: r.location.clone(),
        labels: sorted(&r.labels),
        crypto_key_version: non_empty(&r.crypto_key_version),
        crypto_key_versions: r.crypto_key_versions.clone(),
        create_time: timestamp(r.create_time.as_ref()),
    }
}

/// A log entry in Google's REST JSON form.
///
/// The SDK's own serde serializer already writes proto3 JSON for almost every field: camelCase
/// names, RFC 3339 timestamps, int64 as strings, `protoPayload` as the `wkt::Any`'s JSON map
/// verbatim (the AuditLog object with its `@type`; the SDK never decodes it), `jsonPayload` as the
/// Struct's map, and fields unknown to the SDK kept in place. The one exception is enums: the
/// SDK writes them as numbers (it talks `enum-encoding=int`), so `severity` is rewritten to its
/// NAME. `LogEntry` has no other enum field, and its nested messages (MonitoredResource,
/// HttpRequest, LogEntryOperation, LogEntrySourceLocation, LogSplit) have none either.
///
/// Timestamps are re-printed too: the SDK prints the fewest fraction digits (`.653866570Z` comes
/// back as `.65386657Z`), while Google prints proto3 JSON's 0, 3, 6 or 9 digits. Same instant
/// either way, but an entry read through the API should be exactly the entry an alert or an
/// export carries.
pub(crate) fn log_entry(e: &logging::LogEntry) -> Result<serde_json::Value, GcpError> {
    use serde_json::Value;
    let mut value = serde_json::to_value(e)
        .map_err(|err| GcpError::Malformed(format!("cannot re-encode a log entry: {err}")))?;
    if let Some(obj) = value.as_object_mut() {
        if obj.contains_key("severity") {
            obj.insert(
                "severity".to_string(),
                Value::String(enum_name!(e.severity)),
            );
        }
        for (field, ts) in [
            ("timestamp", &e.timestamp),
            ("receiveTimestamp", &e.receive_timestamp),
        ] {
            if obj.contains_key(field)
                && let Some(t) = ts.as_ref().and_then(proto_json_timestamp)
            {
                obj.insert(field.to_string(), Value::String(t));
            }
        }
    }
    Ok(value)
}

/// RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as Google's JSON prints timestamps.
fn proto_json_timestamp(ts: &google_cloud_wkt::Timestamp) -> Option<String> {
    let whole = Timestamp::from_second(ts.seconds()).ok()?.to_string();
    let date_time = whole.strip_suffix('Z')?;
    let nanos = ts.nanos();
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos % 1_000_000 == 0 {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    Some(format!("{date_time}{fraction}Z"))
}
