//! Collectors' health records in the shared cache, so that the app can tell its users what only
//! the collectors know: reports not reaching the object store, a growing backlog.
//!
//! Each collector publishes a small record every [`PUBLISH_EVERY`] with a short TTL
//! ([`RECORD_TTL`]). memcached cannot list keys and spreads them over servers, so records are
//! found through a directory per time bucket of [`BUCKET_MS`], as reports are through the
//! report index: a collector takes a slot in the bucket once (`incr` of the bucket's counter
//! `hc/<bucket>` answers its slot number `n`) and writes its record to slot `hs/<bucket>/<n>`
//! at every publish of that bucket. A reader gets the counters of the current and the previous
//! bucket, then every slot they count, and keeps each collector's newest record. A collector
//! that stops publishing disappears when its record expires.
//!
//! Records hold a collector's id and counts, never a tenant's name.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::storage::{Result, Storage};
use crate::time::Timestamp;

pub const PUBLISH_EVERY: Duration = Duration::from_secs(2);
/// A record outlives a few missed publishes, not more: a stopped collector leaves the list.
pub const RECORD_TTL: Duration = Duration::from_secs(10);
/// Directory bucket width. Readers look at two buckets, so a record is found for at least one
/// full bucket after it was written, which is longer than its TTL.
pub const BUCKET_MS: i64 = 10_000;
/// Counters outlive the two buckets readers look at.
const COUNTER_TTL: Duration = Duration::from_secs(30);
/// Slots read per bucket at most: a bound on a reader's work whatever a counter says.
const MAX_SLOTS: u64 = 256;

/// One collector's ingest health, as published and as the app serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestHealth {
    /// The collector's id (`--collector-id`).
    pub collector: String,
    /// Sources failing now: `object-store`, `cache`, `spool` (full). Empty when healthy.
    pub sources: Vec<String>,
    /// When the current state began: the earliest failure among `sources`, or, when healthy,
    /// when the last failure ended (or the collector started).
    pub since: Timestamp,
    /// Reports acknowledged but not yet in the object store, and their bytes.
    pub backlog_records: u64,
    pub backlog_bytes: u64,
    /// Arrival time of the oldest of them.
    pub oldest_pending: Option<Timestamp>,
    /// When the collector published this record.
    pub updated: Timestamp,
}

impl IngestHealth {
    pub fn is_failing(&self) -> bool {
        !self.sources.is_empty()
    }
}

/// Publishes one collector's records, remembering the slot it holds in the current bucket.
#[derive(Debug)]
pub struct Publisher {
    storage: Arc<dyn Storage>,
    slot: Option<(i64, u64)>,
}

impl Publisher {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Publisher {
            storage,
            slot: None,
        }
    }

    pub async fn publish(&mut self, record: &IngestHealth) -> Result<()> {
        let result = self.try_publish(record).await;
        if result.is_err() {
            // The cache may come back empty (a restarted memcached): take a slot anew.
            self.slot = None;
        }
        result
    }

    async fn try_publish(&mut self, record: &IngestHealth) -> Result<()> {
        let bucket = record.updated.unix_millis().div_euclid(BUCKET_MS);
        let n = match self.slot {
            Some((b, n)) if b == bucket => n,
            _ => {
                let n = self
                    .storage
                    .increment(&keys::health_counter_key(bucket), Some(COUNTER_TTL))
                    .await?;
                self.slot = Some((bucket, n));
                n
            }
        };
        let value = serde_json::to_vec(record).expect("health records serialise");
        self.storage
            .put(
                &keys::health_slot_key(bucket, n),
                Bytes::from(value),
                Some(RECORD_TTL),
            )
            .await
    }
}

/// Every collector's newest record found around `now`, sorted by collector id.
pub async fn read_all(storage: &dyn Storage, now: Timestamp) -> Result<Vec<IngestHealth>> {
    let bucket = now.unix_millis().div_euclid(BUCKET_MS);
    let buckets = [bucket - 1, bucket];
    let counters: Vec<String> = buckets
        .iter()
        .map(|b| keys::health_counter_key(*b))
        .collect();
    let counts = storage.get_many(&counters).await?;
    let mut slots = Vec::new();
    for (bucket, count) in buckets.iter().zip(counts) {
        let n = count
            .and_then(|c| std::str::from_utf8(&c).ok()?.trim().parse::<u64>().ok())
            .unwrap_or(0)
            .min(MAX_SLOTS);
        slots.extend((1..=n).map(|i| keys::health_slot_key(*bucket, i)));
    }
    if slots.is_empty() {
        return Ok(Vec::new());
    }
    let mut newest: BTreeMap<String, IngestHealth> = BTreeMap::new();
    for value in storage.get_many(&slots).await?.into_iter().flatten() {
        // A record that does not parse (another version's, or torn) is skipped.
        let Ok(record) = serde_json::from_slice::<IngestHealth>(&value) else {
            continue;
        };
        match newest.get(&record.collector) {
            Some(kept) if kept.updated >= record.updated => {}
            _ => {
                newest.insert(record.collector.clone(), record);
            }
        }
    }
    Ok(newest.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryStorage;

    fn record(collector: &str, at_ms: i64, backlog: u64) -> IngestHealth {
        IngestHealth {
            collector: collector.into(),
            sources: vec!["object-store".into()],
            since: Timestamp::from_unix_millis(at_ms - 5_000),
            backlog_records: backlog,
            backlog_bytes: backlog * 100,
            oldest_pending: Some(Timestamp::from_unix_millis(at_ms - 4_000)),
            updated: Timestamp::from_unix_millis(at_ms),
        }
    }

    #[tokio::test]
    async fn readers_find_each_collectors_newest_record_across_buckets() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new("cache", 1 << 20));
        let mut a = Publisher::new(storage.clone());
        let mut b = Publisher::new(storage.clone());
        // Near the end of a bucket, then in the next one.
        let t0 = 1_000 * BUCKET_MS + 9_000;
        a.publish(&record("a", t0, 1)).await.unwrap();
        b.publish(&record("b", t0, 7)).await.unwrap();
        a.publish(&record("a", t0 + 2_000, 2)).await.unwrap();
        a.publish(&record("a", t0 + 4_000, 3)).await.unwrap();

        let found = read_all(&*storage, Timestamp::from_unix_millis(t0 + 4_500))
            .await
            .unwrap();
        assert_eq!(found, vec![record("a", t0 + 4_000, 3), record("b", t0, 7)]);
        // One slot per collector per bucket, however often it publishes.
        let counter = storage
            .get(&keys::health_counter_key((t0 + 4_000) / BUCKET_MS))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&counter[..], b"1");
        // Two buckets later neither bucket holds anything.
        let later = Timestamp::from_unix_millis(t0 + 2 * BUCKET_MS + 1_000);
        assert!(read_all(&*storage, later).await.unwrap().is_empty());
    }
}
