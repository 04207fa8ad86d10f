//! Cloud Audit Log entries, read into what an investigator asks of them.
//!
//! One parser for every path an entry takes: exported JSON in an alert, a
//! Pub/Sub push, or an `entries.list` answer (the API layer hands entries
//! over in the same REST JSON form). Pure: no I/O.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// Which audit log an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditLogKind {
    Activity,
    DataAccess,
    SystemEvent,
    PolicyDenied,
    Other,
}

/// The facts of one audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub insert_id: String,
    pub timestamp: Option<Timestamp>,
    pub log: AuditLogKind,
    pub log_name: String,
    pub service: String,
    pub method: String,
    pub resource_name: String,
    /// The effective identity (`authenticationInfo.principalEmail`).
    pub principal: String,
    /// Who really acted, in delegation order, when a service account was impersonated.
    pub delegation_chain: Vec<String>,
    /// Set when a long-lived service-account key authenticated the call.
    pub service_account_key: Option<String>,
    pub caller_ip: String,
    pub user_agent: String,
    /// `google.rpc.Code` of the outcome; 0 is success.
    pub status_code: i64,
    pub status_message: String,
    pub project: String,
    /// Permissions checked, as `authorizationInfo[].permission`.
    pub permissions: Vec<String>,
}

/// Why an entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditParseError {
    #[error("a log entry must be a JSON object")]
    NotAnObject,
    #[error("the log entry has no protoPayload: it is not a Cloud Audit Log entry")]
    NoAuditPayload,
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Timestamps arrive as RFC 3339, but exports and SIEMs also use
/// `YYYY-MM-DD HH:MM:SS.fffffffff` (UTC, no zone) and `+0000` offsets.
///
/// Anything else, including text longer than any timestamp, is `None`: the value is hostile
/// (an alert, an export), so it is never sliced where a character boundary is not proven.
pub fn parse_timestamp(raw: &str) -> Option<Timestamp> {
    /// Longer than `2026-11-20T00:00:00.123456789+00:00` with room to spare.
    const MAX_LEN: usize = 64;
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_LEN {
        return None;
    }
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Some(t);
    }
    let mut fixed = raw.replacen(' ', "T", 1);
    // "+0000" -> "+00:00". `get` is `None` when the cut is inside a multi-byte character (a
    // fuzzer found that `&fixed[len - 5..]` panics on "…%2Fdata_acceéss").
    let offset = fixed
        .len()
        .checked_sub(5)
        .filter(|at| *at > 0)
        .and_then(|at| Some((at, fixed.get(at..)?)));
    if let Some((at, tail)) = offset
        && (tail.starts_with('+') || tail.starts_with('-'))
        && tail.bytes().skip(1).all(|b| b.is_ascii_digit())
    {
        let (head, off) = fixed.split_at(at);
        fixed = format!("{head}{}:{}", &off[..3], &off[3..]);
    }
    if let Ok(t) = fixed.parse::<Timestamp>() {
        return Some(t);
    }
    format!("{fixed}Z").parse::<Timestamp>().ok()
}

