//! Decorator: a deadline on every call, and a [`Retry`] for the transient failures.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{ErrorKind, Result, Storage, StorageError};
use crate::retry::Retry;

#[derive(Debug)]
pub struct TimeoutRetry {
    inner: Arc<dyn Storage>,
    timeout: Duration,
    retry: Retry,
}

impl TimeoutRetry {
    pub fn new(inner: Arc<dyn Storage>, timeout: Duration, retry: Retry) -> Self {
        TimeoutRetry {
            inner,
            timeout,
            retry,
        }
    }

    async fn call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let name = self.inner.name();
        let attempt = || async {
            match tokio::time::timeout(self.timeout, op()).await {
                Ok(result) => result,
                Err(_) => Err(StorageError::new(
                    ErrorKind::Unavailable,
                    name,
                    format!("no answer within {:?}", self.timeout),
                )),
            }
        };
        self.retry
            .run(attempt, |e: &StorageError| e.kind == ErrorKind::Unavailable)
            .await
    }
}

#[async_trait]
impl Storage for TimeoutRetry {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        self.call(|| self.inner.put(key, value.clone(), ttl)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        self.call(|| self.inner.get(key)).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.call(|| self.inner.get_many(keys)).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.call(|| self.inner.delete(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.call(|| self.inner.list(prefix)).await
    }

    /// Counters are not idempotent, so they get the deadline but never a retry.
    async fn increment(&self, key: &str, ttl: Option<Duration>) -> Result<u64> {
        let name = self.inner.name();
        match tokio::time::timeout(self.timeout, self.inner.increment(key, ttl)).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::new(
                ErrorKind::Unavailable,
                name,
                "increment timed out",
            )),
        }
    }
}
