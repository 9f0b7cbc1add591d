//! Topology options and the topology registry against the original app: `GET /api/topology`
//! for Scope's fixture report, the containers view with default and widened options, and what
//! each option group keeps and drops.

mod common;

use std::collections::BTreeSet;

use common::{demo, first_diff, fixture_report, read_json};
use stormscope_app::render::{self, Options, Rendered, TopologyStats};
use stormscope_shared::model::Node;
use stormscope_shared::{Report, TopologyKind};

fn rendered(report: &Report, view: &str, query: &str) -> Rendered {
    render::render_with(report, view, &Options::from_query(query)).expect("known view")
}

fn ids(r: &Rendered) -> BTreeSet<&str> {
    r.nodes.keys().map(String::as_str).collect()
}

#[test]
fn the_registry_for_the_fixture_is_the_original_apps() {
    let ours =
        serde_json::to_value(render::topologies(&fixture_report(), &Options::default())).unwrap();
    let original = read_json("scope-reference/api_topology.json");
    if let Some(diff) = first_diff(&ours, &original, "") {
        panic!("GET /api/topology differs from api_topology.json: {diff}");
    }
}

#[test]
fn containers_without_options_filter_nothing_and_widened_options_match_the_original() {
    let report = fixture_report();
    let bare = rendered(&report, "containers", "");
    let widened = rendered(&report, "containers", "system=all&stopped=both&pseudo=show");
    for (r, reference) in [
        (&bare, "scope-reference/topo_containers.json"),
        (&widened, "scope-reference/topo_containers_all.json"),
    ] {
        let ours = serde_json::json!({ "nodes": r.nodes });
        if let Some(diff) = first_diff(&ours, &read_json(reference), "") {
            panic!("containers differ from {reference}: {diff}");
        }
        assert_eq!(r.filtered, 0, "{reference}");
    }
}

#[test]
fn container_defaults_hide_uncontained_and_what_only_it_connected() {
    let report = fixture_report();
    let defaults = rendered(
        &report,
        "containers",
        "system=application&stopped=running&pseudo=hide",
    );
    assert_eq!(
        ids(&defaults),
        BTreeSet::from([
            "1a1d30201f;<container>",
            "5e4d3c2b1a;<container>",
            "a1b2c3d4e5;<container>",
            "in-theinternet",
        ]),
        "Uncontained hidden, and the outbound Internet only it talked to"
    );
    assert_eq!(defaults.filtered, 2);
    assert_eq!(
        rendered(&report, "containers", "anything=else"),
        defaults,
        "any parameter at all brings in the defaults"
    );
}

/// The fixture with one container stopped and another a Weave Scope (system) container.
fn stopped_and_system() -> Report {
    let mut report = fixture_report();
    let containers = &mut report.topology_mut(TopologyKind::Container).nodes;
    let stamp = Default::default();
    let c = containers.get_mut("1a1d30201f;<container>").unwrap();
    *c = c
        .clone()
        .with_latest("docker_container_state", stamp, "exited");
    let c = containers.get_mut("a1b2c3d4e5;<container>").unwrap();
    *c = c
        .clone()
        .with_latest("docker_container_name", stamp, "weavescope");
    report
}

#[test]
fn system_and_stopped_groups_choose_containers() {
    let report = stopped_and_system();
    let containers = |query: &str| -> BTreeSet<String> {
        rendered(&report, "containers", query)
            .nodes
            .into_iter()
            .filter(|(_, n)| !n.pseudo)
            .map(|(id, _)| id)
            .collect()
    };
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(containers("pseudo=show"), set(&["5e4d3c2b1a;<container>"]));
    assert_eq!(
        containers("system=all&stopped=both"),
        set(&[
            "1a1d30201f;<container>",
            "5e4d3c2b1a;<container>",
            "a1b2c3d4e5;<container>"
        ])
    );
    assert_eq!(
        containers("system=all&stopped=stopped"),
        set(&["1a1d30201f;<container>"])
    );
    assert_eq!(
        containers("system=system&stopped=both"),
        set(&["a1b2c3d4e5;<container>"])
    );
    let hidden = rendered(&report, "containers", "system=application&stopped=running");
    assert_eq!(
        hidden.filtered, 4,
        "two containers by the options, Uncontained, and the Internet it alone used"
    );
    // The system container's edge to the server goes with it.
    assert!(
        hidden
            .nodes
            .values()
            .all(|n| !n.adjacency.contains("a1b2c3d4e5;<container>"))
    );
}

