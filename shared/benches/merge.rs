//! The fast merger over a window's worth of reports.
//!
//! `cargo bench -p stormscope-shared --bench merge`; figures go to BENCHMARKS.md.

#[path = "common/fixtures.rs"]
mod fixtures;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fixtures::fixture;

// The allocator the stormscope binary runs with, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use stormscope_shared::Report;
use stormscope_shared::codec;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::synth::{SynthSpec, generate};
use stormscope_shared::{Limits, Timestamp};

fn merge_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));

    // The two-host demo's 14 real bodies, cycled to 500: many reports about the same nodes.
    let real: Vec<Report> = ["hostA", "hostB"]
        .iter()
        .flat_map(|h| {
            [
                "01-full", "02-delta", "03-delta", "04-full", "05-delta", "06-delta", "07-full",
            ]
            .map(|s| format!("scope-probe/{h}-{s}.msgpack.gz"))
        })
        .map(|rel| codec::decode_sniffed(&fixture(&rel), &Limits::default()).unwrap())
        .collect();
    let cycled: Vec<&Report> = real.iter().cycle().take(500).collect();
    group.bench_function("500-real-demo-reports", |b| {
        b.iter(|| fast_merge(cycled.iter().copied()))
    });

    // 100 probes x 5 reports (a 15 s window at 3 s per report), 145 processes and 300
    // connections each: the app's query-time load at the size of the performance target.
    let synthetic: Vec<Report> = (0..100)
        .flat_map(|host| {
            (0..5).map(move |tick| {
                let mut spec = SynthSpec::probe(host as u64 * 10 + tick, host, 100);
                spec.ts = Timestamp::from_unix_millis(1_764_162_000_000 + tick as i64 * 3000);
                generate(&spec)
            })
        })
        .collect();
    group.bench_function("500-synthetic-100-hosts", |b| {
        b.iter(|| fast_merge(synthetic.iter()))
    });
    group.finish();
}

criterion_group!(benches, merge_benches);
criterion_main!(benches);
