//! Part 3: real audit log entries (Cloud Custodian's 2019 KMS entries, plaso's anonymised
//! entries) served by the mock and read back through the official Logging client.

use std::collections::BTreeMap;

use google_cloud_logging_v2::model::LogEntry;
use serde_json::{Value, json};

use crate::recordings::realdata;
use crate::support::*;

/// One real entry, with the file it came from.
#[derive(Debug, Clone)]
pub struct Real {
    pub file: String,
    pub entry: Value,
}

/// Every raw LogEntry of the collection (the Panther samples are not raw, so not here).
pub fn real_entries() -> Vec<Real> {
    let mut out = Vec::new();
    for dir in ["audit-logs/cloud-custodian", "audit-logs/plaso/split"] {
        let mut files: Vec<_> = std::fs::read_dir(realdata().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for p in files {
            let entry: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            out.push(Real {
                file: format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                entry,
            });
        }
    }
    assert_eq!(out.len(), 14, "3 cloud-custodian + 11 plaso entries");
    out
}

/// The log parents (`projects/P`) the entries belong to.
pub fn parents(entries: &[Real]) -> Vec<String> {
    let mut p: Vec<String> = entries
        .iter()
        .map(|r| {
            str_of(&r.entry, "logName")
                .split("/logs/")
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    p.sort();
    p.dedup();
    p
}

pub async fn serve(entries: &[Real]) -> gcp_mock::MockServer {
    let world = json!({"logEntries": entries.iter().map(|r| r.entry.clone()).collect::<Vec<_>>()});
    start(scenario_from("real-audit-logs", &world)).await
}

/// Originals sorted as `timestamp desc` would list them.
pub fn sorted_desc(entries: &[Real]) -> Vec<Real> {
    let mut v = entries.to_vec();
    v.sort_by_key(|r| {
        std::cmp::Reverse(
            str_of(&r.entry, "timestamp")
                .parse::<jiff::Timestamp>()
                .unwrap(),
        )
    });
    v
}

/// Pages through `entries.list` with the official client, following page tokens by hand;
/// returns the entries and the number of pages.
pub async fn list_all(
    client: &LoggingServiceV2,
    resource_names: &[String],
    filter: &str,
    order_by: &str,
    page_size: i32,
) -> (Vec<LogEntry>, usize) {
    let mut out = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = client
            .list_log_entries()
            .set_resource_names(resource_names.to_vec())
            .set_filter(filter)
            .set_order_by(order_by)
            .set_page_size(page_size)
            .set_page_token(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("entries.list {filter:?}: {e}"));
        pages += 1;
        assert!(
            page.entries.len() <= page_size as usize,
            "a page holds at most pageSize entries"
        );
        out.extend(page.entries);
        if page.next_page_token.is_empty() {
            return (out, pages);
        }
        assert_ne!(page.next_page_token, token, "the page token moves on");
        token = page.next_page_token;
        assert!(pages < 1000, "endless paging");
    }
}

/// The typed entry says what the original says, field by field, and its protoPayload (an
/// `Any`, which the SDK keeps as the JSON object with `@type`) is the original object.
pub fn check_entry(got: &LogEntry, original: &Real) {
    let o = &original.entry;
    let what = &original.file;
    assert_eq!(got.insert_id, str_of(o, "insertId"), "{what}: insertId");
    assert_eq!(got.log_name, str_of(o, "logName"), "{what}: logName");
    assert_eq!(
        sdk_time(got.timestamp.as_ref()),
        json_time(&o["timestamp"]),
        "{what}: timestamp"
    );
    assert_eq!(
        sdk_time(got.receive_timestamp.as_ref()),
        o.get("receiveTimestamp").and_then(json_time),
        "{what}: receiveTimestamp"
    );
    let severity = o
        .get("severity")
        .and_then(Value::as_str)
        .unwrap_or("DEFAULT");
    assert_eq!(got.severity.name(), Some(severity), "{what}: severity");
    let resource = got
        .resource
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no resource"));
    assert_eq!(
        resource.r#type,
        str_of(&o["resource"], "type"),
        "{what}: resource.type"
    );
    let labels: BTreeMap<&str, &str> = resource
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected: BTreeMap<&str, &str> = o["resource"]["labels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    assert_eq!(labels, expected, "{what}: resource.labels");
    let entry_labels: BTreeMap<&str, &str> = got
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected: BTreeMap<&str, &str> = o
        .get("labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    assert_eq!(entry_labels, expected, "{what}: labels");
    match (got.proto_payload(), o.get("protoPayload")) {
        (Some(any), Some(p)) => {
            assert_eq!(any.type_url(), p["@type"].as_str(), "{what}: @type");
            let got = serde_json::to_value(any.as_ref()).unwrap();
            assert_same_json(p, &got, &format!("{what}: protoPayload through the SDK"));
        }
        (None, None) => {}
        (g, e) => panic!("{what}: protoPayload {g:?} vs {e:?}"),
    }
    if let Some(p) = o.get("jsonPayload") {
        let got = serde_json::to_value(got.json_payload().unwrap().as_ref()).unwrap();
        assert_same_json(p, &got, &format!("{what}: jsonPayload"));
    }
    assert_eq!(
        got.text_payload().map(String::as_str),
        o.get("textPayload").and_then(Value::as_str),
        "{what}: textPayload"
    );
    if let Some(op) = o.get("operation") {
        let g = got
            .operation
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: operation dropped"));
        assert_eq!(g.id, str_of(op, "id"), "{what}: operation.id");
        assert_eq!(
            g.producer,
            str_of(op, "producer"),
            "{what}: operation.producer"
        );
        assert_eq!(
            g.first,
            op.get("first") == Some(&json!(true)),
            "{what}: operation.first"
        );
        assert_eq!(
            g.last,
            op.get("last") == Some(&json!(true)),
            "{what}: operation.last"
        );
    }

    // Nothing else was dropped: the whole typed entry, re-encoded, is the original (the SDK
    // encodes enums as numbers, so severity is compared above instead).
    let mut whole = serde_json::to_value(got).unwrap();
    let mut orig = o.clone();
    whole.as_object_mut().unwrap().remove("severity");
    orig.as_object_mut().unwrap().remove("severity");
    normalize_times(&mut whole);
    normalize_times(&mut orig);
    assert_same_json(
        &orig,
        &whole,
        &format!("{what}: the whole entry through the SDK"),
    );
}

/// Timestamps of the LogEntry itself as instants (the SDK re-encodes them in its own format).
fn normalize_times(v: &mut Value) {
    for f in ["timestamp", "receiveTimestamp"] {
        if let Some(t) = v.get(f).and_then(json_time) {
            v[f] = json!([t.0, t.1]);
        }
    }
}
