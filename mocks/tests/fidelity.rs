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
