//! Conformance of the rendered views with the original app's answers (scope-compat.md §6):
//! the two-host demo's 14 real bodies, and Scope's own fixture report.

use std::path::PathBuf;

use stormscope_app::render;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::{Limits, Report, codec};

fn fixtures() -> PathBuf {
    std::env::var_os("STORMSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
        })
}

fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(rel)).unwrap()).unwrap()
}

/// The 14 demo bodies in arrival order, merged as the app merges a window.
fn demo() -> Report {
    let mut reports = Vec::new();
    for n in 1..=7 {
        for host in ["hostB", "hostA"] {
            let kind = if n % 3 == 1 { "full" } else { "delta" };
            let body = std::fs::read(
                fixtures().join(format!("scope-probe/{host}-{n:02}-{kind}.msgpack.gz")),
            )
            .unwrap();
            reports.push(codec::decode_sniffed(&body, &Limits::default()).unwrap());
        }
    }
    let mut merged = fast_merge(reports.iter());
    merged.remove_part_merged_nodes();
    merged
}

fn first_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => first_diff(p, q, &format!("{path}/{k}")),
                    (p, q) => Some(format!("{path}/{k}: ours {p:?}, original {q:?}")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{path}: ours {a}, original {b}")),
    }
}

fn assert_view(report: &Report, view: &str, reference: &str) {
    let ours = serde_json::json!({ "nodes": render::render(report, view).expect("known view") });
    let original = read_json(reference);
    if let Some(diff) = first_diff(&ours, &original, view) {
        panic!("{view} differs from {reference}: {diff}");
    }
}

#[test]
fn demo_processes_match_the_original_app() {
    assert_view(
        &demo(),
        "processes",
        "scope-probe/app-replay-topology-processes.json",
    );
}

#[test]
fn demo_processes_by_name_match_the_original_app() {
    assert_view(
        &demo(),
        "processes-by-name",
        "scope-probe/app-replay-topology-processes-by-name.json",
    );
}

#[test]
fn demo_hosts_match_the_original_app() {
    assert_view(
        &demo(),
        "hosts",
        "scope-probe/app-replay-topology-hosts.json",
    );
}

#[test]
fn unknown_views_are_none() {
    assert!(render::render(&demo(), "no-such-view").is_none());
}

/// Scope's own fixture report, as the original app served it (`--app.collector=file://`):
/// upgraded and fast-merged.
fn fixture_report() -> Report {
    let body = std::fs::read(fixtures().join("scope-reference/fixture.msgpack.gz")).unwrap();
    let mut report = codec::decode_sniffed(&body, &Limits::default()).unwrap();
    report.upgrade();
    let mut merged = fast_merge([&report]);
    merged.remove_part_merged_nodes();
    merged
}

#[test]
fn fixture_processes_match_the_original_app() {
    assert_view(
        &fixture_report(),
        "processes",
        "scope-reference/topo_processes.json",
    );
}

#[test]
fn fixture_hosts_match_the_original_app() {
    assert_view(
        &fixture_report(),
        "hosts",
        "scope-reference/topo_hosts.json",
    );
}

#[test]
fn fixture_containers_match_the_original_app() {
    assert_view(
        &fixture_report(),
        "containers",
        "scope-reference/topo_containers.json",
    );
}

#[test]
fn fixture_containers_by_image_match_the_original_app() {
    assert_view(
        &fixture_report(),
        "containers-by-image",
        "scope-reference/topo_cbyimage.json",
    );
}

#[test]
fn fixture_pods_match_the_original_app() {
    assert_view(&fixture_report(), "pods", "scope-reference/topo_pods.json");
}
