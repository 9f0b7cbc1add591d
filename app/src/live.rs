//! Each tenant's live window kept merged between queries, so a query merges only the reports
//! that arrived since the last one (scope-compat.md §3.9: Scope's local collector caches its
//! merged window the same way).
//!
//! Merging is not invertible, so a report leaving the window cannot be taken out of the merged
//! state: the state is rebuilt instead. Reports leave a window every few seconds, and a rebuild
//! merges the whole window, so rebuilds run in the background while queries go on with the
//! state they have; a query waits for one only when the state is missing or mostly stale. Until
//! the rebuild lands, an answer can include reports up to one rebuild older than the window.
//!
//! Part-merged nodes (a delta's nodes whose full report is not in the window) are kept aside
//! rather than in the merged report, exactly as Scope's removal after merging would leave it,
//! and join the report when their full node arrives.
//!
//! Each state records which nodes each merge touched ([`Lineage`]), so that a render of a
//! later version can take over what an earlier render made of the nodes that did not change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stormscope_shared::merge::fast_merge;
use stormscope_shared::model::Node;
use stormscope_shared::report_cache::report_time_ms;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::{Report, TopologyKind};

use crate::quanta::QUANTUM_MS;

/// A window merged: the report (part-merged nodes removed), the keys it holds, and the
/// part-merged nodes waiting for their full node.
#[derive(Clone, Debug, Default)]
struct Merged {
    report: Arc<Report>,
    lineage: Lineage,
    keys: HashSet<String>,
    parts: BTreeMap<(TopologyKind, String), Node>,
}

/// Which version of which merged state a report is, and which nodes each merge into that
/// state touched, so that what changed between two of its versions is known.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    /// Unique to one build of a tenant's state: merges never change it, a rebuild does.
    state: u64,
    /// Changes whenever the report does; unique across tenants and rebuilds.
    version: u64,
    /// The ids of the nodes each merge touched, by the version it made, oldest first. Versions
    /// from `since` on are known: `since` is the build's, or the oldest step's once steps
    /// beyond [`MAX_STEPS`] are forgotten.
    steps: Vec<(u64, Arc<NodeIds>)>,
    since: u64,
}

/// Steps of a lineage kept: a render older than this many merges has little left to take
/// over, and each step holds a report's node ids.
const MAX_STEPS: usize = 128;

/// Asking whether a node changed more steps than this merges them into one set first.
const MAX_SETS_PER_LOOKUP: usize = 4;

impl Lineage {
    fn built() -> Self {
        let version = next_version();
        Lineage {
            state: version,
            version,
            steps: Vec::new(),
            since: version,
        }
    }

    fn step(&mut self, touched: NodeIds) {
        self.version = next_version();
        self.steps.push((self.version, Arc::new(touched)));
        if self.steps.len() > MAX_STEPS {
            let (forgotten, _) = self.steps.remove(0);
            self.since = forgotten;
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn state(&self) -> u64 {
        self.state
    }

    /// The nodes that may differ between version `version` of state `state` and this one;
    /// `None` when that version is not a known ancestor of this one.
    pub fn changed_since(&self, state: u64, version: u64) -> Option<Changed> {
        if state != self.state || version < self.since || version > self.version {
            return None;
        }
        let sets: Vec<Arc<NodeIds>> = self
            .steps
            .iter()
            .filter(|(v, _)| *v > version)
            .map(|(_, ids)| ids.clone())
            .collect();
        if sets.len() <= MAX_SETS_PER_LOOKUP {
            return Some(Changed(sets));
        }
        let union = sets.iter().flat_map(|ids| ids.iter().cloned()).collect();
        Some(Changed(vec![Arc::new(union)]))
    }
}

/// The ids of the nodes that may have changed between two versions of a state.
#[derive(Clone, Debug, Default)]
pub struct Changed(Vec<Arc<NodeIds>>);

/// Node ids, hashed with foldhash: a render asks about every node of a large view, and
/// SipHash over long ids would cost more than the rest of the question. foldhash is seeded per
/// process, so a probe cannot choose ids that collide.
type NodeIds = foldhash::HashSet<String>;

impl Changed {
    pub fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|ids| ids.contains(id))
    }
}

impl Merged {
    fn build(reports: &[(String, Arc<Report>)]) -> Merged {
        let mut report = fast_merge(reports.iter().map(|(_, r)| r.as_ref()));
        let mut parts = BTreeMap::new();
        for (kind, topology) in report.topologies_mut() {
            topology.nodes.retain(|id, node| {
                let complete = !node.topology.is_empty();
                if !complete {
                    parts.insert((kind, id.clone()), node.clone());
                }
                complete
            });
        }
        Merged {
            report: Arc::new(report),
            lineage: Lineage::built(),
            keys: reports.iter().map(|(k, _)| k.clone()).collect(),
            parts,
        }
    }

