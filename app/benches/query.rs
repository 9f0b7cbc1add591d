//! The app's query path at the size of the performance target: 100 probes, a 15 s window (five
//! reports each, 145 processes and 300 connections per probe).
//!
//! `cargo bench -p stormscope-app --bench query`; figures go to BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

use stormscope_app::kept_heads::KeptHeads;
use stormscope_app::live::LiveWindows;
use stormscope_app::render::{self, Options};
use stormscope_shared::Report;
use stormscope_shared::Timestamp;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::synth::{SynthSpec, generate};
use stormscope_shared::tenancy::TenantId;

// The allocator the stormscope binary runs with, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Five reports per probe about the same processes and connections, three seconds apart.
fn window() -> Vec<Report> {
    ticks(0..5)
}

/// One report per probe per tick, three seconds apart.
fn ticks(ticks: std::ops::Range<i64>) -> Vec<Report> {
    ticks
        .flat_map(|tick| {
            (0..100).map(move |host| {
                let mut spec = SynthSpec::probe(host as u64, host, 100);
                spec.ts = Timestamp::from_unix_millis(1_764_162_000_000 + tick * 3000);
                generate(&spec)
            })
        })
        .collect()
}

fn query_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("query");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let reports = window();
    group.bench_function("merge-500", |b| b.iter(|| fast_merge(reports.iter())));
    let mut merged = fast_merge(reports.iter());
    merged.remove_part_merged_nodes();

    // What a live query merges: the window is held merged; one report arrived since.
    let keyed: Vec<(String, Arc<Report>)> = reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("{i:06}"), Arc::new(r)))
        .collect();
    let tenant = TenantId::new("bench").unwrap();
    group.bench_function("live-merge-one-new-report", |b| {
        b.iter_batched(
            || {
                let live = LiveWindows::default();
                live.merged(&tenant, &keyed[..keyed.len() - 1], 0);
                live
            },
            |live| live.merged(&tenant, &keyed, 0),
            criterion::BatchSize::PerIteration,
        )
    });
    for view in ["processes", "hosts"] {
        group.bench_function(format!("render-{view}"), |b| {
            b.iter(|| render::render(&merged, view).unwrap())
        });
        let nodes = Arc::new(render::render(&merged, view).unwrap());
        group.bench_function(format!("json-{view}"), |b| b.iter(|| json(nodes.clone())));
    }
    group.finish();
    live_queries(c, keyed);
}

/// What a live query costs in the app, one new report arriving before each: merging it into
/// the tenant's live window, rendering the view (taking over the heads of unchanged nodes from
/// the previous query's render) and writing its JSON. The background rebuilds that drop
/// reports leaving the window are not included.
fn live_queries(c: &mut Criterion, window: Vec<(String, Arc<Report>)>) {
    let mut group = c.benchmark_group("live-query");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let arriving: Vec<(String, Arc<Report>)> = ticks(5..9)
        .into_iter()
        .enumerate()
        .map(|(i, r)| (format!("{:06}", window.len() + i), Arc::new(r)))
        .collect();
    let tenant = TenantId::new("bench").unwrap();
    let options = Options::from_query("");
    for view in ["processes", "hosts"] {
        group.bench_function(format!("{view}-one-new-report"), |b| {
            let mut live = LiveWindows::default();
            let mut kept = KeptHeads::default();
            let mut reports = window.clone();
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if reports.len() == window.len() + arriving.len() {
                        (live, kept, reports) = Default::default();
                        reports.clone_from(&window);
                    }
                    if reports.len() == window.len() {
                        // The previous query, untimed.
                        let (report, lineage) = live.merged_versioned(&tenant, &reports, 0);
                        let nodes = kept.render(&tenant, &report, Some(&lineage), view, &options);
                        json(nodes.unwrap().nodes);
                    }
                    reports.push(arriving[reports.len() - window.len()].clone());
                    let started = Instant::now();
                    let (report, lineage) = live.merged_versioned(&tenant, &reports, 0);
                    let nodes = kept.render(&tenant, &report, Some(&lineage), view, &options);
                    std::hint::black_box(json(nodes.unwrap().nodes));
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// A view's JSON as an answer sends it, chunk by chunk: its length in bytes.
fn json(nodes: impl Into<Arc<BTreeMap<String, render::NodeSummary>>>) -> usize {
    render::ViewBody::new(nodes.into(), &Default::default())
        .map(|chunk| chunk.len())
        .sum()
}

criterion_group!(benches, query_benches);
criterion_main!(benches);
