//! One storage abstraction for every place Stormscope keeps bytes: the object store (S3, GCS,
//! Azure, a local directory, memory), memcached, and the in-process cache. Backends implement
//! [`Storage`]; behaviour that applies to all of them (timeouts and retry, metrics and health)
//! comes from decorators composed in [`builder`], never from the call sites.

pub mod builder;
pub mod health;
pub mod instrumented;
pub mod memcached;
pub mod memory;
pub mod object;
pub mod timeout;

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

pub use health::{Health, HealthState};

/// What went wrong, in the terms callers act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The backend did not answer in time or refused the connection: try later.
    Unavailable,
    /// A circuit breaker is open: the backend is known to be down, nothing was sent.
    CircuitOpen,
    /// The backend answered with an error it will repeat (bad credentials, bad request).
    Rejected,
    /// The backend cannot do this at all (listing memcached, counting in an object store).
    Unsupported,
    /// A value was found but is not what we stored (a torn or foreign cache entry).
    Corrupt,
}

/// A storage failure: a kind to act on plus the backend's own error as the source.
#[derive(Debug, thiserror::Error)]
#[error("{backend}: {kind:?}: {message}")]
pub struct StorageError {
    pub kind: ErrorKind,
    pub backend: &'static str,
    pub message: String,
}

impl StorageError {
    pub fn new(kind: ErrorKind, backend: &'static str, message: impl fmt::Display) -> Self {
        StorageError {
            kind,
            backend,
            message: message.to_string(),
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Unavailable | ErrorKind::CircuitOpen)
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A key-value store of immutable objects. Keys are `/`-separated paths built by
/// [`crate::keys`]; tenant ids inside them are already escaped.
#[async_trait]
pub trait Storage: Send + Sync + fmt::Debug {
    /// A short name for logs, metrics and the degraded header (`object-store`, `cache`).
    fn name(&self) -> &'static str;

    async fn put(&self, key: &str, value: Bytes, ttl: Option<std::time::Duration>) -> Result<()>;

    /// `Ok(None)` when the key does not exist.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;

    /// Values for many keys at once, in the order asked, `None` where missing.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.get(key).await?);
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<()>;

    /// Keys under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Atomically adds one to the counter at `key` (creating it at 1) and returns the new value.
    async fn increment(&self, key: &str, ttl: Option<std::time::Duration>) -> Result<u64>;
}