    /// Merges one newer report in. Copies the merged report only if a query still reads it.
    fn absorb(&mut self, key: &str, incoming: &Report) {
        let report = Arc::make_mut(&mut self.report);
        // Every node the merge can touch is one of the incoming report's.
        let touched = incoming
            .topologies()
            .flat_map(|(_, t)| t.nodes.keys().cloned())
            .collect();
        let mut incoming = incoming.clone();
        let mut arrived = Vec::new();
        for (kind, topology) in incoming.topologies_mut() {
            let known = &report.topology(kind).nodes;
            topology.nodes.retain(|id, node| {
                if !node.topology.is_empty() {
                    arrived.push((kind, id.clone()));
                    return true;
                }
                if known.contains_key(id) {
                    return true;
                }
                match self.parts.get_mut(&(kind, id.clone())) {
                    Some(part) => part.merge(node),
                    None => {
                        self.parts.insert((kind, id.clone()), node.clone());
                    }
                }
                false
            });
        }
        report.merge(&incoming);
        report.id =
            stormscope_shared::merge::merged_id(format!("{}{}", report.id, incoming.id).as_bytes());
        for (kind, id) in arrived {
            if let Some(part) = self.parts.remove(&(kind, id.clone()))
                && let Some(node) = report.topology_mut(kind).nodes.get_mut(&id)
            {
                // The part is older than the full node that just arrived.
                let mut merged = part;
                merged.merge(node);
                *node = merged;
            }
        }
        self.keys.insert(key.to_owned());
        self.lineage.step(touched);
    }
}

fn next_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug, Default)]
struct TenantLive {
    merged: Mutex<Option<Merged>>,
    rebuilding: AtomicBool,
    last_used: Mutex<Option<Instant>>,
}

/// The live windows of the tenants queried lately.
#[derive(Debug, Default)]
pub struct LiveWindows {
    tenants: Mutex<HashMap<TenantId, Arc<TenantLive>>>,
}

/// Tenants not queried for this long lose their live state (and its memory).
const IDLE: Duration = Duration::from_secs(60);

impl LiveWindows {
    /// The merged window of `reports` (the current window of `tenant`, oldest first, starting
    /// at `start_ms`).
    pub fn merged(
        &self,
        tenant: &TenantId,
        reports: &[(String, Arc<Report>)],
        start_ms: i64,
    ) -> Arc<Report> {
        self.merged_versioned(tenant, reports, start_ms).0
    }

    /// As [`LiveWindows::merged`], with its lineage: a version that changes whenever the
    /// merged report does, so what is rendered from it can be cached under it, and what
    /// changed since earlier versions.
    pub fn merged_versioned(
        &self,
        tenant: &TenantId,
        reports: &[(String, Arc<Report>)],
        start_ms: i64,
    ) -> (Arc<Report>, Lineage) {
        let live = self.tenant(tenant);
        let mut guard = live.merged.lock().expect("live window lock");
        let current: HashSet<&str> = reports.iter().map(|(k, _)| k.as_str()).collect();
        let (held, stale, overdue) = guard.as_ref().map_or((0, 0, true), |m| {
            let gone: Vec<&String> = m
                .keys
                .iter()
                .filter(|k| !current.contains(k.as_str()))
                .collect();
            // Reports leave the window continuously; rebuilding for each would keep a core
            // merging. Like Scope's 3-second quanta, the answer may hold up to one quantum
            // of reports older than the window before they are dropped.
            let overdue = gone
                .iter()
                .any(|k| report_time_ms(k).is_none_or(|t| t < start_ms - QUANTUM_MS));
            (m.keys.len(), gone.len(), overdue)
        });
        if guard.is_none() || stale * 2 > held {
            *guard = Some(Merged::build(reports));
        } else if overdue && !live.rebuilding.swap(true, Ordering::AcqRel) {
            let live = live.clone();
            let reports = reports.to_vec();
            std::thread::spawn(move || {
                let rebuilt = Merged::build(&reports);
                *live.merged.lock().expect("live window lock") = Some(rebuilt);
                live.rebuilding.store(false, Ordering::Release);
            });
        }
        let merged = guard.as_mut().expect("built above");
        for (key, report) in reports {
            if !merged.keys.contains(key) {
                merged.absorb(key, report);
            }
        }
        (merged.report.clone(), merged.lineage.clone())
    }

    fn tenant(&self, tenant: &TenantId) -> Arc<TenantLive> {
        let now = Instant::now();
        let mut tenants = self.tenants.lock().expect("live tenants lock");
        tenants.retain(|_, live| {
            live.last_used
                .lock()
                .expect("last used lock")
                .is_some_and(|t| now.duration_since(t) < IDLE)
        });
        let live = tenants.entry(tenant.clone()).or_default().clone();
        *live.last_used.lock().expect("last used lock") = Some(now);
        live
    }
}

