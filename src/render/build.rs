//! What the human report says about a case, as [`Doc`] blocks: the verdict
//! first, then findings and actions, then the evidence section by section.

use jiff::Timestamp;

use crate::case::Case;
use crate::evidence::{DataAccessLogging, Investigation};
use crate::findings::{Action, Assessment, EvidenceRef, Severity, Verdict};
use crate::input::{KeySearch, Request, SourceKind};

use super::doc::{Block, Doc, Line, Table, TextLayout, Tone, ext, own};
use super::facts::{self, UsageStatus};
use crate::assess::Grant;

/// Admin actions listed individually in the human report (the JSON report lists them all).
pub(crate) const MAX_EVENTS_SHOWN: usize = 25;

pub(crate) fn verdict_word(v: Verdict) -> (&'static str, Tone) {
    match v {
        Verdict::Malicious => ("MALICIOUS", Tone::Bad),
        Verdict::Suspicious => ("SUSPICIOUS", Tone::Warn),
        Verdict::Inconclusive => ("INCONCLUSIVE", Tone::Warn),
        Verdict::Benign => ("BENIGN", Tone::Good),
    }
}

fn severity_word(s: Severity) -> (&'static str, Tone) {
    match s {
        Severity::Critical => ("CRITICAL", Tone::Bad),
        Severity::High => ("HIGH", Tone::Bad),
        Severity::Medium => ("MEDIUM", Tone::Warn),
        Severity::Low => ("LOW", Tone::Strong),
        Severity::Info => ("INFO", Tone::Strong),
    }
}

pub(crate) fn action_id(a: Action) -> &'static str {
    match a {
        Action::Disable => "disable",
        Action::Rotate => "rotate",
        Action::Revoke => "revoke",
        Action::ScheduleDestroy => "schedule-destroy",
    }
}

fn source_label(s: SourceKind) -> &'static str {
    match s {
        SourceKind::LaceworkAlert => "Lacework alert",
        SourceKind::AuditLogEntry => "audit log entry",
        SourceKind::PubSubPush => "Pub/Sub push",
        SourceKind::KeyName => "key name",
    }
}

fn time(now: Timestamp, t: Option<Timestamp>) -> Line {
    own(t.map_or_else(|| "unknown".to_owned(), |t| facts::when(now, t)))
}

fn opt_time(t: Option<Timestamp>) -> Line {
    own(t.map_or_else(|| "?".to_owned(), facts::ts))
}

fn list(items: &[String], sep: &'static str) -> Line {
    Line::join(items.iter().map(ext), sep)
}

fn evidence_ref(r: &EvidenceRef) -> Line {
    match r {
        EvidenceRef::LogEntry { insert_id } => own("log entry ").ext(insert_id),
        EvidenceRef::Binding {
            resource,
            role,
            member,
        } => own("binding ")
            .ext(role)
            .own(" to ")
            .ext(member)
            .own(" on ")
            .ext(resource),
        EvidenceRef::Field {
            resource,
            field,
            value,
        } => ext(resource).own(" ").ext(field).own(" = ").ext(value),
    }
}

fn request_line(r: &Request) -> Line {
    let mut line = own(source_label(r.source));
    if let Some(id) = &r.id {
        line = line.own(" ").ext(id);
    }
    if let Some(t) = &r.alert_type {
        line = line.own(" (").ext(t).own(")");
    }
    if let Some(t) = r.event_time {
        line = line.own(format!(", event at {}", facts::ts(t)));
    }
    line
}

/// The blocks for one investigated key.
pub(crate) fn case(c: &Case, now: Timestamp) -> Doc {
    let inv = &c.investigation;
    let mut doc = Doc::new();
    verdict(&mut doc, inv, &c.assessment);
    findings(&mut doc, &c.assessment);
    the_key(&mut doc, inv, now);
    who_can_use_it(&mut doc, inv);
    who_created_it(&mut doc, inv, now);
    creator_activity(&mut doc, inv);
    who_used_it(&mut doc, inv);
    what_it_protects(&mut doc, inv);
    rotation(&mut doc, inv, now);
    gaps(&mut doc, inv);
    doc
}

