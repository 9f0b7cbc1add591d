//! The in-process backend: an object store for `memory://` and tests, and the cache when no
//! memcached is configured. Bounded by bytes; the oldest entries go first.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use super::{ErrorKind, Result, Storage, StorageError};

#[derive(Debug)]
pub struct MemoryStorage {
    name: &'static str,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<String, Entry>,
    /// Insertion order, for eviction; stale names (overwritten or deleted) are skipped.
    order: VecDeque<(String, u64)>,
    bytes: usize,
    generation: u64,
}

#[derive(Debug)]
struct Entry {
    value: Bytes,
    expires: Option<Instant>,
    generation: u64,
}

impl MemoryStorage {
    pub fn new(name: &'static str, max_bytes: usize) -> Self {
        MemoryStorage {
            name,
            max_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.value.len() + key.len();
        }
    }

    fn live(&mut self, key: &str) -> Option<&Entry> {
        let expired = self
            .entries
            .get(key)
            .is_some_and(|e| e.expires.is_some_and(|t| t <= Instant::now()));
        if expired {
            self.remove(key);
        }
        self.entries.get(key)
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let mut inner = self.inner.lock().expect("memory storage lock");
        inner.remove(key);
        inner.generation += 1;
        let generation = inner.generation;
        inner.bytes += value.len() + key.len();
        let expires = ttl.map(|t| Instant::now() + t);
        inner.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires,
                generation,
            },
        );
        inner.order.push_back((key.to_owned(), generation));
        while inner.bytes > self.max_bytes {
            let Some((oldest, generation)) = inner.order.pop_front() else {
                break;
            };
            if inner
                .entries
                .get(&oldest)
                .is_some_and(|e| e.generation == generation)
            {
                inner.remove(&oldest);
            }
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let mut inner = self.inner.lock().expect("memory storage lock");
        Ok(inner.live(key).map(|e| e.value.clone()))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.lock().expect("memory storage lock").remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let inner = self.inner.lock().expect("memory storage lock");
        let now = Instant::now();
        Ok(inner
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, e)| e.expires.is_none_or(|t| t > now))
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn increment(&self, key: &str, ttl: Option<Duration>) -> Result<u64> {
        let mut inner = self.inner.lock().expect("memory storage lock");
        let current = match inner.live(key) {
            None => 0,
            Some(e) => std::str::from_utf8(&e.value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    StorageError::new(
                        ErrorKind::Corrupt,
                        self.name,
                        format!("{key} is not a counter"),
                    )
                })?,
        };
        let next = current + 1;
        let value = Bytes::from(next.to_string());
        inner.remove(key);
        inner.bytes += value.len() + key.len();
        inner.generation += 1;
        let generation = inner.generation;
        inner.entries.insert(
            key.to_owned(),
            Entry {
                value,
                expires: ttl.map(|t| Instant::now() + t),
                generation,
            },
        );
        inner.order.push_back((key.to_owned(), generation));
        Ok(next)
    }
}
