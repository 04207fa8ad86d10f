//! Raw playbook → [`Playbook`]: every value checked, every error at its node.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;
use jiff::SignedDuration;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde_saphyr::{Location, Spanned};

use super::error::{ErrorKind, at};
use super::raw::{
    Pairs, RawActions, RawBulkCreation, RawBusinessHours, RawDocument, RawInvestigation,
    RawResponse, RawRule, RawStep, RawTrust, Str, StrList,
};
use super::text::{did_you_mean, parse_duration, quote};
use super::{
    BulkCreation, BusinessHours, CALLER_IP_NAMES, Playbook, PlaybookError, Trust,
    USER_AGENT_FAMILIES, VerdictRule, VerdictRules, default_severity, format_duration,
};
use crate::findings::{Action, FindingId, Severity, Verdict};
use crate::respond::policy::{MemberSelector, ResponsePolicy, Step, parse_condition};

const DAY: i64 = 86_400;

const SEVERITIES: [Severity; 5] = [
    Severity::Info,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

const ACTIONS: [Action; 4] = [
    Action::Disable,
    Action::Rotate,
    Action::Revoke,
    Action::ScheduleDestroy,
];

const DAYS: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Monday),
    ("tue", "tuesday", Weekday::Tuesday),
    ("wed", "wednesday", Weekday::Wednesday),
    ("thu", "thursday", Weekday::Thursday),
    ("fri", "friday", Weekday::Friday),
    ("sat", "saturday", Weekday::Saturday),
    ("sun", "sunday", Weekday::Sunday),
];

/// Keeps the exhaustive list of actions in step with [`Action`].
fn action_name(action: Action) -> &'static str {
    match action {
        Action::Disable => "disable",
        Action::Rotate => "rotate",
        Action::Revoke => "revoke",
        Action::ScheduleDestroy => "schedule-destroy",
    }
}

/// Keeps the list of severities in step with [`Severity`].
fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn finding_ids() -> String {
    FindingId::ALL.map(FindingId::as_str).join(", ")
}

struct Ctx<'a> {
    source: &'a str,
    /// The playbook's text, to point inside one-line scalars (conditions).
    text: &'a str,
}

type Result<T> = std::result::Result<T, PlaybookError>;