#[cfg(test)]
mod tests {
    use stormscope_shared::synth::{SynthSpec, generate};
    use stormscope_shared::{Limits, Timestamp, codec};

    use super::*;

    /// Reports keyed as the collector keys them, one second apart from `T0`.
    fn keyed(reports: Vec<Report>) -> Vec<(String, Arc<Report>)> {
        let tenant = TenantId::new("t").unwrap();
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let key =
                    stormscope_shared::keys::report_key(&tenant, T0 + i as i64 * 1000, "c", 0);
                (key, Arc::new(r))
            })
            .collect()
    }

    const T0: i64 = 1_764_162_000_000;

    /// The start of a window whose oldest report is report `first`.
    fn start(first: usize) -> i64 {
        T0 + first as i64 * 1000
    }

    fn from_scratch(reports: &[(String, Arc<Report>)]) -> Report {
        let mut report = fast_merge(reports.iter().map(|(_, r)| r.as_ref()));
        report.remove_part_merged_nodes();
        report
    }

    fn demo() -> Vec<Report> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/scope-probe");
        let mut reports = Vec::new();
        for n in 1..=7 {
            for host in ["hostB", "hostA"] {
                let kind = if n % 3 == 1 { "full" } else { "delta" };
                let body = std::fs::read(dir.join(format!("{host}-{n:02}-{kind}.msgpack.gz")));
                reports.push(codec::decode_sniffed(&body.unwrap(), &Limits::default()).unwrap());
            }
        }
        reports
    }

    #[test]
    fn absorbing_reports_one_by_one_equals_merging_them_at_once() {
        let reports = keyed(demo());
        let live = LiveWindows::default();
        let tenant = TenantId::new("t").unwrap();
        // Start with the first two, then add one report per query.
        for end in 2..=reports.len() {
            let ours = live.merged(&tenant, &reports[..end], start(0));
            let expected = from_scratch(&reports[..end]);
            for ((kind, a), (_, b)) in ours.topologies().zip(expected.topologies()) {
                assert_eq!(a.nodes, b.nodes, "{kind:?} after {end} reports");
            }
        }
    }

    #[test]
    fn a_delta_before_its_full_report_joins_it_when_the_full_arrives() {
        // Deltas first (their full report left the window), then the next full report.
        let demo = demo();
        let reports = keyed(vec![demo[3].clone(), demo[4].clone(), demo[6].clone()]);
        let live = LiveWindows::default();
        let tenant = TenantId::new("t").unwrap();
        let partial = live.merged(&tenant, &reports[..2], start(0));
        assert!(
            partial
                .topology(TopologyKind::Process)
                .nodes
                .values()
                .all(|n| !n.topology.is_empty()),
            "no part-merged node is rendered"
        );
        let full = live.merged(&tenant, &reports, start(0));
        assert_eq!(
            full.topology(TopologyKind::Process).nodes,
            from_scratch(&reports).topology(TopologyKind::Process).nodes
        );
    }

    #[test]
    fn reports_leaving_the_window_are_dropped_by_a_rebuild() {
        let tenant = TenantId::new("t").unwrap();
        let reports = keyed(
            (0..6)
                .map(|host| {
                    let mut spec = SynthSpec::probe(host, host as usize, 6);
                    spec.processes_per_host = 5;
                    spec.connections_per_host = 5;
                    spec.ts = Timestamp::from_unix_millis(1_764_162_000_000);
                    generate(&spec)
                })
                .collect(),
        );
        let live = LiveWindows::default();
        live.merged(&tenant, &reports, start(0));
        // Most of the window left it: rebuilt before answering.
        let answer = live.merged(&tenant, &reports[4..], start(4));
        assert_eq!(answer.topology(TopologyKind::Host).nodes.len(), 2);
        let now = live.merged(&tenant, &reports[..], start(0));
        assert_eq!(now.topology(TopologyKind::Host).nodes.len(), 6);
        // One report just left: kept for up to a quantum rather than rebuilding at once.
        let kept = live.merged(&tenant, &reports[1..], start(1));
        assert_eq!(kept.topology(TopologyKind::Host).nodes.len(), 6);
        // More than a quantum past the window: answered at once, rebuilt in the background.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hosts = live
                .merged(&tenant, &reports[1..], start(5))
                .topology(TopologyKind::Host)
                .nodes
                .len();
            if hosts == 5 {
                break;
            }
            assert!(Instant::now() < deadline, "rebuild never landed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn tenants_do_not_share_live_state() {
        let reports = keyed(demo());
        let live = LiveWindows::default();
        let a = live.merged(&TenantId::new("a").unwrap(), &reports, start(0));
        let b = live.merged(&TenantId::new("b").unwrap(), &[], start(0));
        assert!(!a.topology(TopologyKind::Host).nodes.is_empty());
        assert!(b.topology(TopologyKind::Host).nodes.is_empty());
    }
}
