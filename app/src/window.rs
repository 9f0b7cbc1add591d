//! A tenant's reports for a window `[end - window, end]`. Live windows come from the cache's
//! time-bucket index; what the cache lacks (evicted, expired, or the cache being down) and
//! history older than the cache TTL come from the object store's segments. A missing report
//! never fails a read: the answer says which sources failed and how many reports it lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::ingest_health::IngestHealth;
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::storage::{Storage, StorageError};
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits, Report, keys, log_limit, segment};

use crate::decoded_cache::DecodedCache;
use crate::first_answer;
use crate::render::parallel::par_map_heavy;

const HOUR_MS: i64 = 3_600_000;

/// Up to this many reports are decoded on the async worker: a live query finds a few new
/// reports, and handing them to another thread would cost more than decoding them.
const DECODED_INLINE: usize = 4;

/// What a degraded answer lacks. Serialised into responses as `"degraded"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Degraded {
    /// Sources that failed while answering (`cache`, `object-store`).
    pub sources: Vec<&'static str>,
    /// Reports the index knows of that no source could provide.
    pub missing_reports: usize,
    /// For each of `sources`, when this app first saw it failing in its current failure.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<&'static str, Timestamp>,
    /// Collectors that report failing sources of their own (reports not reaching the object
    /// store, a full spool): the answer may be whole, but ingest is not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingest: Vec<IngestHealth>,
    /// A tenant's first answer, made from each probe's newest full report and what came after
    /// it while the whole window is merged (see [`crate::first_answer`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial_window: bool,
}

impl Degraded {
    pub fn is_degraded(&self) -> bool {
        !self.sources.is_empty()
            || self.missing_reports > 0
            || !self.ingest.is_empty()
            || self.partial_window
    }

    /// The `X-Stormscope-Degraded` value: the failing sources, `missing-reports`,
    /// `partial-window`, `ingest`.
    pub fn header_tokens(&self) -> Vec<&'static str> {
        let mut tokens = self.sources.clone();
        if self.missing_reports > 0 {
            tokens.push("missing-reports");
        }
        if self.partial_window {
            tokens.push("partial-window");
        }
        if !self.ingest.is_empty() {
            tokens.push("ingest");
        }
        tokens
    }
}

/// The reports of a window, oldest first, keyed by report key.
#[derive(Debug, Default)]
pub struct Window {
    pub reports: Vec<(String, Arc<Report>)>,
    pub degraded: Degraded,
}

/// A live window's reports as stored: the keys the cache's index names, oldest first, and the
/// bodies of those the caller did not hold already.
#[derive(Debug, Default)]
pub struct StoredWindow {
    pub keys: Vec<String>,
    pub fresh: Vec<(String, Bytes)>,
    pub degraded: Degraded,
}

/// Bodies asked of the cache in one call by [`WindowReader::read_stored`]: about 1 MB.
const STORED_SLICE: usize = 64;

pub struct WindowReader {
    pub cache: ReportCache,
    pub object_store: Arc<dyn Storage>,
    pub decoded: DecodedCache,
    /// Windows ending longer ago than this are history: the cache no longer has them.
    pub cache_ttl: Duration,
    /// How long after its arrival a report may be sealed into a segment (a flush interval, or
    /// longer when a collector restarts with a backlog); segments are named by flush time.
    pub max_flush_lag: Duration,
    pub limits: Limits,
    /// Whether the cache is the one the collectors write (memcached, or an in-process cache
    /// shared with an in-process collector). An app with a private cache reads every window
    /// from the object store.
    pub shared_cache: bool,
}

