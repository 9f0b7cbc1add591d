//! Which backends are failing right now. Storage decorators report every outcome here; the
//! services read it to flag responses (`X-Stormscope-Degraded`) and to log when degraded mode
//! starts and ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::Storage;

use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    Healthy,
    /// Failing since the given instant, which was the given wall-clock time.
    Failing(Instant, Timestamp),
}

/// Shared health of named sources (`object-store`, `cache`, ...). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Health {
    sources: Arc<Mutex<BTreeMap<&'static str, HealthState>>>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// A panic while holding the lock (a log write failing on a full disk, say) leaves at worst
    /// one stale state; refusing every later request over it would turn that into an outage.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, HealthState>> {
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn report_success(&self, source: &'static str) {
        let mut sources = self.lock();
        match sources.insert(source, HealthState::Healthy) {
            Some(HealthState::Failing(since, _)) => {
                tracing::warn!(
                    source,
                    failing_for_s = since.elapsed().as_secs_f64(),
                    "degraded mode ended: {source} is healthy again"
                );
                metrics::gauge!("stormscope_degraded", "source" => source).set(0.0);
            }
            // The first outcome of a source: the gauge exists from then on, so that alerts
            // and dashboards see 0 rather than no series before the first outage.
            None => metrics::gauge!("stormscope_degraded", "source" => source).set(0.0),
            Some(HealthState::Healthy) => {}
        }
    }

    pub fn report_failure(&self, source: &'static str, error: &dyn std::fmt::Display) {
        let mut sources = self.lock();
        let was_failing = matches!(sources.get(source), Some(HealthState::Failing(..)));
        if !was_failing {
            sources.insert(
                source,
                HealthState::Failing(Instant::now(), Timestamp::now()),
            );
            tracing::error!(source, %error, "degraded mode started: {source} is failing");
            metrics::gauge!("stormscope_degraded", "source" => source).set(1.0);
        }
    }

    /// Sources failing now, sorted: the value of the degraded header.
    pub fn degraded(&self) -> Vec<&'static str> {
        let sources = self.lock();
        sources
            .iter()
            .filter(|(_, s)| matches!(s, HealthState::Failing(..)))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Each failing source with when its current failure began (the first failure after the
    /// last success), in wall-clock time.
    pub fn failing_since(&self) -> BTreeMap<&'static str, Timestamp> {
        let sources = self.lock();
        sources
            .iter()
            .filter_map(|(name, state)| match state {
                HealthState::Failing(_, since) => Some((*name, *since)),
                HealthState::Healthy => None,
            })
            .collect()
    }

    pub fn is_healthy(&self, source: &str) -> bool {
        let sources = self.lock();
        !matches!(sources.get(source), Some(HealthState::Failing(..)))
    }
}

/// Looks at `storage` between real calls, so that an outage is flagged in `health` (and its
/// end noticed) within seconds even when nothing else calls it: a read of `key`, which does not
/// exist, every 2 s (every second while failing), through the same decorators as real traffic.
/// Ends when the storage is dropped.
pub async fn watch(storage: Weak<dyn Storage>, health: Health, key: &'static str) {
    loop {
        let Some(name) = storage.upgrade().map(|s| s.name()) else {
            return;
        };
        let pause = if health.is_healthy(name) {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(1)
        };
        tokio::time::sleep(pause).await;
        let Some(storage) = storage.upgrade() else {
            return;
        };
        let _ = storage.get(key).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_and_recoveries_toggle_degraded_sources() {
        let h = Health::new();
        assert!(h.degraded().is_empty());
        h.report_failure("object-store", &"down");
        h.report_failure("cache", &"down");
        h.report_failure("cache", &"still down");
        assert_eq!(h.degraded(), vec!["cache", "object-store"]);
        h.report_success("cache");
        assert_eq!(h.degraded(), vec!["object-store"]);
        assert!(h.is_healthy("cache") && !h.is_healthy("object-store"));
        let since = h.failing_since();
        assert_eq!(
            since.keys().copied().collect::<Vec<_>>(),
            vec!["object-store"]
        );
        let age = Timestamp::now().unix_millis() - since["object-store"].unix_millis();
        assert!((0..5_000).contains(&age), "{age}");
    }
}