#[test]
fn image_groups_are_judged_by_their_image() {
    let mut report = fixture_report();
    let images = &mut report.topology_mut(TopologyKind::ContainerImage).nodes;
    let server = images.get_mut("imageid456;<container_image>").unwrap();
    *server = server.clone().with_latest(
        "docker_image_name",
        Default::default(),
        "weaveworks/scope:1.13",
    );
    let groups = |query: &str| -> BTreeSet<String> {
        rendered(&report, "containers-by-image", query)
            .nodes
            .into_iter()
            .filter(|(_, n)| !n.pseudo)
            .map(|(id, _)| id)
            .collect()
    };
    assert_eq!(
        groups(""),
        BTreeSet::from([
            "image/client;<container_image>".to_owned(),
            "weaveworks/scope;<container_image>".to_owned()
        ])
    );
    assert_eq!(
        groups("system=application"),
        BTreeSet::from(["image/client;<container_image>".to_owned()]),
        "Scope's own image is a system one"
    );
    assert_eq!(
        groups("system=system"),
        BTreeSet::from(["weaveworks/scope;<container_image>".to_owned()])
    );
    // Containers carry their image's name, so its containers are system ones too.
    let containers = rendered(&report, "containers", "system=application");
    assert_eq!(
        containers
            .nodes
            .values()
            .filter(|n| !n.pseudo)
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        ["a1b2c3d4e5;<container>"]
    );
}

#[test]
fn processes_unconnected_show_keeps_what_hide_drops() {
    let report = demo();
    let bare = rendered(&report, "processes", "");
    let shown = rendered(&report, "processes", "unconnected=show");
    let hidden = rendered(&report, "processes", "unconnected=hide");
    assert_eq!(bare, shown);
    assert_eq!(shown.nodes.len(), 8);
    let unconnected: BTreeSet<&str> = [
        "db-1.demo.local;1",
        "db-1.demo.local;11",
        "web-1.demo.local;1",
        "web-1.demo.local;8",
    ]
    .into();
    assert_eq!(
        ids(&shown)
            .difference(&ids(&hidden))
            .copied()
            .collect::<BTreeSet<_>>(),
        unconnected
    );
    assert_eq!(hidden.filtered, 4);
    assert!(hidden.nodes.values().any(|n| !n.adjacency.is_empty()));

    // By name, the groups of unconnected processes go the same way.
    let by_name = rendered(&report, "processes-by-name", "unconnected=hide");
    assert_eq!(
        ids(&by_name),
        BTreeSet::from([
            "/opt/demo/bin/api",
            "/opt/demo/bin/cache",
            "/opt/demo/bin/frontend",
            "/opt/demo/bin/loadgen",
        ])
    );
    assert_eq!(rendered(&report, "processes-by-name", "").nodes.len(), 6);
}

#[test]
fn unknown_option_values_fall_back_to_the_defaults() {
    let report = fixture_report();
    let hide = rendered(&report, "containers", "pseudo=hide");
    assert!(
        !hide
            .nodes
            .contains_key("pseudo:uncontained:server.hostname.com")
    );
    assert_eq!(rendered(&report, "containers", "pseudo=bogus"), hide);
    assert_eq!(rendered(&report, "containers", "pseudo="), hide);
    let demo = demo();
    assert_eq!(
        rendered(&demo, "processes", "unconnected=sometimes"),
        rendered(&demo, "processes", "unconnected=hide")
    );
    assert_eq!(
        rendered(&demo, "processes", "unconnected=sometimes")
            .nodes
            .len(),
        4
    );
}

/// The fixture with namespaces as a Kubernetes probe reports them, and a pod in the second.
fn two_namespaces() -> Report {
    let mut report = fixture_report();
    let stamp = Default::default();
    for ns in ["ping", "other"] {
        report.topology_mut(TopologyKind::Namespace).add_node(
            Node::new(format!("{ns};<namespace>"), "namespace").with_latest(
                "kubernetes_name",
                stamp,
                ns,
            ),
        );
    }
    report.topology_mut(TopologyKind::Pod).add_node(
        Node::new("o1;<pod>", "pod")
            .with_latest("kubernetes_name", stamp, "elsewhere")
            .with_latest("kubernetes_namespace", stamp, "other")
            .with_latest("host_node_id", stamp, "client.hostname.com;<host>"),
    );
    report
}

