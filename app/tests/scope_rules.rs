//! Scope's image and pod rules (scope-compat.md §4.5), on reports built here to exercise what
//! the fixtures do not: image names with registries and tags, what containers take from their
//! image node, pods without a host parent, single- and multi-container pods, and connections
//! joined by container and pod addresses.

use serde_json::{Value, json};
use stormscope_app::render::{self, NodeSummary, Options};
use stormscope_shared::merge::fast_merge;
use stormscope_shared::{Limits, Report, codec};

const T: &str = "2026-11-26T12:00:00Z";
/// A later timestamp: the image node's entries are newer than the container's own.
const T2: &str = "2026-11-26T12:00:05Z";

fn latest(pairs: &[(&str, &str)], ts: &str) -> Value {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!({"timestamp": ts, "value": v})))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn metric(value: f64) -> Value {
    json!({"samples": [{"date": T, "value": value}], "min": value, "max": value})
}

fn image(id: &str, host: &str, extra: &[(&str, &str)]) -> (String, Value) {
    let mut pairs = vec![("docker_image_id", id)];
    pairs.extend_from_slice(extra);
    (
        format!("{id};<container_image>"),
        json!({
            "id": format!("{id};<container_image>"), "topology": "container_image",
            "latest": latest(&pairs, T2),
            "parents": {"host": [format!("{host};<host>")]},
        }),
    )
}

struct Container<'a> {
    id: &'a str,
    host: &'a str,
    image: &'a str,
    pod: Option<&'a str>,
    cpu: f64,
    extra: &'a [(&'a str, &'a str)],
    ips: &'a [&'a str],
}

fn container(c: Container) -> (String, Value) {
    let host_id = format!("{};<host>", c.host);
    let mut pairs = vec![
        ("docker_container_id", c.id),
        ("docker_container_name", c.id),
        ("docker_container_state", "running"),
        ("docker_container_state_human", "running"),
        ("docker_image_id", c.image),
        ("host_node_id", host_id.as_str()),
    ];
    pairs.extend_from_slice(c.extra);
    let mut parents = json!({
        "host": [host_id],
        "container_image": [format!("{};<container_image>", c.image)],
    });
    if let Some(pod) = c.pod {
        parents["pod"] = json!([format!("{pod};<pod>")]);
    }
    let scoped: Vec<String> = c.ips.iter().map(|ip| format!(";{ip}")).collect();
    (
        format!("{};<container>", c.id),
        json!({
            "id": format!("{};<container>", c.id), "topology": "container",
            "latest": latest(&pairs, T),
            "sets": {"docker_container_ips_with_scopes": scoped},
            "metrics": {"docker_cpu_total_usage": metric(c.cpu)},
            "parents": parents,
        }),
    )
}

fn pod(id: &str, name: &str, host: Option<&str>, ip: &str) -> (String, Value) {
    let mut node = json!({
        "id": format!("{id};<pod>"), "topology": "pod",
        "latest": latest(
            &[("kubernetes_name", name), ("kubernetes_namespace", "shop"), ("kubernetes_ip", ip)],
            T,
        ),
        "parents": {},
    });
    if let Some(host) = host {
        node["parents"]["host"] = json!([format!("{host};<host>")]);
        node["latest"]["host_node_id"] = json!({"timestamp": T, "value": format!("{host};<host>")});
    }
    (format!("{id};<pod>"), node)
}

fn endpoint(id: &str, host: Option<&str>, to: &[&str]) -> (String, Value) {
    let mut node = json!({"id": id, "topology": "endpoint", "adjacency": to});
    if let Some(host) = host {
        node["latest"] = latest(&[("host_node_id", &format!("{host};<host>"))], T);
    }
    (id.to_owned(), node)
}

fn nodes(list: Vec<(String, Value)>) -> Value {
    list.into_iter().collect::<serde_json::Map<_, _>>().into()
}

fn template(id: &str, label: &str, priority: f64) -> (String, Value) {
    (
        id.to_owned(),
        json!({"id": id, "label": label, "priority": priority, "from": "latest"}),
    )
}