impl WindowReader {
    pub async fn read(&self, tenant: &TenantId, end_ms: i64, window: Duration) -> Window {
        let start_ms = end_ms - window.as_millis() as i64;
        let historic = end_ms <= Timestamp::now().unix_millis() - self.cache_ttl.as_millis() as i64;
        let mut found = BTreeMap::new();
        let mut degraded = Degraded::default();
        // `None`: the index could not say which reports exist, so the object store decides.
        let mut wanted: Option<BTreeSet<String>> = None;
        if !historic && self.shared_cache {
            match self.cache.keys_between(tenant, start_ms, end_ms).await {
                Ok(keys) => {
                    wanted = Some(self.fill_from_cache(keys, &mut found, &mut degraded).await)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "cache index unavailable; reading the object store");
                    degraded.sources.push("cache");
                }
            }
        }
        let complete = wanted.as_ref().is_some_and(BTreeSet::is_empty);
        if !complete
            && let Err(e) = self
                .fill_from_object_store(tenant, start_ms, end_ms, wanted.as_ref(), &mut found)
                .await
        {
            tracing::debug!(error = %e, "object store unavailable for a window read");
            degraded.sources.push("object-store");
        }
        if let Some(wanted) = &wanted {
            degraded.missing_reports = wanted.iter().filter(|k| !found.contains_key(*k)).count();
        }
        let mut reports: Vec<(String, Arc<Report>)> = found.into_iter().collect();
        reports
            .sort_by_key(|(k, _)| stormscope_shared::report_cache::report_time_ms(k).unwrap_or(0));
        Window { reports, degraded }
    }

    /// The live window ending at `end_ms` as stored, fetching only the bodies `held` lacks (and
    /// for a `first` answer, only those [`first_answer::chosen`] picks): `None` when the cache
    /// cannot answer it whole (no shared cache, a history window, the index or some value
    /// unavailable), for [`WindowReader::read`] to piece together.
    pub async fn read_stored(
        &self,
        tenant: &TenantId,
        end_ms: i64,
        window: Duration,
        held: &std::collections::HashSet<String>,
        first: bool,
    ) -> Option<StoredWindow> {
        let start_ms = end_ms - window.as_millis() as i64;
        let historic = end_ms <= Timestamp::now().unix_millis() - self.cache_ttl.as_millis() as i64;
        if historic || !self.shared_cache {
            return None;
        }
        let started = std::time::Instant::now();
        let mut keys = self
            .cache
            .keys_between(tenant, start_ms, end_ms)
            .await
            .ok()?;
        keys.sort_by_key(|k| stormscope_shared::report_cache::report_time_ms(k).unwrap_or(0));
        let chosen = first.then(|| first_answer::chosen(&keys)).flatten();
        let need: Vec<String> = match chosen {
            Some(chosen) => chosen.into_iter().map(|at| keys[at].clone()).collect(),
            None => keys
                .iter()
                .filter(|k| !held.contains(*k))
                .cloned()
                .collect(),
        };
        let indexed = started.elapsed();
        let mut fresh = Vec::with_capacity(need.len());
        // A first query needs hundreds of bodies: asked for in slices, each
        // within the cache's deadline, rather than at once against one deadline it would miss
        // on a busy machine, sending the query to the object store.
        for slice in need.chunks(STORED_SLICE) {
            let values = self.cache.get_many(slice).await.ok()?;
            for (key, value) in slice.iter().zip(values) {
                fresh.push((key.clone(), value?));
            }
        }
        tracing::debug!(
            keys = keys.len(),
            fetched = fresh.len(),
            bytes = fresh.iter().map(|(_, b)| b.len()).sum::<usize>(),
            index_ms = indexed.as_secs_f64() * 1e3,
            fetch_ms = (started.elapsed() - indexed).as_secs_f64() * 1e3,
            "window read from the cache"
        );
        Some(StoredWindow {
            keys,
            fresh,
            degraded: Degraded::default(),
        })
    }

    /// Fills `found` from the decoded cache and the cache; returns the keys it could not find.
    async fn fill_from_cache(
        &self,
        keys: Vec<String>,
        found: &mut BTreeMap<String, Arc<Report>>,
        degraded: &mut Degraded,
    ) -> BTreeSet<String> {
        let mut need = Vec::new();
        for key in keys {
            match self.decoded.get(&key) {
                Some(report) => {
                    found.insert(key, report);
                }
                None => need.push(key),
            }
        }
        let mut missing = BTreeSet::new();
        if need.is_empty() {
            return missing;
        }
        match self.cache.get_many(&need).await {
            Ok(values) => {
                let mut bodies = Vec::with_capacity(need.len());
                for (key, value) in need.into_iter().zip(values) {
                    match value {
                        Some(bytes) => bodies.push((key, bytes)),
                        None => {
                            missing.insert(key);
                        }
                    }
                }
                for (key, report) in self.decode_all(bodies).await {
                    match report {
                        Some(report) => {
                            found.insert(key, report);
                        }
                        None => {
                            missing.insert(key);
                        }
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cache values unavailable");
                degraded.sources.push("cache");
                missing.extend(need);
            }
        }
        missing
    }

    /// Reads the segments that can hold reports of the window, keeping the reports in it (only
    /// the `wanted` ones, when the index named them).
    async fn fill_from_object_store(
        &self,
        tenant: &TenantId,
        start_ms: i64,
        end_ms: i64,
        wanted: Option<&BTreeSet<String>>,
        found: &mut BTreeMap<String, Arc<Report>>,
    ) -> Result<(), StorageError> {
        // A report is sealed at or after its arrival, so its segment is named no earlier than
        // the window's start and no later than the window's end plus the flush lag.
        let last_ms = (end_ms + self.max_flush_lag.as_millis() as i64)
            .min(Timestamp::now().unix_millis() + HOUR_MS);
        let mut segments = BTreeSet::new();
        let mut hour = start_ms.div_euclid(HOUR_MS) * HOUR_MS;
        while hour <= last_ms {
            for key in self
                .object_store
                .list(&keys::hour_prefix(tenant, hour))
                .await?
            {
                if keys::segment_time_ms(&key).is_some_and(|t| (start_ms..=last_ms).contains(&t)) {
                    segments.insert(key);
                }
            }
            hour += HOUR_MS;
        }
        let segments: Vec<String> = segments.into_iter().collect();
        for batch in segments.chunks(16) {
            for (name, value) in batch.iter().zip(self.object_store.get_many(batch).await?) {
                let Some(bytes) = value else { continue };
                let entries = match segment::decode(&bytes) {
                    Ok(entries) => entries,
                    Err(e) => {
                        if let Some(suppressed) = log_limit::allow("unreadable_segment", name) {
                            tracing::warn!(segment = name, error = %e, suppressed, "unreadable segment skipped (said once a minute per segment)");
                        }
                        continue;
                    }
                };
                let bodies = entries
                    .into_iter()
                    .filter(|entry| {
                        let in_window = (start_ms..=end_ms).contains(&entry.received_ms);
                        let is_wanted = wanted.is_none_or(|w| w.contains(&entry.key));
                        in_window && is_wanted && !found.contains_key(&entry.key)
                    })
                    .map(|entry| (entry.key, entry.body))
                    .collect();
                for (key, report) in self.decode_all(bodies).await {
                    if let Some(report) = report {
                        found.insert(key, report);
                    }
                }
            }
        }
        Ok(())
    }

    /// Decodes stored reports and keeps them in the decoded cache; `None` for one that does not
    /// decode. Many at once (a tenant's first query reads its whole window, hundreds of
    /// reports) are decoded on every core, off the async worker, which would otherwise stall
    /// every other request it serves for as long.
    async fn decode_all<B>(&self, bodies: Vec<(String, B)>) -> Vec<(String, Option<Arc<Report>>)>
    where
        B: AsRef<[u8]> + Send + Sync + 'static,
    {
        let limits = self.limits.clone();
        let decode = move |(_, body): &(String, B)| {
            codec::decode(body.as_ref(), Compression::Gzip, Format::Msgpack, &limits)
        };
        let (bodies, results) = if bodies.len() <= DECODED_INLINE {
            let results = bodies.iter().map(&decode).collect();
            (bodies, results)
        } else {
            let keys: Vec<String> = bodies.iter().map(|(key, _)| key.clone()).collect();
            let decoding = tokio::task::spawn_blocking(move || {
                let results = par_map_heavy(&bodies, decode);
                (bodies, results)
            });
            match decoding.await {
                Ok(decoded) => decoded,
                // Only a panic in the decoder (a bug) or a runtime shutting down gets here.
                Err(e) => {
                    tracing::error!(error = %e, "decoding reports failed; treated as missing");
                    return keys.into_iter().map(|key| (key, None)).collect();
                }
            }
        };
        bodies
            .into_iter()
            .zip(results)
            .map(|((key, _), result)| match result {
                Ok(report) => {
                    let report = Arc::new(report);
                    self.decoded.insert(key.clone(), report.clone());
                    (key, Some(report))
                }
                Err(e) => {
                    if let Some(suppressed) = log_limit::allow("undecodable_report", &key) {
                        tracing::warn!(key, error = %e, suppressed, "stored report does not decode; treated as missing (said once a minute per report)");
                    }
                    (key, None)
                }
            })
            .collect()
    }
}
