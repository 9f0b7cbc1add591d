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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::merge::fast_merge;
use stormscope_shared::model::Node;
use stormscope_shared::report_cache::report_time_ms;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::{Format, Limits, Report, TopologyKind};

use crate::first_answer;
use crate::quanta::QUANTUM_MS;
use crate::render::parallel::{join, par_map_heavy};

/// A window merged: the report (part-merged nodes removed), the keys it holds, and the
/// part-merged nodes waiting for their full node.
#[derive(Clone, Debug, Default)]
struct Merged {
    report: Arc<Report>,
    lineage: Lineage,
    keys: HashSet<String>,
    parts: BTreeMap<(TopologyKind, String), Node>,
    /// Set on a tenant's first answer, made from the newest reports alone until the whole
    /// window is merged: the reports older than this are not in it.
    partial_from: Option<i64>,
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

    /// Every id that may have changed, some more than once.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|ids| ids.iter().map(String::as_str))
    }
}

impl Merged {
    fn build(reports: &[(String, Arc<Report>)]) -> Merged {
        let report = fast_merge(reports.iter().map(|(_, r)| r.as_ref()));
        Self::from_merged(report, reports.iter().map(|(k, _)| k.clone()).collect())
    }

    /// As [`Merged::build`] from stored bodies, decoded on every core and merged in order (see
    /// [`MergedPart::of`]). Bodies that do not decode are left out, as missing reports are.
    fn build_from_bodies(bodies: &[(String, Bytes)], limits: &Limits) -> Merged {
        Self::build_from_bodies_on(bodies, limits, Cores::All)
    }

    /// As [`Merged::build_from_bodies`], on every core or on this thread alone.
    fn build_from_bodies_on(bodies: &[(String, Bytes)], limits: &Limits, cores: Cores) -> Merged {
        MergedPart::of(bodies, limits, cores).into_merged()
    }

    fn from_merged(mut report: Report, keys: HashSet<String>) -> Merged {
        let mut parts = BTreeMap::new();
        for (kind, topology) in report.topologies_mut() {
            topology.nodes.retain(|id, node| {
                let complete = !node.is_part_merged();
                if !complete {
                    parts.insert((kind, id.clone()), node.clone());
                }
                complete
            });
        }
        Merged {
            report: Arc::new(report),
            lineage: Lineage::built(),
            keys,
            parts,
            partial_from: None,
        }
    }