impl AuditEvent {
    pub fn from_json(entry: &Value) -> Result<AuditEvent, AuditParseError> {
        if !entry.is_object() {
            return Err(AuditParseError::NotAnObject);
        }
        let payload = entry
            .get("protoPayload")
            .ok_or(AuditParseError::NoAuditPayload)?;
        let log_name = s(entry, "/logName").to_owned();
        let log = if log_name.ends_with("cloudaudit.googleapis.com%2Factivity")
            || log_name.ends_with("cloudaudit.googleapis.com/activity")
        {
            AuditLogKind::Activity
        } else if log_name.ends_with("cloudaudit.googleapis.com%2Fdata_access")
            || log_name.ends_with("cloudaudit.googleapis.com/data_access")
        {
            AuditLogKind::DataAccess
        } else if log_name.ends_with("%2Fsystem_event") || log_name.ends_with("/system_event") {
            AuditLogKind::SystemEvent
        } else if log_name.ends_with("%2Fpolicy") || log_name.ends_with("/policy") {
            AuditLogKind::PolicyDenied
        } else {
            AuditLogKind::Other
        };
        let delegation_chain = payload
            .pointer("/authenticationInfo/serviceAccountDelegationInfo")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let first = d
                    .pointer("/firstPartyPrincipal/principalEmail")
                    .and_then(Value::as_str);
                let third = d
                    .pointer("/thirdPartyPrincipal/thirdPartyClaims")
                    .map(|c| c.to_string())
                    .or_else(|| {
                        d.get("principalSubject")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    });
                first.map(str::to_owned).or(third)
            })
            .collect();
        let project = {
            let from_labels = s(entry, "/resource/labels/project_id");
            if from_labels.is_empty() {
                log_name
                    .strip_prefix("projects/")
                    .and_then(|r| r.split('/').next())
                    .unwrap_or_default()
                    .to_owned()
            } else {
                from_labels.to_owned()
            }
        };
        let caller_ip = {
            let ip = s(payload, "/requestMetadata/callerIp");
            if ip.is_empty() {
                s(payload, "/requestMetadata/callerIP")
            } else {
                ip
            }
        };
        Ok(AuditEvent {
            insert_id: s(entry, "/insertId").to_owned(),
            timestamp: parse_timestamp(s(entry, "/timestamp")),
            log,
            log_name,
            service: s(payload, "/serviceName").to_owned(),
            method: s(payload, "/methodName").to_owned(),
            resource_name: s(payload, "/resourceName").to_owned(),
            principal: s(payload, "/authenticationInfo/principalEmail").to_owned(),
            delegation_chain,
            service_account_key: Some(s(payload, "/authenticationInfo/serviceAccountKeyName"))
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
            caller_ip: caller_ip.to_owned(),
            user_agent: s(payload, "/requestMetadata/callerSuppliedUserAgent").to_owned(),
            status_code: payload
                .pointer("/status/code")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            status_message: s(payload, "/status/message").to_owned(),
            project,
            permissions: payload
                .get("authorizationInfo")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    a.get("permission")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect(),
        })
    }

    /// Whether this entry records the creation of `key`.
    pub fn is_creation_of(&self, key: &str) -> bool {
        self.method == "CreateCryptoKey" && self.resource_name == key && self.status_code == 0
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests read fixed sample files")]
mod tests {
    use super::*;

    fn sample(path: &str) -> Value {
        let p = format!(
            "{}/../shared/realdata/audit-logs/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    }

    #[test]
    fn the_real_create_crypto_key_entry_yields_creator_ip_and_user_agent() {
        let e =
            AuditEvent::from_json(&sample("cloud-custodian/kms-cryptokey-create.json")).unwrap();
        assert_eq!(e.method, "CreateCryptoKey");
        assert_eq!(e.principal, "alex.karpitski@gmail.com");
        assert_eq!(e.caller_ip, "86.57.255.91");
        assert!(e.user_agent.starts_with("Mozilla/5.0 (Windows NT 10.0"));
        assert_eq!(e.log, AuditLogKind::Activity);
        assert_eq!(e.project, "cloud-custodian");
        assert!(e.is_creation_of("projects/cloud-custodian/locations/us-central1/keyRings/cloud-custodian/cryptoKeys/cloud-custodian"));
        assert_eq!(
            e.timestamp.map(|t| t.to_string()),
            Some("2019-04-22T14:38:20.559673233Z".to_owned())
        );
    }

    #[test]
    fn delegation_chains_are_read_in_order() {
        let e = AuditEvent::from_json(&sample("plaso/split/line-10.json")).unwrap();
        assert!(!e.delegation_chain.is_empty(), "{e:?}");
        let raw = sample("plaso/split/line-10.json");
        let first = raw
            .pointer("/protoPayload/authenticationInfo/serviceAccountDelegationInfo/0/firstPartyPrincipal/principalEmail")
            .and_then(Value::as_str)
            .unwrap();
        assert_eq!(e.delegation_chain[0], first);
    }

    #[test]
    fn panther_style_timestamps_and_failures_are_understood() {
        let e = AuditEvent::from_json(&sample("panther-analysis/gcp_kms_bulk_encryption/03-kms-encrypt-by-gcs-service-account-failed.json")).unwrap();
        assert_eq!(e.method, "Encrypt");
        assert_eq!(e.status_code, 9);
        assert!(e.timestamp.is_some());
        assert_eq!(
            parse_timestamp("2026-11-20T00:00:00+0000"),
            parse_timestamp("2026-11-20T00:00:00Z")
        );
    }

    #[test]
    fn hostile_timestamps_never_panic() {
        // Found by the audit_entry fuzz target: a multi-byte character where the "+0000"
        // offset would start.
        for raw in [
            "a€bcd",
            "2026-11-20T00:00:00€0000",
            "projects/victim/logs/cloudaudit.googleapis.com%2Fdata_acceéss",
            "é+0000",
            "+0000",
            "€€€€€€",
            "",
            " ",
        ] {
            assert_eq!(parse_timestamp(raw), None, "{raw:?}");
        }
        assert!(parse_timestamp(&"9".repeat(100_000)).is_none());
        assert_eq!(
            parse_timestamp("2026-11-20 00:00:00-0130"),
            parse_timestamp("2026-11-20T01:30:00Z")
        );
    }

    #[test]
    fn non_audit_entries_are_refused() {
        assert_eq!(
            AuditEvent::from_json(&sample("plaso/split/line-09.json")),
            Err(AuditParseError::NoAuditPayload)
        );
        assert_eq!(
            AuditEvent::from_json(&Value::Null),
            Err(AuditParseError::NotAnObject)
        );
    }
}
