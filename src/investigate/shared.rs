//! Reads shared by the investigations that run at the same time in the process.
//!
//! A batch of alerts is mostly keys of a few projects: each project, folder, organization and
//! key ring is read once for all of them instead of once per key. A read is shared while an
//! investigation still holds it; once none does, the next investigation reads afresh, so nothing
//! is cached beyond the investigations that run together.
//!
//! Reads are keyed by the `Gcp` value the investigations were given (its address, which cannot be
//! reused while they borrow it), so two sets of clients (two mocks in one test process) never
//! answer each other's reads.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared, WeakShared};

use crate::gcp::Gcp;

/// A read whose answer several investigations await.
pub(super) type SharedRead<T> = Shared<BoxFuture<'static, Arc<T>>>;

type Key = (usize, &'static str, String);

struct Entry {
    weak: Box<dyn Any + Send + Sync>,
    alive: fn(&(dyn Any + Send + Sync)) -> bool,
}

/// Entries kept before dead ones are swept.
const SWEEP_AT: usize = 1024;

fn registry() -> &'static Mutex<HashMap<Key, Entry>> {
    static REGISTRY: OnceLock<Mutex<HashMap<Key, Entry>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn alive<T: Send + Sync + 'static>(weak: &(dyn Any + Send + Sync)) -> bool {
    weak.downcast_ref::<WeakShared<BoxFuture<'static, Arc<T>>>>()
        .is_some_and(|w| w.upgrade().is_some())
}

/// The read of `kind` for `resource` through `gcp`: the one in progress (or done) for another
/// investigation that still holds it, else the one `start` makes.
pub(super) fn read<T, F>(
    gcp: &Gcp,
    kind: &'static str,
    resource: &str,
    start: impl FnOnce(Gcp) -> F,
) -> SharedRead<T>
where
    T: Send + Sync + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let key: Key = (std::ptr::from_ref(gcp).addr(), kind, resource.to_owned());
    let mut map = registry().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(shared) = map
        .get(&key)
        .and_then(|e| {
            e.weak
                .downcast_ref::<WeakShared<BoxFuture<'static, Arc<T>>>>()
        })
        .and_then(WeakShared::upgrade)
    {
        return shared;
    }
    let read = start(gcp.clone());
    let shared = async move { Arc::new(read.await) }.boxed().shared();
    if map.len() >= SWEEP_AT {
        map.retain(|_, e| (e.alive)(e.weak.as_ref()));
    }
    if let Some(weak) = shared.downgrade() {
        map.insert(
            key,
            Entry {
                weak: Box::new(weak),
                alive: alive::<T>,
            },
        );
    }
    shared
}