fn verdict(doc: &mut Doc, inv: &Investigation, a: &Assessment) {
    let (word, tone) = verdict_word(a.verdict);
    doc.push(Block::Headline(
        Line::default()
            .mark(word, tone)
            .own("  ")
            .ext(inv.key_name.to_string()),
    ));
    doc.push(Block::Field(
        "verdict rule",
        match (&a.verdict_rule, a.verdict) {
            (Some(rule), _) => ext(rule),
            (None, Verdict::Inconclusive) => own(format!(
                "none matched, but benign cannot be concluded without: {} (see COULD NOT DETERMINE)",
                a.missing_for_verdict.join(", ")
            )),
            (None, _) => own("none matched (benign by default)"),
        },
    ));
    doc.push(Block::Field(
        "driven by",
        if a.drivers.is_empty() {
            own("no finding")
        } else {
            Line::join(a.drivers.iter().map(|d| own(d.as_str())), ", ")
        },
    ));
    doc.push(Block::Field("alert", request_line(&inv.request)));
    doc.push(Block::Field(
        "window",
        own(format!(
            "{} .. {} (anchored on {})",
            facts::ts(inv.window.start),
            facts::ts(inv.window.end),
            inv.window.anchor
        )),
    ));
    if !inv.gaps.is_empty() {
        doc.push(Block::Field(
            "evidence",
            Line::default().mark("INCOMPLETE", Tone::Warn).own(format!(
                ": {} item(s) could not be determined (listed at the end)",
                inv.gaps.len()
            )),
        ));
    }
}

fn findings(doc: &mut Doc, a: &Assessment) {
    doc.push(Block::Section(
        format!("FINDINGS ({})", a.findings.len()).into(),
    ));
    if a.findings.is_empty() {
        doc.push(Block::Note(own("none")));
    } else {
        let rows = a
            .findings
            .iter()
            .map(|f| {
                let (word, tone) = severity_word(f.severity);
                let evidence = if f.evidence.is_empty() {
                    own("-")
                } else {
                    Line::join(f.evidence.iter().map(evidence_ref), "; ")
                };
                vec![
                    Line::default().mark(word, tone),
                    own(f.id.as_str()),
                    ext(&f.title),
                    evidence,
                ]
            })
            .collect();
        doc.push(Block::Table(Table {
            head: vec!["severity", "finding", "title", "evidence"],
            rows,
            layout: TextLayout::Stacked(3),
        }));
    }
    doc.push(Block::Section("RECOMMENDED ACTIONS".into()));
    if a.recommended_actions.is_empty() {
        doc.push(Block::Note(own("none for this verdict")));
    }
    for r in &a.recommended_actions {
        doc.push(Block::Item(
            Line::default()
                .mark(action_id(r.action), Tone::Strong)
                .own(": ")
                .ext(&r.reason),
        ));
    }
}

