//! The write-behind: moves spooled reports into the object store, one segment per tenant per
//! flush interval, and tells the spool which records it may delete. It is its own component
//! with its own queue: ingest only hands it record ids, and an object-store outage only makes
//! its backlog grow (bounded by the spool, on disk), never slows ingest.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use stormscope_shared::keys;
use stormscope_shared::retry::Retry;
use stormscope_shared::segment::SegmentWriter;
use stormscope_shared::storage::Storage;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::spool::{RecordId, RecordMeta, Spool, SpoolError};

/// A spooled report waiting for its segment.
#[derive(Clone, Debug)]
struct Pending {
    id: RecordId,
    len: u32,
    received_ms: i64,
}

#[derive(Debug)]
struct SegmentJob {
    tenant: TenantId,
    flush_ms: i64,
    seq: u64,
    records: Vec<Pending>,
    bytes: u64,
}

impl SegmentJob {
    fn oldest_ms(&self) -> Option<i64> {
        self.records.iter().map(|p| p.received_ms).min()
    }
}

#[derive(Default)]
struct State {
    /// Reports of the current interval, per tenant.
    open: BTreeMap<TenantId, Vec<Pending>>,
    /// Sealed segments not yet in the object store, oldest first.
    backlog: VecDeque<SegmentJob>,
    /// What the upload round under way holds (taken out of `backlog` until it ends), so that
    /// the backlog as reported does not dip while segments are being written.
    uploading: Backlog,
    next_seq: u64,
}

/// The backlog as operators see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub segments: usize,
    /// Reports not yet in the object store, sealed or not.
    pub records: usize,
    pub bytes: u64,
    /// Arrival time (unix ms) of the oldest of those reports.
    pub oldest_ms: Option<i64>,
}

impl Backlog {
    fn add(&mut self, job: &SegmentJob) {
        self.segments += 1;
        self.records += job.records.len();
        self.bytes += job.bytes;
        self.oldest_ms = earliest(self.oldest_ms, job.oldest_ms());
    }
}

