//! Cloud KMS operations: reading key rings, keys, versions and IAM policies, and the responses
//! (disable/enable, destroy/restore, new version, primary change, rotation schedule, IAM write).
//!
//! Idempotency, which decides whether a failed attempt is replayed (see `config::retry_policy`):
//! reads are idempotent; writes that set an absolute value (a version state, the primary
//! version, the rotation schedule) are marked idempotent because a replay converges to the same
//! result; writes whose replay is not harmless are left non-idempotent and are then retried only
//! when the request provably never ran (connection refused, 429):
//! - `create_crypto_key_version`: a replay would create a second version;
//! - `destroy_crypto_key_version` / `restore_crypto_key_version`: a replay after a lost success
//!   fails with FAILED_PRECONDITION and would report a failure for an action that happened;
//! - `set_iam_policy`: likewise a replay after a lost success fails with ABORTED (stale etag);
//!   the caller should re-read the policy and decide.

use std::time::Duration;

use google_cloud_gax::options::RequestOptionsBuilder as _;
use google_cloud_iam_v1::model::GetPolicyOptions;
use google_cloud_kms_v1::model as kms;
use google_cloud_wkt::FieldMask;
use jiff::Timestamp;

use super::error::GcpError;
use super::types::{CryptoKey, CryptoKeyVersion, IamPolicy, KeyRing, VersionState};
use super::{Gcp, convert, next_token};

/// IAM policy version asked for on reads: 3, so conditional bindings are returned intact.
pub(crate) const POLICY_VERSION: i32 = 3;