fn the_key(doc: &mut Doc, inv: &Investigation, now: Timestamp) {
    doc.push(Block::Section("THE KEY".into()));
    doc.push(Block::Field("name", ext(inv.key_name.to_string())));
    if let Some(p) = &inv.project {
        let mut line = ext(&p.project_id).own(" (").ext(&p.name);
        if !p.display_name.is_empty() {
            line = line.own(", ").ext(&p.display_name);
        }
        if let Some(parent) = &p.parent {
            line = line.own(", in ").ext(parent);
        }
        if p.state != "ACTIVE" {
            line = line.own(", ").ext(&p.state);
        }
        doc.push(Block::Field("project", line.own(")")));
    }
    let Some(k) = &inv.key else {
        doc.push(Block::Note(own(
            "the key could not be read (see COULD NOT DETERMINE)",
        )));
        return;
    };
    let key = &k.key;
    doc.push(Block::Field("purpose", ext(&key.purpose)));
    doc.push(Block::Field("algorithm", ext(&key.algorithm)));
    doc.push(Block::Field("protection", ext(&key.protection_level)));
    doc.push(Block::Field("created", time(now, key.create_time)));
    if key.import_only {
        doc.push(Block::Field(
            "key material",
            Line::default()
                .mark("IMPORTED", Tone::Warn)
                .own(": import-only, the material is supplied from outside Google"),
        ));
    } else if key.protection_level.starts_with("EXTERNAL") {
        doc.push(Block::Field(
            "key material",
            Line::default()
                .mark("EXTERNAL", Tone::Warn)
                .own(": held in an external key manager, outside Google"),
        ));
    } else if facts::external_material(key, &k.versions) {
        doc.push(Block::Field(
            "key material",
            Line::default()
                .mark("IMPORTED", Tone::Warn)
                .own(": some versions were imported from outside Google"),
        ));
    }
    if let Some(b) = &key.crypto_key_backend {
        doc.push(Block::Field("backend", ext(b)));
    }
    if let Some(d) = key.destroy_scheduled_duration {
        doc.push(Block::Field("destroy delay", own(facts::duration(d))));
    }
    if !key.labels.is_empty() {
        doc.push(Block::Field(
            "labels",
            Line::join(key.labels.iter().map(|(n, v)| ext(n).own("=").ext(v)), ", "),
        ));
    }
    if k.versions.is_empty() {
        doc.push(Block::Field("versions", own("none")));
        return;
    }
    let primary = key.primary.as_ref().map(|p| p.name.as_str());
    let rows = k
        .versions
        .iter()
        .map(|v| {
            let mut notes = Vec::new();
            if Some(v.name.as_str()) == primary {
                notes.push(own("primary"));
            }
            if let Some(j) = &v.import_job {
                notes.push(own("imported via ").ext(j));
            }
            if let Some(u) = &v.external_key_uri {
                notes.push(own("external key ").ext(u));
            }
            if let Some(d) = v.destroy_time {
                notes.push(own(format!("destroyed at {}", facts::ts(d))));
            }
            vec![
                ext(&v.id),
                ext(&v.state),
                ext(&v.protection_level),
                ext(&v.algorithm),
                opt_time(v.create_time),
                if notes.is_empty() {
                    own("-")
                } else {
                    Line::join(notes, ", ")
                },
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        head: vec![
            "version",
            "state",
            "protection",
            "algorithm",
            "created",
            "notes",
        ],
        rows,
        layout: TextLayout::Columns,
    }));
}

/// `can encrypt/decrypt: 2` and one item per grant:
/// `user:a@x (key, roles/cloudkms.cryptoKeyEncrypterDecrypter, if business hours)`.
fn grants(doc: &mut Doc, label: &'static str, list: &[Grant]) {
    if list.is_empty() {
        doc.push(Block::Field(label, own("nobody, in the policies read")));
        return;
    }
    doc.push(Block::Field(label, own(list.len().to_string())));
    for g in list {
        let line = ext(&g.member)
            .own(format!(" ({}, ", facts::scope_label(g.scope)))
            .ext(&g.role);
        doc.push(Block::SubItem(match &g.condition {
            Some(c) => line.own(", if ").ext(c).own(")"),
            None => line.own(")"),
        }));
    }
}

