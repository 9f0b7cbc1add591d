//! Decode and encode costs of real probe bodies and a generated 1 MB report.
//!
//! `cargo bench -p stormscope-shared --bench codec`; figures go to BENCHMARKS.md.

#[path = "common/fixtures.rs"]
mod fixtures;

use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fixtures::fixture;

// The allocator the stormscope binary runs with, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::synth::{SynthSpec, generate};
use stormscope_shared::{Format, Limits};

fn decode_benches(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("decode");
    for stem in ["bench-01-full", "bench-02-delta", "hostA-01-full"] {
        let gz = fixture(&format!("scope-probe/{stem}.msgpack.gz"));
        let json = fixture(&format!("scope-probe/{stem}.json"));
        group.throughput(Throughput::Bytes(gz.len() as u64));
        group.bench_function(format!("{stem}/msgpack.gz"), |b| {
            b.iter(|| codec::decode(&gz, Compression::Gzip, Format::Msgpack, &limits).unwrap())
        });
        group.bench_function(format!("{stem}/msgpack.gz check-only"), |b| {
            b.iter(|| codec::check(&gz, Compression::Gzip, Format::Msgpack, &limits).unwrap())
        });
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(format!("{stem}/json"), |b| {
            b.iter(|| codec::decode(&json, Compression::Identity, Format::Json, &limits).unwrap())
        });
    }
    let gz = fixture("scope-probe/bench-01-full.msgpack.gz");
    group.bench_function("bench-01-full/inflate-only", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(256 << 10);
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        })
    });

    let big = generate(&SynthSpec::default().with_target_msgpack_bytes(1 << 20));
    for format in [Format::Msgpack, Format::Json] {
        let body = codec::encode(&big, format, Compression::Gzip);
        group.throughput(Throughput::Bytes(
            codec::encode(&big, format, Compression::Identity).len() as u64,
        ));
        group.bench_function(format!("synthetic-1MB/{format:?}.gz"), |b| {
            b.iter(|| codec::decode(&body, Compression::Gzip, format, &limits).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("encode");
    let report = codec::decode(&gz, Compression::Gzip, Format::Msgpack, &limits).unwrap();
    for format in [Format::Msgpack, Format::Json] {
        group.bench_function(format!("bench-01-full/{format:?}"), |b| {
            b.iter(|| codec::encode(&report, format, Compression::Identity))
        });
        group.bench_function(format!("bench-01-full/{format:?}.gz"), |b| {
            b.iter(|| codec::encode(&report, format, Compression::Gzip))
        });
    }
    group.finish();
}

criterion_group!(benches, decode_benches);
criterion_main!(benches);
