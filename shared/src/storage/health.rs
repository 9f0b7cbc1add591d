//! Which backends are failing right now. Storage decorators report every outcome here; the
//! services read it to flag responses (`X-Stormscope-Degraded`) and to log when degraded mode
//! starts and ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    Healthy,
    /// Failing since the given instant.
    Failing(Instant),
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
        if let Some(HealthState::Failing(since)) = sources.insert(source, HealthState::Healthy) {
            tracing::warn!(
                source,
                failing_for_s = since.elapsed().as_secs_f64(),
                "degraded mode ended: {source} is healthy again"
            );
            metrics::gauge!("stormscope_degraded", "source" => source).set(0.0);
        }
    }

    pub fn report_failure(&self, source: &'static str, error: &dyn std::fmt::Display) {
        let mut sources = self.lock();
        let was_failing = matches!(sources.get(source), Some(HealthState::Failing(_)));
        if !was_failing {
            sources.insert(source, HealthState::Failing(Instant::now()));
            tracing::error!(source, %error, "degraded mode started: {source} is failing");
            metrics::gauge!("stormscope_degraded", "source" => source).set(1.0);
        }
    }

    /// Sources failing now, sorted: the value of the degraded header.
    pub fn degraded(&self) -> Vec<&'static str> {
        let sources = self.lock();
        sources
            .iter()
            .filter(|(_, s)| matches!(s, HealthState::Failing(_)))
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn is_healthy(&self, source: &str) -> bool {
        let sources = self.lock();
        !matches!(sources.get(source), Some(HealthState::Failing(_)))
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
    }
}
