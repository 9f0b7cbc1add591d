//! Each tenant's summaries' heads from its latest live render of each view that takes them
//! over (see [`crate::render::Reuse`]), so that the next render of a later version of the same
//! live state summarises only the nodes that changed in between. Keyed by tenant: no render
//! ever takes over another tenant's heads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stormscope_shared::Report;
use stormscope_shared::tenancy::TenantId;

use crate::live::Lineage;
use crate::render::{self, EndpointIndex, Frame, Options, Rendered, Reuse, SharedHead};

/// Heads not used for this long are dropped (and their memory with them).
const IDLE: Duration = Duration::from_secs(60);

pub struct KeptHeads {
    entries: Mutex<HashMap<(TenantId, String), Arc<Kept>>>,
    /// The bytes all tenants' kept heads may hold (estimated, see [`crate::size::heads`]).
    budget: usize,
}

impl Default for KeptHeads {
    /// Unbounded but for idle time.
    fn default() -> Self {
        KeptHeads::new(usize::MAX)
    }
}

/// One view's heads, in id order, and its endpoint index, as rendered from one version of a
/// tenant's live state.
struct Kept {
    state: u64,
    version: u64,
    frame: Frame,
    heads: Vec<SharedHead>,
    /// Taken by the next render, which brings it up to its version. Renders of one tenant
    /// can overlap: the one that finds it gone makes a new one.
    index: Mutex<Option<EndpointIndex>>,
    bytes: usize,
    at: Instant,
}

impl Kept {
    fn take_index(&self) -> Option<EndpointIndex> {
        self.index.lock().expect("kept index lock").take()
    }
}

impl KeptHeads {
    /// Kept heads of at most `budget` bytes: beyond it, the least recently rendered views'
    /// heads go first (their next render summarises every node again).
    pub fn new(budget: usize) -> Self {
        KeptHeads {
            entries: Mutex::default(),
            budget,
        }
    }

