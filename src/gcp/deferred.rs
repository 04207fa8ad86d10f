//! Clients built in the background while the first calls are already on their way.
//!
//! Building an SDK client loads the system's root certificates (a few milliseconds of CPU each).
//! An investigation needs the folder, organization and KMS Inventory clients only after the
//! project's answer (a round trip later), so those are built then, off the critical path,
//! instead of before the first request can leave.

use std::fmt;
use std::future::Future;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

use super::error::GcpError;

/// A client whose build has started; [`Deferred::get`] waits for it.
#[derive(Clone)]
pub(crate) struct Deferred<T: Clone> {
    /// The client, or why it could not be built (a message: the error is not `Clone`).
    client: Shared<BoxFuture<'static, Result<T, String>>>,
}

impl<T: Clone + Send + Sync + 'static> Deferred<T> {
    /// Starts `build` on its own task now.
    pub(crate) fn spawn(build: impl Future<Output = Result<T, GcpError>> + Send + 'static) -> Self {
        let task = tokio::spawn(build);
        // `get` wraps the message in `GcpError::Config` again: keep a configuration error's own
        // message, so that it does not read "configuration: configuration: …".
        let client = async move {
            joined(task).await.map_err(|e| match e {
                GcpError::Config(message) => message,
                other => other.to_string(),
            })
        }
        .boxed()
        .shared();
        Deferred { client }
    }

    /// The client, once built.
    pub(crate) async fn get(&self) -> Result<T, GcpError> {
        self.client.clone().await.map_err(GcpError::Config)
    }
}

/// The client a build task made (a panicking build is reported, not propagated).
pub(crate) async fn joined<T>(
    task: tokio::task::JoinHandle<Result<T, GcpError>>,
) -> Result<T, GcpError> {
    task.await
        .map_err(|e| GcpError::Config(format!("building a client failed: {e}")))?
}

impl<T: Clone> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.client.peek() {
            None => "Deferred(building)",
            Some(Ok(_)) => "Deferred(built)",
            Some(Err(_)) => "Deferred(failed)",
        })
    }
}
