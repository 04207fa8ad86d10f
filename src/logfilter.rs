//! Logging filters built from validated values only.
//!
//! Every value that goes into a filter is quoted and escaped here, so nothing
//! taken from an alert can widen or change a query. Names are validated
//! before they get here ([`crate::keyname::KeyName`]); quoting is the second
//! line of defence.

use jiff::Timestamp;

use crate::keyname::KeyName;

/// A double-quoted Logging string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn log_name(project: &str, log: &str) -> String {
    format!("projects/{project}/logs/cloudaudit.googleapis.com%2F{log}")
}

/// Every Cloud KMS admin action in the key's project since `since`: one query
/// answers "who created the key", "what else did they do" and "have they done
/// KMS admin before", which keeps within Logging's 60 reads per minute.
pub fn kms_admin_activity(key: &KeyName, since: Timestamp) -> String {
    format!(
        "logName={} AND protoPayload.serviceName=\"cloudkms.googleapis.com\" AND timestamp>={}",
        quote(&log_name(key.project(), "activity")),
        quote(&since.to_string()),
    )
}

/// Data Access entries about the key or any of its versions since `since`.
/// Equality plus a version-prefix match, never a bare substring: `k` must not
/// match `k-backup`.
pub fn key_usage(key: &KeyName, since: Timestamp) -> String {
    let name = key.to_string();
    format!(
        "logName={} AND (protoPayload.resourceName={} OR protoPayload.resourceName:{}) AND timestamp>={}",
        quote(&log_name(key.project(), "data_access")),
        quote(&name),
        quote(&format!("{name}/cryptoKeyVersions/")),
        quote(&since.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_everything_that_could_end_the_literal() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("x\ny"), r#""x\ny""#);
        assert_eq!(quote("\u{1b}[31m"), r#""\u001b[31m""#);
    }

    #[test]
    fn filters_name_exactly_the_key_and_project() {
        let key = KeyName::parse("projects/p1/locations/us/keyRings/r/cryptoKeys/k")
            .unwrap_or_else(|e| panic!("{e}"));
        let since: Timestamp = "2026-11-20T00:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            kms_admin_activity(&key, since),
            r#"logName="projects/p1/logs/cloudaudit.googleapis.com%2Factivity" AND protoPayload.serviceName="cloudkms.googleapis.com" AND timestamp>="2026-11-20T00:00:00Z""#
        );
        assert_eq!(
            key_usage(&key, since),
            r#"logName="projects/p1/logs/cloudaudit.googleapis.com%2Fdata_access" AND (protoPayload.resourceName="projects/p1/locations/us/keyRings/r/cryptoKeys/k" OR protoPayload.resourceName:"projects/p1/locations/us/keyRings/r/cryptoKeys/k/cryptoKeyVersions/") AND timestamp>="2026-11-20T00:00:00Z""#
        );
    }
}
