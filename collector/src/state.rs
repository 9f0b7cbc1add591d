//! What the running collector shares between its handlers and background tasks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::storage::{Health, Storage};

use crate::config::CollectorConfig;
use crate::spool::Spool;
use crate::write_behind::WriteBehind;

pub struct CollectorState {
    pub config: CollectorConfig,
    pub spool: Arc<Spool>,
    pub cache: ReportCache,
    pub object_store: Arc<dyn Storage>,
    pub write_behind: WriteBehind,
    pub health: Health,
    /// Report sequence numbers; seeded from the boot time so keys stay unique across restarts.
    pub next_seq: AtomicU64,
    pub hostname: String,
    /// Size of the last append the spool refused for space (0 after a success): the spool
    /// refuses a frame that would cross the limit before its size reaches the limit, and frees
    /// space as uploads are confirmed, without any append telling us.
    pub refused_bytes: AtomicU64,
}

impl CollectorState {
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Sources that are failing now (the `X-Stormscope-Degraded` value), with the spool added
    /// while it refuses appends.
    pub fn degraded(&self) -> Vec<&'static str> {
        let mut sources = self.health.degraded();
        if self.spool_full() || self.spool.write_failure().is_some() {
            sources.push("spool");
        }
        sources
    }

    pub fn spool_full(&self) -> bool {
        let wanted = self.refused_bytes.load(Ordering::Relaxed);
        self.spool.stats().bytes.saturating_add(wanted) > self.config.spool_max_bytes
    }
}
