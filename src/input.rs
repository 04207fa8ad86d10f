//! What the tool is asked to investigate, from whatever the on-call engineer
//! has: a Lacework alert (v2 API object, its `{"data": ...}` envelope, or the
//! Details scope), a Cloud Audit Log entry, a Pub/Sub push of one, or a key
//! name; one or many (JSON array, NDJSON, several arguments). Pure: the
//! caller reads files (at most [`MAX_INPUT_BYTES`] of them, with [`read_bounded`]);
//! this module only parses text.
//!
//! Everything in an input is hostile: a value quoted in an error is a short,
//! neutralized excerpt ([`crate::sanitize::excerpt`]), and text over
//! [`MAX_INPUT_BYTES`] is refused before it is parsed, so memory stays bounded.

use std::io::Read;

use base64::Engine as _;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::audit::{AuditEvent, parse_timestamp};
use crate::keyname::KeyName;
use crate::sanitize;

/// The largest input accepted (one file, stdin or argument): a batch of alerts or an NDJSON
/// export of audit entries is far smaller. Larger text is refused before it is parsed.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;

/// Characters of a hostile value quoted in an error.
const EXCERPT_CHARS: usize = 80;

/// Where an investigation request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    LaceworkAlert,
    AuditLogEntry,
    PubSubPush,
    KeyName,
}

/// What to look for when an alert names no full key resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySearch {
    pub project: String,
    pub key_id: Option<String>,
    pub principal: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The subject of one investigation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// Keys known by name.
    Keys { keys: Vec<KeyName> },
    /// Keys to be found in the Admin Activity log first.
    Search(KeySearch),
}

/// One alert (or entry, or name) to investigate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub source: SourceKind,
    /// The alert id, or the entry's insertId.
    pub id: Option<String>,
    pub alert_type: Option<String>,
    /// When the event happened, as the input says: it anchors the lookback window.
    pub event_time: Option<Timestamp>,
    pub subject: Subject,
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{origin}: not valid JSON at line {line}, column {column}: {message}")]
    Json {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{origin}: {problem}")]
    Unrecognized { origin: String, problem: String },
    #[error("{origin}: empty input")]
    Empty { origin: String },
    #[error(
        "{origin}: larger than the {} MiB limit for one input; split it (a JSON array or NDJSON can be given as several files)",
        MAX_INPUT_BYTES / (1024 * 1024)
    )]
    TooLarge { origin: String },
    #[error("{origin}: not UTF-8 text (first bad byte at line {line}, column {column})")]
    NotUtf8 {
        origin: String,
        line: usize,
        column: usize,
    },
    #[error("{origin}: cannot read: {message}")]
    Read { origin: String, message: String },
}

/// Reads an input (a file or stdin) as text, at most [`MAX_INPUT_BYTES`] of it: a larger input
/// is refused after reading one byte past the limit, whatever its real size, so memory stays
/// bounded; bytes that are not UTF-8 are refused with their position.
pub fn read_bounded(origin: &str, reader: impl Read) -> Result<String, InputError> {
    let limit = u64::try_from(MAX_INPUT_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut bytes = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::Read {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            origin: origin.to_owned(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..bad];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        InputError::NotUtf8 {
            origin: origin.to_owned(),
            line,
            column,
        }
    })
}

/// The forms accepted, for error hints.
pub const ACCEPTED_FORMS: &str = "a Lacework alert (v2 Alerts API object, {\"data\": [...]} envelope, or Details scope), \
a Cloud Audit Log entry (LogEntry JSON), a Pub/Sub push envelope whose message.data is such an entry, \
a key name projects/P/locations/L/keyRings/R/cryptoKeys/K (or //cloudkms.googleapis.com/...), \
or several of these as a JSON array or NDJSON";

