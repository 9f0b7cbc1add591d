//! Merged 3-second quanta for history (`?timestamp=`), as Scope's multitenant app keeps them
//! (scope-compat.md §5.2): a window is the quanta that have sealed plus a tail of single
//! reports, so moving a historic window by a few seconds re-merges only the quanta it has not
//! seen. A quantum is cached under the tenant, its start, and the keys it merged, so a report
//! that reached storage late makes a new entry rather than a wrong one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use stormscope_shared::Report;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::report_cache::report_time_ms;
use stormscope_shared::tenancy::TenantId;

/// Scope's `reportQuantisationInterval`.
pub const QUANTUM_MS: i64 = 3_000;
/// Reports may reach storage this long after a quantum ends; younger quanta are not sealed.
const GRACE_MS: i64 = 500;

type QuantumKey = (TenantId, i64, u64);
/// Quanta by key with their estimated bytes, the keys in insertion order (for eviction), and
/// the bytes held.
type Entries = (
    HashMap<QuantumKey, (Arc<Report>, usize)>,
    VecDeque<QuantumKey>,
    usize,
);

/// A cache of merged quanta bounded by bytes (estimated); the oldest inserted goes first.
#[derive(Debug)]
pub struct MergedQuanta {
    budget: usize,
    inner: Mutex<Entries>,
}

impl MergedQuanta {
    /// A cache holding at most `budget` bytes of merged quanta; none when it is 0.
    pub fn new(budget: usize) -> Self {
        MergedQuanta {
            budget,
            inner: Mutex::new(Default::default()),
        }
    }

    /// Merges the reports of a historic window ending at `end_ms` (oldest first), reusing and
    /// filling the cache for every sealed quantum. Part-merged nodes are left in.
    pub fn merge(
        &self,
        tenant: &TenantId,
        end_ms: i64,
        reports: &[(String, Arc<Report>)],
    ) -> Report {
        let mut parts: Vec<Arc<Report>> = Vec::new();
        let mut i = 0;
        while i < reports.len() {
            let start = quantum_of(&reports[i].0);
            let mut j = i;
            while j < reports.len() && quantum_of(&reports[j].0) == start {
                j += 1;
            }
            let run = &reports[i..j];
            if self.budget > 0 && start + QUANTUM_MS + GRACE_MS <= end_ms {
                parts.push(self.quantum(tenant, start, run));
            } else {
                parts.extend(run.iter().map(|(_, r)| r.clone()));
            }
            i = j;
        }
        fast_merge(parts.iter().map(Arc::as_ref))
    }

    fn quantum(&self, tenant: &TenantId, start: i64, run: &[(String, Arc<Report>)]) -> Arc<Report> {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for (key, _) in run {
            std::hash::Hash::hash(key, &mut hasher);
        }
        let key = (tenant.clone(), start, std::hash::Hasher::finish(&hasher));
        if let Some((hit, _)) = self.inner.lock().expect("quanta lock").0.get(&key) {
            metrics::counter!("stormscope_app_quanta_total", "result" => "hit").increment(1);
            return hit.clone();
        }
        metrics::counter!("stormscope_app_quanta_total", "result" => "miss").increment(1);
        let merged = Arc::new(fast_merge(run.iter().map(|(_, r)| r.as_ref())));
        let bytes = crate::size::report(&merged);
        let mut guard = self.inner.lock().expect("quanta lock");
        let (map, order, held) = &mut *guard;
        match map.insert(key.clone(), (merged.clone(), bytes)) {
            Some((_, old)) => *held -= old,
            None => order.push_back(key),
        }
        *held += bytes;
        while *held > self.budget {
            let Some(old) = order.pop_front() else { break };
            if let Some((_, gone)) = map.remove(&old) {
                *held -= gone;
            }
        }
        crate::budget::Cache::Quanta.record(*held);
        merged
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("quanta lock").0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn quantum_of(key: &str) -> i64 {
    let t = report_time_ms(key).unwrap_or(0);
    t - t.rem_euclid(QUANTUM_MS)
}

#[cfg(test)]
mod tests {
    use stormscope_shared::TopologyKind;
    use stormscope_shared::keys;
    use stormscope_shared::synth::{SynthSpec, generate};
    use stormscope_shared::time::Timestamp;

    use super::*;

    fn window(tenant: &TenantId, start_ms: i64, count: i64) -> Vec<(String, Arc<Report>)> {
        (0..count)
            .map(|i| {
                let at = start_ms + i * 1000;
                let mut spec = SynthSpec::probe(i as u64, i as usize, count as usize);
                spec.processes_per_host = 3;
                spec.connections_per_host = 3;
                spec.ts = Timestamp::from_unix_millis(at);
                let key = keys::report_key(tenant, at, "c", i as u64, None);
                (key, Arc::new(generate(&spec)))
            })
            .collect()
    }

    #[test]
    fn quanta_merge_to_what_merging_every_report_gives_and_are_reused() {
        let tenant = TenantId::new("t").unwrap();
        let reports = window(&tenant, 1_764_162_000_000, 15);
        let quanta = MergedQuanta::new(1 << 30);
        // Every quantum has sealed by then.
        let end = 1_764_162_016_000;
        let merged = quanta.merge(&tenant, end, &reports);
        let expected = fast_merge(reports.iter().map(|(_, r)| r.as_ref()));
        for ((_, a), (_, b)) in merged.topologies().zip(expected.topologies()) {
            assert_eq!(a.nodes, b.nodes);
        }
        assert_eq!(quanta.len(), 5, "every sealed quantum is cached");
        // The same window again is answered from the cache; a later report only adds itself.
        quanta.merge(&tenant, end, &reports);
        assert_eq!(quanta.len(), 5);
        let merged = quanta.merge(&tenant, end, &reports[..14]);
        assert_eq!(merged.topology(TopologyKind::Host).nodes.len(), 14);
        assert_eq!(
            quanta.len(),
            6,
            "a changed quantum is a new entry, never a wrong one"
        );
    }

    #[test]
    fn tenants_never_share_quanta() {
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let quanta = MergedQuanta::new(1 << 30);
        let end = 1_764_162_015_000;
        let ours = window(&a, 1_764_162_000_000, 6);
        quanta.merge(&a, end, &ours);
        // Same quantum starts, same key names: still separate entries.
        let theirs = window(&a, 1_764_162_000_000, 6);
        let merged = quanta.merge(&b, end, &theirs[..1]);
        assert_eq!(merged.topology(TopologyKind::Host).nodes.len(), 1);
    }
}
