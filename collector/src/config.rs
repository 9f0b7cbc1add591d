//! Everything the collector is configured with, field by field. The command line (`stormscope
//! collector --help`) fills it; tests build it directly.

use std::path::PathBuf;
use std::time::Duration;

use stormscope_shared::Limits;
use stormscope_shared::storage::memcached::MemcachedConfig;
use stormscope_shared::storage::object::{ObjectStoreTimeouts, S3Options};
use stormscope_shared::tenancy::Tenancy;

#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// Names this collector in segment and report keys; several collectors may share a bucket.
    pub collector_id: String,
    /// `s3://bucket[/prefix]`, `gs://...`, `az://...`, `file:///dir` or `memory://`.
    pub object_store: String,
    pub object_store_timeouts: ObjectStoreTimeouts,
    /// S3 settings that take precedence over the `AWS_*` environment (tests, embedding).
    pub s3_options: S3Options,
    /// memcached servers (`host:port`); empty means an in-process cache.
    pub memcached: Vec<String>,
    pub memcached_config: MemcachedConfig,
    /// How long reports and index entries live in the cache.
    pub cache_ttl: Duration,
    /// Bytes of the in-process cache used when no memcached is configured.
    pub local_cache_bytes: usize,
    pub spool_dir: PathBuf,
    /// Spool bytes on disk beyond which ingest answers 503 + Retry-After.
    pub spool_max_bytes: u64,
    /// One segment per tenant per flush interval.
    pub flush_interval: Duration,
    /// A tenant's interval is split into several segments past this many bytes, which bounds
    /// the memory an upload needs.
    pub segment_max_bytes: usize,
    /// Segments uploaded at once while draining a backlog.
    pub upload_concurrency: usize,
    pub tenancy: Tenancy,
    pub limits: Limits,
    /// `--app.max-topology-nodes`: topologies over this many nodes (per host) are dropped.
    pub max_topology_nodes: usize,
    /// How long a probe may take to send its body once its headers arrived; a slower sender
    /// gets 408, so it cannot hold a request open for ever.
    pub body_read_timeout: Duration,
}

impl CollectorConfig {
    /// A collector with local defaults: for tests and `standalone`.
    pub fn local(spool_dir: PathBuf, object_store: &str) -> Self {
        CollectorConfig {
            collector_id: "collector".into(),
            object_store: object_store.into(),
            object_store_timeouts: ObjectStoreTimeouts::default(),
            s3_options: S3Options::default(),
            memcached: Vec::new(),
            memcached_config: MemcachedConfig::default(),
            cache_ttl: Duration::from_secs(300),
            local_cache_bytes: 256 << 20,
            spool_dir,
            spool_max_bytes: 1 << 30,
            flush_interval: Duration::from_secs(15),
            segment_max_bytes: 2 << 20,
            upload_concurrency: 2,
            tenancy: Tenancy::Single,
            limits: Limits::default(),
            max_topology_nodes: 10_000,
            body_read_timeout: Duration::from_secs(30),
        }
    }
}
