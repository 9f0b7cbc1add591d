//! Decorator: latency and outcome metrics for every call, and the backend's health.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use super::{ErrorKind, Health, Result, Storage};

#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn Storage>,
    health: Health,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Storage>, health: Health) -> Self {
        Instrumented { inner, health }
    }

    fn record<T>(&self, op: &'static str, started: Instant, result: &Result<T>) {
        let backend = self.inner.name();
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => match e.kind {
                ErrorKind::Unavailable => "unavailable",
                ErrorKind::CircuitOpen => "circuit_open",
                ErrorKind::Rejected => "rejected",
                ErrorKind::Unsupported => "unsupported",
                ErrorKind::Corrupt => "corrupt",
            },
        };
        metrics::histogram!("stormscope_storage_seconds", "backend" => backend, "op" => op)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("stormscope_storage_ops_total", "backend" => backend, "op" => op, "outcome" => outcome).increment(1);
        match result {
            Ok(_) => self.health.report_success(backend),
            // Only failures that say the backend is down make us degraded; a corrupt value or
            // an unsupported call is about the data or the caller.
            Err(e) if e.is_transient() => self.health.report_failure(backend, e),
            Err(_) => {}
        }
    }
}

#[async_trait]
impl Storage for Instrumented {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.put(key, value, ttl).await;
        self.record("put", started, &result);
        result
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let started = Instant::now();
        let result = self.inner.get(key).await;
        self.record("get", started, &result);
        result
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let started = Instant::now();
        let result = self.inner.get_many(keys).await;
        self.record("get_many", started, &result);
        result
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let started = Instant::now();
        let result = self.inner.delete(key).await;
        self.record("delete", started, &result);
        result
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let started = Instant::now();
        let result = self.inner.list(prefix).await;
        self.record("list", started, &result);
        result
    }

    async fn increment(&self, key: &str, ttl: Option<Duration>) -> Result<u64> {
        let started = Instant::now();
        let result = self.inner.increment(key, ttl).await;
        self.record("increment", started, &result);
        result
    }
}
