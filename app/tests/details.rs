//! Node details against the original app's answers for Scope's fixture report, and against
//! what the two-host demo's real bodies show.

mod common;

use common::{demo, first_diff, fixture_report, read_json};
use serde_json::Value;
use stormscope_app::render::{self, Options};
use stormscope_shared::{Node, Report, Timestamp, TopologyKind};

fn details(report: &Report, view: &str, id: &str) -> Value {
    let node = render::details(report, view, id)
        .unwrap_or_else(|| panic!("{view} renders no node {id:?}"));
    serde_json::json!({ "node": node })
}

/// Sample dates are wall-clock times of the capture: replaced by a marker once checked to be
/// RFC 3339 times, so the rest compares exactly.
fn without_sample_dates(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(Value::Array(samples)) = map.get_mut("samples") {
                    for sample in samples {
                        let date = sample["date"].as_str().expect("a sample has a date");
                        assert!(
                            stormscope_shared::Timestamp::parse_rfc3339(date).is_ok(),
                            "{date}"
                        );
                        sample["date"] = Value::from("<date>");
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

fn assert_matches_reference(view: &str, id: &str, reference: &str) {
    let ours = without_sample_dates(details(&fixture_report(), view, id));
    let original = without_sample_dates(read_json(reference));
    if let Some(diff) = first_diff(&ours, &original, "") {
        panic!("{view} {id} differs from {reference}: {diff}");
    }
}

#[test]
fn fixture_host_details_match_the_original_app() {
    assert_matches_reference(
        "hosts",
        "client.hostname.com;<host>",
        "scope-reference/node_host.json",
    );
}

#[test]
fn fixture_container_details_match_the_original_app() {
    assert_matches_reference(
        "containers",
        "a1b2c3d4e5;<container>",
        "scope-reference/node_container.json",
    );
}

#[test]
fn details_carry_metric_samples_that_views_leave_out() {
    let report = fixture_report();
    let node = details(&report, "hosts", "client.hostname.com;<host>");
    let cpu = &node["node"]["metrics"][0];
    assert_eq!(cpu["id"], "host_cpu_usage_percent");
    assert_eq!(cpu["samples"][0]["value"], 0.07);
    let view = serde_json::to_value(render::render(&report, "hosts").unwrap()).unwrap();
    assert_eq!(
        view["client.hostname.com;<host>"]["metrics"][0]["samples"],
        Value::Null
    );
}

#[test]
fn unknown_nodes_and_views_have_no_details() {
    let report = fixture_report();
    assert!(render::details(&report, "hosts", "nowhere;<host>").is_none());
    assert!(render::details(&report, "no-such-view", "client.hostname.com;<host>").is_none());
    // A node of one view is not a node of another.
    assert!(render::details(&report, "processes", "client.hostname.com;<host>").is_none());
}

/// The rows of a connections table as (remote node, port, count).
fn rows(node: &Value, table: &str) -> Vec<(String, String, String)> {
    let table = node["node"]["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == table)
        .unwrap_or_else(|| panic!("no {table}"));
    table["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cell = |id: &str| {
                row["metadata"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["id"] == id)
                    .map(|m| m["value"].as_str().unwrap().to_owned())
                    .unwrap()
            };
            (
                row["nodeId"].as_str().unwrap().to_owned(),
                cell("port"),
                cell("count"),
            )
        })
        .collect()
}

#[test]
fn demo_frontend_connects_out_to_the_api_on_the_other_host() {
    let report = demo();
    let frontend = details(&report, "processes", "web-1.demo.local;3");
    let outgoing = rows(&frontend, "outgoing-connections");
    assert!(
        outgoing
            .iter()
            .any(|(node, port, _)| node == "db-1.demo.local;5" && port == "8000"),
        "{outgoing:?}"
    );
    assert!(
        outgoing.iter().all(|(_, port, _)| port == "8000"),
        "outgoing rows name the remote (listening) port: {outgoing:?}"
    );

    // The same connections seen from the api: inbound, on its own port, from both web-1
    // processes that call it.
    let api = details(&report, "processes", "db-1.demo.local;5");
    let incoming = rows(&api, "incoming-connections");
    let from: Vec<&str> = incoming.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        from,
        ["web-1.demo.local;3", "web-1.demo.local;5"],
        "{incoming:?}"
    );
    assert!(incoming.iter().all(|(_, port, _)| port == "8000"));
    // The api's own outgoing connections go to the cache over loopback.
    let to_cache = rows(&api, "outgoing-connections");
    assert_eq!(
        to_cache
            .iter()
            .map(|(n, p, _)| (n.as_str(), p.as_str()))
            .collect::<Vec<_>>(),
        [("db-1.demo.local;3", "6379")]
    );
    for (_, _, count) in incoming.iter().chain(&to_cache) {
        assert!(count.parse::<usize>().unwrap() >= 1);
    }
}

#[test]
fn demo_host_details_list_the_hosts_processes() {
    let report = demo();
    let web = details(&report, "hosts", "web-1.demo.local;<host>");
    let children = web["node"]["children"].as_array().unwrap();
    assert_eq!(
        children.len(),
        1,
        "no containers, pods or images in the demo"
    );
    assert_eq!(children[0]["label"], "Processes");
    assert_eq!(children[0]["topologyId"], "processes");
    let ids: Vec<&str> = children[0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "web-1.demo.local;1",
            "web-1.demo.local;3",
            "web-1.demo.local;5",
            "web-1.demo.local;8"
        ]
    );
    // Each row is the process exactly as the processes view shows it.
    let processes = serde_json::to_value(render::render(&report, "processes").unwrap()).unwrap();
    for row in children[0]["nodes"].as_array().unwrap() {
        assert_eq!(row, &processes[row["id"].as_str().unwrap()]);
    }
    // Host-level connections: web-1 calls db-1's api, and its own frontend over the veth.
    let outgoing = rows(&web, "outgoing-connections");
    let remotes: Vec<(&str, &str)> = outgoing
        .iter()
        .map(|(n, p, _)| (n.as_str(), p.as_str()))
        .collect();
    assert!(
        remotes.contains(&("db-1.demo.local;<host>", "8000"))
            && remotes.contains(&("web-1.demo.local;<host>", "8080")),
        "{outgoing:?}"
    );
}