impl Ctx<'_> {
    fn err(
        &self,
        location: &Location,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> PlaybookError {
        at(self.source, location, kind, message)
    }

    /// A required field, or an error at its section naming it.
    fn required<'r, T>(
        &self,
        field: Option<&'r T>,
        name: &str,
        section: &str,
        section_at: &Location,
        hint: &str,
    ) -> Result<&'r T> {
        field.ok_or_else(|| {
            self.err(
                section_at,
                ErrorKind::MissingField,
                format!("missing required field `{name}` in {section}: {hint}"),
            )
        })
    }

    /// "unknown X "v" in PATH (valid: ...); did you mean "w"?"
    fn unknown<'n>(
        &self,
        field: &Str,
        kind: ErrorKind,
        what: &str,
        path: &str,
        valid: impl Iterator<Item = &'n str> + Clone,
    ) -> PlaybookError {
        let list: Vec<&str> = valid.clone().collect();
        let mut message = format!(
            "unknown {what} {} in {path} (valid: {})",
            quote(&field.value),
            list.join(", ")
        );
        if let Some(s) = did_you_mean(&field.value, valid) {
            message.push_str(&format!("; did you mean \"{s}\"?"));
        }
        self.err(&field.referenced, kind, message)
    }

    /// One line of plain text (names): not empty, no control characters.
    fn line_of_text(&self, field: &Str, path: &str, max: usize) -> Result<String> {
        let v = field.value.trim();
        if v.is_empty() {
            return Err(self.err(
                &field.referenced,
                ErrorKind::InvalidValue,
                format!("{path} is empty; write a value"),
            ));
        }
        if v.chars().any(char::is_control) || v.chars().count() > max {
            return Err(self.err(
                &field.referenced,
                ErrorKind::InvalidValue,
                format!("{path} must be one line of at most {max} characters, without control characters"),
            ));
        }
        Ok(v.to_owned())
    }

    fn duration(
        &self,
        field: Option<&Str>,
        path: &str,
        default: SignedDuration,
        (min, max): (SignedDuration, SignedDuration),
    ) -> Result<SignedDuration> {
        let Some(field) = field else {
            return Ok(default);
        };
        let Some(d) = parse_duration(&field.value) else {
            return Err(self.err(
                &field.referenced,
                ErrorKind::BadDuration,
                format!(
                    "bad duration {} for {path}: write a whole number and a unit, \
                     like \"7d\", \"36h\", \"10m\" or \"30s\"",
                    quote(&field.value)
                ),
            ));
        };
        if d < min || d > max {
            return Err(self.err(
                &field.referenced,
                ErrorKind::InvalidValue,
                format!(
                    "{path} {} is out of range: use {} to {}",
                    format_duration(d),
                    format_duration(min),
                    format_duration(max)
                ),
            ));
        }
        Ok(d)
    }

    fn whole_number(&self, field: &Str, path: &str, (min, max): (u64, u64)) -> Result<u64> {
        let v = &field.value;
        let n = if !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()) {
            v.parse::<u64>().ok()
        } else {
            None
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.err(
                &field.referenced,
                ErrorKind::InvalidValue,
                format!(
                    "{path} must be a whole number from {min} to {max}, not {}",
                    quote(v)
                ),
            )),
        }
    }

    /// Rejects a repeated entry (after `normalize`) in a list.
    fn no_repeats<'l>(
        &self,
        items: impl Iterator<Item = (&'l Str, String)>,
        path: &str,
    ) -> Result<()> {
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (item, key) in items {
            if let Some(line) = seen.get(&key) {
                return Err(self.err(
                    &item.referenced,
                    ErrorKind::Duplicate,
                    format!(
                        "{} is listed twice in {path} (first at line {line}); remove one",
                        quote(&item.value)
                    ),
                ));
            }
            seen.insert(key, item.referenced.line());
        }
        Ok(())
    }

    fn severity(&self, field: &Str, path: &str) -> Result<Severity> {
        SEVERITIES
            .into_iter()
            .find(|s| severity_name(*s) == field.value)
            .ok_or_else(|| {
                self.unknown(
                    field,
                    ErrorKind::UnknownSeverity,
                    "severity",
                    path,
                    SEVERITIES.into_iter().map(severity_name),
                )
            })
    }

    fn finding_id(&self, field: &Str, path: &str) -> Result<FindingId> {
        FindingId::parse(&field.value).ok_or_else(|| {
            let mut message = format!(
                "unknown finding id {} in {path} (valid: {})",
                quote(&field.value),
                finding_ids()
            );
            if let Some(s) = did_you_mean(&field.value, FindingId::ALL.iter().map(|f| f.as_str())) {
                message.push_str(&format!("; did you mean \"{s}\"?"));
            }
            self.err(&field.referenced, ErrorKind::UnknownFindingId, message)
        })
    }

    fn finding_ids(&self, list: Option<&StrList>, path: &str) -> Result<Vec<FindingId>> {
        let Some(list) = list else {
            return Ok(Vec::new());
        };
        let ids = list
            .value
            .iter()
            .map(|f| self.finding_id(f, path))
            .collect::<Result<Vec<_>>>()?;
        self.no_repeats(list.value.iter().map(|f| (f, f.value.clone())), path)?;
        Ok(ids)
    }

    // --- investigation ---------------------------------------------------

    fn alert_types(&self, list: &StrList) -> Result<Vec<String>> {
        if list.value.is_empty() {
            return Err(self.err(
                &list.referenced,
                ErrorKind::InvalidValue,
                "alert_types is empty; list the Lacework alert types this playbook handles (e.g. GCPNewKMSKey)",
            ));
        }
        for t in &list.value {
            let v = &t.value;
            let ok = v.len() <= 100
                && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                return Err(self.err(
                    &t.referenced,
                    ErrorKind::InvalidValue,
                    format!(
                        "alert type {} is not a Lacework alert type name (letters, digits and _, like GCPNewKMSKey)",
                        quote(v)
                    ),
                ));
            }
        }
        self.no_repeats(
            list.value.iter().map(|t| (t, t.value.to_ascii_lowercase())),
            "alert_types",
        )?;
        Ok(list.value.iter().map(|t| t.value.clone()).collect())
    }

    fn business_hours(&self, raw: Option<&Spanned<RawBusinessHours>>) -> Result<BusinessHours> {
        let Some(raw) = raw else {
            return Ok(BusinessHours {
                time_zone: TimeZone::UTC,
                time_zone_name: "UTC".into(),
                days: vec![
                    Weekday::Monday,
                    Weekday::Tuesday,
                    Weekday::Wednesday,
                    Weekday::Thursday,
                    Weekday::Friday,
                ],
                start: Time::constant(8, 0, 0, 0),
                end: Time::constant(18, 0, 0, 0),
            });
        };
        let section = raw.referenced;
        let raw = &raw.value;
        let need = |name: &str, field| {
            self.required(
                field,
                name,
                "business_hours",
                &section,
                "business_hours needs time_zone, days, start and end (or leave it out for Mon-Fri 08:00-18:00 UTC)",
            )
        };
        let time_zone_field: &Str = need("time_zone", raw.time_zone.as_ref())?;
        let days_field: &StrList = self.required(
            raw.days.as_ref(),
            "days",
            "business_hours",
            &section,
            "business_hours needs time_zone, days, start and end (or leave it out for Mon-Fri 08:00-18:00 UTC)",
        )?;
        let start_field: &Str = need("start", raw.start.as_ref())?;
        let end_field: &Str = need("end", raw.end.as_ref())?;
        let time_zone = self.time_zone(time_zone_field)?;

        if days_field.value.is_empty() {
            return Err(self.err(
                &days_field.referenced,
                ErrorKind::EmptyDays,
                "business_hours.days is empty: list the working days, like [mon, tue, wed, thu, fri] \
                 (or leave business_hours out for that default)",
            ));
        }
        let mut days = Vec::new();
        for d in &days_field.value {
            let lower = d.value.to_ascii_lowercase();
            let Some((_, _, day)) = DAYS
                .iter()
                .find(|(short, long, _)| lower == *short || lower == *long)
            else {
                return Err(self.unknown(
                    d,
                    ErrorKind::UnknownDay,
                    "day",
                    "business_hours.days",
                    DAYS.iter().map(|(short, _, _)| *short),
                ));
            };
            if days.contains(day) {
                return Err(self.err(
                    &d.referenced,
                    ErrorKind::Duplicate,
                    format!(
                        "{} is listed twice in business_hours.days; remove one",
                        quote(&d.value)
                    ),
                ));
            }
            days.push(*day);
        }
        days.sort_by_key(|d| d.to_monday_zero_offset());

        let start = self.time_of_day(start_field, "business_hours.start")?;
        let end = self.time_of_day(end_field, "business_hours.end")?;
        if start >= end {
            return Err(self.err(
                &end_field.referenced,
                ErrorKind::StartNotBeforeEnd,
                format!(
                    "business_hours.end {} is not after start {}: end must be later the same day \
                     (windows crossing midnight are not supported; pick the time zone where the day fits)",
                    quote(&end_field.value),
                    quote(&start_field.value)
                ),
            ));
        }
        Ok(BusinessHours {
            time_zone,
            time_zone_name: time_zone_field.value.clone(),
            days,
            start,
            end,
        })
    }

    fn time_zone(&self, field: &Str) -> Result<TimeZone> {
        let v = &field.value;
        let plausible = !v.is_empty()
            && v.len() <= 64
            && !v.starts_with('/')
            && !v.contains("..")
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
        let zone = if v.eq_ignore_ascii_case("UTC") {
            // Not looked up: the first lookup indexes the whole zoneinfo tree (over a thousand
            // files), a few milliseconds before any request can leave, for the common case.
            Some(TimeZone::UTC)
        } else if plausible {
            TimeZone::get(v).ok()
        } else {
            None
        };
        zone.ok_or_else(|| {
            self.err(
                &field.referenced,
                ErrorKind::BadTimeZone,
                format!(
                    "unknown time zone {} in business_hours.time_zone: use an IANA time zone name, \
                     like UTC, Europe/Berlin or America/New_York",
                    quote(v)
                ),
            )
        })
    }

    fn time_of_day(&self, field: &Str, path: &str) -> Result<Time> {
        let b = field.value.as_bytes();
        let digits = |i: usize, j: usize| -> Option<i8> {
            let s = b.get(i..j)?;
            if !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(s).ok()?.parse().ok()
        };
        let time = if b.len() == 5 && b.get(2) == Some(&b':') {
            match (digits(0, 2), digits(3, 5)) {
                (Some(h), Some(m)) => Time::new(h, m, 0, 0).ok(),
                _ => None,
            }
        } else {
            None
        };
        time.ok_or_else(|| {
            self.err(
                &field.referenced,
                ErrorKind::BadTime,
                format!(
                    "bad time {} for {path}: write 24-hour HH:MM in quotes, like \"08:00\" or \"18:00\"",
                    quote(&field.value)
                ),
            )
        })
    }

    fn trust(&self, raw: Option<&Spanned<RawTrust>>) -> Result<Trust> {
        let default = RawTrust::default();
        let raw = raw.map_or(&default, |r| &r.value);
        let mut trust = Trust::default();

        if let Some(list) = &raw.principals {
            for p in &list.value {
                trust.principals.push(self.principal(p)?);
            }
            self.no_repeats(
                list.value.iter().map(|p| (p, p.value.to_ascii_lowercase())),
                "trust.principals",
            )?;
        }
        if let Some(list) = &raw.domains {
            for d in &list.value {
                if d.value.contains('@') {
                    return Err(self.err(
                        &d.referenced,
                        ErrorKind::BadPattern,
                        format!(
                            "{} in trust.domains is an e-mail: list its domain here, or the e-mail under trust.principals",
                            quote(&d.value)
                        ),
                    ));
                }
                trust
                    .domains
                    .push(self.domain(d, &d.value, "trust.domains")?);
            }
            self.no_repeats(
                list.value.iter().map(|d| (d, d.value.to_ascii_lowercase())),
                "trust.domains",
            )?;
        }
        if let Some(list) = &raw.ip_ranges {
            for r in &list.value {
                self.ip_range(r, &mut trust)?;
            }
            self.no_repeats(
                list.value.iter().map(|r| (r, r.value.to_ascii_lowercase())),
                "trust.ip_ranges",
            )?;
        }
        if let Some(list) = &raw.user_agents {
            for u in &list.value {
                let Some(family) = USER_AGENT_FAMILIES.iter().find(|f| **f == u.value) else {
                    return Err(self.unknown(
                        u,
                        ErrorKind::UnknownUserAgent,
                        "user-agent family",
                        "trust.user_agents",
                        USER_AGENT_FAMILIES.iter().copied(),
                    ));
                };
                trust.user_agents.push((*family).to_owned());
            }
            self.no_repeats(
                list.value.iter().map(|u| (u, u.value.clone())),
                "trust.user_agents",
            )?;
        }
        if let Some(list) = &raw.projects {
            for p in &list.value {
                trust.projects.push(self.project(p, "trust.projects")?);
            }
            self.no_repeats(
                list.value.iter().map(|p| (p, p.value.clone())),
                "trust.projects",
            )?;
        }
        Ok(trust)
    }

    fn principal(&self, field: &Str) -> Result<String> {
        let v = &field.value;
        let bad = |why: &str| {
            self.err(
                &field.referenced,
                ErrorKind::BadPattern,
                format!("bad principal {} in trust.principals: {why}", quote(v)),
            )
        };
        if let Some((prefix, rest)) = v.split_once(':') {
            return Err(bad(&format!(
                "write the e-mail without the IAM member prefix `{prefix}:`, like \"{rest}\""
            )));
        }
        let Some((local, domain)) = v.rsplit_once('@') else {
            return Err(bad(
                "write an e-mail, like \"terraform-ci@acme-ci-cd.iam.gserviceaccount.com\" (`*` allowed, \
                 like \"*@acme-ci-cd.iam.gserviceaccount.com\")",
            ));
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-' | '*')
            });
        if !local_ok {
            return Err(bad(
                "the part before @ may hold letters, digits, . _ % + - and the wildcard *",
            ));
        }
        let domain = self.domain(field, domain, "trust.principals")?;
        Ok(format!("{}@{domain}", local.to_ascii_lowercase()))
    }

    /// A domain pattern: dot-separated labels of letters, digits, `-` and
    /// `*`; the last two labels literal (so `*.com` or `*@*` cannot slip in).
    fn domain(&self, field: &Str, domain: &str, path: &str) -> Result<String> {
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        };
        let shape_ok = domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok);
        if !shape_ok {
            return Err(self.err(
                &field.referenced,
                ErrorKind::BadPattern,
                format!(
                    "bad domain in {} in {path}: write a domain like acme.example or \
                     acme-ci-cd.iam.gserviceaccount.com (`*` allowed within a label)",
                    quote(&field.value)
                ),
            ));
        }
        let tail_literal = labels.iter().rev().take(2).all(|l| !l.contains('*'));
        if !tail_literal {
            return Err(self.err(
                &field.referenced,
                ErrorKind::BadPattern,
                format!(
                    "{} in {path} is too broad: `*` may not stand in the last two labels of a domain \
                     (like acme-*.iam.gserviceaccount.com, not *.com)",
                    quote(&field.value)
                ),
            ));
        }
        Ok(domain.to_ascii_lowercase())
    }

    fn ip_range(&self, field: &Str, trust: &mut Trust) -> Result<()> {
        let v = field.value.trim();
        if let Some(name) = CALLER_IP_NAMES.iter().find(|n| n.eq_ignore_ascii_case(v)) {
            trust.ip_names.push((*name).to_owned());
            return Ok(());
        }
        let net = v
            .parse::<IpNet>()
            .ok()
            .or_else(|| v.parse::<std::net::IpAddr>().ok().map(IpNet::from));
        let Some(net) = net else {
            return Err(self.err(
                &field.referenced,
                ErrorKind::BadIpRange,
                format!(
                    "bad IP range {} in trust.ip_ranges: write a CIDR range like 10.0.0.0/8, an address, \
                     or one of the caller-IP names {}",
                    quote(v),
                    CALLER_IP_NAMES.join(", ")
                ),
            ));
        };
        if net.trunc() != net {
            return Err(self.err(
                &field.referenced,
                ErrorKind::BadIpRange,
                format!(
                    "IP range {} in trust.ip_ranges has host bits set; did you mean {}?",
                    quote(v),
                    net.trunc()
                ),
            ));
        }
        trust.ip_ranges.push(net);
        Ok(())
    }

    /// A project id (6 to 30 lowercase letters, digits and dashes, starting
    /// with a letter) or a project number; matched exactly, no wildcards.
    fn project(&self, field: &Str, path: &str) -> Result<String> {
        let v = &field.value;
        let number = !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit());
        let id = (6..=30).contains(&v.len())
            && v.starts_with(|c: char| c.is_ascii_lowercase())
            && !v.ends_with('-')
            && v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if number || id {
            return Ok(v.clone());
        }
        let hint = match v.strip_prefix("projects/") {
            Some(rest) => format!("write the bare id, like \"{rest}\""),
            None => "project ids are 6 to 30 lowercase letters, digits and dashes, starting with a letter \
                     (like acme-observability), or a project number; no wildcards"
                .to_owned(),
        };
        Err(self.err(
            &field.referenced,
            ErrorKind::BadPattern,
            format!("bad project {} in {path}: {hint}", quote(v)),
        ))
    }

    fn bulk_creation(&self, raw: Option<&Spanned<RawBulkCreation>>) -> Result<BulkCreation> {
        let Some(raw) = raw else {
            return Ok(BulkCreation {
                keys: 3,
                within: SignedDuration::from_mins(10),
            });
        };
        let hint = "bulk_creation needs keys and within (or leave it out for 3 keys within 10m)";
        let keys_field = self.required(
            raw.value.keys.as_ref(),
            "keys",
            "bulk_creation",
            &raw.referenced,
            hint,
        )?;
        let within_field = self.required(
            raw.value.within.as_ref(),
            "within",
            "bulk_creation",
            &raw.referenced,
            hint,
        )?;
        let keys = self.whole_number(keys_field, "bulk_creation.keys", (2, 1000))?;
        let within = self.duration(
            Some(within_field),
            "bulk_creation.within",
            SignedDuration::ZERO,
            (SignedDuration::from_secs(1), SignedDuration::from_secs(DAY)),
        )?;
        Ok(BulkCreation {
            keys: u32::try_from(keys).unwrap_or(u32::MAX),
            within,
        })
    }

    fn severities(&self, raw: Option<&Spanned<Pairs>>) -> Result<BTreeMap<FindingId, Severity>> {
        let mut severities: BTreeMap<FindingId, Severity> = FindingId::ALL
            .into_iter()
            .map(|id| (id, default_severity(id)))
            .collect();
        if let Some(raw) = raw {
            for (key, value) in &raw.value.0 {
                let id = self.finding_id(key, "severities")?;
                let severity = self.severity(value, &format!("severities.{}", id.as_str()))?;
                severities.insert(id, severity);
            }
        }
        Ok(severities)
    }

    fn verdict(&self, raw: &Spanned<super::raw::RawVerdict>) -> Result<VerdictRules> {
        let mut names: HashMap<String, u64> = HashMap::new();
        let mut rules = VerdictRules::default();
        for (group, list) in [
            ("malicious", raw.value.malicious.as_ref()),
            ("suspicious", raw.value.suspicious.as_ref()),
        ] {
            let Some(list) = list else { continue };
            for (i, rule) in list.value.iter().enumerate() {
                let path = format!("verdict.{group}[{i}]");
                let validated = self.rule(rule, &path)?;
                let name_at = rule
                    .value
                    .name
                    .as_ref()
                    .map_or(rule.referenced, |n| n.referenced);
                if let Some(line) = names.get(&validated.name) {
                    return Err(self.err(
                        &name_at,
                        ErrorKind::DuplicateRuleName,
                        format!(
                            "duplicate rule name {} in {path} (also at line {line}): rule names must be unique; rename one",
                            quote(&validated.name)
                        ),
                    ));
                }
                names.insert(validated.name.clone(), name_at.line());
                match group {
                    "malicious" => rules.malicious.push(validated),
                    _ => rules.suspicious.push(validated),
                }
            }
        }
        if rules.is_empty() {
            return Err(self.err(
                &raw.referenced,
                ErrorKind::NoRules,
                "verdict has no rules, so every alert would be benign: add at least one rule under \
                 verdict.malicious or verdict.suspicious",
            ));
        }
        Ok(rules)
    }

    fn rule(&self, rule: &Spanned<RawRule>, path: &str) -> Result<VerdictRule> {
        let raw = &rule.value;
        let name_field = self.required(
            raw.name.as_ref(),
            "name",
            &format!("verdict rule {path}"),
            &rule.referenced,
            "every verdict rule needs a name (lowercase letters, digits and dashes)",
        )?;
        let name = &name_field.value;
        let name_ok = name.len() <= 64
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(self.err(
                &name_field.referenced,
                ErrorKind::InvalidValue,
                format!(
                    "rule name {} in {path}.name must be lowercase letters, digits and dashes, \
                     up to 64 characters (like public-key-used-by-outsider)",
                    quote(name)
                ),
            ));
        }
        let all = self.finding_ids(raw.all.as_ref(), &format!("{path}.all"))?;
        let any = self.finding_ids(raw.any.as_ref(), &format!("{path}.any"))?;
        if let Some(list) = &raw.any
            && let Some(both) = list
                .value
                .iter()
                .find(|f| FindingId::parse(&f.value).is_some_and(|id| all.contains(&id)))
        {
            return Err(self.err(
                &both.referenced,
                ErrorKind::Duplicate,
                format!(
                    "{} is in both {path}.all and {path}.any; keep it in one",
                    quote(&both.value)
                ),
            ));
        }
        let named = all.len() + any.len();
        let max_findings = u64::try_from(FindingId::ALL.len()).unwrap_or(u64::MAX);
        let min_findings = match &raw.min_findings {
            None => None,
            Some(f) => {
                let n = self.whole_number(f, &format!("{path}.min_findings"), (1, max_findings))?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if named > 0 && n > named {
                    return Err(self.err(
                        &f.referenced,
                        ErrorKind::EmptyRule,
                        format!(
                            "{path}.min_findings {n} can never be met: the rule names only {named} finding{} \
                             (min_findings counts the findings in all and any); lower it or list more",
                            if named == 1 { "" } else { "s" }
                        ),
                    ));
                }
                Some(n)
            }
        };
        let min_severity = match &raw.min_severity {
            None => None,
            Some(s) => Some(self.severity(s, &format!("{path}.min_severity"))?),
        };
        if named == 0 && min_findings.is_none() && min_severity.is_none() {
            return Err(self.err(
                &rule.referenced,
                ErrorKind::EmptyRule,
                format!(
                    "verdict rule {} ({path}) has nothing to match and would match every alert: \
                     give it all, any, min_findings or min_severity",
                    quote(name)
                ),
            ));
        }
        Ok(VerdictRule {
            name: name.clone(),
            all,
            any,
            min_findings,
            min_severity,
        })
    }

    fn actions(&self, raw: Option<&Spanned<RawActions>>) -> Result<BTreeMap<Verdict, Vec<Action>>> {
        let mut out: BTreeMap<Verdict, Vec<Action>> =
            [Verdict::Benign, Verdict::Suspicious, Verdict::Malicious]
                .into_iter()
                .map(|v| (v, Vec::new()))
                .collect();
        let Some(raw) = raw else {
            return Ok(out);
        };
        for (verdict, name, list) in [
            (Verdict::Benign, "benign", raw.value.benign.as_ref()),
            (
                Verdict::Suspicious,
                "suspicious",
                raw.value.suspicious.as_ref(),
            ),
            (
                Verdict::Malicious,
                "malicious",
                raw.value.malicious.as_ref(),
            ),
        ] {
            let Some(list) = list else { continue };
            let path = format!("recommended_actions.{name}");
            let mut actions = Vec::new();
            for a in &list.value {
                let Some(action) = ACTIONS.into_iter().find(|x| action_name(*x) == a.value) else {
                    return Err(self.unknown(
                        a,
                        ErrorKind::UnknownAction,
                        "action",
                        &path,
                        ACTIONS.into_iter().map(action_name),
                    ));
                };
                actions.push(action);
            }
            self.no_repeats(list.value.iter().map(|a| (a, a.value.clone())), &path)?;
            out.insert(verdict, actions);
        }
        Ok(out)
    }

    // --- response ----------------------------------------------------------

    fn response(&self, raw: Option<&Spanned<RawResponse>>) -> Result<Option<ResponsePolicy>> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let raw = &raw.value;
        let mut policy = ResponsePolicy::default();
        if let Some(list) = &raw.projects {
            for p in &list.value {
                policy.projects.push(self.project(p, "response.projects")?);
            }
            self.no_repeats(
                list.value.iter().map(|p| (p, p.value.to_ascii_lowercase())),
                "response.projects",
            )?;
        }
        if let Some(list) = &raw.unattended {
            for a in &list.value {
                policy
                    .unattended
                    .push(self.action(a, "response.unattended")?);
            }
            self.no_repeats(
                list.value.iter().map(|a| (a, a.value.clone())),
                "response.unattended",
            )?;
        }
        if let Some(rotate) = &raw.rotate {
            policy.rotate.period = match &rotate.value.period {
                None => None,
                // Google accepts 24 hours to 100 years.
                Some(_) => Some(self.duration(
                    rotate.value.period.as_ref(),
                    "response.rotate.period",
                    SignedDuration::ZERO,
                    (
                        SignedDuration::from_secs(DAY),
                        SignedDuration::from_secs(36_500 * DAY),
                    ),
                )?),
            };
            if let Some(b) = &rotate.value.disable_previous {
                policy.rotate.disable_previous =
                    self.boolean(b, "response.rotate.disable_previous")?;
            }
        }
        if let Some(revoke) = &raw.revoke
            && let Some(list) = &revoke.value.members
        {
            if list.value.is_empty() {
                return Err(self.err(
                    &list.referenced,
                    ErrorKind::InvalidValue,
                    format!(
                        "response.revoke.members is empty, so revoke would remove no one: list some of {} \
                         (or leave it out for all of them)",
                        MemberSelector::ALL.map(MemberSelector::as_str).join(", ")
                    ),
                ));
            }
            let mut members = Vec::new();
            for m in &list.value {
                let Some(selector) = MemberSelector::parse(&m.value) else {
                    return Err(self.unknown(
                        m,
                        ErrorKind::UnknownMember,
                        "member kind",
                        "response.revoke.members",
                        MemberSelector::ALL.into_iter().map(MemberSelector::as_str),
                    ));
                };
                members.push(selector);
            }
            self.no_repeats(
                list.value.iter().map(|m| (m, m.value.clone())),
                "response.revoke.members",
            )?;
            policy.revoke.members = members;
        }
        if let Some(steps) = &raw.steps {
            for (i, step) in steps.value.iter().enumerate() {
                let path = format!("response.steps[{i}]");
                policy
                    .steps
                    .push(self.step(step, &path, &policy.unattended)?);
            }
        }
        Ok(Some(policy))
    }

    fn action(&self, field: &Str, path: &str) -> Result<Action> {
        ACTIONS
            .into_iter()
            .find(|x| action_name(*x) == field.value)
            .ok_or_else(|| {
                self.unknown(
                    field,
                    ErrorKind::UnknownAction,
                    "action",
                    path,
                    ACTIONS.into_iter().map(action_name),
                )
            })
    }

    fn boolean(&self, field: &Str, path: &str) -> Result<bool> {
        match field.value.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(self.err(
                &field.referenced,
                ErrorKind::InvalidValue,
                format!("{path} must be true or false, not {}", quote(other)),
            )),
        }
    }

    fn step(&self, step: &Spanned<RawStep>, path: &str, unattended: &[Action]) -> Result<Step> {
        let hint = "every response step needs an action and a `when` condition, \
                    like `action: disable` and `when: verdict == malicious`";
        let action_field = self.required(
            step.value.action.as_ref(),
            "action",
            &format!("response step {path}"),
            &step.referenced,
            hint,
        )?;
        let action = self.action(action_field, &format!("{path}.action"))?;
        if !unattended.contains(&action) {
            return Err(self.err(
                &action_field.referenced,
                ErrorKind::InvalidValue,
                format!(
                    "{path} runs {}, which response.unattended does not allow: steps run with nobody \
                     confirming them; add it to response.unattended or remove the step",
                    action_name(action)
                ),
            ));
        }
        let when_field = self.required(
            step.value.when.as_ref(),
            "when",
            &format!("response step {path}"),
            &step.referenced,
            hint,
        )?;
        let when = match parse_condition(&when_field.value) {
            Ok(c) => c,
            Err(e) => {
                let message = format!("bad condition in {path}.when: {}", e.message);
                let mut error = self.err(&when_field.referenced, ErrorKind::BadCondition, message);
                // Point at the offending word itself when the scalar is on one line.
                if let (Some(c), PlaybookError::Invalid { column, .. }) =
                    (self.column_in_scalar(when_field, e.offset), &mut error)
                {
                    *column = c;
                }
                return Err(error);
            }
        };
        let affected_keys = match &step.value.affected_keys {
            None => false,
            Some(b) => self.boolean(b, &format!("{path}.affected_keys"))?,
        };
        Ok(Step {
            action,
            when,
            affected_keys,
        })
    }

    /// The column of character `offset` of a one-line scalar, when the
    /// scalar's text can be found at its location (plain or quoted);
    /// `None` (use the scalar's start) otherwise.
    fn column_in_scalar(&self, field: &Str, offset: usize) -> Option<u64> {
        let line = usize::try_from(field.referenced.line())
            .ok()?
            .checked_sub(1)?;
        let column = usize::try_from(field.referenced.column())
            .ok()?
            .checked_sub(1)?;
        let rest: String = self.text.lines().nth(line)?.chars().skip(column).collect();
        let quote_width = usize::from(rest.starts_with(['"', '\'']));
        let body: String = rest.chars().skip(quote_width).collect();
        if !body.starts_with(field.value.as_str()) {
            return None;
        }
        u64::try_from(column + quote_width + offset + 1).ok()
    }
}

