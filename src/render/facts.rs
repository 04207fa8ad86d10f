//! What the writers derive from the evidence, computed once so the text,
//! Markdown and JSON reports say the same thing: who can do what with the
//! key, how much of its usage is known, and where its rotation stands.

use std::time::Duration;

use jiff::Timestamp;

use crate::assess::{self, Grant, Scope};
use crate::evidence::{DataAccessLogging, GapReason, Investigation};
use crate::gcp::{CryptoKey, CryptoKeyVersion};

/// For people: `key`, `key ring`, `project`.
pub(crate) fn scope_label(scope: Scope) -> &'static str {
    match scope {
        Scope::Key => "key",
        Scope::KeyRing => "key ring",
        Scope::Project => "project",
        Scope::Folder => "folder",
        Scope::Organization => "organization",
    }
}

/// Who can do what with the key: [`crate::assess::access`], plus the grants
/// of custom roles, whose permissions the tool does not read (the
/// assessment counts them as allowing nothing; the report lists them so a
/// reader can check).
#[derive(Debug, Default)]
pub(crate) struct Access {
    /// Can encrypt, decrypt, sign or verify with the key.
    pub use_key: Vec<Grant>,
    /// Can change or destroy the key.
    pub administer: Vec<Grant>,
    /// Can change who may use the key.
    pub set_iam_policy: Vec<Grant>,
    /// Custom roles (`projects/P/roles/R`, `organizations/O/roles/R`).
    pub unclassified: Vec<Grant>,
}

pub(crate) fn access(inv: &Investigation) -> Access {
    let grants = assess::grants(inv);
    let summary = assess::access_of(&grants);
    Access {
        use_key: summary.use_key,
        administer: summary.administer,
        set_iam_policy: summary.set_iam_policy,
        unclassified: grants
            .into_iter()
            .filter(|g| !g.role.starts_with("roles/"))
            .collect(),
    }
}

/// How much of the key's usage the report knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UsageStatus {
    /// Who used the key cannot be known (never "unused").
    Unknown { reason: String },
    /// The figures are lower bounds, for these reasons.
    AtLeast { reasons: Vec<String> },
    /// Data Access logging is on and every entry was read.
    Complete,
}

pub(crate) fn usage_status(inv: &Investigation) -> UsageStatus {
    let usage = &inv.usage;
    if usage.logging == DataAccessLogging::Disabled {
        return UsageStatus::Unknown {
            reason:
                "Data Access audit logs are off for Cloud KMS, so use of the key is not recorded"
                    .into(),
        };
    }
    if let Some(gap) = inv.gaps.iter().find(|g| g.evidence == "usage") {
        return UsageStatus::Unknown {
            reason: format!(
                "the Data Access log could not be read ({})",
                gap_reason(&gap.reason)
            ),
        };
    }
    let mut reasons = Vec::new();
    if usage.truncated {
        reasons.push(format!("bounded at {} pages", usage.page_bound));
    }
    match &usage.logging {
        DataAccessLogging::Unknown => {
            reasons.push("whether Data Access logging is on could not be determined".into());
        }
        DataAccessLogging::Enabled {
            exempted_members, ..
        } if !exempted_members.is_empty() => {
            reasons.push(format!(
                "{} exempted member(s) are not logged",
                exempted_members.len()
            ));
        }
        _ => {}
    }
    if reasons.is_empty() {
        UsageStatus::Complete
    } else {
        UsageStatus::AtLeast { reasons }
    }
}

/// Only symmetric `ENCRYPT_DECRYPT` keys rotate automatically in Cloud KMS;
/// asymmetric, MAC and raw keys never do.
pub(crate) fn auto_rotation_supported(key: &CryptoKey) -> bool {
    key.purpose == "ENCRYPT_DECRYPT"
}

/// The version in use: the primary, or (for keys without one, such as
/// asymmetric keys) the most recently created enabled version.
pub(crate) fn current_version<'a>(
    key: &'a CryptoKey,
    versions: &'a [CryptoKeyVersion],
) -> Option<(&'a CryptoKeyVersion, bool)> {
    if let Some(primary) = &key.primary {
        let full = versions.iter().find(|v| v.name == primary.name);
        return Some((full.unwrap_or(primary), true));
    }
    versions
        .iter()
        .filter(|v| v.state == "ENABLED")
        .max_by_key(|v| v.create_time)
        .map(|v| (v, false))
}

/// Whether the key's material came from outside Google (imported or external).
pub(crate) fn external_material(key: &CryptoKey, versions: &[CryptoKeyVersion]) -> bool {
    key.import_only
        || key.protection_level.starts_with("EXTERNAL")
        || versions
            .iter()
            .any(|v| v.import_job.is_some() || v.external_key_uri.is_some())
}

/// A gap's reason, for people.
pub(crate) fn gap_reason(reason: &GapReason) -> String {
    match reason {
        GapReason::PermissionDenied {
            permission: Some(p),
        } => format!("permission denied (needs {p})"),
        GapReason::PermissionDenied { permission: None } => "permission denied".into(),
        GapReason::NotFound => "not found".into(),
        GapReason::Quota => "quota exhausted".into(),
        GapReason::Timeout => "timed out".into(),
        GapReason::Unavailable => "service unavailable".into(),
        GapReason::RetentionExceeded => "beyond log retention".into(),
        GapReason::Error => "error".into(),
    }
}

/// `90 days`, `1.5 days`, `12 h`, `30 min`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 86_400 {
        "1 day".to_owned()
    } else if secs >= 86_400 {
        if secs.is_multiple_of(86_400) {
            format!("{} days", secs / 86_400)
        } else {
            format!("{}.{} days", secs / 86_400, (secs % 86_400) * 10 / 86_400)
        }
    } else if secs >= 3_600 {
        format!("{} h", secs / 3_600)
    } else if secs >= 60 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// How long before (or after) `now` a time is: `3 days ago`, `in 5 h`.
pub(crate) fn relative(now: Timestamp, then: Timestamp) -> String {
    let d = now.duration_since(then);
    let (past, secs) = if d.is_negative() {
        (false, d.as_secs().unsigned_abs())
    } else {
        (true, d.as_secs().unsigned_abs())
    };
    let amount = if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 3_600 {
        format!("{} h", secs / 3_600)
    } else {
        format!("{} min", secs / 60)
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A time for people: RFC 3339 to the second (`2026-11-22T02:47:12Z`);
/// the JSON report keeps Google's full precision.
pub(crate) fn ts(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// `2026-11-22T02:47:12Z (3 days ago)`.
pub(crate) fn when(now: Timestamp, t: Timestamp) -> String {
    format!("{} ({})", ts(t), relative(now, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_secs(7_776_000)), "90 days");
        assert_eq!(duration(Duration::from_secs(129_600)), "1.5 days");
        assert_eq!(duration(Duration::from_secs(43_200)), "12 h");
        assert_eq!(duration(Duration::from_secs(90)), "1 min");
        let now: Timestamp = "2026-11-28T00:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let past: Timestamp = "2026-11-25T00:00:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(relative(now, past), "3 days ago");
        assert_eq!(relative(past, now), "in 3 days");
        let precise: Timestamp = "2026-11-26T01:12:41.323117596Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        assert_eq!(ts(precise), "2026-11-26T01:12:41Z");
    }
}