    /// Merges one newer report in. Copies the merged report only if a query still reads it.
    fn absorb(&mut self, key: &str, mut incoming: Report) {
        let report = Arc::make_mut(&mut self.report);
        // Every node the merge can touch is one of the incoming report's.
        let touched = incoming
            .topologies()
            .flat_map(|(_, t)| t.nodes.keys().cloned())
            .collect();
        let mut arrived = Vec::new();
        for (kind, topology) in incoming.topologies_mut() {
            let known = &report.topology(kind).nodes;
            topology.nodes.retain(|id, node| {
                if !node.is_part_merged() {
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
        report.id =
            stormscope_shared::merge::merged_id(format!("{}{}", report.id, incoming.id).as_bytes());
        report.merge_owned(incoming);
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

/// Consecutive reports of a window merged (what `fast_merge` does), with their ids in order
/// and their keys.
struct MergedPart {
    report: Report,
    ids: Vec<u8>,
    keys: HashSet<String>,
}

impl MergedPart {
    /// `bodies` decoded and merged in order. On every core, a few bodies are decoded at a
    /// time, one per core, and merged here as they come: merging moves a decoded report's
    /// nodes in, so the decoded reports become the merged one and the window is never held
    /// twice. (Merging parts of the window on each core, then the parts, cost more: merging
    /// two large parts is slow, and one core waited for the other's larger part.)
    fn of<'a>(bodies: &'a [(String, Bytes)], limits: &Limits, cores: Cores) -> Self {
        let mut part = MergedPart::empty();
        match cores {
            Cores::All => {
                let decode = |chunk: &'a [(String, Bytes)]| {
                    let reports =
                        par_map_heavy(chunk, |(key, body)| decode_body(key, body, limits));
                    (chunk, reports)
                };
                let mut chunks = bodies.chunks(DECODED_AT_ONCE);
                let mut decoded = chunks.next().map(decode);
                while let Some((chunk, reports)) = decoded.take() {
                    // This chunk is merged on one core while the next is decoded on the rest.
                    let next = chunks.next();
                    decoded = join(|| part.add_all(chunk, reports), || next.map(decode)).1;
                }
            }
            Cores::This => {
                for (key, body) in bodies {
                    part.add(key, decode_body(key, body, limits));
                }
            }
        }
        part
    }

    fn empty() -> Self {
        MergedPart {
            report: Report::make(),
            ids: Vec::new(),
            keys: HashSet::new(),
        }
    }

    /// The next report of the window, when it decoded.
    fn add(&mut self, key: &str, decoded: Option<Report>) {
        if let Some(report) = decoded {
            self.ids.extend_from_slice(report.id.as_bytes());
            self.keys.insert(key.to_owned());
            self.report.merge_owned(report);
        }
    }

    fn add_all(&mut self, bodies: &[(String, Bytes)], decoded: Vec<Option<Report>>) {
        for ((key, _), report) in bodies.iter().zip(decoded) {
            self.add(key, report);
        }
    }

    fn into_merged(mut self) -> Merged {
        self.report.id = stormscope_shared::merge::merged_id(&self.ids);
        Merged::from_merged(self.report, self.keys)
    }
}

/// Reports a build on every core decodes before merging them: a few per core, so cores that
/// finish early take another, while the decoded reports waiting stay a few megabytes.
const DECODED_AT_ONCE: usize = 16;

/// Where a build decodes: on every core when a query waits for it, on the calling thread
/// alone in the background, where it must leave the cores to the queries.
#[derive(Clone, Copy, Debug)]
enum Cores {
    All,
    This,
}

/// Runs background rebuilds, one at a time, on one long-lived thread at a lower CPU priority
/// (nice 10): a rebuild decodes the whole window, and queries going on meanwhile come first.
/// One thread rather than one per rebuild also keeps the allocator's heaps from being
/// abandoned with every rebuild while the state they hold lives on.
fn in_background(job: impl FnOnce() + Send + 'static) {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("live-rebuild".into())
            .spawn(move || {
                lower_this_threads_priority();
                for job in receive {
                    // A rebuild that panics must not take the thread, and every later
                    // rebuild, with it.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a live window rebuild panicked");
                    }
                }
            })
            .expect("the rebuild thread starts");
        Mutex::new(send)
    });
    queue
        .lock()
        .expect("rebuild queue lock")
        .send(Box::new(job))
        .expect("the rebuild thread runs as long as the process");
}

fn lower_this_threads_priority() {
    // SAFETY: setpriority and gettid take no pointers; on Linux a thread id names one thread.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if result != 0 {
        tracing::debug!("rebuilds run at normal priority: setpriority failed");
    }
}

fn next_version() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug, Default)]
struct TenantLive {
    merged: Mutex<Option<Merged>>,
    /// The merged report's estimated bytes, taken when it was built.
    merged_bytes: AtomicUsize,
    /// The window's reports as stored (gzip msgpack), by key: what rebuilds decode.
    bodies: Mutex<HashMap<String, Bytes>>,
    rebuilding: AtomicBool,
    last_used: Mutex<Option<Instant>>,
}

impl TenantLive {
    fn bytes(&self) -> usize {
        let bodies: usize = self
            .bodies
            .lock()
            .expect("live bodies lock")
            .iter()
            .map(|(k, b)| k.len() + b.len() + 64)
            .sum();
        self.merged_bytes.load(Ordering::Relaxed) + bodies
    }

    /// Whether the state holds only the newest part of the window (a first answer).
    fn is_partial(&self) -> bool {
        let guard = self.merged.lock().expect("live window lock");
        guard.as_ref().is_some_and(|m| m.partial_from.is_some())
    }

