//! What the app is configured with, field by field.

use std::time::Duration;

use stormscope_shared::Limits;
use stormscope_shared::storage::memcached::MemcachedConfig;
use stormscope_shared::storage::object::{ObjectStoreTimeouts, S3Options};
use stormscope_shared::tenancy::Tenancy;

#[derive(Clone, Debug)]
pub struct AppConfig {
    /// `s3://bucket[/prefix]`, `gs://...`, `az://...`, `file:///dir` or `memory://`.
    pub object_store: String,
    pub object_store_timeouts: ObjectStoreTimeouts,
    /// S3 settings that take precedence over the `AWS_*` environment.
    pub s3_options: S3Options,
    /// memcached servers. Empty: no cache is shared with the collectors, so every window is
    /// read from the object store (seconds behind, one flush interval).
    pub memcached: Vec<String>,
    pub memcached_config: MemcachedConfig,
    /// The collectors' cache TTL: windows ending longer ago are read from the object store.
    pub cache_ttl: Duration,
    /// How much history a query merges (`--window`, Scope's `--app.window`).
    pub window: Duration,
    /// How long after its arrival a report may still be sealed into a segment.
    pub max_flush_lag: Duration,
    /// The bytes every cache of the app shares (see [`crate::budget`]).
    pub memory_budget: crate::budget::MemoryBudget,
    pub tenancy: Tenancy,
    pub limits: Limits,
    /// Caps on open topology websockets, per tenant and in all.
    pub websockets: crate::sockets::SocketCaps,
}

impl AppConfig {
    pub fn local(object_store: &str) -> Self {
        AppConfig {
            object_store: object_store.to_owned(),
            object_store_timeouts: ObjectStoreTimeouts::default(),
            s3_options: S3Options::default(),
            memcached: Vec::new(),
            memcached_config: MemcachedConfig::default(),
            cache_ttl: Duration::from_secs(300),
            window: Duration::from_secs(15),
            max_flush_lag: Duration::from_secs(3600),
            memory_budget: crate::budget::MemoryBudget::default(),
            tenancy: Tenancy::Single,
            limits: Limits::default(),
            websockets: Default::default(),
        }
    }
}