/// Parses one input text (a file's content or a command-line argument).
pub fn parse(origin: &str, text: &str) -> Result<Vec<Request>, InputError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            origin: origin.to_owned(),
        });
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(InputError::Empty {
            origin: origin.to_owned(),
        });
    }
    if !trimmed.starts_with('{') && !trimmed.starts_with('[') {
        return trimmed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                KeyName::parse(line)
                    .map(|key| Request {
                        source: SourceKind::KeyName,
                        id: None,
                        alert_type: None,
                        event_time: None,
                        subject: Subject::Keys { keys: vec![key] },
                    })
                    .map_err(|e| InputError::Unrecognized {
                        origin: origin.to_owned(),
                        problem: e.to_string(),
                    })
            })
            .collect();
    }
    let mut out = Vec::new();
    // The whole text, not the trimmed one, so that lines and columns in errors count from the
    // start of the input as the operator sees it.
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (i, value) in stream.enumerate() {
        let value = value.map_err(|e| InputError::Json {
            origin: origin.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let at = if i == 0 {
            origin.to_owned()
        } else {
            format!("{origin} (document {})", i + 1)
        };
        from_value(&at, &value, &mut out, 0)?;
    }
    Ok(out)
}

fn unrecognized(origin: &str, problem: &str) -> InputError {
    InputError::Unrecognized {
        origin: origin.to_owned(),
        problem: problem.to_owned(),
    }
}

fn from_value(
    origin: &str,
    v: &Value,
    out: &mut Vec<Request>,
    depth: usize,
) -> Result<(), InputError> {
    if depth > 4 {
        return Err(unrecognized(origin, "nested too deeply to be an alert"));
    }
    match v {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(unrecognized(origin, "an empty list"));
            }
            for (i, item) in items.iter().enumerate() {
                from_value(&format!("{origin}[{i}]"), item, out, depth + 1)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            if map.contains_key("protoPayload") {
                out.push(from_log_entry(origin, v, SourceKind::AuditLogEntry)?);
                Ok(())
            } else if let Some(data) = v.pointer("/message/data").and_then(Value::as_str) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|_| unrecognized(origin, "Pub/Sub message.data is not base64"))?;
                let entry: Value = serde_json::from_slice(&decoded).map_err(|e| {
                    unrecognized(
                        origin,
                        &format!("Pub/Sub message.data is not a JSON log entry: {e}"),
                    )
                })?;
                out.push(from_log_entry(origin, &entry, SourceKind::PubSubPush)?);
                Ok(())
            } else if let Some(data) = map.get("data") {
                from_value(&format!("{origin}.data"), data, out, depth + 1)
            } else if map.contains_key("alertType") || map.contains_key("alertId") {
                out.push(from_lacework(origin, v)?);
                Ok(())
            } else {
                Err(unrecognized(
                    origin,
                    "neither a Lacework alert (no alertId/alertType), a log entry (no protoPayload) nor a Pub/Sub push (no message.data)",
                ))
            }
        }
        Value::String(s) => {
            let key = KeyName::parse(s).map_err(|e| unrecognized(origin, &e.to_string()))?;
            out.push(Request {
                source: SourceKind::KeyName,
                id: None,
                alert_type: None,
                event_time: None,
                subject: Subject::Keys { keys: vec![key] },
            });
            Ok(())
        }
        _ => Err(unrecognized(
            origin,
            "expected a JSON object, array or key name",
        )),
    }
}

fn from_log_entry(origin: &str, entry: &Value, source: SourceKind) -> Result<Request, InputError> {
    let event = AuditEvent::from_json(entry).map_err(|e| unrecognized(origin, &e.to_string()))?;
    let keys = KeyName::parse(&event.resource_name)
        .map(|k| vec![k])
        .map_err(|_| {
            unrecognized(
                origin,
                &format!(
                    "the entry's resourceName {:?} is not a Cloud KMS key",
                    sanitize::excerpt(&event.resource_name, EXCERPT_CHARS)
                ),
            )
        })?;
    Ok(Request {
        source,
        id: Some(event.insert_id.clone()).filter(|s| !s.is_empty()),
        alert_type: None,
        event_time: event.timestamp,
        subject: Subject::Keys { keys },
    })
}

/// Every string inside a JSON value, depth-first.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

/// The word after `marker` in free text ("in project acme-prod" -> "acme-prod").
fn word_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let i = text.find(marker)? + marker.len();
    let word = text[i..].split_whitespace().next()?;
    let word = word.trim_end_matches(['.', ',', ';', ':', ')']);
    (!word.is_empty()).then_some(word)
}

