//! The Google Cloud API layer: the only module of the product that knows the SDK.
//!
//! It owns client construction ([`Gcp::connect`] from a [`GcpConfig`]), the retry and timeout
//! policy, the mapping of SDK errors to [`GcpError`], and narrow typed operations that take and
//! return plain domain types ([`types`]). Everything above this module speaks in resource names,
//! domain structs and `serde_json::Value` log entries; nothing above it imports a
//! `google_cloud_*` crate.
//!
//! Operations by service:
//! - Cloud KMS: `kms.rs` (keys, versions, IAM on key rings and keys, responses);
//! - Cloud Logging: `logging.rs` (one page of `entries.list` at a time);
//! - KMS Inventory: `inventory.rs` (resources protected by a key);
//! - Resource Manager: `resource_manager.rs` (projects, container IAM policies).

mod base64;
mod config;
mod convert;
mod deferred;
mod error;
mod inventory;
mod kms;
mod logging;
mod resource_manager;
pub mod types;

#[cfg(test)]
mod tests;

pub use config::{CredentialsMode, Endpoints, GcpConfig, RetryConfig};
pub use error::GcpError;
pub use types::{
    AuditConfig, AuditLogConfig, Binding, Condition, CryptoKey, CryptoKeyVersion, Folder,
    IamPolicy, KeyRing, LogPage, LogQuery, Order, Project, ProtectedResource, VersionState,
};

use self::deferred::Deferred;

/// The connected clients. Cheap to clone: every SDK client is an `Arc` inside.
#[derive(Clone, Debug)]
pub struct Gcp {
    kms: google_cloud_kms_v1::client::KeyManagementService,
    logging: google_cloud_logging_v2::client::LoggingServiceV2,
    inventory: Deferred<google_cloud_kms_inventory_v1::client::KeyTrackingService>,
    projects: google_cloud_resourcemanager_v3::client::Projects,
    folders: Deferred<google_cloud_resourcemanager_v3::client::Folders>,
    organizations: Deferred<google_cloud_resourcemanager_v3::client::Organizations>,
    anonymous: bool,
}

impl Gcp {
    /// True when the clients send no credentials (a mock, or anonymous asked for).
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }
}

/// Guards a paging loop against a server that hands back the token it was given (it would
/// otherwise loop forever).
pub(crate) fn next_token(sent: &str, received: String) -> Result<Option<String>, GcpError> {
    if received.is_empty() {
        return Ok(None);
    }
    if received == sent {
        return Err(GcpError::Malformed(
            "the service returned the same page token again".to_string(),
        ));
    }
    Ok(Some(received))
}
