//! KMS Inventory: which resources a key protects (its blast radius).
//!
//! A project scope only sees that project; an organization scope sees every project but needs
//! the Cloud KMS Protected Resources Viewer role there. The caller picks the scope.

use super::error::GcpError;
use super::types::ProtectedResource;
use super::{Gcp, convert, next_token};

/// Google's ceiling for `pageSize` on `protectedResources:search`.
const MAX_PAGE_SIZE: usize = 500;

impl Gcp {
    /// Resources in `scope` (`projects/P` or `organizations/N`) protected by `crypto_key`, at
    /// most `max_items` of them. The flag is true when more exist than were returned.
    pub async fn search_protected_resources(
        &self,
        scope: &str,
        crypto_key: &str,
        max_items: usize,
    ) -> Result<(Vec<ProtectedResource>, bool), GcpError> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let wanted = max_items.saturating_sub(out.len()).clamp(1, MAX_PAGE_SIZE);
            let page = self
                .inventory
                .get()
                .await?
                .search_protected_resources()
                .set_scope(scope)
                .set_crypto_key(crypto_key)
                .set_page_size(i32::try_from(wanted).unwrap_or(i32::MAX))
                .set_page_token(token.clone())
                .send()
                .await
                .map_err(|e| GcpError::from_gax(&e, scope))?;
            let room = max_items.saturating_sub(out.len());
            let over_page = page.protected_resources.len() > room;
            out.extend(
                page.protected_resources
                    .iter()
                    .take(room)
                    .map(convert::protected_resource),
            );
            let next = next_token(&token, page.next_page_token)?;
            match next {
                None => return Ok((out, over_page)),
                Some(_) if out.len() >= max_items => return Ok((out, true)),
                Some(t) => token = t,
            }
        }
    }
}