impl Gcp {
    /// `GET /v1/{keyRing}`.
    pub async fn get_key_ring(&self, name: &str) -> Result<KeyRing, GcpError> {
        let k = self
            .kms
            .get_key_ring()
            .set_name(name)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::key_ring(&k))
    }

    /// `GET /v1/{cryptoKey}`.
    pub async fn get_crypto_key(&self, name: &str) -> Result<CryptoKey, GcpError> {
        let k = self
            .kms
            .get_crypto_key()
            .set_name(name)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::crypto_key(&k))
    }

    /// Every key of a key ring (all pages).
    pub async fn list_crypto_keys(&self, key_ring: &str) -> Result<Vec<CryptoKey>, GcpError> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .kms
                .list_crypto_keys()
                .set_parent(key_ring)
                .set_page_token(token.clone())
                .send()
                .await
                .map_err(|e| GcpError::from_gax(&e, key_ring))?;
            out.extend(page.crypto_keys.iter().map(convert::crypto_key));
            match next_token(&token, page.next_page_token)? {
                Some(t) => token = t,
                None => return Ok(out),
            }
        }
    }

    /// Every version of a key (all pages, default view).
    pub async fn list_crypto_key_versions(
        &self,
        key: &str,
    ) -> Result<Vec<CryptoKeyVersion>, GcpError> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .kms
                .list_crypto_key_versions()
                .set_parent(key)
                .set_page_token(token.clone())
                .send()
                .await
                .map_err(|e| GcpError::from_gax(&e, key))?;
            out.extend(
                page.crypto_key_versions
                    .iter()
                    .map(convert::crypto_key_version),
            );
            match next_token(&token, page.next_page_token)? {
                Some(t) => token = t,
                None => return Ok(out),
            }
        }
    }

    /// `GET /v1/{cryptoKeyVersion}`.
    pub async fn get_crypto_key_version(&self, name: &str) -> Result<CryptoKeyVersion, GcpError> {
        let v = self
            .kms
            .get_crypto_key_version()
            .set_name(name)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::crypto_key_version(&v))
    }

    /// IAM policy of a key ring or a key (`options.requestedPolicyVersion=3`).
    pub async fn get_iam_policy(&self, resource: &str) -> Result<IamPolicy, GcpError> {
        let p = self
            .kms
            .get_iam_policy()
            .set_resource(resource)
            .set_options(GetPolicyOptions::new().set_requested_policy_version(POLICY_VERSION))
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, resource))?;
        Ok(convert::iam_policy(&p))
    }

    /// Replaces the bindings of a key ring's or key's policy (update mask `bindings`, so audit
    /// configs are left alone). The etag of `policy` makes the write conditional: if the policy
    /// changed since it was read, this fails with `GcpError::Aborted`. Not retried after the
    /// request may have run (see the module docs).
    pub async fn set_iam_policy(
        &self,
        resource: &str,
        policy: &IamPolicy,
    ) -> Result<IamPolicy, GcpError> {
        let p = self
            .kms
            .set_iam_policy()
            .set_resource(resource)
            .set_policy(convert::to_sdk_policy(policy)?)
            .set_update_mask(FieldMask::default().set_paths(["bindings"]))
            .with_idempotency(false)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, resource))?;
        Ok(convert::iam_policy(&p))
    }

    /// Which of `permissions` the caller holds on a key ring or key. Read-only, so retried
    /// although it is a POST.
    pub async fn test_iam_permissions(
        &self,
        resource: &str,
        permissions: &[String],
    ) -> Result<Vec<String>, GcpError> {
        let r = self
            .kms
            .test_iam_permissions()
            .set_resource(resource)
            .set_permissions(permissions.iter().cloned())
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, resource))?;
        Ok(r.permissions)
    }

    /// Sets a version ENABLED or DISABLED (`PATCH ...?updateMask=state`). Idempotent: the
    /// target state is absolute.
    pub async fn update_crypto_key_version_state(
        &self,
        name: &str,
        state: VersionState,
    ) -> Result<CryptoKeyVersion, GcpError> {
        let state = match state {
            VersionState::Enabled => kms::crypto_key_version::CryptoKeyVersionState::Enabled,
            VersionState::Disabled => kms::crypto_key_version::CryptoKeyVersionState::Disabled,
        };
        let v = self
            .kms
            .update_crypto_key_version()
            .set_crypto_key_version(kms::CryptoKeyVersion::new().set_name(name).set_state(state))
            .set_update_mask(FieldMask::default().set_paths(["state"]))
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::crypto_key_version(&v))
    }

    /// Creates a new version of `key` (it does not become primary). Never replayed once sent:
    /// a replay would create a second version.
    pub async fn create_crypto_key_version(&self, key: &str) -> Result<CryptoKeyVersion, GcpError> {
        let v = self
            .kms
            .create_crypto_key_version()
            .set_parent(key)
            .set_crypto_key_version(kms::CryptoKeyVersion::new())
            .with_idempotency(false)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, key))?;
        Ok(convert::crypto_key_version(&v))
    }

    /// Makes version `version_id` (the last segment, e.g. `"2"`) the primary of `key`.
    /// Idempotent: the target is absolute.
    pub async fn update_primary_version(
        &self,
        key: &str,
        version_id: &str,
    ) -> Result<CryptoKey, GcpError> {
        let k = self
            .kms
            .update_crypto_key_primary_version()
            .set_name(key)
            .set_crypto_key_version_id(version_id)
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, key))?;
        Ok(convert::crypto_key(&k))
    }

    /// Schedules a version for destruction (DESTROY_SCHEDULED; restorable until `destroy_time`).
    /// Not replayed once sent (see the module docs).
    pub async fn destroy_crypto_key_version(
        &self,
        name: &str,
    ) -> Result<CryptoKeyVersion, GcpError> {
        let v = self
            .kms
            .destroy_crypto_key_version()
            .set_name(name)
            .with_idempotency(false)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::crypto_key_version(&v))
    }

    /// Cancels a scheduled destruction (the version comes back DISABLED). Not replayed once sent.
    pub async fn restore_crypto_key_version(
        &self,
        name: &str,
    ) -> Result<CryptoKeyVersion, GcpError> {
        let v = self
            .kms
            .restore_crypto_key_version()
            .set_name(name)
            .with_idempotency(false)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, name))?;
        Ok(convert::crypto_key_version(&v))
    }

    /// Sets (or, with `None`, clears) the automatic rotation schedule of `key`
    /// (update mask `rotation_period,next_rotation_time`). Google requires both or neither
    /// when a period is set. Idempotent: the values are absolute.
    pub async fn update_crypto_key_rotation(
        &self,
        key: &str,
        rotation_period: Option<Duration>,
        next_rotation_time: Option<Timestamp>,
    ) -> Result<CryptoKey, GcpError> {
        let mut k = kms::CryptoKey::new().set_name(key);
        if let Some(p) = rotation_period {
            k = k.set_rotation_period(convert::to_wkt_duration(p)?);
        }
        if let Some(t) = next_rotation_time {
            k = k.set_next_rotation_time(convert::to_wkt_timestamp(t)?);
        }
        let k = self
            .kms
            .update_crypto_key()
            .set_crypto_key(k)
            .set_update_mask(
                FieldMask::default().set_paths(["rotation_period", "next_rotation_time"]),
            )
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, key))?;
        Ok(convert::crypto_key(&k))
    }
}
