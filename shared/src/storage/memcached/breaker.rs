//! A per-server circuit breaker: state only, no I/O. The recovery probe that closes it lives with
//! the server (see `Server::ensure_probe` in the parent module).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    failures: AtomicU32,
    open: AtomicBool,
    /// Set while a recovery probe is scheduled, so that at most one runs per server.
    probing: AtomicBool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Self {
        Breaker {
            // Zero would open the breaker before anything failed.
            threshold: threshold.max(1),
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
            probing: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn record_success(&self) {
        // While open, only the probe may close it: a call that started before the outage can
        // still succeed after it began.
        if !self.is_open() {
            self.failures.store(0, Ordering::Release);
        }
    }

    /// Counts a failure; true when this failure opened the breaker (exactly one caller sees that).
    pub(crate) fn record_failure(&self) -> bool {
        if self.is_open() {
            return false;
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        failures >= self.threshold
            && self
                .open
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    pub(crate) fn close(&self) {
        self.failures.store(0, Ordering::Release);
        self.open.store(false, Ordering::Release);
    }

    /// True when the caller is now the one responsible for probing; it must call
    /// [`end_probe`](Self::end_probe) when done, however it ends.
    pub(crate) fn try_start_probe(&self) -> bool {
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn end_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let breaker = Breaker::new(3);
        assert!(!breaker.record_failure());
        assert!(!breaker.record_failure());
        assert!(!breaker.is_open());
        assert!(breaker.record_failure(), "the third failure opens it");
        assert!(breaker.is_open());
        assert!(
            !breaker.record_failure(),
            "only one caller is told it opened"
        );
    }

    #[test]
    fn success_resets_the_count() {
        let breaker = Breaker::new(3);
        breaker.record_failure();
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        breaker.record_failure();
        assert!(!breaker.is_open());
    }

    #[test]
    fn only_close_closes_an_open_breaker() {
        let breaker = Breaker::new(1);
        assert!(breaker.record_failure());
        breaker.record_success();
        assert!(breaker.is_open());
        breaker.close();
        assert!(!breaker.is_open());
        // And it counts from zero again.
        assert!(breaker.record_failure());
    }

    #[test]
    fn one_probe_at_a_time() {
        let breaker = Breaker::new(3);
        assert!(breaker.try_start_probe());
        assert!(!breaker.try_start_probe());
        breaker.end_probe();
        assert!(breaker.try_start_probe());
    }
}
