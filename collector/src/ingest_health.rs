//! The collector's side of ingest health: what it knows about its own state (failing sources,
//! since when, the backlog the object store has not taken yet), published to the shared cache
//! for the app to show (see [`stormscope_shared::ingest_health`]).

use actix_web::web;
use stormscope_shared::ingest_health::{IngestHealth, PUBLISH_EVERY, Publisher};
use stormscope_shared::time::Timestamp;

use crate::state::CollectorState;

/// Remembers when the current state began, for the record's `since`.
#[derive(Debug)]
pub struct StateSince {
    healthy_since: Timestamp,
    spool_full_since: Option<Timestamp>,
    was_failing: bool,
}

impl StateSince {
    pub fn new(started: Timestamp) -> Self {
        StateSince {
            healthy_since: started,
            spool_full_since: None,
            was_failing: false,
        }
    }
}

impl CollectorState {
    /// This collector's health record now.
    pub fn ingest_health(&self, since: &mut StateSince) -> IngestHealth {
        let now = Timestamp::now();
        let failing = self.health.failing_since();
        let spool_full = self.spool_full();
        since.spool_full_since = spool_full.then(|| since.spool_full_since.unwrap_or(now));
        let mut sources: Vec<String> = failing.keys().map(|s| (*s).to_owned()).collect();
        if spool_full {
            sources.push("spool".into());
        }
        let failing_since = failing
            .values()
            .copied()
            .chain(since.spool_full_since)
            .min();
        let state_since = match failing_since {
            Some(t) => t,
            None => {
                if since.was_failing {
                    since.healthy_since = now;
                }
                since.healthy_since
            }
        };
        since.was_failing = failing_since.is_some();
        let backlog = self.write_behind.backlog();
        IngestHealth {
            collector: self.config.collector_id.clone(),
            sources,
            since: state_since,
            backlog_records: backlog.records as u64,
            backlog_bytes: backlog.bytes,
            oldest_pending: backlog.oldest_ms.map(Timestamp::from_unix_millis),
            updated: now,
        }
    }
}

/// Publishes the record every [`PUBLISH_EVERY`] for as long as the collector runs. A failed
/// publish (the cache is down) is only logged at debug: the cache's own health already says
/// it, and the app cannot read the record then anyway.
pub async fn publish(state: web::Data<CollectorState>) {
    let mut publisher = Publisher::new(state.cache.storage().clone());
    let mut since = StateSince::new(Timestamp::now());
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let record = state.ingest_health(&mut since);
        if let Err(e) = publisher.publish(&record).await {
            tracing::debug!(error = %e, "ingest health not published");
        }
    }
}
