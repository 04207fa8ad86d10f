//! `gcp-mock`: a stateful fake of the Google Cloud REST APIs kms-responder
//! uses — Cloud KMS v1, Cloud Logging v2 (`entries.list`), KMS Inventory v1
//! and Resource Manager v3 — faithful enough on the wire that Google's own
//! clients cannot tell it from Google.
//!
//! It serves one [`Scenario`] (Google's own resources in JSON), applies the
//! real services' rules to every write and logs each write in the Admin
//! Activity audit log, and can add latency, inject faults, enforce the
//! Logging read quota and record every request in a ledger for tests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gcp_mock::{MockConfig, MockServer, Scenario};
//! let scenario = Scenario::bundled("benign-ci").expect("bundled").expect("valid");
//! let server = MockServer::start(scenario, MockConfig::default(), "127.0.0.1:0".parse().expect("addr")).await?;
//! println!("{}", server.url());
//! # Ok(()) }
//! ```

pub mod audit;
pub mod discovery;
pub mod enums;
pub mod error;
pub mod faults;
pub mod filter;
pub mod names;
pub mod routes;
pub mod scenario;
pub mod server;
pub mod state;
pub mod wire;

pub use error::{ApiError, Code};
pub use faults::FaultRule;
pub use scenario::{BUNDLED, BUNDLED_ALERTS, Scenario, ScenarioError};
pub use server::{LedgerEntry, MockConfig, MockServer, PRINCIPAL_HEADER, Quota};