fn who_can_use_it(doc: &mut Doc, inv: &Investigation) {
    doc.push(Block::Section("WHO CAN USE IT".into()));
    let access = facts::access(inv);
    grants(doc, "can encrypt/decrypt", &access.use_key);
    grants(doc, "can administer", &access.administer);
    grants(doc, "can set IAM policy", &access.set_iam_policy);
    if !access.unclassified.is_empty() {
        grants(
            doc,
            "custom roles (permissions not read)",
            &access.unclassified,
        );
    }
    for (policy, what) in [(&inv.iam.key, "key"), (&inv.iam.key_ring, "key ring")] {
        if policy.is_none() {
            doc.push(Block::Note(own(format!(
                "the {what}'s IAM policy could not be read: who can use the key may be understated"
            ))));
        }
    }
    let mut rows = Vec::new();
    let scoped = [
        ("key", inv.iam.key.as_ref().map(|p| p.bindings.as_slice())),
        (
            "key ring",
            inv.iam.key_ring.as_ref().map(|p| p.bindings.as_slice()),
        ),
        ("project", Some(inv.iam.project_kms_bindings.as_slice())),
    ];
    let inherited = inv
        .iam
        .inherited_kms_bindings
        .iter()
        .map(|i| (i.container.clone(), &i.binding));
    let scoped_rows = scoped
        .into_iter()
        .flat_map(|(scope, bindings)| {
            bindings
                .unwrap_or_default()
                .iter()
                .map(move |b| (scope.to_owned(), b))
        })
        .chain(inherited);
    {
        for (scope, b) in scoped_rows {
            rows.push(vec![
                own(scope),
                ext(&b.role),
                list(&b.members, ", "),
                b.condition
                    .as_ref()
                    .map_or_else(|| own("-"), |c| ext(&c.title).own(": ").ext(&c.expression)),
            ]);
        }
    }
    if rows.is_empty() {
        doc.push(Block::Field("bindings", own("none")));
    } else {
        doc.push(Block::Table(Table {
            head: vec!["where", "role", "members", "condition"],
            rows,
            layout: TextLayout::Columns,
        }));
    }
}

fn who_created_it(doc: &mut Doc, inv: &Investigation, now: Timestamp) {
    doc.push(Block::Section("WHO CREATED IT".into()));
    let Some(c) = &inv.creator else {
        doc.push(Block::Note(own(
            "no creation entry was found in the Admin Activity log (see COULD NOT DETERMINE)",
        )));
        return;
    };
    doc.push(Block::Field("principal", ext(&c.principal)));
    if !c.delegation_chain.is_empty() {
        doc.push(Block::Field(
            "impersonated by",
            list(&c.delegation_chain, " -> ").own(" (acting as the principal above)"),
        ));
    }
    doc.push(Block::Field(
        "service-account key",
        match &c.service_account_key {
            Some(k) => Line::default()
                .mark("LONG-LIVED KEY", Tone::Warn)
                .own(" ")
                .ext(k),
            None => own("none"),
        },
    ));
    doc.push(Block::Field("caller IP", ext(&c.caller_ip)));
    doc.push(Block::Field(
        "user agent",
        if c.user_agent.is_empty() {
            own("(none)")
        } else {
            ext(&c.user_agent)
        },
    ));
    doc.push(Block::Field("time", time(now, c.timestamp)));
    doc.push(Block::Field(
        "how",
        ext(&c.method).own(" on ").ext(&c.resource_name),
    ));
    doc.push(Block::Field("log entry", ext(&c.insert_id)));
}

fn creator_activity(doc: &mut Doc, inv: &Investigation) {
    doc.push(Block::Section("WHAT ELSE THE CREATOR DID".into()));
    let Some(a) = &inv.creator_activity else {
        doc.push(Block::Note(own(
            "not known: the creator could not be identified",
        )));
        return;
    };
    doc.push(Block::Field("principal", ext(&a.principal)));
    doc.push(Block::Field(
        "KMS admin actions in the window",
        if a.actions.is_empty() {
            own("none")
        } else {
            Line::join(
                a.actions.iter().map(|(m, n)| ext(m).own(format!(" x{n}"))),
                ", ",
            )
        },
    ));
    doc.push(Block::Field(
        "keys created",
        own(format!("{}", a.keys_created.len())),
    ));
    for k in &a.keys_created {
        doc.push(Block::SubItem(ext(k)));
    }
    doc.push(Block::Field(
        "KMS admin before this key",
        if a.prior_admin {
            own(match a.first_admin {
                Some(t) => format!("yes, first in the window at {}", facts::ts(t)),
                None => "yes".to_owned(),
            })
        } else {
            Line::default()
                .mark("NONE", Tone::Warn)
                .own(" in the window (new actor)")
        },
    ));
    if a.truncated {
        doc.push(Block::Note(own(format!(
            "the read stopped at its bound after {} entries: counts are lower bounds",
            a.entries_read
        ))));
    }
    if !a.events.is_empty() {
        let rows = a
            .events
            .iter()
            .take(MAX_EVENTS_SHOWN)
            .map(|e| {
                vec![
                    opt_time(e.time),
                    ext(&e.method),
                    ext(&e.resource),
                    ext(&e.insert_id),
                ]
            })
            .collect();
        doc.push(Block::Table(Table {
            head: vec!["time", "method", "resource", "log entry"],
            rows,
            layout: TextLayout::Columns,
        }));
        if a.events.len() > MAX_EVENTS_SHOWN {
            doc.push(Block::Note(own(format!(
                "... and {} more (all are in the JSON report)",
                a.events.len() - MAX_EVENTS_SHOWN
            ))));
        }
    }
}