fn from_lacework(origin: &str, alert: &Value) -> Result<Request, InputError> {
    let id = alert.get("alertId").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let alert_type = alert
        .get("alertType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let time = |field: &str| {
        alert
            .get(field)
            .and_then(Value::as_str)
            .and_then(parse_timestamp)
    };
    let (start, end) = (time("startTime"), time("endTime"));
    let mut texts = Vec::new();
    strings(alert, &mut texts);
    let mut keys: Vec<KeyName> = Vec::new();
    for t in &texts {
        for k in KeyName::find_all(t) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let subject = if keys.is_empty() {
        let description = alert
            .pointer("/alertInfo/description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let project = alert
            .pointer("/entityMap/CT_User/0/KEY/account")
            .and_then(Value::as_str)
            .or_else(|| word_after(description, "in project "))
            .ok_or_else(|| {
                unrecognized(
                    origin,
                    "the alert names no Cloud KMS key and no project to search",
                )
            })?;
        if project.is_empty()
            || project.len() > 63
            || !project
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(unrecognized(
                origin,
                &format!(
                    "the alert's project {:?} is not a project id",
                    sanitize::excerpt(project, EXCERPT_CHARS)
                ),
            ));
        }
        let key_id = word_after(description, " key ")
            .filter(|k| crate::keyname::valid_kms_id(k) && *k != "in")
            .map(str::to_owned);
        let principal = alert
            .pointer("/entityMap/CT_User/0/KEY/username")
            .and_then(Value::as_str)
            .or_else(|| description.split_whitespace().find(|w| w.contains('@')))
            .map(|p| p.trim_end_matches(['.', ',']).to_owned());
        let (Some(start), Some(end)) = (start, end) else {
            return Err(unrecognized(
                origin,
                "the alert names no key and has no startTime/endTime window to search in",
            ));
        };
        Subject::Search(KeySearch {
            project: project.to_owned(),
            key_id,
            principal,
            start,
            end,
        })
    } else {
        Subject::Keys { keys }
    };
    Ok(Request {
        source: SourceKind::LaceworkAlert,
        id,
        alert_type,
        event_time: start,
        subject,
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn read(path: &str) -> String {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn bundled_alerts_are_understood() {
        let r = parse("benign", &read("mocks/scenarios/benign-ci.alert.json")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].source, SourceKind::LaceworkAlert);
        assert_eq!(r[0].alert_type.as_deref(), Some("GCPNewKMSKey"));
        assert!(
            matches!(&r[0].subject, Subject::Keys { keys } if keys[0].to_string().ends_with("cryptoKeys/orders-db-cmek"))
        );
        let r = parse(
            "susp",
            &read("mocks/scenarios/suspicious-human-offhours.alert.json"),
        )
        .unwrap();
        let Subject::Search(s) = &r[0].subject else {
            panic!("{r:?}")
        };
        assert_eq!(s.project, "acme-analytics-prod");
        assert_eq!(s.key_id.as_deref(), Some("backup-key"));
        assert_eq!(s.principal.as_deref(), Some("jordan.lee@acme.example"));
    }

    #[test]
    fn log_entries_pubsub_and_names_are_understood() {
        let entry = read("../shared/realdata/audit-logs/cloud-custodian/kms-cryptokey-create.json");
        let r = parse("entry", &entry).unwrap();
        assert_eq!(r[0].source, SourceKind::AuditLogEntry);
        assert!(r[0].event_time.is_some());
        let data = base64::engine::general_purpose::STANDARD.encode(entry.as_bytes());
        let push = format!(
            r#"{{"message": {{"data": "{data}", "messageId": "1"}}, "subscription": "projects/p/subscriptions/s"}}"#
        );
        assert_eq!(
            parse("push", &push).unwrap()[0].source,
            SourceKind::PubSubPush
        );
        let two = "projects/a-1/locations/global/keyRings/r/cryptoKeys/k\n//cloudkms.googleapis.com/projects/a-1/locations/global/keyRings/r/cryptoKeys/k2\n";
        assert_eq!(parse("args", two).unwrap().len(), 2);
        let ndjson = format!("{}\n{}", entry.replace('\n', ""), entry.replace('\n', ""));
        assert_eq!(parse("nd", &ndjson).unwrap().len(), 2);
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        assert!(matches!(parse("x", ""), Err(InputError::Empty { .. })));
        assert!(matches!(
            parse("x", "{\"a\": 1"),
            Err(InputError::Json { .. })
        ));
        assert!(matches!(
            parse("x", "{\"hello\": 1}"),
            Err(InputError::Unrecognized { .. })
        ));
        assert!(matches!(
            parse("x", "not a key"),
            Err(InputError::Unrecognized { .. })
        ));
        let non_kms = read("../shared/realdata/audit-logs/plaso/split/line-01.json");
        assert!(matches!(
            parse("x", &non_kms),
            Err(InputError::Unrecognized { .. })
        ));
    }
}