    fn last_used(&self) -> Instant {
        self.last_used
            .lock()
            .expect("last used lock")
            .unwrap_or_else(Instant::now)
    }

    fn used_within(&self, now: Instant, idle: Duration) -> bool {
        self.last_used
            .lock()
            .expect("last used lock")
            .is_some_and(|t| now.duration_since(t) < idle)
    }

    /// Installs a freshly built state, noting its size.
    fn install(&self, guard: &mut Option<Merged>, merged: Merged) {
        self.merged_bytes
            .store(crate::size::report(&merged.report), Ordering::Relaxed);
        *guard = Some(merged);
    }
}

/// Brings a tenant's live state up to the window whose reports are `keys` (oldest first,
/// starting at `start_ms`): built anew (`build`) when there is none or most of it left the
/// window; rebuilt in the background (`rebuild`) once reports a quantum past the window are
/// still in it; then the reports it lacks merged in (`absorb_new`).
fn advance(
    live: &Arc<TenantLive>,
    keys: &[&str],
    start_ms: i64,
    build: impl FnOnce() -> Merged,
    rebuild: impl FnOnce() -> Merged + Send + 'static,
    absorb_new: impl FnOnce(&mut Merged),
) -> (Arc<Report>, Lineage) {
    let mut guard = live.merged.lock().expect("live window lock");
    let current: HashSet<&str> = keys.iter().copied().collect();
    let (held, stale, overdue) = guard.as_ref().map_or((0, 0, true), |m| {
        let gone: Vec<&String> = m
            .keys
            .iter()
            .filter(|k| !current.contains(k.as_str()))
            .collect();
        // Reports leave the window continuously; rebuilding for each would keep a core
        // merging. Like Scope's 3-second quanta, the answer may hold up to one quantum of
        // reports older than the window before they are dropped.
        let overdue = gone
            .iter()
            .any(|k| report_time_ms(k).is_none_or(|t| t < start_ms - QUANTUM_MS));
        (m.keys.len(), gone.len(), overdue)
    });
    if guard.is_none() || stale * 2 > held {
        live.install(&mut guard, build());
    } else if overdue {
        rebuild_in_background(live, rebuild);
    }
    let merged = guard.as_mut().expect("built above");
    absorb_new(merged);
    (merged.report.clone(), merged.lineage.clone())
}

/// A tenant's first answer, from the reports of its window that [`first_answer::chosen`]
/// picks (`keys` is the whole window, oldest first; `stashed` the bodies held of it), kept as
/// the tenant's state until the tenant's next query has the whole window merged (see
/// [`LiveWindows::merged_from_bodies`]); `None` when the tenant has a state already, or the
/// window is small enough to merge at once.
fn first_answer(
    live: &Arc<TenantLive>,
    keys: &[String],
    stashed: &[(String, Bytes)],
    limits: &Limits,
) -> Option<(Arc<Report>, Lineage, bool)> {
    let mut guard = live.merged.lock().expect("live window lock");
    if guard.is_some() {
        return None;
    }
    let stashed: HashMap<&str, &Bytes> = stashed.iter().map(|(k, b)| (k.as_str(), b)).collect();
    let chosen: Vec<(String, Bytes)> = first_answer::chosen(keys)?
        .into_iter()
        .filter_map(|at| Some((keys[at].clone(), (*stashed.get(keys[at].as_str())?).clone())))
        .collect();
    let newest = keys.iter().filter_map(|k| report_time_ms(k)).max()?;
    let started = std::time::Instant::now();
    let mut merged = MergedPart::of(&chosen, limits, Cores::All).into_merged();
    tracing::debug!(
        chosen = chosen.len(),
        window = keys.len(),
        merge_ms = started.elapsed().as_secs_f64() * 1e3,
        "a first answer merged a choice of the window"
    );
    // The reports of the window as it is now that were not chosen wait for the whole window's
    // merge; until it lands, only later ones are merged in.
    merged.partial_from = Some(newest + 1);
    let answer = (merged.report.clone(), merged.lineage.clone(), true);
    live.install(&mut guard, merged);
    Some(answer)
}

