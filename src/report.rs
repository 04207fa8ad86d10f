//! Report writers: human text (the default) and versioned JSON.
//!
//! The JSON document is the machine contract (`schema_version`); the text
//! report is for a person at 3 a.m.: the key, who made it and how, who can
//! use it, who did, what it protects, and what could not be found.

use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use crate::evidence::{DataAccessLogging, Gap, GapReason, Investigation};
use crate::input::KeySearch;
use crate::investigate::Outcome;
use crate::sanitize::text as t;

/// Version of the JSON report; bumped on any incompatible change.
pub const SCHEMA_VERSION: &str = "0.1.0";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The JSON document.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a> {
    pub schema_version: &'static str,
    pub tool_version: &'static str,
    pub generated_at: Timestamp,
    pub investigations: Vec<&'a Investigation>,
    pub unresolved: Vec<Unresolved<'a>>,
}

/// An alert whose key could not be found.
#[derive(Debug, Serialize)]
pub struct Unresolved<'a> {
    pub search: &'a KeySearch,
    pub detail: &'a str,
}

pub fn write(
    out: &mut dyn Write,
    format: Format,
    outcomes: &[Outcome],
    now: Timestamp,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let mut investigations = Vec::new();
            let mut unresolved = Vec::new();
            for o in outcomes {
                match o {
                    Outcome::Investigated(list) => investigations.extend(list.iter()),
                    Outcome::NoKeyFound { search, detail, .. } => {
                        unresolved.push(Unresolved { search, detail })
                    }
                }
            }
            let doc = JsonReport {
                schema_version: SCHEMA_VERSION,
                tool_version: env!("CARGO_PKG_VERSION"),
                generated_at: now,
                investigations,
                unresolved,
            };
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
            writeln!(out)
        }
        Format::Text => {
            for o in outcomes {
                match o {
                    Outcome::Investigated(list) => {
                        for inv in list {
                            text_report(out, inv, now)?;
                        }
                    }
                    Outcome::NoKeyFound { search, detail, .. } => {
                        writeln!(out, "NO KEY FOUND in project {}", t(&search.project))?;
                        writeln!(
                            out,
                            "  searched: key {} by {} between {} and {}",
                            search.key_id.as_deref().map_or("(any)".into(), t),
                            search.principal.as_deref().map_or("(anyone)".into(), t),
                            search.start,
                            search.end
                        )?;
                        writeln!(out, "  {}", t(detail))?;
                    }
                }
            }
            Ok(())
        }
    }
}

fn ago(now: Timestamp, then: Option<Timestamp>) -> String {
    match then {
        None => "unknown".into(),
        Some(then) => {
            let d = now.duration_since(then);
            let h = d.as_hours();
            let when = if h >= 48 {
                format!("{} days ago", h / 24)
            } else if h >= 1 {
                format!("{h} h ago")
            } else {
                format!("{} min ago", d.as_mins().max(0))
            };
            format!("{then} ({when})")
        }
    }
}

fn days(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(86_400) {
        format!("{} days", secs / 86_400)
    } else {
        format!("{}.{} days", secs / 86_400, (secs % 86_400) * 10 / 86_400)
    }
}

fn gap_line(g: &Gap) -> String {
    let why = match &g.reason {
        GapReason::PermissionDenied {
            permission: Some(p),
        } => format!("permission denied (needs {p})"),
        GapReason::PermissionDenied { permission: None } => "permission denied".into(),
        GapReason::NotFound => "not found".into(),
        GapReason::Quota => "quota exhausted".into(),
        GapReason::Timeout => "timed out".into(),
        GapReason::Unavailable => "service unavailable".into(),
        GapReason::LogsOff => "logs off".into(),
        GapReason::Error => "error".into(),
    };
    format!("{}: {why}: {}", g.evidence, t(&g.detail))
}