/// Two hosts running a shop:
/// - images: `quay.io/coreos/etcd:v3.3` (an older probe's whole name, no tag of its own),
///   `nginx` tagged `1.25` with sizes (a newer probe's split name), a three-part
///   `registry.local:5000/team/api` tagged `v2` and marked a system image, and an unused
///   `quay.io/coreos/etcd:v3.4` on the second host;
/// - pods: `etcd` (one container), `web` (nginx and a sidecar that makes no connections),
///   `api` (no host parent of its own, one container on host b), `batch` (two connecting
///   containers);
/// - connections no process explains: etcd's container to web's nginx by container address,
///   etcd's container to a public address, and from the api pod's address to the etcd pod's.
fn shop() -> Report {
    let metadata = nodes(vec![
        template("docker_image_tag", "Image tag", 1.0),
        template("docker_image_name", "Image name", 2.0),
        template("docker_container_state_human", "State", 4.0),
    ]);
    let metrics = json!({
        "docker_cpu_total_usage":
            {"id": "docker_cpu_total_usage", "label": "CPU", "format": "percent", "priority": 1.0},
    });
    let c = |id, host, image, pod, cpu, extra, ips| {
        container(Container {
            id,
            host,
            image,
            pod,
            cpu,
            extra,
            ips,
        })
    };
    let report = json!({
        "Host": {"nodes": nodes(vec![
            ("a.shop;<host>".into(), json!({"id": "a.shop;<host>", "topology": "host",
                "latest": latest(&[("host_name", "a.shop")], T),
                "sets": {"local_networks": ["10.0.0.0/24"]}})),
            ("b.shop;<host>".into(), json!({"id": "b.shop;<host>", "topology": "host",
                "latest": latest(&[("host_name", "b.shop")], T),
                "sets": {"local_networks": ["10.0.0.0/24"]}})),
        ])},
        "ContainerImage": {"nodes": nodes(vec![
            image("etcd33", "a.shop", &[("docker_image_name", "quay.io/coreos/etcd:v3.3")]),
            image("etcd34", "b.shop", &[("docker_image_name", "quay.io/coreos/etcd:v3.4")]),
            image("nginx", "a.shop", &[
                ("docker_image_name", "nginx"), ("docker_image_tag", "1.25"),
                ("docker_image_size", "1000"), ("docker_image_virtual_size", "2000"),
            ]),
            image("api", "b.shop", &[
                ("docker_image_name", "registry.local:5000/team/api"),
                ("docker_image_tag", "v2"),
                ("docker_image_label_works.weave.role", "system"),
            ]),
        ])},
        "Container": {
            "metadata_templates": metadata,
            "metric_templates": metrics,
            "nodes": nodes(vec![
                // The container's own (older) name and tag lose to its image's.
                c("etcd1", "a.shop", "etcd33", Some("p-etcd"), 1.0,
                  &[("docker_image_name", "stale"), ("docker_image_tag", "old")][..], &["10.0.0.11"][..]),
                c("web1", "a.shop", "nginx", Some("p-web"), 2.0, &[], &["10.0.0.12"]),
                c("side1", "a.shop", "nginx", Some("p-web"), 3.0,
                  &[("does_not_make_connections", "true")], &[]),
                c("api1", "b.shop", "api", Some("p-api"), 4.0, &[], &[]),
                c("batch1", "b.shop", "nginx", Some("p-batch"), 5.0, &[], &[]),
                c("batch2", "b.shop", "nginx", Some("p-batch"), 6.0, &[], &[]),
            ]),
        },
        "Pod": {
            "metric_templates": metrics,
            "nodes": nodes(vec![
                pod("p-etcd", "etcd", Some("a.shop"), "10.0.0.21"),
                pod("p-web", "web", Some("a.shop"), "10.0.0.22"),
                pod("p-api", "api", None, "10.0.0.23"),
                pod("p-batch", "batch", Some("b.shop"), "10.0.0.24"),
            ]),
        },
        "Endpoint": {"nodes": nodes(vec![
            endpoint(";10.0.0.11;40000", Some("a.shop"), &[";10.0.0.12;80"]),
            endpoint(";10.0.0.12;80", Some("a.shop"), &[]),
            endpoint(";10.0.0.11;40001", Some("a.shop"), &[";8.8.8.8;443"]),
            endpoint(";8.8.8.8;443", None, &[]),
            endpoint(";10.0.0.23;50000", Some("b.shop"), &[";10.0.0.21;2379"]),
            endpoint(";10.0.0.21;2379", Some("a.shop"), &[]),
        ])},
    });
    let body = serde_json::to_vec(&report).unwrap();
    let report = codec::decode_sniffed(&body, &Limits::default()).expect("a valid report");
    let mut merged = fast_merge([&report]);
    merged.remove_part_merged_nodes();
    merged
}

fn view(report: &Report, id: &str) -> std::collections::BTreeMap<String, NodeSummary> {
    render::render(report, id).expect("known view")
}

fn metadata(node: &NodeSummary) -> Vec<(String, String)> {
    let json = serde_json::to_value(node).unwrap();
    json["metadata"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let field = |k: &str| row[k].as_str().unwrap_or_default().to_owned();
            (field("id"), field("value"))
        })
        .collect()
}

fn parents(node: &NodeSummary, view: &str) -> Vec<(String, String)> {
    node.parents
        .iter()
        .filter(|p| p.topology_id == view)
        .map(|p| (p.id.clone(), p.label.clone()))
        .collect()
}

