//! The app's query path at the size of the performance target: 100 probes, a 15 s window (five
//! reports each, 145 processes and 300 connections per probe).
//!
//! `cargo bench -p stormscope-app --bench query`; figures go to BENCHMARKS.md.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

use stormscope_app::live::LiveWindows;
use stormscope_app::render;
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
    (0..5)
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
        let nodes = render::render(&merged, view).unwrap();
        group.bench_function(format!("json-{view}"), |b| {
            b.iter(|| render::view_body(&nodes, &Default::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, query_benches);
criterion_main!(benches);