impl Backlog {
    /// Seconds since the oldest report not yet in the object store was acknowledged; 0 when
    /// everything is there.
    pub fn age_seconds(&self, now_ms: i64) -> f64 {
        self.oldest_ms
            .map_or(0.0, |oldest| (now_ms - oldest).max(0) as f64 / 1000.0)
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub struct WriteBehindConfig {
    pub collector_id: String,
    pub flush_interval: Duration,
    pub segment_max_bytes: usize,
    pub upload_concurrency: usize,
    /// Backoff between failed upload rounds; attempts are unlimited (nothing acknowledged may
    /// be dropped), so only `base`, `max` and `jitter` matter.
    pub retry: Retry,
}

struct Inner {
    spool: Arc<Spool>,
    store: Arc<dyn Storage>,
    config: WriteBehindConfig,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Clone)]
pub struct WriteBehind {
    inner: Arc<Inner>,
}

impl WriteBehind {
    /// Starts the flush timer and the uploader. `replayed` records (left in the spool by an
    /// earlier run) go into the first segments.
    pub fn start(
        spool: Arc<Spool>,
        store: Arc<dyn Storage>,
        config: WriteBehindConfig,
        replayed: Vec<(RecordId, RecordMeta)>,
    ) -> (WriteBehind, Vec<JoinHandle<()>>) {
        // Segment sequence numbers continue from the boot time so restarts never reuse a key.
        let next_seq = Timestamp::now().unix_millis().max(0) as u64 * 1000;
        let inner = Arc::new(Inner {
            spool,
            store,
            config,
            state: Mutex::new(State {
                next_seq,
                ..State::default()
            }),
            wake: Notify::new(),
        });
        let wb = WriteBehind { inner };
        for (id, meta) in replayed {
            match TenantId::new(&meta.tenant) {
                Ok(tenant) => wb.enqueue(&tenant, id, meta.body_len, meta.received_ms),
                Err(e) => {
                    tracing::error!(tenant = meta.tenant, error = %e, "spooled record has an invalid tenant; kept in the spool")
                }
            }
        }
        let flusher = {
            let wb = wb.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(wb.inner.config.flush_interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    wb.seal();
                }
            })
        };
        let uploader = {
            let wb = wb.clone();
            tokio::spawn(async move { wb.upload_loop().await })
        };
        (wb, vec![flusher, uploader])
    }

    /// Hands over a spooled report (its id, body size and arrival time); it goes into the
    /// tenant's next segment.
    pub fn enqueue(&self, tenant: &TenantId, id: RecordId, len: u32, received_ms: i64) {
        let mut state = self.inner.state.lock().expect("write-behind lock");
        state.open.entry(tenant.clone()).or_default().push(Pending {
            id,
            len,
            received_ms,
        });
        drop(state);
        self.publish_backlog();
    }

    /// Closes the current interval: each tenant's reports become one segment (several past
    /// `segment_max_bytes`).
    pub fn seal(&self) {
        let flush_ms = Timestamp::now().unix_millis();
        let mut state = self.inner.state.lock().expect("write-behind lock");
        let open = std::mem::take(&mut state.open);
        for (tenant, records) in open {
            let mut job: Option<SegmentJob> = None;
            for record in records {
                let full = job.as_ref().is_some_and(|j| {
                    j.bytes + record.len as u64 > self.inner.config.segment_max_bytes as u64
                });
                if full {
                    state.backlog.extend(job.take());
                }
                let j = job.get_or_insert_with(|| SegmentJob {
                    tenant: tenant.clone(),
                    flush_ms,
                    seq: 0,
                    records: Vec::new(),
                    bytes: 0,
                });
                j.bytes += record.len as u64;
                j.records.push(record);
            }
            state.backlog.extend(job);
        }
        let State {
            backlog, next_seq, ..
        } = &mut *state;
        for job in backlog.iter_mut().filter(|j| j.seq == 0) {
            *next_seq += 1;
            job.seq = *next_seq;
        }
        drop(state);
        self.publish_backlog();
        self.inner.wake.notify_one();
    }

    pub fn backlog(&self) -> Backlog {
        let state = self.inner.state.lock().expect("write-behind lock");
        let mut backlog = state.uploading;
        for job in &state.backlog {
            backlog.add(job);
        }
        for pending in state.open.values().flatten() {
            backlog.records += 1;
            backlog.bytes += pending.len as u64;
            backlog.oldest_ms = earliest(backlog.oldest_ms, Some(pending.received_ms));
        }
        backlog
    }

    /// Seals what is open and waits until everything is in the object store, or `timeout`.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.seal();
        let deadline = tokio::time::Instant::now() + timeout;
        while self.backlog().records > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Sets the backlog gauges. Called on every change, and every second by the collector so
    /// that the age keeps growing while nothing uploads.
    pub fn publish_backlog(&self) {
        let b = self.backlog();
        metrics::gauge!("stormscope_write_behind_backlog_segments").set(b.segments as f64);
        metrics::gauge!("stormscope_write_behind_backlog_records").set(b.records as f64);
        metrics::gauge!("stormscope_write_behind_backlog_bytes").set(b.bytes as f64);
        metrics::gauge!("stormscope_write_behind_backlog_oldest_seconds")
            .set(b.age_seconds(Timestamp::now().unix_millis()));
    }

    async fn upload_loop(&self) {
        let mut failed_rounds = 0u32;
        loop {
            let jobs: Vec<SegmentJob> = {
                let mut state = self.inner.state.lock().expect("write-behind lock");
                let n = self
                    .inner
                    .config
                    .upload_concurrency
                    .max(1)
                    .min(state.backlog.len());
                let jobs: Vec<SegmentJob> = state.backlog.drain(..n).collect();
                for job in &jobs {
                    state.uploading.add(job);
                }
                jobs
            };
            if jobs.is_empty() {
                self.inner.wake.notified().await;
                continue;
            }
            let results = futures::future::join_all(jobs.into_iter().map(|job| async move {
                let result = self.upload(&job).await;
                (job, result)
            }))
            .await;
            let mut retry = Vec::new();
            for (job, result) in results {
                match result {
                    Ok(()) => {}
                    Err(e) => {
                        if let Some(suppressed) =
                            stormscope_shared::log_limit::allow("segment_upload_failed", "")
                        {
                            tracing::warn!(tenant = %job.tenant, records = job.records.len(), error = %e, suppressed, "segment upload failed; will retry (said once a minute)");
                        }
                        retry.push(job);
                    }
                }
            }
            let failed = !retry.is_empty();
            {
                // In one step, so the backlog never looks smaller than it is.
                let mut state = self.inner.state.lock().expect("write-behind lock");
                state.uploading = Backlog::default();
                for job in retry.into_iter().rev() {
                    state.backlog.push_front(job);
                }
            }
            if !failed {
                if failed_rounds > 0 {
                    tracing::info!(
                        after_failed_rounds = failed_rounds,
                        "segment uploads succeed again; draining the backlog"
                    );
                }
                failed_rounds = 0;
            } else {
                failed_rounds += 1;
                metrics::counter!("stormscope_segment_upload_failures_total").increment(1);
                tokio::time::sleep(self.inner.config.retry.delay(failed_rounds)).await;
            }
            self.publish_backlog();
        }
    }

    /// Reads the job's records back from the spool into the segment, writes it, then confirms
    /// the records.
    async fn upload(&self, job: &SegmentJob) -> Result<(), String> {
        let spool = self.inner.spool.clone();
        let ids: Vec<RecordId> = job.records.iter().map(|p| p.id).collect();
        let capacity = job.bytes as usize + job.records.len() * 64;
        let (segment, lost) = tokio::task::spawn_blocking(move || {
            let mut segment = SegmentWriter::with_capacity(capacity);
            let mut lost = Vec::new();
            for id in ids {
                match spool.read(id) {
                    Ok(record) => segment.push(&record.key, record.received_ms, &record.body),
                    Err(SpoolError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                        lost.push((id, e.to_string()))
                    }
                    // Its file is gone: an earlier upload already confirmed it.
                    Err(SpoolError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok((segment, lost))
        })
        .await
        .map_err(|e| e.to_string())??;
        for (id, error) in &lost {
            // The exception to the durability promise that a damaged disk makes: counted and
            // logged, and the record dropped so it does not block its segment forever.
            tracing::error!(
                ?id,
                error,
                "spooled record is damaged and cannot be uploaded"
            );
            metrics::counter!("stormscope_spool_lost_records_total").increment(1);
        }
        if segment.entries() == 0 {
            return self.confirm(job).await;
        }
        let body = segment.finish();
        let key = keys::segment_key(
            &job.tenant,
            job.flush_ms,
            &self.inner.config.collector_id,
            job.seq,
        );
        let size = body.len();
        self.inner
            .store
            .put(&key, Bytes::from(body), None)
            .await
            .map_err(|e| e.to_string())?;
        metrics::counter!("stormscope_segments_uploaded_total").increment(1);
        metrics::counter!("stormscope_segment_bytes_total").increment(size as u64);
        tracing::debug!(
            key,
            records = job.records.len(),
            bytes = size,
            "segment uploaded"
        );
        self.confirm(job).await
    }

    async fn confirm(&self, job: &SegmentJob) -> Result<(), String> {
        let spool = self.inner.spool.clone();
        let ids: Vec<RecordId> = job.records.iter().map(|p| p.id).collect();
        let confirmed = tokio::task::spawn_blocking(move || spool.confirm(&ids))
            .await
            .map_err(|e| e.to_string())?;
        if let Err(e) = confirmed {
            // The segment is safe; failing to record that only means a duplicate upload later,
            // so the job is done either way.
            if let Some(suppressed) =
                stormscope_shared::log_limit::allow("spool_confirmations_not_persisted", "")
            {
                tracing::warn!(error = %e, suppressed, "could not persist spool confirmations (said once a minute)");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_is_as_old_as_its_oldest_report() {
        assert_eq!(Backlog::default().age_seconds(10_000), 0.0);
        let backlog = Backlog {
            records: 3,
            oldest_ms: Some(4_000),
            ..Backlog::default()
        };
        assert_eq!(backlog.age_seconds(10_500), 6.5);
        // A clock that stepped back never makes a negative age.
        assert_eq!(backlog.age_seconds(3_000), 0.0);
    }
}