/// Installs what `rebuild` makes as the tenant's state, unless a rebuild is under way: in the
/// background, one at a time (see [`in_background`]).
fn rebuild_in_background(
    live: &Arc<TenantLive>,
    rebuild: impl FnOnce() -> Merged + Send + 'static,
) {
    if live.rebuilding.swap(true, Ordering::AcqRel) {
        return;
    }
    let live = live.clone();
    in_background(move || {
        let rebuilt = rebuild();
        let mut guard = live.merged.lock().expect("live window lock");
        live.install(&mut guard, rebuilt);
        live.rebuilding.store(false, Ordering::Release);
    });
}

/// A stored body decoded; `None` (and logged) for one that does not decode.
fn decode_body(key: &str, body: &[u8], limits: &Limits) -> Option<Report> {
    match codec::decode(body, Compression::Gzip, Format::Msgpack, limits) {
        Ok(report) => Some(report),
        Err(e) => {
            tracing::debug!(key, error = %e, "stored report does not decode; treated as missing");
            None
        }
    }
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
        let keys: Vec<&str> = reports.iter().map(|(k, _)| k.as_str()).collect();
        let owned = reports.to_vec();
        advance(
            &live,
            &keys,
            start_ms,
            || Merged::build(reports),
            move || Merged::build(&owned),
            |merged| {
                for (key, report) in reports {
                    if !merged.keys.contains(key) {
                        merged.absorb(key, Report::clone(report));
                    }
                }
            },
        )
    }

    /// Whether `tenant` has a merged state: if not, its next answer is a first answer, for which
    /// a read fetches only the bodies [`first_answer::chosen`] picks.
    pub fn has_state(&self, tenant: &TenantId) -> bool {
        let live = self
            .tenants
            .lock()
            .expect("live tenants lock")
            .get(tenant)
            .cloned();
        live.is_some_and(|live| live.merged.lock().expect("live window lock").is_some())
    }

    /// The keys of the reports whose stored bodies `tenant`'s live state holds: a read of its
    /// window need not fetch them again.
    pub fn held(&self, tenant: &TenantId) -> HashSet<String> {
        let Some(live) = self
            .tenants
            .lock()
            .expect("live tenants lock")
            .get(tenant)
            .cloned()
        else {
            return HashSet::new();
        };
        let bodies = live.bodies.lock().expect("live bodies lock");
        bodies.keys().cloned().collect()
    }

    /// As [`LiveWindows::merged_versioned`], from stored bodies: `keys` are the window's
    /// reports, oldest first, and `fresh` the bodies of those the state did not hold yet. The
    /// state keeps the window's bodies as stored (compressed, a few kilobytes each) rather than
    /// decoded: a merge decodes only the reports it adds, and a rebuild decodes the window a
    /// chunk at a time.
    ///
    /// A tenant's first query does not wait for its whole window: when there is no state and
    /// the window holds more than [`first_answer::FIRST_ANSWER_MIN`] reports, it is answered
    /// from each probe's newest full report and what came after it (see
    /// [`first_answer::chosen`]: every node is there and current, with fewer metric samples).
    /// Its `fresh` bodies need only be those. The tenant's next query starts the whole window's
    /// merge in the background, and answers say they are partial until it lands: the third
    /// value.
    pub fn merged_from_bodies(
        &self,
        tenant: &TenantId,
        keys: &[String],
        fresh: Vec<(String, Bytes)>,
        start_ms: i64,
        limits: &Limits,
    ) -> (Arc<Report>, Lineage, bool) {
        let live = self.tenant(tenant);
        let current: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let bodies: Vec<(String, Bytes)> = {
            let mut stash = live.bodies.lock().expect("live bodies lock");
            stash.extend(fresh);
            stash.retain(|k, _| current.contains(k.as_str()));
            keys.iter()
                .filter_map(|k| Some((k.clone(), stash.get(k)?.clone())))
                .collect()
        };
        if let Some(answer) = first_answer(&live, keys, &bodies, limits) {
            return answer;
        }
        // Started by the query after the first answer rather than by the first answer itself,
        // so that this merge, which keeps a core busy for most of a second, does not compete
        // with the first answer's render and JSON. Only once every body of the window is held:
        // a query that raced the first answer may have fetched only the chosen ones.
        if live.is_partial() && bodies.len() == keys.len() {
            let (whole, limits) = (bodies.clone(), limits.clone());
            rebuild_in_background(&live, move || {
                Merged::build_from_bodies_on(&whole, &limits, Cores::This)
            });
        }
        let held: Vec<&str> = bodies.iter().map(|(k, _)| k.as_str()).collect();
        let owned = bodies.clone();
        let background_limits = limits.clone();
        let mut partial = false;
        let (report, lineage) = advance(
            &live,
            &held,
            start_ms,
            || Merged::build_from_bodies(&bodies, limits),
            move || Merged::build_from_bodies_on(&owned, &background_limits, Cores::This),
            |merged| {
                partial = merged.partial_from.is_some();
                for (key, body) in &bodies {
                    let older = merged
                        .partial_from
                        .is_some_and(|from| report_time_ms(key).is_none_or(|t| t < from));
                    if !older
                        && !merged.keys.contains(key)
                        && let Some(report) = decode_body(key, body, limits)
                    {
                        merged.absorb(key, report);
                    }
                }
            },
        );
        (report, lineage, partial)
    }

    /// The bytes the live windows hold (their merged reports, estimated when built, and their
    /// stored bodies), recorded for `/metrics`.
    pub fn bytes(&self) -> usize {
        let tenants = self.tenants.lock().expect("live tenants lock");
        tenants.values().map(|live| live.bytes()).sum()
    }

    /// Drops the live state of tenants not queried for `IDLE`, and of the least recently
    /// queried ones while the rest hold more than `budget` bytes. Run on a timer as well as on
    /// queries, so an idle app gives its memory back.
    pub fn evict(&self, budget: usize) -> usize {
        let now = Instant::now();
        let mut tenants = self.tenants.lock().expect("live tenants lock");
        tenants.retain(|_, live| live.used_within(now, IDLE));
        let mut by_age: Vec<(Instant, TenantId, usize)> = tenants
            .iter()
            .map(|(id, live)| (live.last_used(), id.clone(), live.bytes()))
            .collect();
        by_age.sort_by_key(|(at, _, _)| std::cmp::Reverse(*at));
        let mut total = 0;
        for (_, id, bytes) in by_age {
            total += bytes;
            // The most recently queried tenant always keeps its state.
            if total > budget && total != bytes {
                tenants.remove(&id);
                total -= bytes;
            }
        }
        crate::budget::Cache::LiveWindows.record(total);
        total
    }

    fn tenant(&self, tenant: &TenantId) -> Arc<TenantLive> {
        let now = Instant::now();
        let mut tenants = self.tenants.lock().expect("live tenants lock");
        tenants.retain(|_, live| live.used_within(now, IDLE));
        let live = tenants.entry(tenant.clone()).or_default().clone();
        *live.last_used.lock().expect("last used lock") = Some(now);
        live
    }
}