fn who_used_it(doc: &mut Doc, inv: &Investigation) {
    doc.push(Block::Section("WHO USED IT".into()));
    let usage = &inv.usage;
    let status = facts::usage_status(inv);
    doc.push(Block::Field(
        "Data Access logging",
        match &usage.logging {
            DataAccessLogging::Enabled { by, .. } => own("on (by ").then(list(by, ", ")).own(")"),
            DataAccessLogging::Disabled => own("off"),
            DataAccessLogging::Unknown => own("could not be determined"),
        },
    ));
    if let DataAccessLogging::Enabled {
        exempted_members, ..
    } = &usage.logging
        && !exempted_members.is_empty()
    {
        doc.push(Block::Field("not logged for", list(exempted_members, ", ")));
    }
    match &status {
        UsageStatus::Unknown { reason } => {
            doc.push(Block::Field(
                "calls",
                Line::default()
                    .mark("UNKNOWN", Tone::Warn)
                    .own(": ")
                    .ext(reason)
                    .own(" (unknown is not unused)"),
            ));
            return;
        }
        UsageStatus::AtLeast { reasons } => {
            doc.push(Block::Field(
                "calls",
                own(format!(
                    "at least {} ({})",
                    usage.total_calls,
                    reasons.join("; ")
                )),
            ));
        }
        UsageStatus::Complete => {
            doc.push(Block::Field("calls", own(usage.total_calls.to_string())));
        }
    }
    if usage.rows.is_empty() {
        doc.push(Block::Note(own("no use recorded in the window")));
        return;
    }
    let rows = usage
        .rows
        .iter()
        .map(|r| {
            vec![
                ext(&r.principal),
                ext(&r.method),
                own(r.calls.to_string()),
                own(r.failures.to_string()),
                opt_time(r.first),
                opt_time(r.last),
                list(&r.caller_ips, ", "),
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        head: vec![
            "principal",
            "method",
            "calls",
            "failed",
            "first",
            "last",
            "caller IPs",
        ],
        rows,
        layout: TextLayout::Columns,
    }));
}

fn what_it_protects(doc: &mut Doc, inv: &Investigation) {
    doc.push(Block::Section("WHAT IT PROTECTS".into()));
    match &inv.protected_resources {
        None => doc.push(Block::Note(own(
            "could not be read from KMS Inventory (see COULD NOT DETERMINE)",
        ))),
        // A gap next to a list: the search covered less than the organization.
        Some(list) if inv.gaps.iter().any(|g| g.evidence == "protected_resources") => {
            doc.push(Block::Note(own(format!(
                "at least {} resource{}: the search covered the project only (see COULD NOT DETERMINE)",
                list.len(),
                if list.len() == 1 { "" } else { "s" }
            ))));
            protected_table(doc, list);
        }
        Some(list) if list.is_empty() => {
            doc.push(Block::Note(own("nothing known to KMS Inventory")));
        }
        Some(list) => protected_table(doc, list),
    }
}