#[test]
fn demo_process_groups_list_their_processes_and_connections() {
    let report = demo();
    let group = details(&report, "processes-by-name", "/opt/demo/bin/api");
    let children = group["node"]["children"].as_array().unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0]["nodes"][0]["id"], "db-1.demo.local;5");
    let incoming = rows(&group, "incoming-connections");
    let from: Vec<&str> = incoming.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(from, ["/opt/demo/bin/frontend", "/opt/demo/bin/loadgen"]);
    assert_eq!(group["node"]["controls"], serde_json::json!([]));
}

/// Scope's `handleNode` looks a node up before the request's filters and puts it back when
/// they drop it: a link the UI followed still answers under options that hide its target.
#[test]
fn nodes_the_options_filter_out_still_have_details() {
    let report = demo();
    let hide = Options::from_query("unconnected=hide");
    let shown = render::render_with(&report, "processes", &hide).unwrap();
    let lonely = "web-1.demo.local;1";
    assert!(!shown.nodes.contains_key(lonely), "the option hides it");
    let node = render::details_with(&report, "processes", lonely, &hide)
        .unwrap_or_else(|| panic!("{lonely} has details under unconnected=hide"));
    let unfiltered = render::render(&report, "processes").unwrap();
    // As the view renders it before any filter (its metrics carry their samples here).
    let view = &unfiltered[lonely];
    assert_eq!(
        (
            &node.summary.label,
            &node.summary.metadata,
            &node.summary.parents
        ),
        (&view.label, &view.metadata, &view.parents)
    );
    assert!(node.summary.metrics[0].samples.is_some());
    assert!(node.connections.iter().all(|t| t.connections.is_empty()));

    // A node the options keep is detailed as before, its connections among the kept nodes.
    let frontend = "web-1.demo.local;3";
    let kept = serde_json::json!({ "node": render::details_with(&report, "processes", frontend, &hide).unwrap() });
    assert_eq!(
        rows(&kept, "outgoing-connections"),
        rows(
            &details(&report, "processes", frontend),
            "outgoing-connections"
        )
    );
    assert!(!rows(&kept, "outgoing-connections").is_empty());

    // Ids the view does not render at all are still unknown.
    assert!(render::details_with(&report, "processes", "web-1.demo.local;999", &hide).is_none());
    assert!(render::details_with(&report, "hosts", lonely, &hide).is_none());
}

#[test]
fn a_stopped_container_the_default_options_hide_still_has_details() {
    let mut report = Report::default();
    for (id, state) in [("c1", "exited"), ("c2", "running")] {
        report.topology_mut(TopologyKind::Container).add_node(
            Node::new(format!("{id};<container>"), "container")
                .with_latest("docker_container_name", Timestamp::default(), id)
                .with_latest("docker_container_state", Timestamp::default(), state),
        );
    }
    // Any option brings in every group's default: running containers only.
    let options = Options::from_query("system=application");
    let shown = render::render_with(&report, "containers", &options).unwrap();
    assert_eq!(shown.nodes.keys().collect::<Vec<_>>(), ["c2;<container>"]);
    let stopped = render::details_with(&report, "containers", "c1;<container>", &options)
        .expect("a filtered container has details");
    assert_eq!(stopped.summary.id, "c1;<container>");
    assert_eq!(stopped.summary.label, "c1");
    assert!(render::details_with(&report, "containers", "c3;<container>", &options).is_none());
}