fn text_report(out: &mut dyn Write, inv: &Investigation, now: Timestamp) -> io::Result<()> {
    writeln!(out, "KEY {}", inv.key_name)?;
    if let Some(id) = &inv.request.id {
        writeln!(
            out,
            "  alert {} ({})",
            t(id),
            t(inv.request.alert_type.as_deref().unwrap_or("no alert type"))
        )?;
    }
    writeln!(
        out,
        "  window {} .. {} (anchored on {})",
        inv.window.start, inv.window.end, inv.window.anchor
    )?;

    writeln!(out, "\nTHE KEY")?;
    match &inv.key {
        None => writeln!(out, "  (could not be read)")?,
        Some(k) => {
            let key = &k.key;
            writeln!(
                out,
                "  purpose {}, algorithm {}, protection {}",
                key.purpose, key.algorithm, key.protection_level
            )?;
            writeln!(out, "  created {}", ago(now, key.create_time))?;
            if key.import_only {
                writeln!(
                    out,
                    "  import-only: key material is supplied from outside Google"
                )?;
            }
            if let Some(b) = &key.crypto_key_backend {
                writeln!(out, "  backend {}", t(b))?;
            }
            match (key.rotation_period, key.next_rotation_time) {
                (Some(p), next) => writeln!(
                    out,
                    "  rotation every {}, next {}",
                    days(p),
                    next.map_or("unset".into(), |n| n.to_string())
                )?,
                (None, _) => writeln!(out, "  rotation: none scheduled")?,
            }
            if let Some(d) = key.destroy_scheduled_duration {
                writeln!(out, "  destroy delay {}", days(d))?;
            }
            if !key.labels.is_empty() {
                let labels: Vec<String> = key
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{}={}", t(k), t(v)))
                    .collect();
                writeln!(out, "  labels {}", labels.join(", "))?;
            }
            let primary = key.primary.as_ref().map(|p| p.id.as_str());
            for v in &k.versions {
                let mut notes = Vec::new();
                if Some(v.id.as_str()) == primary {
                    notes.push("primary".to_owned());
                }
                if let Some(j) = &v.import_job {
                    notes.push(format!("imported via {}", t(j)));
                }
                if let Some(u) = &v.external_key_uri {
                    notes.push(format!("external key {}", t(u)));
                }
                if let Some(d) = v.destroy_time {
                    notes.push(format!("destroy at {d}"));
                }
                writeln!(
                    out,
                    "  version {} {} {} created {}{}",
                    v.id,
                    v.state,
                    v.protection_level,
                    ago(now, v.create_time),
                    if notes.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", notes.join(", "))
                    }
                )?;
            }
        }
    }

    writeln!(out, "\nWHO CAN USE IT")?;
    for (label, policy) in [("key", &inv.iam.key), ("key ring", &inv.iam.key_ring)] {
        match policy {
            None => writeln!(out, "  {label}: (policy could not be read)")?,
            Some(p) if p.bindings.is_empty() => writeln!(out, "  {label}: no bindings")?,
            Some(p) => {
                for b in &p.bindings {
                    let cond = b
                        .condition
                        .as_ref()
                        .map_or(String::new(), |c| format!(" if {}", t(&c.expression)));
                    let members: Vec<String> =
                        b.members.iter().map(|m| t(m).into_owned()).collect();
                    writeln!(
                        out,
                        "  {label}: {} -> {}{cond}",
                        t(&b.role),
                        members.join(", ")
                    )?;
                }
            }
        }
    }
    for b in &inv.iam.project_kms_bindings {
        let members: Vec<String> = b.members.iter().map(|m| t(m).into_owned()).collect();
        writeln!(out, "  project: {} -> {}", t(&b.role), members.join(", "))?;
    }

    writeln!(out, "\nWHO CREATED IT")?;
    match &inv.creator {
        None => writeln!(out, "  (no creation entry found)")?,
        Some(c) => {
            writeln!(
                out,
                "  {} at {}",
                t(&c.principal),
                c.timestamp.map_or("unknown time".into(), |x| x.to_string())
            )?;
            if !c.delegation_chain.is_empty() {
                let chain: Vec<String> = c
                    .delegation_chain
                    .iter()
                    .map(|p| t(p).into_owned())
                    .collect();
                writeln!(out, "  impersonated by {}", chain.join(" -> "))?;
            }
            if let Some(k) = &c.service_account_key {
                writeln!(out, "  using long-lived service account key {}", t(k))?;
            }
            writeln!(out, "  from {} with {}", t(&c.caller_ip), t(&c.user_agent))?;
            writeln!(out, "  log entry {}", t(&c.insert_id))?;
        }
    }
    if let Some(a) = &inv.creator_activity {
        let actions: Vec<String> = a
            .actions
            .iter()
            .map(|(m, n)| format!("{} x{n}", t(m)))
            .collect();
        writeln!(
            out,
            "  its KMS admin actions in the window: {}",
            actions.join(", ")
        )?;
        writeln!(out, "  keys it created: {}", a.keys_created.len())?;
        for k in &a.keys_created {
            writeln!(out, "    {}", t(k))?;
        }
        writeln!(
            out,
            "  KMS admin before this key: {}",
            if a.prior_admin {
                "yes"
            } else {
                "none in the window (new actor)"
            }
        )?;
        if a.truncated {
            writeln!(
                out,
                "  (read stopped at its bound after {} entries)",
                a.entries_read
            )?;
        }
    }

    writeln!(out, "\nWHO USED IT")?;
    match &inv.usage.logging {
        DataAccessLogging::Disabled => writeln!(
            out,
            "  UNKNOWN: Data Access logs are off for Cloud KMS, so use is not recorded"
        )?,
        DataAccessLogging::Unknown => writeln!(
            out,
            "  Data Access logging could not be determined; counts below may be incomplete"
        )?,
        DataAccessLogging::Enabled {
            by,
            exempted_members,
        } => {
            writeln!(out, "  Data Access logging on (by {})", by.join(", "))?;
            if !exempted_members.is_empty() {
                let ex: Vec<String> = exempted_members.iter().map(|m| t(m).into_owned()).collect();
                writeln!(out, "  not logged for: {}", ex.join(", "))?;
            }
        }
    }
    if inv.usage.logging != DataAccessLogging::Disabled {
        let total = if inv.usage.truncated {
            format!(
                "at least {} (bounded at {} pages)",
                inv.usage.total_calls, inv.usage.page_bound
            )
        } else {
            inv.usage.total_calls.to_string()
        };
        writeln!(out, "  calls: {total}")?;
        for r in &inv.usage.rows {
            let fails = if r.failures > 0 {
                format!(", {} failed", r.failures)
            } else {
                String::new()
            };
            let ips: Vec<String> = r.caller_ips.iter().map(|i| t(i).into_owned()).collect();
            writeln!(
                out,
                "  {} {} x{}{fails}, {} .. {}, from {}",
                t(&r.principal),
                t(&r.method),
                r.calls,
                r.first.map_or("?".into(), |x| x.to_string()),
                r.last.map_or("?".into(), |x| x.to_string()),
                ips.join(", ")
            )?;
        }
    }

    writeln!(out, "\nWHAT IT PROTECTS")?;
    match &inv.protected_resources {
        None => writeln!(out, "  (could not be read)")?,
        Some(list) if list.is_empty() => writeln!(out, "  nothing known to KMS Inventory")?,
        Some(list) => {
            for r in list {
                writeln!(
                    out,
                    "  {} {} ({})",
                    t(&r.resource_type),
                    t(&r.name),
                    t(&r.location)
                )?;
            }
        }
    }

    if !inv.gaps.is_empty() {
        writeln!(out, "\nCOULD NOT DETERMINE")?;
        for g in &inv.gaps {
            writeln!(out, "  {}", gap_line(g))?;
        }
    }
    writeln!(out)
}