#[test]
fn the_namespace_filter_keeps_only_that_namespaces_pods() {
    let report = two_namespaces();
    let pods = |query: &str| -> BTreeSet<String> {
        rendered(&report, "pods", query)
            .nodes
            .into_iter()
            .filter(|(_, n)| !n.pseudo)
            .map(|(id, _)| id)
            .collect()
    };
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        pods("namespace=ping"),
        set(&["5d4c3b2a1;<pod>", "i9h8g7f6e;<pod>"])
    );
    assert_eq!(pods("namespace=other"), set(&["o1;<pod>"]));
    assert_eq!(
        pods("namespace=other,ping"),
        set(&["5d4c3b2a1;<pod>", "i9h8g7f6e;<pod>", "o1;<pod>"])
    );
    assert_eq!(
        pods("namespace=nowhere"),
        pods("namespace="),
        "unknown: all namespaces"
    );
    assert_eq!(pods("namespace=nowhere").len(), 3);
    // Containers by their Kubernetes namespace: the one outside any pod goes.
    let containers = rendered(&report, "containers", "namespace=ping&pseudo=show");
    let kept: BTreeSet<&str> = containers
        .nodes
        .values()
        .filter(|n| !n.pseudo)
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(
        kept,
        BTreeSet::from(["5e4d3c2b1a;<container>", "a1b2c3d4e5;<container>"])
    );

    // The group is offered on the views Scope appends it to, listing the namespaces.
    let registry = serde_json::to_value(render::topologies(&report, &Options::default())).unwrap();
    let mut offered = Vec::new();
    for top in registry.as_array().unwrap() {
        let subs = top["sub_topologies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for desc in std::iter::once(top).chain(subs.iter()) {
            let groups = desc["options"].as_array().cloned().unwrap_or_default();
            if let Some(ns) = groups.iter().find(|g| g["id"] == "namespace") {
                assert_eq!(ns["selectType"], "union");
                assert_eq!(ns["noneLabel"], "All Namespaces");
                assert_eq!(
                    ns["options"],
                    serde_json::json!([
                        { "value": "other", "label": "other" },
                        { "value": "ping", "label": "ping" }
                    ])
                );
                offered.push(desc["url"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        offered,
        [
            "/api/topology/containers",
            "/api/topology/containers-by-hostname",
            "/api/topology/containers-by-image",
            "/api/topology/pods",
            "/api/topology/kube-controllers",
            "/api/topology/services",
        ]
    );
}

#[test]
fn services_and_controllers_group_the_fixtures_pods() {
    let report = fixture_report();
    let services = rendered(&report, "services", "");
    let service = &services.nodes["service1234;<service>"];
    assert_eq!(
        (
            service.label.as_str(),
            service.label_minor.as_str(),
            service.rank.as_str()
        ),
        ("pongservice", "2 pods", "ping/pongservice")
    );
    assert!(service.stack && !service.pseudo);
    assert!(
        service.adjacency.contains("service1234;<service>"),
        "pong-a talks to pong-b, both behind the service"
    );
    assert!(
        services.nodes["in-theinternet"]
            .adjacency
            .contains("service1234;<service>")
    );

    let controllers = rendered(&report, "kube-controllers", "");
    assert_eq!(
        ids(&controllers),
        BTreeSet::from([
            "in-theinternet",
            "out-theinternet",
            "pseudo:unmanaged:client.hostname.com",
            "pseudo:unmanaged:server.hostname.com",
        ])
    );
    assert_eq!(
        controllers.filtered, 1,
        "the storage objects' host-less Unmanaged node connects only to itself"
    );
    let hidden = rendered(&report, "kube-controllers", "pseudo=hide");
    assert!(
        hidden
            .nodes
            .values()
            .all(|n| !n.id.starts_with("pseudo:unmanaged:"))
    );
    assert_eq!(
        TopologyStats::of(&rendered(&report, "ecs-tasks", "")),
        TopologyStats::default()
    );
}

#[test]
fn containers_by_hostname_group_containers_sharing_a_hostname() {
    let report = fixture_report();
    let view = rendered(&report, "containers-by-hostname", "");
    let task = "task-name-5-server-aceb93e2f2b797caba01.hostname.com";
    let group = &view.nodes[task];
    assert_eq!(
        (
            group.label.as_str(),
            group.label_minor.as_str(),
            group.rank.as_str()
        ),
        (task, "2 containers", task)
    );
    assert!(group.stack && group.metadata.is_empty());
    assert!(view.nodes["client.hostname.com"].adjacency.contains(task));
    assert_eq!(view.nodes["client.hostname.com"].label_minor, "1 container");
}

/// Containers under ECS tasks and a Swarm service, and three Weave peers.
fn orchestrated() -> Report {
    let mut report = fixture_report();
    let stamp = Default::default();
    let containers = &mut report.topology_mut(TopologyKind::Container).nodes;
    for (id, task) in [
        ("5e4d3c2b1a;<container>", "arn-server;<ecs_task>"),
        ("1a1d30201f;<container>", "arn-server;<ecs_task>"),
    ] {
        let c = containers.get_mut(id).unwrap();
        *c = c
            .clone()
            .with_parent("ecs_task", task)
            .with_parent("swarm_service", "web;<swarm_service>");
    }
    report.topology_mut(TopologyKind::EcsTask).add_node(
        Node::new("arn-server;<ecs_task>", "ecs_task")
            .with_latest("ecs_task_family", stamp, "server")
            .with_parent("ecs_service", "cluster;server-svc"),
    );
    report
        .topology_mut(TopologyKind::EcsService)
        .add_node(Node::new("cluster;server-svc", "ecs_service"));
    report.topology_mut(TopologyKind::SwarmService).add_node(
        Node::new("web;<swarm_service>", "swarm_service").with_latest("service_name", stamp, "web"),
    );
    let overlay = report.topology_mut(TopologyKind::Overlay);
    overlay.add_node(
        Node::new("#aa:aa", "overlay")
            .with_latest("weave_peer_nick_name", stamp, "alpha")
            .with_latest("host_node_id", stamp, "client.hostname.com;<host>")
            .with_adjacent("#bb:bb")
            .with_adjacent("#docker_peer_cc"),
    );
    overlay.add_node(Node::new("#bb:bb", "overlay").with_latest(
        "weave_peer_nick_name",
        stamp,
        "beta",
    ));
    overlay.add_node(Node::new("#docker_peer_cc", "overlay"));
    report
}

#[test]
fn ecs_swarm_and_weave_views_group_as_scope_does() {
    let report = orchestrated();
    let tasks = rendered(&report, "ecs-tasks", "");
    assert_eq!(tasks.nodes["arn-server;<ecs_task>"].label, "server");
    assert!(
        tasks.nodes["pseudo:unmanaged:client.hostname.com"]
            .adjacency
            .contains("arn-server;<ecs_task>"),
        "the client container has no task: Unmanaged on its host"
    );
    assert!(
        tasks.nodes["in-theinternet"]
            .adjacency
            .contains("arn-server;<ecs_task>")
    );
    let services = rendered(&report, "ecs-services", "pseudo=hide");
    assert_eq!(
        ids(&services),
        BTreeSet::from(["cluster;server-svc", "in-theinternet"])
    );
    assert_eq!(services.nodes["cluster;server-svc"].label, "server-svc");

    let swarm = rendered(&report, "swarm-services", "");
    assert_eq!(swarm.nodes["web;<swarm_service>"].label, "web");
    assert!(
        swarm
            .nodes
            .contains_key("pseudo:unmanaged:client.hostname.com")
    );

    let weave = rendered(&report, "weave", "");
    assert_eq!(
        ids(&weave),
        BTreeSet::from(["#aa:aa", "pseudo:unmanaged:beta"]),
        "Docker peers left out, the unmonitored peer as Unmanaged"
    );
    let alpha = &weave.nodes["#aa:aa"];
    assert_eq!(
        (alpha.label.as_str(), alpha.label_minor.as_str()),
        ("alpha", "aa:aa")
    );
    assert!(alpha.adjacency.contains("pseudo:unmanaged:beta"));
    assert_eq!(weave.nodes["pseudo:unmanaged:beta"].label_minor, "beta");
}

#[test]
fn views_of_absent_orchestrators_are_empty() {
    let report = demo();
    for view in [
        "pods",
        "kube-controllers",
        "services",
        "ecs-tasks",
        "ecs-services",
        "swarm-services",
        "weave",
    ] {
        assert_eq!(rendered(&report, view, "").nodes.len(), 0, "{view}");
    }
    assert_eq!(
        render::render(&Report::default(), "processes"),
        Some(Default::default())
    );
}