/// Validates a raw playbook into a [`Playbook`], failing at the first
/// problem, in document order.
pub(super) fn validate(source_name: &str, text: &str, raw: RawDocument) -> Result<Playbook> {
    let cx = Ctx {
        source: source_name,
        text,
    };
    let inv: &RawInvestigation = &raw.investigation.value;

    let inv_at = raw.investigation.referenced;
    let name_field = cx.required(
        inv.name.as_ref(),
        "name",
        "investigation",
        &inv_at,
        "give the playbook a name, like new-kms-key-created",
    )?;
    let name = cx.line_of_text(name_field, "name", 100)?;
    let alert_types_field = cx.required(
        inv.alert_types.as_ref(),
        "alert_types",
        "investigation",
        &inv_at,
        "list the Lacework alert types the playbook handles, like [GCPNewKMSKey]",
    )?;
    let alert_types = cx.alert_types(alert_types_field)?;
    let business_hours = cx.business_hours(inv.business_hours.as_ref())?;
    let trust = cx.trust(inv.trust.as_ref())?;
    let rotation_max = cx.duration(
        inv.rotation_max.as_ref(),
        "rotation_max",
        SignedDuration::from_secs(90 * DAY),
        (
            SignedDuration::from_secs(DAY),
            SignedDuration::from_secs(36_500 * DAY),
        ),
    )?;
    let bulk_creation = cx.bulk_creation(inv.bulk_creation.as_ref())?;
    let lookback = cx.duration(
        inv.lookback.as_ref(),
        "lookback",
        SignedDuration::from_secs(7 * DAY),
        (
            SignedDuration::from_hours(1),
            SignedDuration::from_secs(400 * DAY),
        ),
    )?;
    let max_log_pages = match &inv.max_log_pages {
        None => 10,
        Some(f) => u32::try_from(cx.whole_number(f, "max_log_pages", (1, 1000))?).unwrap_or(1000),
    };
    let new_actor_grace = cx.duration(
        inv.new_actor_grace.as_ref(),
        "new_actor_grace",
        SignedDuration::from_hours(1),
        (SignedDuration::ZERO, SignedDuration::from_secs(7 * DAY)),
    )?;
    if new_actor_grace >= lookback {
        let location = inv
            .new_actor_grace
            .as_ref()
            .or(inv.lookback.as_ref())
            .map_or(inv_at, |f| f.referenced);
        return Err(cx.err(
            &location,
            ErrorKind::InvalidValue,
            format!(
                "new_actor_grace {} must be shorter than lookback {}, or no earlier activity could count",
                format_duration(new_actor_grace),
                format_duration(lookback)
            ),
        ));
    }
    let severities = cx.severities(inv.severities.as_ref())?;
    let verdict_field = cx.required(
        inv.verdict.as_ref(),
        "verdict",
        "investigation",
        &inv_at,
        "add verdict rules under verdict.malicious and verdict.suspicious (see playbooks/README.md)",
    )?;
    let verdict = cx.verdict(verdict_field)?;
    let recommended_actions = cx.actions(inv.recommended_actions.as_ref())?;
    let response = cx.response(raw.response.as_ref())?;

    Ok(Playbook {
        name,
        alert_types,
        business_hours,
        trust,
        rotation_max,
        bulk_creation,
        lookback,
        max_log_pages,
        new_actor_grace,
        severities,
        verdict,
        recommended_actions,
        source_name: source_name.to_owned(),
        response,
    })
}
