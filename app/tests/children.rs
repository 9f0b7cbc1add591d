//! The child tables of node details in every view built from other nodes: Kubernetes
//! services and controllers list their pods and the pods' containers and processes, ECS
//! services their tasks, containers and processes, and so on, in the order and with the
//! columns of Scope's `nodeSummaryGroupSpecs`, each row the child as its own view shows it.

mod common;

use common::fixture_report;
use serde_json::{Value, json};
use stormscope_app::render;
use stormscope_shared::{Node, Report, Timestamp, TopologyKind};

fn details(report: &Report, view: &str, id: &str) -> Value {
    let node = render::details(report, view, id)
        .unwrap_or_else(|| panic!("{view} renders no node {id:?}"));
    serde_json::to_value(node).unwrap()
}

/// Each table as (label, topologyId, row ids).
fn tables(node: &Value) -> Vec<(String, String, Vec<String>)> {
    let Some(children) = node.get("children") else {
        return Vec::new();
    };
    children
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let ids = t["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect();
            (
                t["label"].as_str().unwrap().to_owned(),
                t["topologyId"].as_str().unwrap().to_owned(),
                ids,
            )
        })
        .collect()
}

fn table<'a>(node: &'a Value, label: &str) -> &'a Value {
    node["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["label"] == label)
        .unwrap_or_else(|| panic!("no {label} table in {node}"))
}

/// Every row is the child exactly as the view the table links to shows it.
fn assert_rows_are_their_views_nodes(report: &Report, node: &Value) {
    for t in node["children"].as_array().unwrap() {
        let view = t["topologyId"].as_str().unwrap();
        let rendered = serde_json::to_value(render::render(report, view).unwrap()).unwrap();
        for row in t["nodes"].as_array().unwrap() {
            let id = row["id"].as_str().unwrap();
            assert_eq!(row, &rendered[id], "row {id} of {view}");
        }
    }
}

fn expect(tables: &[(&str, &str, &[&str])]) -> Vec<(String, String, Vec<String>)> {
    tables
        .iter()
        .map(|(label, view, ids)| {
            (
                (*label).to_owned(),
                (*view).to_owned(),
                ids.iter().map(|id| (*id).to_owned()).collect(),
            )
        })
        .collect()
}

const PODS_COLUMNS: &str = r##"[
    {"id": "kubernetes_state", "label": "State", "defaultSort": false, "dataType": ""},
    {"id": "container", "label": "# Containers", "defaultSort": false, "dataType": "number"},
    {"id": "kubernetes_ip", "label": "IP", "defaultSort": false, "dataType": "ip"}]"##;
const CONTAINERS_COLUMNS: &str = r#"[
    {"id": "docker_cpu_total_usage", "label": "CPU", "defaultSort": false, "dataType": "number"},
    {"id": "docker_memory_usage", "label": "Memory", "defaultSort": false, "dataType": "number"}]"#;
const PROCESSES_COLUMNS: &str = r#"[
    {"id": "pid", "label": "PID", "defaultSort": false, "dataType": "number"},
    {"id": "process_cpu_usage_percent", "label": "CPU", "defaultSort": false, "dataType": "number"},
    {"id": "process_memory_usage_bytes", "label": "Memory", "defaultSort": false, "dataType": "number"}]"#;
const TASKS_COLUMNS: &str = r#"[
    {"id": "ecs_created_at", "label": "Created At", "defaultSort": false, "dataType": "datetime"}]"#;

