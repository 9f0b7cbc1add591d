//! What the collectors publish about their own health, as the app reads it: from the shared
//! cache at most once per [`MAX_AGE`] however many requests ask, since every answer carries the
//! failing collectors in its `degraded` object.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stormscope_shared::ingest_health::{self, IngestHealth};
use stormscope_shared::storage::Storage;
use stormscope_shared::time::Timestamp;

/// How long one read of the records serves requests.
pub const MAX_AGE: Duration = Duration::from_millis(1500);

type Records = Arc<Vec<IngestHealth>>;

#[derive(Debug)]
pub struct IngestView {
    /// The cache the collectors publish to; `None` when the app shares none with them.
    cache: Option<Arc<dyn Storage>>,
    last: Mutex<Option<(Instant, Records)>>,
    /// Held by the one request refreshing `last`.
    refreshing: tokio::sync::Mutex<()>,
}

impl IngestView {
    pub fn new(cache: Option<Arc<dyn Storage>>) -> Self {
        IngestView {
            cache,
            last: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// Every collector that published recently, healthy or not, sorted by id. Empty when the
    /// cache cannot be read (its own failure flags the answer as `cache`).
    pub async fn all(&self) -> Records {
        if let Some(fresh) = self.cached(true) {
            return fresh;
        }
        let _refreshing = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            // Another request is reading: answer with what it read last, if anything.
            Err(_) => match self.cached(false) {
                Some(stale) => return stale,
                None => self.refreshing.lock().await,
            },
        };
        if let Some(fresh) = self.cached(true) {
            return fresh;
        }
        let records: Records = Arc::new(match &self.cache {
            None => Vec::new(),
            Some(cache) => ingest_health::read_all(&**cache, Timestamp::now())
                .await
                .unwrap_or_else(|e| {
                    tracing::debug!(error = %e, "collectors' health records unreadable");
                    Vec::new()
                }),
        });
        *self.last.lock().expect("ingest view lock") = Some((Instant::now(), records.clone()));
        records
    }

    /// The collectors that report failing sources.
    pub async fn failing(&self) -> Vec<IngestHealth> {
        self.all()
            .await
            .iter()
            .filter(|r| r.is_failing())
            .cloned()
            .collect()
    }

    fn cached(&self, fresh_only: bool) -> Option<Records> {
        let last = self.last.lock().expect("ingest view lock");
        let (at, records) = last.as_ref()?;
        (!fresh_only || at.elapsed() < MAX_AGE).then(|| records.clone())
    }
}
