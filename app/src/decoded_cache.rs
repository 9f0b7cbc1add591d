//! Decoded reports kept in process, so a query decodes only reports it has not seen. Keyed by
//! report key, which names the tenant, so no tenant can be served another's entry.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use stormscope_shared::Report;

/// Reports by key, and the keys in insertion order (for eviction).
type Entries = (HashMap<String, Arc<Report>>, VecDeque<String>);

/// A bounded map of report key to decoded report; the oldest inserted goes first.
/// Hand-written: insertion-order eviction over a window that slides forward is all it needs.
#[derive(Debug)]
pub struct DecodedCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

impl DecodedCache {
    pub fn new(capacity: usize) -> Self {
        DecodedCache {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<Report>> {
        self.inner
            .lock()
            .expect("decoded cache lock")
            .0
            .get(key)
            .cloned()
    }

    pub fn insert(&self, key: String, report: Arc<Report>) {
        let mut guard = self.inner.lock().expect("decoded cache lock");
        let (map, order) = &mut *guard;
        if map.insert(key.clone(), report).is_none() {
            order.push_back(key);
        }
        while map.len() > self.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            map.remove(&oldest);
        }
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
    fn evicts_the_oldest_beyond_capacity() {
        let cache = DecodedCache::new(2);
        for key in ["a", "b", "c"] {
            cache.insert(key.into(), Arc::new(Report::default()));
        }
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some() && cache.get("c").is_some());
        cache.insert("c".into(), Arc::new(Report::default()));
        assert_eq!(cache.len(), 2, "re-inserting a key does not grow the cache");
    }
}
