//! Fuzz target bodies. Each takes arbitrary bytes, runs one reader of hostile input the way the
//! tool does, and panics when a property the tool relies on does not hold: a panic (or an abort,
//! a timeout or an out-of-memory under libFuzzer) is a finding.
//!
//! Used by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`) and, unchanged, by the in-process
//! corpus run of `cargo test` (`tests/integration/fuzz_corpus.rs`), so this file only depends on
//! crates both have: `kms_responder`, `gcp_mock`, `serde_json` and `jiff`.

use gcp_mock::filter::Filter;
use jiff::Timestamp;
use kms_responder::audit::{self, AuditEvent};
use kms_responder::input::{self, Subject};
use kms_responder::keyname::{self, KeyName};
use kms_responder::{logfilter, playbook, render, sanitize};
use serde_json::{Value, json};

/// Longest error message accepted from a reader: hostile input is only ever quoted in short,
/// neutralized excerpts.
const MAX_ERROR_CHARS: usize = 4096;

/// Characters that must never reach a terminal from hostile input: controls (ANSI escapes,
/// newlines, carriage returns), bidi overrides and isolates, zero-width and other invisible
/// format characters, line and paragraph separators.
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

fn check_error_text(what: &str, message: &str) {
    let chars = message.chars().count();
    assert!(
        chars <= MAX_ERROR_CHARS,
        "{what}: an error message of {chars} characters (hostile input must be quoted in bounded excerpts)"
    );
    assert!(
        !message.chars().any(is_dangerous),
        "{what}: an error message carries a control, bidi or invisible character: {message:?}"
    );
}

/// What every writer shows of an external string: one visible line, bounded.
fn check_neutralized(s: &str) {
    let safe = sanitize::text(s);
    assert!(
        !safe.chars().any(is_dangerous),
        "sanitize::text left a dangerous character in {safe:?}"
    );
    assert!(
        safe.chars().count() <= 513 * 12,
        "sanitize::text is unbounded"
    );
    if !s.chars().any(is_dangerous) && s.chars().count() <= 512 {
        assert_eq!(safe, s, "sanitize::text changed harmless text");
    }
    let md = render::escape_markdown(s);
    assert!(
        !md.chars().any(is_dangerous),
        "escape_markdown left a dangerous character in {md:?}"
    );
    for special in ['|', '<', '>', '[', ']', '`', '*', '_'] {
        let raw = md.match_indices(special).any(|(i, _)| {
            let before = &md[..i];
            before.chars().rev().take_while(|c| *c == '\\').count() % 2 == 0
        });
        assert!(!raw, "escape_markdown left {special:?} unescaped in {md:?}");
    }
}

/// Alert parsing (`kms-responder investigate FILE`): any text is either requests whose key
/// names are valid and whose search terms are safe, or an error that is bounded and printable.
pub fn alert(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match input::parse("fuzz.json", text) {
        Ok(requests) => {
            for request in &requests {
                match &request.subject {
                    Subject::Keys { keys } => {
                        assert!(!keys.is_empty(), "a request without a key");
                        for key in keys {
                            let name = key.to_string();
                            assert_eq!(KeyName::parse(&name).as_ref(), Ok(key), "{name}");
                        }
                    }
                    Subject::Search(search) => {
                        assert!(
                            !search.project.is_empty()
                                && search.project.bytes().all(|b| b.is_ascii_lowercase()
                                    || b.is_ascii_digit()
                                    || b == b'-'),
                            "unsafe project to search: {:?}",
                            search.project
                        );
                        if let Some(id) = &search.key_id {
                            assert!(keyname::valid_kms_id(id), "unsafe key id {id:?}");
                        }
                    }
                }
                if let Err(e) = serde_json::to_string(request) {
                    panic!("a request does not serialize: {e}");
                }
            }
        }
        Err(e) => check_error_text("input::parse", &e.to_string()),
    }
}

