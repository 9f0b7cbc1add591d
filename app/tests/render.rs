//! Conformance of the rendered views with the original app's answers (scope-compat.md §6):
//! the two-host demo's 14 real bodies, and Scope's own fixture report.

mod common;

use common::{demo, first_diff, fixture_report, read_json};
use stormscope_app::render;
use stormscope_shared::Report;

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
