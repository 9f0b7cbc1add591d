//! The `pods` view: pods, connected as their containers are, with containers outside any pod
//! gathered per host as "Unmanaged", and the storage objects linked as Kubernetes binds them
//! (storage class → claim → volume → snapshot → snapshot data).

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::merge::merge_metric;
use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::containers;
use super::endpoints::host_of;
use super::join::{join_edges, pod_addresses};
use super::options::is_pause_image;
use super::processes::{is_internet, parents};
use super::summary::{self, NodeSummary, SummaryHead, is_pseudo_id};

pub fn pods(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Pod);
    let containers_view = containers::containers(report);
    let children = children_of(report, &containers_view);
    let none = Vec::new();
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .filter(|(_, p)| p.latest_value(keys::KUBERNETES_STATE) != Some("deleted"))
        .map(|(id, pod)| {
            let children = children.get(id).unwrap_or(&none);
            let count = children.len();
            let pod = with_children(pod, children);
            let counted = Node::clone(&pod).with_latest(
                "count_container",
                Default::default(),
                count.to_string(),
            );
            let summary = NodeSummary::from(SummaryHead {
                id: id.clone(),
                label: pod
                    .latest_value(keys::KUBERNETES_NAME)
                    .unwrap_or_default()
                    .to_owned(),
                label_minor: format!(
                    "{count} {}",
                    if count == 1 {
                        "container"
                    } else {
                        "containers"
                    }
                ),
                rank: namespaced(&pod),
                shape: shape(report, TopologyKind::Pod),
                tag: topology.tag.clone(),
                metadata: summary::metadata(&counted, topology),
                parents: parents(report, &pod),
                metrics: summary::metrics(&pod, topology),
                ..SummaryHead::default()
            });
            (id.clone(), summary)
        })
        .collect();

    let mut edges = Vec::new();
    for (id, container) in &containers_view {
        for from in pods_of(report, id) {
            edges.extend(
                container
                    .adjacency
                    .iter()
                    .flat_map(|to| pods_of(report, to))
                    .map(|to| (from.clone(), to)),
            );
        }
    }
    // `ConnectionJoin(MapPod2IP, pods)`: connections by pod address.
    edges.extend(join_edges(report, topology.nodes.iter(), pod_addresses));
    summary::add_edges(
        &mut nodes,
        edges.iter().map(|(a, b)| (a.as_str(), b.as_str())),
    );
    add_storage(report, &mut nodes);
    nodes
}

/// Each pod's children, as Scope's `Map2Parent` hands them over: the containers of the
/// containers view drawn in it, in id order.
pub(super) fn children_of<'r>(
    report: &'r Report,
    containers_view: &BTreeMap<String, NodeSummary>,
) -> BTreeMap<String, Vec<&'r Node>> {
    let mut children: BTreeMap<String, Vec<&Node>> = BTreeMap::new();
    let container_nodes = &report.topology(TopologyKind::Container).nodes;
    for id in containers_view.keys().filter(|id| !is_pseudo_id(id)) {
        let Some(container) = container_nodes.get(id) else {
            continue;
        };
        for pod in pods_of(report, id).into_iter().filter(|p| !is_pseudo_id(p)) {
            children.entry(pod).or_default().push(container);
        }
    }
    children
}

/// What a pod takes from the containers drawn in it (`children`, in id order):
/// - `propagatePodHost`: a pod without a host parent takes the host parents of its first
///   child that has one;
/// - `PropagateSingleMetrics(container)`: a pod with exactly one child that makes connections
///   (no `does_not_make_connections`) takes that child's metrics.
pub(super) fn with_children<'p>(pod: &'p Node, children: &[&Node]) -> Cow<'p, Node> {
    let host = TopologyKind::Host.name();
    let mut pod = Cow::Borrowed(pod);
    if pod.parents.get(host).is_none_or(|hosts| hosts.is_empty())
        && let Some(hosts) = children
            .iter()
            .find_map(|c| c.parents.get(host).filter(|hosts| !hosts.is_empty()))
    {
        pod.to_mut().parents.insert(host.to_owned(), hosts.clone());
    }
    let mut connecting = children
        .iter()
        .filter(|c| c.latest_value("does_not_make_connections").is_none());
    if let (Some(only), None) = (connecting.next(), connecting.next()) {
        let metrics = &mut pod.to_mut().metrics;
        for (key, metric) in &only.metrics {
            let merged = match metrics.get(key) {
                Some(ours) => merge_metric(metric, ours),
                None => metric.clone(),
            };
            metrics.insert(key.clone(), merged);
        }
    }
    pod
}