fn cpu(node: &NodeSummary) -> Option<f64> {
    let json = serde_json::to_value(node).unwrap();
    json["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["id"] == "docker_cpu_total_usage")
        .and_then(|m| m["value"].as_f64())
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[test]
fn image_names_lose_their_registry_and_tag_in_rank_parents_and_groups() {
    let report = shop();
    let containers = view(&report, "containers");
    let etcd = &containers["etcd1;<container>"];
    assert_eq!(etcd.rank, "coreos/etcd");
    assert_eq!(
        parents(etcd, "containers-by-image"),
        [pair("coreos/etcd;<container_image>", "coreos/etcd")]
    );
    assert_eq!(containers["api1;<container>"].rank, "team/api");

    let images = view(&report, "containers-by-image");
    let ids: Vec<&str> = images.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "coreos/etcd;<container_image>",
            "nginx;<container_image>",
            "out-theinternet",
            "team/api;<container_image>",
        ]
    );
    let etcd = &images["coreos/etcd;<container_image>"];
    assert_eq!(
        (etcd.label.as_str(), etcd.rank.as_str()),
        ("coreos/etcd", "coreos/etcd")
    );
    assert_eq!(etcd.label_minor, "1 container");
    // Both tags' images are the group's, so both their hosts are its parents.
    assert_eq!(
        parents(etcd, "hosts"),
        [pair("a.shop;<host>", "a"), pair("b.shop;<host>", "b")]
    );
    assert_eq!(
        images["nginx;<container_image>"].label_minor,
        "4 containers"
    );
    // Adjacency joins groups by their split names.
    assert!(etcd.adjacency.contains("nginx;<container_image>"));

    // The group's children table lists the container drawn in it.
    let details = render::details(
        &report,
        "containers-by-image",
        "coreos/etcd;<container_image>",
    )
    .expect("the group has details");
    let json = serde_json::to_value(&details).unwrap();
    let rows: Vec<&str> = json["children"][0]["nodes"]
        .as_array()
        .expect("a children table")
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["etcd1;<container>"]);
}

#[test]
fn containers_take_name_tag_sizes_and_role_from_their_image() {
    let report = shop();
    let containers = view(&report, "containers");
    let web = metadata(&containers["web1;<container>"]);
    assert_eq!(
        web,
        [
            pair("docker_image_tag", "1.25"),
            pair("docker_image_name", "nginx"),
            pair("docker_container_state_human", "running"),
        ],
        "the image tag comes first"
    );
    // The image's entries replace the container's own; no tag on the image, none shown.
    let etcd = metadata(&containers["etcd1;<container>"]);
    assert_eq!(etcd[0], pair("docker_image_tag", "old"));
    assert_eq!(
        etcd[1],
        pair("docker_image_name", "quay.io/coreos/etcd:v3.3")
    );

    // The image's role label makes its container a system container.
    let apps = render::render_with(
        &report,
        "containers",
        &Options::from_query("system=application"),
    )
    .unwrap()
    .nodes;
    assert!(!apps.contains_key("api1;<container>"));
    assert!(apps.contains_key("web1;<container>"));
    let system = render::render_with(&report, "containers", &Options::from_query("system=system"))
        .unwrap()
        .nodes;
    assert!(system.contains_key("api1;<container>"));
}

#[test]
fn pods_without_a_host_take_their_first_containers_host() {
    let report = shop();
    let pods = view(&report, "pods");
    assert_eq!(
        parents(&pods["p-api;<pod>"], "hosts"),
        [pair("b.shop;<host>", "b")]
    );
    assert_eq!(
        parents(&pods["p-web;<pod>"], "hosts"),
        [pair("a.shop;<host>", "a")]
    );
    // So the host lists the pod among its children.
    let host = render::details(&report, "hosts", "b.shop;<host>").expect("host b");
    let json = serde_json::to_value(&host).unwrap();
    let tables = json["children"].as_array().expect("children");
    let pods_table = tables
        .iter()
        .find(|t| t["topologyId"] == "pods")
        .expect("a pods table");
    let ids: Vec<&str> = pods_table["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p-api;<pod>", "p-batch;<pod>"]);
}

#[test]
fn pods_with_one_connecting_container_take_its_metrics() {
    let report = shop();
    let pods = view(&report, "pods");
    assert_eq!(cpu(&pods["p-etcd;<pod>"]), Some(1.0), "one container");
    assert_eq!(
        cpu(&pods["p-web;<pod>"]),
        Some(2.0),
        "one connecting container beside one that makes no connections"
    );
    assert_eq!(
        cpu(&pods["p-batch;<pod>"]),
        None,
        "two connecting containers"
    );
    assert_eq!(pods["p-web;<pod>"].label_minor, "2 containers");
}

#[test]
fn connections_join_containers_and_pods_by_address() {
    let report = shop();
    let containers = view(&report, "containers");
    let etcd = &containers["etcd1;<container>"];
    assert!(
        etcd.adjacency.contains("web1;<container>"),
        "{:?}",
        etcd.adjacency
    );
    assert!(etcd.adjacency.contains("out-theinternet"));
    let pods = view(&report, "pods");
    // From the containers' edge, and from the pods' own addresses.
    assert!(pods["p-etcd;<pod>"].adjacency.contains("p-web;<pod>"));
    assert!(pods["p-api;<pod>"].adjacency.contains("p-etcd;<pod>"));
    assert!(!pods["p-batch;<pod>"].adjacency.contains("p-etcd;<pod>"));
}
