//! Cloud Logging: one page of `entries.list` at a time.
//!
//! The caller drives the paging so that nothing holds a whole investigation window in memory,
//! and so that on `ResourceExhausted` (60 reads per minute per project by default) it can wait
//! and resume from the page token it already has instead of starting over.

use google_cloud_gax::options::RequestOptionsBuilder as _;

use super::error::GcpError;
use super::types::{LogPage, LogQuery, Order};
use super::{Gcp, convert, next_token};

/// Google's ceiling for `pageSize` on `entries.list`.
pub(crate) const MAX_PAGE_SIZE: i32 = 1000;

impl Gcp {
    /// One page of `POST /v2/entries:list`. `entries.list` is a read even though it is a POST,
    /// so it is marked idempotent and retried like any read.
    pub async fn list_log_entries(
        &self,
        query: &LogQuery,
        page_token: Option<String>,
    ) -> Result<LogPage, GcpError> {
        let order_by = match query.order {
            Order::Asc => "timestamp asc",
            Order::Desc => "timestamp desc",
        };
        let sent_token = page_token.unwrap_or_default();
        let resource = query.resource_names.join(",");
        let response = self
            .logging
            .list_log_entries()
            .set_resource_names(query.resource_names.iter().cloned())
            .set_filter(query.filter.clone())
            .set_order_by(order_by)
            .set_page_size(query.page_size.clamp(1, MAX_PAGE_SIZE))
            .set_page_token(sent_token.clone())
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| GcpError::from_gax(&e, &resource))?;
        let entries = response
            .entries
            .iter()
            .map(convert::log_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LogPage {
            entries,
            next_page_token: next_token(&sent_token, response.next_page_token)?,
        })
    }
}
