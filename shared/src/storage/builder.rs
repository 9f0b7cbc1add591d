//! Where backends and decorators are composed, once, for every service.

use std::sync::Arc;
use std::time::Duration;

use super::instrumented::Instrumented;
use super::memcached::{MemcachedConfig, MemcachedStorage};
use super::memory::MemoryStorage;
use super::object::{ObjectStorage, ObjectStoreTimeouts, S3Options};
use super::timeout::TimeoutRetry;
use super::{Health, Result, Storage};
use crate::retry::Retry;

/// The object store for `url`: each request bounded by `timeouts`, retried by the caller
/// (the write-behind retries whole segments), instrumented into `health`.
pub fn object_store(
    url: &str,
    timeouts: ObjectStoreTimeouts,
    options: &S3Options,
    health: &Health,
) -> Result<Arc<dyn Storage>> {
    let backend: Arc<dyn Storage> = Arc::new(ObjectStorage::from_url_with(
        url,
        timeouts,
        &options.pairs(),
    )?);
    let bounded = Arc::new(TimeoutRetry::new(backend, timeouts.request, Retry::NONE));
    Ok(Arc::new(Instrumented::new(bounded, health.clone())))
}

/// The cache: memcached across `servers` (consistent hashing, circuit breakers), or, with no
/// servers, an in-process cache of `local_bytes`.
pub fn cache(
    servers: &[String],
    config: MemcachedConfig,
    local_bytes: usize,
    health: &Health,
) -> Arc<dyn Storage> {
    let backend: Arc<dyn Storage> = if servers.is_empty() {
        Arc::new(MemoryStorage::new("cache", local_bytes))
    } else {
        // The memcached client bounds each call itself (and fails fast when a breaker is
        // open); one more deadline guards against anything it does not cover.
        let deadline = config
            .op_timeout
            .saturating_mul(4)
            .max(Duration::from_millis(100));
        let client: Arc<dyn Storage> = Arc::new(MemcachedStorage::new(servers.to_vec(), config));
        Arc::new(TimeoutRetry::new(client, deadline, Retry::NONE))
    };
    instrumented(backend, health)
}

/// A cache backend with metrics and health, as [`cache`] builds it; for a backend shared by
/// an in-process collector and app.
pub fn instrumented(backend: Arc<dyn Storage>, health: &Health) -> Arc<dyn Storage> {
    Arc::new(Instrumented::new(backend, health.clone()))
}
