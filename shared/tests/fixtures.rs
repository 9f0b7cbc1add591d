//! Real probe bodies and the original app's fixture report decode, agree with their JSON twins,
//! and survive re-encoding in both codecs.

mod common;

use common::{decode_file, probe_bodies, read};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits, Report, TopologyKind};

fn round_trip(report: &Report, format: Format, compression: Compression) -> Report {
    let body = codec::encode(report, format, compression);
    codec::decode(&body, compression, format, &Limits::default())
        .expect("re-decoding our own encoding")
}

#[test]
fn every_probe_body_matches_its_json_twin() {
    for stem in probe_bodies() {
        let wire = decode_file(&format!("scope-probe/{stem}.msgpack.gz"));
        let twin = decode_file(&format!("scope-probe/{stem}.json"));
        common::assert_same(&wire, &twin, &stem);
        assert!(wire.node_count() > 0, "{stem}: no nodes decoded");
        assert!(!wire.ts.is_zero(), "{stem}: TS not decoded");
    }
}

#[test]
fn every_probe_body_survives_reencoding_in_both_codecs() {
    for stem in probe_bodies() {
        let report = decode_file(&format!("scope-probe/{stem}.msgpack.gz"));
        for format in [Format::Json, Format::Msgpack] {
            for compression in [Compression::Gzip, Compression::Identity] {
                common::assert_same(
                    &round_trip(&report, format, compression),
                    &report,
                    &format!("{stem} via {format:?}/{compression:?}"),
                );
            }
        }
    }
}

#[test]
fn probe_bodies_carry_what_the_readme_describes() {
    let full = decode_file("scope-probe/hostA-01-full.msgpack.gz");
    let host = &full.topology(TopologyKind::Host).nodes["web-1.demo.local;<host>"];
    assert_eq!(host.latest_value("host_name"), Some("web-1.demo.local"));
    assert_eq!(
        host.latest_value("control_probe_id"),
        Some("500b77fb74924034")
    );
    assert_eq!(full.topology(TopologyKind::Endpoint).nodes.len(), 5);
    assert_eq!(
        full.ts.to_rfc3339().get(..22),
        Some("2026-11-26T13:00:35.82")
    );
    assert!(
        full.window > 2_000_000_000 && full.window < 4_000_000_000,
        "window {}",
        full.window
    );
    let delta = decode_file("scope-probe/hostA-02-delta.msgpack.gz");
    let process = delta
        .topology(TopologyKind::Process)
        .nodes
        .values()
        .next()
        .expect("delta processes");
    assert!(
        process.latest.is_empty() && process.topology.is_empty(),
        "delta process nodes carry only metrics"
    );
    let bench = decode_file("scope-probe/bench-01-full.msgpack.gz");
    assert_eq!(bench.topology(TopologyKind::Process).nodes.len(), 145);
    assert_eq!(bench.topology(TopologyKind::Endpoint).nodes.len(), 360);
    let with_adjacency = bench
        .topology(TopologyKind::Endpoint)
        .nodes
        .values()
        .filter(|n| !n.adjacency.is_empty())
        .count();
    assert_eq!(with_adjacency, 349);
}

#[test]
fn native_go_json_reports_decode() {
    for host in ["hostA", "hostB"] {
        let report = decode_file(&format!("scope-probe/{host}-native.json"));
        assert_eq!(report.topology(TopologyKind::Host).nodes.len(), 1, "{host}");
        assert!(
            report.topology(TopologyKind::Process).nodes.len() >= 4,
            "{host}"
        );
        assert_eq!(
            round_trip(&report, Format::Msgpack, Compression::Gzip),
            report
        );
    }
}

#[test]
fn our_json_matches_go_json_field_for_field() {
    let text = read("scope-probe/hostA-native.json");
    let report = decode_file("scope-probe/hostA-native.json");
    let ours: serde_json::Value =
        serde_json::from_slice(&codec::encode(&report, Format::Json, Compression::Identity))
            .unwrap();
    let go: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(common::first_diff(&ours, &go), None);
}

#[test]
fn reference_fixture_msgpack_matches_its_json() {
    let wire = decode_file("scope-reference/fixture.msgpack.gz");
    let pretty = decode_file("scope-reference/fixture_pretty.json");
    assert_eq!(wire, pretty);
    assert_eq!(wire.id, "test-report");
    assert_eq!(wire.topology(TopologyKind::Host).nodes.len(), 2);
    assert_eq!(wire.sampling.count, 1024);
    for format in [Format::Json, Format::Msgpack] {
        assert_eq!(round_trip(&wire, format, Compression::Gzip), wire);
    }
}

#[test]
fn legacy_2016_report_decodes_with_counters_and_controls_upgraded() {
    let report = decode_file("scope-reference/legacy-2016-report.json");
    assert!(report.topology(TopologyKind::Process).nodes.len() > 10);
    assert!(report.topology(TopologyKind::Endpoint).nodes.len() > 10);
    assert_eq!(
        round_trip(&report, Format::Msgpack, Compression::Gzip),
        report
    );
}