fn columns(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

#[test]
fn fixture_service_lists_its_pods_their_containers_and_processes() {
    let report = fixture_report();
    let service = details(&report, "services", "service1234;<service>");
    assert_eq!(
        tables(&service),
        expect(&[
            ("Pods", "pods", &["5d4c3b2a1;<pod>", "i9h8g7f6e;<pod>"]),
            (
                "Containers",
                "containers",
                &["5e4d3c2b1a;<container>", "a1b2c3d4e5;<container>"]
            ),
            (
                "Processes",
                "processes",
                &[
                    "client.hostname.com;10001",
                    "client.hostname.com;30020",
                    "server.hostname.com;215"
                ]
            ),
        ])
    );
    assert_eq!(table(&service, "Pods")["columns"], columns(PODS_COLUMNS));
    assert_eq!(
        table(&service, "Containers")["columns"],
        columns(CONTAINERS_COLUMNS)
    );
    assert_eq!(
        table(&service, "Processes")["columns"],
        columns(PROCESSES_COLUMNS)
    );
    assert_rows_are_their_views_nodes(&report, &service);
    // Tables carry no id of their own: the UI tells them apart by topology.
    assert_eq!(table(&service, "Pods")["id"], "");
}

#[test]
fn fixture_pods_and_hostname_groups_list_what_is_inside_them() {
    let report = fixture_report();
    let pod = details(&report, "pods", "5d4c3b2a1;<pod>");
    assert_eq!(
        tables(&pod),
        expect(&[
            ("Containers", "containers", &["a1b2c3d4e5;<container>"]),
            (
                "Processes",
                "processes",
                &["client.hostname.com;10001", "client.hostname.com;30020"]
            ),
        ])
    );
    assert_rows_are_their_views_nodes(&report, &pod);

    let group = details(
        &report,
        "containers-by-hostname",
        "task-name-5-server-aceb93e2f2b797caba01.hostname.com",
    );
    assert_eq!(
        tables(&group),
        expect(&[
            (
                "Containers",
                "containers",
                &["1a1d30201f;<container>", "5e4d3c2b1a;<container>"]
            ),
            ("Processes", "processes", &["server.hostname.com;215"]),
        ])
    );
    assert_rows_are_their_views_nodes(&report, &group);

    // A process is made of nothing the UI lists.
    let process = details(&report, "processes", "server.hostname.com;215");
    assert!(process.get("children").is_none(), "{process}");
}

fn t() -> Timestamp {
    Timestamp::default()
}

fn container(id: &str, state: &str) -> Node {
    Node::new(format!("{id};<container>"), "container")
        .with_latest("docker_container_id", t(), id)
        .with_latest("docker_container_name", t(), id)
        .with_latest("docker_container_state", t(), state)
        .with_latest("host_node_id", t(), "h1;<host>")
        .with_parent("host", "h1;<host>")
}

fn process(pid: &str, container: &str) -> Node {
    Node::new(format!("h1;{pid}"), "process")
        .with_latest("pid", t(), pid)
        .with_latest("name", t(), format!("proc-{pid}"))
        .with_latest("host_node_id", t(), "h1;<host>")
        .with_parent("host", "h1;<host>")
        .with_parent("container", format!("{container};<container>"))
}

fn pod(id: &str, name: &str, host: &str) -> Node {
    Node::new(format!("{id};<pod>"), "pod")
        .with_latest("kubernetes_name", t(), name)
        .with_latest("kubernetes_namespace", t(), "shop")
        .with_latest("host_node_id", t(), format!("{host};<host>"))
        .with_parent("host", format!("{host};<host>"))
}

/// One host running a Kubernetes deployment (two pods behind a service, one of them with a
/// pause container and a stopped one), a pod no controller manages on a second host, an ECS
/// service with one task (one running and one stopped container) and a Swarm service of two
/// containers. Each running container has a process.
fn orchestrated() -> Report {
    let mut r = Report::default();
    for host in ["h1", "h2"] {
        r.topology_mut(TopologyKind::Host).add_node(
            Node::new(format!("{host};<host>"), "host")
                .with_latest("host_name", t(), host)
                .with_set("local_networks", &["10.0.0.0/8"]),
        );
    }

    r.topology_mut(TopologyKind::Deployment).add_node(
        Node::new("d-web;<deployment>", "deployment")
            .with_latest("kubernetes_name", t(), "web")
            .with_latest("kubernetes_namespace", t(), "shop"),
    );
    r.topology_mut(TopologyKind::Service).add_node(
        Node::new("s-web;<service>", "service")
            .with_latest("kubernetes_name", t(), "web")
            .with_latest("kubernetes_namespace", t(), "shop"),
    );
    for (id, name) in [("p-web1", "web-1"), ("p-web2", "web-2")] {
        r.topology_mut(TopologyKind::Pod).add_node(
            pod(id, name, "h1")
                .with_parent("deployment", "d-web;<deployment>")
                .with_parent("service", "s-web;<service>"),
        );
    }
    r.topology_mut(TopologyKind::Pod)
        .add_node(pod("p-solo", "solo", "h2"));
    let in_pod = |c: Node, pod: &str| c.with_parent("pod", format!("{pod};<pod>"));
    let containers = [
        in_pod(container("c-web1", "running"), "p-web1"),
        // Its image node names it a pause container (Scope reads the name the container
        // takes from its image).
        in_pod(container("c-pause", "running"), "p-web1").with_latest(
            "docker_image_id",
            t(),
            "img-pause",
        ),
        in_pod(container("c-old", "exited"), "p-web1"),
        in_pod(container("c-web2", "running"), "p-web2"),
        container("c-ecs1", "running")
            .with_parent("ecs_task", "arn:task/1;<ecs_task>")
            .with_parent("ecs_service", "shop-cluster;shop-svc"),
        container("c-ecs2", "exited").with_parent("ecs_task", "arn:task/1;<ecs_task>"),
        container("c-sw1", "running").with_parent("swarm_service", "sw1;<swarm_service>"),
        container("c-sw2", "running").with_parent("swarm_service", "sw1;<swarm_service>"),
    ];
    for c in containers {
        r.topology_mut(TopologyKind::Container).add_node(c);
    }
    r.topology_mut(TopologyKind::ContainerImage).add_node(
        Node::new("img-pause;<container_image>", "container_image")
            .with_latest("docker_image_id", t(), "img-pause")
            .with_latest("docker_image_name", t(), "k8s.gcr.io/pause:3.1")
            .with_parent("host", "h1;<host>"),
    );
    for (pid, c) in [
        ("1", "c-web1"),
        ("2", "c-web2"),
        ("3", "c-pause"),
        ("5", "c-ecs1"),
        ("6", "c-sw1"),
    ] {
        r.topology_mut(TopologyKind::Process)
            .add_node(process(pid, c));
    }

    // The Swarm service's process calls the first web pod's on port 80.
    for (endpoint, pid, to) in [
        (";10.0.0.6;40000", "6", Some(";10.0.0.1;80")),
        (";10.0.0.1;80", "1", None),
    ] {
        let mut node = Node::new(endpoint, "endpoint")
            .with_latest("host_node_id", t(), "h1;<host>")
            .with_latest("pid", t(), pid);
        if let Some(to) = to {
            node = node.with_adjacent(to);
        }
        r.topology_mut(TopologyKind::Endpoint).add_node(node);
    }

    r.topology_mut(TopologyKind::EcsTask).add_node(
        Node::new("arn:task/1;<ecs_task>", "ecs_task")
            .with_latest("ecs_task_family", t(), "shop-task")
            .with_latest("ecs_created_at", t(), "2024-05-01T10:00:00Z")
            .with_parent("ecs_service", "shop-cluster;shop-svc"),
    );
    r.topology_mut(TopologyKind::EcsService)
        .add_node(Node::new("shop-cluster;shop-svc", "ecs_service"));
    r.topology_mut(TopologyKind::SwarmService).add_node(
        Node::new("sw1;<swarm_service>", "swarm_service").with_latest(
            "service_name",
            t(),
            "shop_api",
        ),
    );
    r
}

#[test]
fn kubernetes_controllers_and_services_list_pods_then_their_running_containers() {
    let report = orchestrated();
    // Pause containers and stopped ones are in no pod (Scope's `PodRenderer` filters them
    // before mapping containers to pods), so neither they nor their processes are listed.
    let want = expect(&[
        ("Pods", "pods", &["p-web1;<pod>", "p-web2;<pod>"]),
        (
            "Containers",
            "containers",
            &["c-web1;<container>", "c-web2;<container>"],
        ),
        ("Processes", "processes", &["h1;1", "h1;2"]),
    ]);
    for (view, id) in [
        ("kube-controllers", "d-web;<deployment>"),
        ("services", "s-web;<service>"),
    ] {
        let node = details(&report, view, id);
        assert_eq!(tables(&node), want, "{view} {id}");
        assert_eq!(table(&node, "Pods")["columns"], columns(PODS_COLUMNS));
        assert_rows_are_their_views_nodes(&report, &node);
    }

    // The pod counts the containers drawn in it, as the table of its containers shows.
    let web1 = details(&report, "pods", "p-web1;<pod>");
    assert_eq!(web1["labelMinor"], "1 container");
    assert_eq!(
        tables(&web1),
        expect(&[
            ("Containers", "containers", &["c-web1;<container>"]),
            ("Processes", "processes", &["h1;1"]),
        ])
    );

    // A pod without a controller is under its host's "Unmanaged" node, which lists it. That
    // node has no edges, so the view leaves it out (`FilterUnconnectedPseudo`), but its
    // details answer, as Scope's do.
    let view = render::render(&report, "kube-controllers").unwrap();
    assert!(!view.contains_key("pseudo:unmanaged:h2"));
    let unmanaged = details(&report, "kube-controllers", "pseudo:unmanaged:h2");
    assert_eq!(unmanaged["pseudo"], true);
    assert_eq!(
        tables(&unmanaged),
        expect(&[("Pods", "pods", &["p-solo;<pod>"])])
    );
}

#[test]
fn ecs_services_list_tasks_then_running_containers_then_processes() {
    let report = orchestrated();
    let service = details(&report, "ecs-services", "shop-cluster;shop-svc");
    assert_eq!(
        tables(&service),
        expect(&[
            ("Tasks", "ecs-tasks", &["arn:task/1;<ecs_task>"]),
            ("Containers", "containers", &["c-ecs1;<container>"]),
            ("Processes", "processes", &["h1;5"]),
        ])
    );
    let tasks = table(&service, "Tasks");
    assert_eq!(tasks["columns"], columns(TASKS_COLUMNS));
    assert_eq!(tasks["nodes"][0]["label"], "shop-task");
    assert_rows_are_their_views_nodes(&report, &service);

    let task = details(&report, "ecs-tasks", "arn:task/1;<ecs_task>");
    assert_eq!(
        tables(&task),
        expect(&[
            ("Containers", "containers", &["c-ecs1;<container>"]),
            ("Processes", "processes", &["h1;5"]),
        ])
    );
    assert_eq!(
        table(&task, "Containers")["columns"],
        columns(CONTAINERS_COLUMNS)
    );
    assert_rows_are_their_views_nodes(&report, &task);
}

#[test]
fn swarm_services_list_their_running_containers_and_processes() {
    let report = orchestrated();
    let service = details(&report, "swarm-services", "sw1;<swarm_service>");
    assert_eq!(service["label"], "shop_api");
    assert_eq!(
        tables(&service),
        expect(&[
            (
                "Containers",
                "containers",
                &["c-sw1;<container>", "c-sw2;<container>"]
            ),
            ("Processes", "processes", &["h1;6"]),
        ])
    );
    assert_eq!(
        table(&service, "Processes")["columns"],
        columns(PROCESSES_COLUMNS)
    );
    assert_rows_are_their_views_nodes(&report, &service);
    // The containers outside any Swarm service are "Unmanaged" there, stopped ones left out.
    let unmanaged = details(&report, "swarm-services", "pseudo:unmanaged:h1");
    let listed = &tables(&unmanaged)[0].2;
    assert!(
        listed.contains(&"c-ecs1;<container>".to_owned()),
        "{listed:?}"
    );
    assert!(
        !listed.contains(&"c-ecs2;<container>".to_owned()),
        "{listed:?}"
    );
    assert!(
        !listed.contains(&"c-sw1;<container>".to_owned()),
        "{listed:?}"
    );
}

#[test]
fn hosts_list_what_runs_on_them_whatever_orchestrates_it() {
    let report = orchestrated();
    let host = details(&report, "hosts", "h1;<host>");
    let labels: Vec<String> = tables(&host).into_iter().map(|(l, _, _)| l).collect();
    assert_eq!(
        labels,
        ["Pods", "Containers", "Processes", "Container images"]
    );
    assert_eq!(tables(&host)[0].2, ["p-web1;<pod>", "p-web2;<pod>"]);
    assert_eq!(
        table(&host, "Processes")["nodes"].as_array().unwrap().len(),
        5
    );
    let h2 = details(&report, "hosts", "h2;<host>");
    assert_eq!(tables(&h2), expect(&[("Pods", "pods", &["p-solo;<pod>"])]));
}

#[test]
fn nodes_made_of_nothing_have_no_children_key() {
    let report = orchestrated();
    let node = details(&report, "containers", "c-ecs2;<container>");
    assert!(node.get("children").is_none());
    assert_eq!(node["controls"], json!([]));
}

/// (remote node, port, count) of each row of a connections table.
fn connections(node: &Value, table: &str) -> Vec<(String, String, String)> {
    let table = node["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == table)
        .unwrap();
    table["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cell = |i: usize| row["metadata"][i]["value"].as_str().unwrap().to_owned();
            (row["nodeId"].as_str().unwrap().to_owned(), cell(0), cell(1))
        })
        .collect()
}

/// Scope counts a node's connections over the endpoints among its children, which come with
/// the processes inside it: a service's connections are its pods' processes'.
#[test]
fn groups_connect_through_the_processes_inside_them() {
    let report = orchestrated();
    let service = details(&report, "services", "s-web;<service>");
    // The calling container is in no pod: it is the host's "Unmanaged" node, in the pods
    // view and so in the services view.
    assert_eq!(
        connections(&service, "incoming-connections"),
        [(
            "pseudo:unmanaged:h1".to_owned(),
            "80".to_owned(),
            "1".to_owned()
        )]
    );
    let swarm = details(&report, "swarm-services", "sw1;<swarm_service>");
    assert_eq!(
        connections(&swarm, "outgoing-connections"),
        [(
            "pseudo:unmanaged:h1".to_owned(),
            "80".to_owned(),
            "1".to_owned()
        )]
    );
    assert!(connections(&swarm, "incoming-connections").is_empty());
}

#[test]
fn ecs_and_swarm_parents_are_labelled_as_scope_labels_them() {
    let report = orchestrated();
    let parents = |id: &str| -> Vec<(String, String)> {
        let node = details(&report, "containers", id);
        node["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["topologyId"].as_str().unwrap().to_owned(),
                    p["label"].as_str().unwrap().to_owned(),
                )
            })
            .filter(|(view, _)| view.starts_with("ecs") || view.starts_with("swarm"))
            .collect()
    };
    // The task by its family, the service by the name in its id, Swarm's by its service name.
    assert_eq!(
        parents("c-ecs1;<container>"),
        [
            ("ecs-tasks".to_owned(), "shop-task".to_owned()),
            ("ecs-services".to_owned(), "shop-svc".to_owned()),
        ]
    );
    assert_eq!(
        parents("c-sw1;<container>"),
        [("swarm-services".to_owned(), "shop_api".to_owned())]
    );
}
