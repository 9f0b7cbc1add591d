//! The app's query path at the size of the performance target: 100 probes, a 15 s window (five
//! reports each, 145 processes and 300 connections per probe).
//!
//! `cargo bench -p stormscope-app --bench query`; figures go to BENCHMARKS.md. A tenant's first
//! answer, from stored bodies, and the decoding it is mostly made of:
//! `cargo bench -p stormscope-app --bench query -- first-answer`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};

use bytes::Bytes;
use stormscope_app::kept_heads::KeptHeads;
use stormscope_app::live::LiveWindows;
use stormscope_app::render::{self, Options};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::merge::fast_merge;
use stormscope_shared::report_cache::report_time_ms;
use stormscope_shared::report_kind::{ReportKind, ReportTag};
use stormscope_shared::synth::{SynthSpec, full_and_deltas, generate};
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::{Format, Limits, Report, Timestamp, keys};

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
    first_answer(c);
}

/// A tenant's first answer from its stored window: 100 probes publishing every 3 s for 15 s,
/// each a full report then two deltas, staggered as real probes are. With keys tagged as
/// collectors write them, the first answer decodes and merges each probe's newest full report
/// and the newest delta after it; with untagged keys (an older collector's), the newest three
/// quanta. The whole window's merge that follows in the background is waited for, untimed.
fn first_answer(c: &mut Criterion) {
    // As the stormscope binary runs: transparent huge pages off, among others.
    stormscope_shared::allocator::tune();
    let tenant = TenantId::new("bench").unwrap();
    let t0 = 1_764_162_000_000;
    let cycles: Vec<Vec<(ReportKind, Bytes)>> = (0..100)
        .map(|probe| {
            let mut spec = SynthSpec::probe(probe as u64 + 1, probe, 100);
            spec.ts = Timestamp::from_unix_millis(t0);
            full_and_deltas(&spec)
                .iter()
                .map(|r| {
                    let body = codec::encode(r, Format::Msgpack, Compression::Gzip);
                    (r.kind(), Bytes::from(body))
                })
                .collect()
        })
        .collect();
    let limits = Limits::default();
    let mut group = slow_group(c, "first-answer", Duration::from_secs(5));
    // Most of a first answer's work: decoding each probe's full report and a delta, here on
    // one core.
    let chosen: Vec<&Bytes> = cycles
        .iter()
        .flat_map(|c| &c[..2])
        .map(|(_, b)| b)
        .collect();
    group.bench_function("decode-100-full-100-delta", |b| {
        b.iter(|| {
            chosen
                .iter()
                .map(|body| {
                    codec::decode(body, Compression::Gzip, Format::Msgpack, &limits)
                        .expect("decodes")
                        .node_count()
                })
                .sum::<usize>()
        })
    });
    for tagged in [true, false] {
        let mut bodies: Vec<(String, Bytes)> = Vec::new();
        for tick in 0..5 {
            for (probe, cycle) in cycles.iter().enumerate() {
                let at = t0 + tick * 3000 + probe as i64 * 30;
                let (kind, body) = &cycle[(tick as usize + probe) % 3];
                let tag = ReportTag::new(&format!("probe-{probe}"), *kind);
                let seq = bodies.len() as u64;
                let key = keys::report_key(&tenant, at, "c", seq, tagged.then_some(&tag));
                bodies.push((key, body.clone()));
            }
        }
        bodies.sort_by_key(|(key, _)| report_time_ms(key));
        let window: Vec<String> = bodies.iter().map(|(key, _)| key.clone()).collect();
        let name = if tagged {
            "100-probes-tagged"
        } else {
            "100-probes-untagged"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let live = LiveWindows::default();
                    let started = Instant::now();
                    let (first, _, partial) =
                        live.merged_from_bodies(&tenant, &window, bodies.clone(), t0, &limits);
                    total += started.elapsed();
                    assert!(partial && first.node_count() > 0);
                    while live
                        .merged_from_bodies(&tenant, &window, Vec::new(), t0, &limits)
                        .2
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                total
            })
        });
    }
    group.finish();
}

/// What a live query costs in the app, one new report arriving before each: merging it into
/// the tenant's live window, rendering the view (taking over the heads of unchanged nodes from
/// the previous query's render) and writing its JSON. The background rebuilds that drop
/// reports leaving the window are not included.
fn live_queries(c: &mut Criterion, window: Vec<(String, Arc<Report>)>) {
    let mut group = slow_group(c, "live-query", Duration::from_secs(3));
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

/// A group of benchmarks whose every iteration takes tens of milliseconds or more.
fn slow_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    measurement: Duration,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(measurement);
    group
}

/// A view's JSON as an answer sends it, chunk by chunk: its length in bytes.
fn json(nodes: impl Into<Arc<BTreeMap<String, render::NodeSummary>>>) -> usize {
    render::ViewBody::new(nodes.into(), &Default::default())
        .map(|chunk| chunk.len())
        .sum()
}

criterion_group!(benches, query_benches);
criterion_main!(benches);