/// Audit-entry parsing (alerts, Pub/Sub pushes and every `entries.list` answer): any JSON is
/// an event or a refusal, timestamps in any form never panic, and every string of the event
/// is neutralized by the writers.
pub fn audit_entry(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = audit::parse_timestamp(text);
        for line in text.lines().take(8) {
            let _ = audit::parse_timestamp(line);
        }
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // Entries arrive bare, or inside an array / NDJSON export.
    let entries: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().take(16).collect(),
        other => vec![other],
    };
    for entry in entries {
        let Ok(event) = AuditEvent::from_json(entry) else {
            continue;
        };
        let _ = event.is_creation_of(&event.resource_name);
        let _ = KeyName::parse(&event.resource_name);
        for s in [
            &event.insert_id,
            &event.method,
            &event.resource_name,
            &event.principal,
            &event.caller_ip,
            &event.user_agent,
            &event.status_message,
        ] {
            check_neutralized(s);
        }
        match serde_json::to_string(&event) {
            Ok(json) => match serde_json::from_str::<Value>(&json) {
                Ok(back) => assert_eq!(
                    back["principal"].as_str(),
                    Some(event.principal.as_str()),
                    "JSON must keep strings verbatim"
                ),
                Err(e) => panic!("the event's JSON does not parse back: {e}"),
            },
            Err(e) => panic!("an event does not serialize: {e}"),
        }
    }
}

/// Playbook parsing (`--playbook FILE`, `playbook check`): any text is a playbook or an error
/// with a location inside the text, bounded and printable.
pub fn playbook(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match playbook::parse("fuzz.yaml", text) {
        Ok(p) => {
            assert!(!p.verdict.is_empty(), "a playbook without verdict rules");
        }
        Err(e) => {
            check_error_text("playbook::parse", &e.to_string());
            if let Some((line, column)) = e.location() {
                // YAML breaks lines at "\r\n", "\r" and "\n" (a libFuzzer run found that
                // counting with `str::lines`, which ignores a lone "\r", is wrong).
                let breaks = text.replace("\r\n", "\n").replace('\r', "\n");
                let lines = u64::try_from(breaks.lines().count()).unwrap_or(u64::MAX);
                assert!(line >= 1 && column >= 1, "location {line}:{column}");
                assert!(
                    line <= lines.saturating_add(1),
                    "line {line} past the end of a {lines}-line text: {e}"
                );
            }
        }
    }
}

/// Undoes [`logfilter::quote`]; `None` when the literal is not one `quote` could make.
pub fn unquote(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return None,
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c if c.is_control() => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Logging filter building: a quoted value is one literal that means exactly the value (checked
/// with the mock's implementation of the Logging query language), and a key name that parses is
/// safe in a filter and a URL path, and its filters select exactly that key.
pub fn filter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let quoted = logfilter::quote(&text);
    assert_eq!(
        unquote(&quoted).as_deref(),
        Some(text.as_ref()),
        "quote is not reversible: {quoted:?}"
    );
    // As the principal of the key search (investigate.rs builds exactly this comparison).
    let principal_filter = format!("protoPayload.authenticationInfo.principalEmail={quoted}");
    if principal_filter.len() < 20_000 {
        match Filter::parse(&principal_filter) {
            Ok(f) => {
                let entry = |p: &str| json!({"protoPayload": {"authenticationInfo": {"principalEmail": p}}});
                assert!(
                    f.matches(&entry(&text)),
                    "the filter does not select its own value: {principal_filter:?}"
                );
                let other = format!("{text}x");
                assert!(
                    !f.matches(&entry(&other)),
                    "the filter selects another value: {principal_filter:?}"
                );
            }
            Err(e) => panic!("a quoted value is not one filter literal: {principal_filter:?}: {e}"),
        }
    }
    let since: Timestamp = "2026-11-20T00:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut keys: Vec<KeyName> = KeyName::find_all(&text);
    if let Ok(k) = KeyName::parse(&text) {
        keys.push(k);
    }
    for key in keys.iter().take(4) {
        let name = key.to_string();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_')),
            "a key name with characters that could change a filter or a path: {name:?}"
        );
        assert_eq!(KeyName::parse(&name).as_ref(), Ok(key));
        let usage = logfilter::key_usage(key, since);
        let admin = logfilter::kms_admin_activity(key, since);
        for f in [&usage, &admin] {
            if let Err(e) = Filter::parse(f) {
                panic!("a filter built from a valid key does not parse: {f:?}: {e}");
            }
        }
        let Ok(usage) = Filter::parse(&usage) else {
            continue;
        };
        let log = format!(
            "projects/{}/logs/cloudaudit.googleapis.com%2Fdata_access",
            key.project()
        );
        let entry = |resource: &str| {
            json!({"logName": log, "timestamp": "2026-11-21T00:00:00Z",
                   "protoPayload": {"resourceName": resource}})
        };
        assert!(usage.matches(&entry(&name)));
        assert!(usage.matches(&entry(&format!("{name}/cryptoKeyVersions/1"))));
        assert!(
            !usage.matches(&entry(&format!("{name}-backup"))),
            "the usage filter of {name} selects a key whose name extends it"
        );
    }
}
