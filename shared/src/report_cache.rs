//! Reports in the cache, and the per-tenant time-bucket index through which the app finds a
//! window's report keys without listing anything (memcached cannot list).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::keys;
use crate::storage::{Result, Storage};
use crate::tenancy::TenantId;

#[derive(Clone, Debug)]
pub struct ReportCache {
    storage: Arc<dyn Storage>,
    ttl: Duration,
}

impl ReportCache {
    pub fn new(storage: Arc<dyn Storage>, ttl: Duration) -> Self {
        ReportCache { storage, ttl }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Stores a report (gzip msgpack) and makes it findable by time. The value goes first and
    /// the index entry last, so a reader never finds a key it cannot fetch.
    pub async fn put(
        &self,
        tenant: &TenantId,
        key: &str,
        received_ms: i64,
        body: Bytes,
    ) -> Result<()> {
        let ttl = Some(self.ttl);
        self.storage.put(key, body, ttl).await?;
        let bucket = keys::bucket(received_ms);
        let n = self
            .storage
            .increment(&keys::index_counter_key(tenant, bucket), ttl)
            .await?;
        self.storage
            .put(
                &keys::index_entry_key(tenant, bucket, n),
                Bytes::from(key.to_owned()),
                ttl,
            )
            .await
    }

    /// Keys of the tenant's reports received in `[from_ms, to_ms]`, oldest first.
    pub async fn keys_between(
        &self,
        tenant: &TenantId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<String>> {
        let buckets: Vec<i64> = (keys::bucket(from_ms)..=keys::bucket(to_ms)).collect();
        let counters: Vec<String> = buckets
            .iter()
            .map(|b| keys::index_counter_key(tenant, *b))
            .collect();
        let counts = self.storage.get_many(&counters).await?;
        let mut entry_keys = Vec::new();
        for (bucket, count) in buckets.iter().zip(counts) {
            let n = count
                .and_then(|c| std::str::from_utf8(&c).ok()?.trim().parse::<u64>().ok())
                .unwrap_or(0);
            entry_keys.extend((1..=n).map(|i| keys::index_entry_key(tenant, *bucket, i)));
        }
        let prefix = format!("r/{}/", tenant.escaped());
        let mut found: Vec<(i64, String)> = self
            .storage
            .get_many(&entry_keys)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|v| String::from_utf8(v.to_vec()).ok())
            // An index entry can only name the same tenant's reports; anything else is ignored.
            .filter(|k| k.starts_with(&prefix))
            .filter_map(|k| Some((report_time_ms(&k)?, k)))
            .filter(|(ms, _)| (from_ms..=to_ms).contains(ms))
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, k)| k).collect())
    }

    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.storage.get_many(keys).await
    }
}

/// The arrival time a report key carries (`r/<tenant>/<unix_ms>-<collector>-<seq>`).
pub fn report_time_ms(key: &str) -> Option<i64> {
    key.rsplit('/').next()?.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryStorage;

    #[tokio::test]
    async fn index_finds_a_windows_keys_per_tenant() {
        let cache = ReportCache::new(
            Arc::new(MemoryStorage::new("cache", 1 << 20)),
            Duration::from_secs(60),
        );
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        for (tenant, ms) in [(&a, 1_000), (&a, 4_000), (&a, 20_000), (&b, 4_500)] {
            let key = keys::report_key(tenant, ms, "c", ms as u64, None);
            cache
                .put(tenant, &key, ms, Bytes::from_static(b"body"))
                .await
                .unwrap();
        }
        let found = cache.keys_between(&a, 0, 5_000).await.unwrap();
        assert_eq!(
            found,
            vec![
                keys::report_key(&a, 1_000, "c", 1_000, None),
                keys::report_key(&a, 4_000, "c", 4_000, None)
            ]
        );
        assert_eq!(cache.keys_between(&b, 0, 30_000).await.unwrap().len(), 1);
        let values = cache.get_many(&found).await.unwrap();
        assert!(values.iter().all(|v| v.as_deref() == Some(&b"body"[..])));
    }
}