/// The nodes of the pods view that node `id` of the containers view is drawn in (Scope's
/// `PodRenderer`, `Map2Parent(pod, Unmanaged)`): a running container's pod parents, or its
/// host's "Unmanaged" node when it has none; "Uncontained" becomes "Unmanaged" and the
/// Internet passes through. Stopped containers and Kubernetes' pause containers are in no pod.
pub(super) fn pods_of(report: &Report, id: &str) -> Vec<String> {
    if is_internet(id) {
        return vec![id.to_owned()];
    }
    if let Some(host) = id.strip_prefix("pseudo:uncontained:") {
        return vec![format!("pseudo:unmanaged:{host}")];
    }
    let Some(container) = report.topology(TopologyKind::Container).nodes.get(id) else {
        return Vec::new();
    };
    let pause = containers::with_image(report, container)
        .latest_value("docker_image_name")
        .is_some_and(is_pause_image);
    if !containers::is_running(container) || pause {
        return Vec::new();
    }
    match container.parents.get(TopologyKind::Pod.name()) {
        Some(pods) if !pods.is_empty() => pods.iter().cloned().collect(),
        _ => {
            let host = container.latest_value(keys::HOST_NODE_ID).map(host_of);
            vec![format!("pseudo:unmanaged:{}", host.unwrap_or_default())]
        }
    }
}

fn namespaced(node: &Node) -> String {
    let ns = node
        .latest_value(keys::KUBERNETES_NAMESPACE)
        .unwrap_or_default();
    format!(
        "{ns}/{}",
        node.latest_value(keys::KUBERNETES_NAME).unwrap_or_default()
    )
}

fn shape(report: &Report, kind: TopologyKind) -> String {
    report.topology(kind).shape.clone()
}

/// Storage objects and the bindings between them, each found by the name the other records.
fn add_storage(report: &Report, nodes: &mut BTreeMap<String, NodeSummary>) {
    use TopologyKind::*;
    for kind in [
        PersistentVolume,
        PersistentVolumeClaim,
        StorageClass,
        VolumeSnapshot,
        VolumeSnapshotData,
    ] {
        let topology = report.topology(kind);
        for (id, node) in &topology.nodes {
            let summary = NodeSummary::from(SummaryHead {
                id: id.clone(),
                label: node
                    .latest_value(keys::KUBERNETES_NAME)
                    .unwrap_or_default()
                    .to_owned(),
                rank: namespaced(node),
                shape: topology.shape.clone(),
                tag: topology.tag.clone(),
                metadata: summary::metadata(node, topology),
                metrics: summary::metrics(node, topology),
                ..SummaryHead::default()
            });
            nodes.insert(id.clone(), summary);
        }
    }
    // (from, its field naming the target, to, the target's field holding that name)
    let links = [
        (
            StorageClass,
            keys::KUBERNETES_NAME,
            PersistentVolumeClaim,
            "kubernetes_storage_class_name",
        ),
        (
            PersistentVolumeClaim,
            "kubernetes_volume_name",
            PersistentVolume,
            keys::KUBERNETES_NAME,
        ),
        (
            PersistentVolume,
            keys::KUBERNETES_NAME,
            VolumeSnapshot,
            "kubernetes_volume_name",
        ),
        (
            VolumeSnapshot,
            keys::KUBERNETES_NAME,
            VolumeSnapshotData,
            "kubernetes_volume_snapshot_name",
        ),
        (
            Pod,
            "kubernetes_volume_claim",
            PersistentVolumeClaim,
            keys::KUBERNETES_NAME,
        ),
    ];
    for (from_kind, from_field, to_kind, to_field) in links {
        for (from_id, from) in &report.topology(from_kind).nodes {
            let Some(name) = from.latest_value(from_field).filter(|n| !n.is_empty()) else {
                continue;
            };
            for (to_id, to) in &report.topology(to_kind).nodes {
                if to.latest_value(to_field) == Some(name)
                    && nodes.contains_key(to_id)
                    && let Some(node) = nodes.get_mut(from_id)
                {
                    node.adjacency.insert(to_id.clone());
                }
            }
        }
    }
}