fn protected_table(doc: &mut Doc, list: &[crate::gcp::ProtectedResource]) {
    if list.is_empty() {
        return;
    }
    let rows = list
        .iter()
        .map(|r| {
            let versions: Vec<String> = if r.crypto_key_versions.is_empty() {
                r.crypto_key_version.iter().cloned().collect()
            } else {
                r.crypto_key_versions.clone()
            };
            let versions = versions
                .iter()
                .map(|v| v.rsplit('/').next().unwrap_or(v).to_owned())
                .collect::<Vec<_>>();
            vec![
                ext(&r.resource_type),
                ext(&r.name),
                ext(&r.project_id),
                ext(&r.location),
                if versions.is_empty() {
                    own("-")
                } else {
                    self::list(&versions, ", ")
                },
            ]
        })
        .collect();
    doc.push(Block::Table(Table {
        head: vec!["type", "resource", "project", "location", "key versions"],
        rows,
        layout: TextLayout::Columns,
    }));
}

fn rotation(doc: &mut Doc, inv: &Investigation, now: Timestamp) {
    doc.push(Block::Section("ROTATION".into()));
    let Some(k) = &inv.key else {
        doc.push(Block::Note(own("unknown: the key could not be read")));
        return;
    };
    let key = &k.key;
    if facts::auto_rotation_supported(key) {
        doc.push(Block::Field(
            "period",
            match key.rotation_period {
                Some(p) => own(facts::duration(p)),
                None => Line::default()
                    .mark("NONE", Tone::Warn)
                    .own(": no automatic rotation is scheduled"),
            },
        ));
        doc.push(Block::Field(
            "next rotation",
            match key.next_rotation_time {
                Some(t) => own(facts::when(now, t)),
                None => own("none scheduled"),
            },
        ));
    } else {
        let why = if key.purpose.starts_with("ASYMMETRIC") {
            "asymmetric keys never rotate automatically"
        } else {
            "only symmetric ENCRYPT_DECRYPT keys rotate automatically"
        };
        doc.push(Block::Field(
            "automatic rotation",
            own("not available: ")
                .ext(&key.purpose)
                .own(format!(" key; {why} (new versions are created by hand)")),
        ));
    }
    match facts::current_version(key, &k.versions) {
        Some((v, primary)) => {
            let label = if primary {
                "primary version"
            } else {
                "newest enabled version"
            };
            let line = ext(&v.id).own(match v.create_time {
                Some(t) => format!(", created {}, age {}", facts::ts(t), age(now, t)),
                None => ", creation time unknown".to_owned(),
            });
            doc.push(Block::Field(label, line));
        }
        None => doc.push(Block::Field("current version", own("none enabled"))),
    }
    doc.push(Block::Note(own(
        "the period is checked against the playbook's maximum in the findings (rotation-missing, rotation-too-long)",
    )));
}

fn age(now: Timestamp, t: Timestamp) -> String {
    let secs = now.duration_since(t).as_secs().max(0).unsigned_abs();
    facts::duration(std::time::Duration::from_secs(secs))
}

fn gaps(doc: &mut Doc, inv: &Investigation) {
    if inv.gaps.is_empty() {
        return;
    }
    doc.push(Block::Section("COULD NOT DETERMINE".into()));
    for g in &inv.gaps {
        doc.push(Block::Item(
            ext(&g.evidence)
                .own(": ")
                .ext(facts::gap_reason(&g.reason))
                .own(": ")
                .ext(&g.detail),
        ));
    }
}

/// The blocks for an alert whose key could not be found.
pub(crate) fn unresolved(request: &Request, search: &KeySearch, detail: &str) -> Doc {
    let mut doc = Doc::new();
    doc.push(Block::Headline(
        Line::default()
            .mark("NO KEY FOUND", Tone::Warn)
            .own("  in project ")
            .ext(&search.project),
    ));
    doc.push(Block::Field("alert", request_line(request)));
    doc.push(Block::Field(
        "searched for",
        own("key ")
            .then(search.key_id.as_deref().map_or_else(|| own("(any)"), ext))
            .own(" created by ")
            .then(
                search
                    .principal
                    .as_deref()
                    .map_or_else(|| own("(anyone)"), ext),
            )
            .own(format!(
                " between {} and {}",
                facts::ts(search.start),
                facts::ts(search.end)
            )),
    ));
    doc.push(Block::Field("result", ext(detail)));
    doc
}
