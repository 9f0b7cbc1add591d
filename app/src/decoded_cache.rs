//! Decoded reports kept in process, so a query decodes only reports it has not seen. Keyed by
//! report key, which names the tenant, so no tenant can be served another's entry.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use stormscope_shared::Report;

/// Reports by key with their estimated bytes, the keys in insertion order (for eviction), and
/// the bytes held.
type Entries = (
    HashMap<String, (Arc<Report>, usize)>,
    VecDeque<String>,
    usize,
);

/// A map of report key to decoded report bounded by bytes (estimated, [`crate::size`]); the
/// oldest inserted goes first. Hand-written: insertion-order eviction over a window that slides
/// forward is all it needs.
#[derive(Debug)]
pub struct DecodedCache {
    budget: usize,
    inner: Mutex<Entries>,
}

impl DecodedCache {
    /// A cache holding at most `budget` bytes of decoded reports.
    pub fn new(budget: usize) -> Self {
        DecodedCache {
            budget,
            inner: Mutex::new((HashMap::new(), VecDeque::new(), 0)),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<Report>> {
        self.inner
            .lock()
            .expect("decoded cache lock")
            .0
            .get(key)
            .map(|(report, _)| report.clone())
    }

    pub fn insert(&self, key: String, report: Arc<Report>) {
        let bytes = key.len() + crate::size::report(&report);
        let mut guard = self.inner.lock().expect("decoded cache lock");
        let (map, order, held) = &mut *guard;
        match map.insert(key.clone(), (report, bytes)) {
            Some((_, old)) => *held -= old,
            None => order.push_back(key),
        }
        *held += bytes;
        while *held > self.budget {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if let Some((_, gone)) = map.remove(&oldest) {
                *held -= gone;
            }
        }
        crate::budget::Cache::DecodedReports.record(*held);
    }

    /// The bytes held (estimated).
    pub fn bytes(&self) -> usize {
        self.inner.lock().expect("decoded cache lock").2
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("decoded cache lock").0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_oldest_beyond_its_bytes() {
        let report = || {
            let mut spec = stormscope_shared::synth::SynthSpec::probe(1, 0, 1);
            spec.processes_per_host = 5;
            spec.connections_per_host = 5;
            Arc::new(stormscope_shared::synth::generate(&spec))
        };
        let one = 1 + crate::size::report(&report());
        let cache = DecodedCache::new(2 * one);
        for key in ["a", "b", "c"] {
            cache.insert(key.into(), report());
        }
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        cache.insert("c".into(), report());
        assert_eq!(cache.len(), 2, "re-inserting a key does not grow the cache");
        assert_eq!(cache.bytes(), 2 * one);
    }
}