    /// Renders `view` of a tenant's window with `options`: a live window (one with a lineage)
    /// takes over the heads of the nodes unchanged since the tenant's latest render of the
    /// view, and keeps this render's heads for the next. `None` for an unknown view.
    pub fn render(
        &self,
        tenant: &TenantId,
        report: &Report,
        lineage: Option<&Lineage>,
        view: &str,
        options: &Options,
    ) -> Option<Rendered> {
        let (Some(lineage), Some(frame)) = (lineage, Frame::of(report, view)) else {
            return render::render_with(report, view, options);
        };
        let key = (tenant.clone(), view.to_owned());
        let kept = self.lock().get(&key).cloned();
        let changed = kept
            .as_ref()
            .filter(|k| k.frame == frame)
            .and_then(|k| Some((k, lineage.changed_since(k.state, k.version)?)));
        let is_changed = |id: &str| changed.as_ref().is_none_or(|(_, c)| c.contains(id));
        // With nothing to take over, the render still makes what the next one will.
        let reuse = match &changed {
            Some((kept, changed)) => Reuse::new(&kept.heads, &is_changed)
                .with_index(kept.take_index(), changed.ids().collect()),
            None => Reuse::new(&[], &is_changed),
        };
        let (rendered, heads) = render::render_reusing(report, view, options, Some(&reuse))?;
        let taken = reuse.taken();
        count("taken", taken);
        count("made", heads.len().saturating_sub(taken));
        let index = reuse.into_index();
        let mut entries = self.lock();
        entries.retain(|_, k| k.at.elapsed() < IDLE);
        // Renders of one tenant can overlap; the newest version is the one to build on.
        let newer = entries
            .get(&key)
            .is_none_or(|k| k.version < lineage.version());
        if newer {
            let kept = Kept {
                state: lineage.state(),
                version: lineage.version(),
                frame,
                bytes: crate::size::heads(&heads) + index.as_ref().map_or(0, EndpointIndex::bytes),
                heads,
                index: Mutex::new(index),
                at: Instant::now(),
            };
            entries.insert(key.clone(), Arc::new(kept));
        }
        let total = within_budget(&mut entries, tenant, self.budget);
        crate::budget::Cache::KeptHeads.record(total);
        Some(rendered)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(TenantId, String), Arc<Kept>>> {
        self.entries.lock().expect("kept heads lock")
    }
}

/// Drops other tenants' least recently rendered views' heads while all hold more than
/// `budget` bytes; returns what the rest hold. The tenant just rendered keeps all of its own,
/// even over the budget: its views alternate (hosts, then processes), and each must find its
/// heads on its next render.
fn within_budget(
    entries: &mut HashMap<(TenantId, String), Arc<Kept>>,
    keep: &TenantId,
    budget: usize,
) -> usize {
    let mut total: usize = entries.values().map(|k| k.bytes).sum();
    while total > budget {
        let Some(oldest) = entries
            .iter()
            .filter(|((tenant, _), _)| tenant != keep)
            .min_by_key(|(_, kept)| kept.at)
            .map(|(key, _)| key.clone())
        else {
            break;
        };
        total -= entries.remove(&oldest).map_or(0, |k| k.bytes);
    }
    total
}

fn count(result: &'static str, summaries: usize) {
    metrics::counter!("stormscope_app_summaries_total", "result" => result)
        .increment(summaries as u64);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use stormscope_shared::synth::{SynthSpec, generate};
    use stormscope_shared::{Timestamp, TopologyKind};

    use super::*;
    use crate::live::LiveWindows;

    const T0: i64 = 1_764_162_000_000;

    /// `rounds` reports of each of `hosts` probes, one every 100 ms, keyed as the collector
    /// keys them.
    fn reports(hosts: usize, rounds: usize) -> Vec<(String, Arc<Report>)> {
        let tenant = TenantId::new("t").unwrap();
        let mut out = Vec::new();
        for round in 0..rounds {
            for host in 0..hosts {
                let ts = T0 + ((round * hosts + host) * 100) as i64;
                let mut spec = SynthSpec::probe(host as u64, host, hosts);
                spec.processes_per_host = 20;
                spec.connections_per_host = 30;
                spec.ts = Timestamp::from_unix_millis(ts);
                let key = stormscope_shared::keys::report_key(&tenant, ts, "c", 0, None);
                out.push((key, Arc::new(generate(&spec))));
            }
        }
        out
    }

    fn kept_render(
        kept: &KeptHeads,
        tenant: &TenantId,
        report: &Report,
        lineage: &Lineage,
        view: &str,
    ) -> bool {
        kept.render(tenant, report, Some(lineage), view, &Options::default())
            .is_some()
    }

    #[test]
    fn heads_beyond_their_budget_go_least_recently_rendered_first() {
        let reports = reports(2, 1);
        let live = LiveWindows::default();
        let options = Options::default();
        let (a, b) = (TenantId::new("a").unwrap(), TenantId::new("b").unwrap());
        let (report_a, lineage_a) = live.merged_versioned(&a, &reports, T0);
        let (report_b, lineage_b) = live.merged_versioned(&b, &reports, T0);
        let render = |kept: &KeptHeads, tenant: &TenantId| {
            let (report, lineage) = if *tenant == a {
                (&report_a, &lineage_a)
            } else {
                (&report_b, &lineage_b)
            };
            kept.render(tenant, report, Some(lineage), "processes", &options)
                .unwrap();
        };
        let unbounded = KeptHeads::default();
        render(&unbounded, &a);
        let one = unbounded.lock().values().map(|k| k.bytes).sum::<usize>();
        assert!(one > 0, "kept heads are weighed");
        // Room for one tenant's heads: the other's go, the latest render's stay.
        let kept = KeptHeads::new(one + one / 2);
        render(&kept, &a);
        std::thread::sleep(Duration::from_millis(2));
        render(&kept, &b);
        let tenants: Vec<TenantId> = kept.lock().keys().map(|(t, _)| t.clone()).collect();
        assert_eq!(tenants, std::slice::from_ref(&b));
        let tiny = KeptHeads::new(1);
        render(&tiny, &a);
        assert!(kept_render(&tiny, &a, &report_a, &lineage_a, "hosts"));
        assert_eq!(
            tiny.lock().len(),
            2,
            "the latest tenant's heads stay over budget, for each of its views"
        );
    }

    #[test]
    fn renders_taking_over_heads_equal_renders_from_scratch() {
        let reports = reports(4, 3);
        let live = LiveWindows::default();
        let kept = KeptHeads::default();
        let tenant = TenantId::new("t").unwrap();
        let mut previous: HashMap<&str, Rendered> = HashMap::new();
        for end in 1..=reports.len() {
            let (report, lineage) = live.merged_versioned(&tenant, &reports[..end], T0);
            for (view, query) in [
                ("processes", ""),
                ("processes", "unconnected=hide"),
                ("hosts", ""),
            ] {
                let options = Options::from_query(query);
                let ours = kept
                    .render(&tenant, &report, Some(&lineage), view, &options)
                    .unwrap();
                let fresh = render::render_with(&report, view, &options).unwrap();
                assert_eq!(ours, fresh, "{view}?{query} after {end} reports");
                let json = |r: &Rendered| render::view_body(&r.nodes, &Default::default());
                assert_eq!(json(&ours), json(&fresh), "{view}?{query} JSON after {end}");
                if query.is_empty() {
                    if let Some(before) = previous.get(view) {
                        let shared = shared_heads(before, &ours);
                        // Only the newest report's host changed: every other host's nodes
                        // kept their heads, that host's did not.
                        let (_, newest) = &reports[end - 1];
                        let host = newest.topology(TopologyKind::Host).nodes.keys().next();
                        let changed = host.unwrap().trim_end_matches(";<host>");
                        let expected = ours.nodes.values().filter(|n| {
                            before.nodes.contains_key(&n.id)
                                && !n.id.starts_with(changed)
                                && !n.pseudo
                        });
                        assert_eq!(shared, expected.count(), "{view} after {end} reports");
                        assert!(shared > 0 || end <= 4, "{view} after {end} reports");
                    }
                    previous.insert(view, ours);
                }
            }
        }
    }

    #[test]
    fn a_states_second_render_makes_the_endpoint_index_that_later_ones_update() {
        let reports = reports(3, 2);
        let live = LiveWindows::default();
        let kept = KeptHeads::default();
        let tenant = TenantId::new("t").unwrap();
        let key = (tenant.clone(), "hosts".to_owned());
        let index_bytes = |kept: &KeptHeads| {
            let entries = kept.lock();
            let index = entries[&key].index.lock().unwrap();
            index.as_ref().map(EndpointIndex::bytes)
        };
        let mut sizes = Vec::new();
        for end in [4, 5, 6] {
            let (report, lineage) = live.merged_versioned(&tenant, &reports[..end], T0);
            assert!(kept_render(&kept, &tenant, &report, &lineage, "hosts"));
            sizes.push(index_bytes(&kept));
        }
        assert_eq!(
            sizes[0], None,
            "the first render finds its edges without one"
        );
        assert!(sizes[1].is_some_and(|b| b > 0), "the second makes one");
        assert!(sizes[2] >= sizes[1], "the third brings it up to date");
        let bytes = kept.lock()[&key].bytes;
        assert!(bytes > sizes[2].unwrap(), "kept heads count their index");
    }

    fn shared_heads(before: &Rendered, after: &Rendered) -> usize {
        after
            .nodes
            .iter()
            .filter(|(id, n)| before.nodes.get(*id).is_some_and(|b| b.shares_head(n)))
            .count()
    }

    #[test]
    fn tenants_never_take_over_each_others_heads() {
        let reports = reports(2, 1);
        let live = LiveWindows::default();
        let kept = KeptHeads::default();
        let options = Options::from_query("");
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let (report_a, lineage_a) = live.merged_versioned(&a, &reports, T0);
        let ours = kept
            .render(&a, &report_a, Some(&lineage_a), "hosts", &options)
            .unwrap();
        let (report_b, lineage_b) = live.merged_versioned(&b, &reports[..1], T0);
        let theirs = kept
            .render(&b, &report_b, Some(&lineage_b), "hosts", &options)
            .unwrap();
        assert_eq!(shared_heads(&ours, &theirs), 0);
        assert_eq!(
            theirs,
            render::render_with(&report_b, "hosts", &options).unwrap()
        );
    }
}