#[cfg(test)]
mod tests {
    use stormscope_shared::Timestamp;
    use stormscope_shared::synth::{SynthSpec, generate};

    use super::*;

    /// Reports keyed as the collector keys them, one second apart from `T0`.
    fn keyed(reports: Vec<Report>) -> Vec<(String, Arc<Report>)> {
        let tenant = TenantId::new("t").unwrap();
        reports
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let key = stormscope_shared::keys::report_key(
                    &tenant,
                    T0 + i as i64 * 1000,
                    "c",
                    0,
                    None,
                );
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
                .all(|n| !n.is_part_merged()),
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

    fn stored(reports: &[(String, Arc<Report>)]) -> Vec<(String, Bytes)> {
        reports
            .iter()
            .map(|(k, r)| {
                let body = codec::encode(r, Format::Msgpack, Compression::Gzip);
                (k.clone(), Bytes::from(body))
            })
            .collect()
    }

    #[test]
    fn merging_stored_bodies_equals_merging_decoded_reports() {
        let reports = keyed(demo());
        let bodies = stored(&reports);
        let keys: Vec<String> = reports.iter().map(|(k, _)| k.clone()).collect();
        let live = LiveWindows::default();
        let tenant = TenantId::new("t").unwrap();
        let limits = Limits::default();
        // Built from the first seven, then one new body per query.
        live.merged_from_bodies(&tenant, &keys[..7], bodies[..7].to_vec(), start(0), &limits);
        for end in 8..=keys.len() {
            let held = live.held(&tenant);
            assert_eq!(held.len(), end - 1, "the state holds what it merged");
            let fresh: Vec<_> = bodies[..end]
                .iter()
                .filter(|(k, _)| !held.contains(k))
                .cloned()
                .collect();
            assert_eq!(fresh.len(), 1);
            let (ours, _, partial) =
                live.merged_from_bodies(&tenant, &keys[..end], fresh, start(0), &limits);
            assert!(!partial, "a window this small is merged at once");
            let expected = from_scratch(&reports[..end]);
            for ((kind, a), (_, b)) in ours.topologies().zip(expected.topologies()) {
                assert_eq!(a.nodes, b.nodes, "{kind:?} after {end} reports");
            }
        }
        // Built at once, a chunk at a time, it is the same again.
        let rebuilt = Merged::build_from_bodies(&bodies, &limits);
        let expected = from_scratch(&reports);
        for ((kind, a), (_, b)) in rebuilt.report.topologies().zip(expected.topologies()) {
            assert_eq!(a.nodes, b.nodes, "{kind:?} rebuilt");
        }
        assert!(live.bytes() > 0);
    }

    #[test]
    fn a_first_answer_comes_from_the_newest_quanta_then_the_whole_window() {
        let tenant = TenantId::new("t").unwrap();
        // 100 hosts reporting 100 ms apart, with no probe named in their keys: the first
        // answer reaches back three quanta (9 s), which hold the last 90.
        let reports: Vec<(String, Arc<Report>)> = (0..100)
            .map(|host| {
                let mut spec = SynthSpec::probe(host, host as usize, 100);
                spec.processes_per_host = 2;
                spec.connections_per_host = 2;
                spec.ts = Timestamp::from_unix_millis(T0);
                let key = stormscope_shared::keys::report_key(
                    &tenant,
                    T0 + host as i64 * 100,
                    "c",
                    0,
                    None,
                );
                (key, Arc::new(generate(&spec)))
            })
            .collect();
        let bodies = stored(&reports);
        let keys: Vec<String> = reports.iter().map(|(k, _)| k.clone()).collect();
        let live = LiveWindows::default();
        let limits = Limits::default();
        let (first, _, partial) =
            live.merged_from_bodies(&tenant, &keys, bodies.clone(), T0, &limits);
        assert!(partial, "the first answer says it is partial");
        let hosts = first.topology(TopologyKind::Host).nodes.len();
        assert!(
            (89..=91).contains(&hosts),
            "the newest quanta's hosts: {hosts}"
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (now, _, partial) =
                live.merged_from_bodies(&tenant, &keys, Vec::new(), T0, &limits);
            if !partial {
                assert_eq!(now.topology(TopologyKind::Host).nodes.len(), 100);
                break;
            }
            assert_eq!(
                now.topology(TopologyKind::Host).nodes.len(),
                hosts,
                "older reports wait for the whole window's merge"
            );
            assert!(Instant::now() < deadline, "the whole window never landed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_first_answer_reaches_back_to_the_full_reports_its_deltas_need() {
        for tagged in [true, false] {
            first_answer_of_staggered_probes(tagged);
        }
    }

    fn first_answer_of_staggered_probes(tagged: bool) {
        use stormscope_shared::report_kind::ReportTag;
        let tenant = TenantId::new("t").unwrap();
        // 40 probes, each publishing once a quantum for four quanta, a full report every
        // third time as Scope's do, at staggered points of the cycle: in the newest quantum
        // most probes send a delta, whose process nodes wait for an older full report.
        let mut reports: Vec<(String, Arc<Report>)> = Vec::new();
        for host in 0..40 {
            let mut spec = SynthSpec::probe(host, host as usize, 40);
            spec.processes_per_host = 2;
            spec.connections_per_host = 2;
            spec.ts = Timestamp::from_unix_millis(T0);
            let cycle = stormscope_shared::synth::full_and_deltas(&spec);
            for quantum in 0..4 {
                let at = T0 + quantum * QUANTUM_MS + host as i64 * 10;
                let report = cycle[(quantum as usize + host as usize) % 3].clone();
                let tag = ReportTag::new(&format!("probe-{host}"), report.kind());
                let key = stormscope_shared::keys::report_key(
                    &tenant,
                    at,
                    "c",
                    0,
                    tagged.then_some(&tag),
                );
                reports.push((key, Arc::new(report)));
            }
        }
        reports.sort_by_key(|(k, _)| report_time_ms(k));
        let whole = from_scratch(&reports);
        let keys: Vec<String> = reports.iter().map(|(k, _)| k.clone()).collect();
        let live = LiveWindows::default();
        let (first, _, partial) =
            live.merged_from_bodies(&tenant, &keys, stored(&reports), T0, &Limits::default());
        assert!(partial, "the first answer says it is partial");
        for kind in [TopologyKind::Host, TopologyKind::Process] {
            let ids = |r: &Report| r.topology(kind).nodes.keys().cloned().collect::<Vec<_>>();
            assert_eq!(ids(&first), ids(&whole), "{kind:?}: every probe's nodes");
        }
        let processes = first.topology(TopologyKind::Process).nodes.len();
        assert_eq!(processes, 80, "each probe's two processes");
        let merged = live
            .tenant(&tenant)
            .merged
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .keys
            .len();
        // Named probes: each one's newest full report, and its newest delta when it ended on
        // one (the 26 whose number is not a multiple of 3); otherwise the newest three quanta.
        let expected = if tagged { 40 + 26 } else { 120 };
        assert_eq!(merged, expected, "reports merged for the first answer");
        let (_, _, partial) =
            live.merged_from_bodies(&tenant, &keys, Vec::new(), T0, &Limits::default());
        assert!(partial, "the next answer still waits for the whole window");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (now, _, partial) =
                live.merged_from_bodies(&tenant, &keys, Vec::new(), T0, &Limits::default());
            if !partial {
                for (kind, t) in now.topologies() {
                    assert_eq!(t.nodes, whole.topology(kind).nodes, "{kind:?} whole");
                }
                break;
            }
            assert!(Instant::now() < deadline, "the whole window never landed");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn live_windows_beyond_their_budget_go_least_recently_used_first() {
        let reports = keyed(demo());
        let bodies = stored(&reports);
        let keys: Vec<String> = reports.iter().map(|(k, _)| k.clone()).collect();
        let live = LiveWindows::default();
        let limits = Limits::default();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        live.merged_from_bodies(&a, &keys, bodies.clone(), start(0), &limits);
        std::thread::sleep(Duration::from_millis(5));
        live.merged_from_bodies(&b, &keys, bodies, start(0), &limits);
        let both = live.bytes();
        assert_eq!(
            live.evict(usize::MAX),
            both,
            "within the budget nothing goes"
        );
        let kept = live.evict(1);
        assert!(kept < both && kept > 0, "one tenant kept: {kept} of {both}");
        assert!(live.held(&a).is_empty(), "the least recently used went");
        assert_eq!(
            live.held(&b).len(),
            keys.len(),
            "the latest stays, even over budget"
        );
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
