//! The `pods` view: pods, connected as their containers are, with containers outside any pod
//! gathered per host as "Unmanaged", and the storage objects linked as Kubernetes binds them
//! (storage class → claim → volume → snapshot → snapshot data).

use std::collections::BTreeMap;

use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::containers;
use super::endpoints::host_of;
use super::options::is_pause_image;
use super::processes::{is_internet, parents};
use super::summary::{self, NodeSummary, SummaryHead, is_pseudo_id};

pub fn pods(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Pod);
    let containers_view = containers::containers(report);
    // A pod counts the containers drawn in it, as Scope counts the children it maps in.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for id in containers_view.keys().filter(|id| !is_pseudo_id(id)) {
        if let Some(pod) = pod_of(report, id).filter(|pod| !is_pseudo_id(pod)) {
            *counts.entry(pod).or_default() += 1;
        }
    }
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .filter(|(_, p)| p.latest_value(keys::KUBERNETES_STATE) != Some("deleted"))
        .map(|(id, pod)| {
            let count = counts.get(id).copied().unwrap_or(0);
            let counted =
                pod.clone()
                    .with_latest("count_container", Default::default(), count.to_string());
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
                rank: namespaced(pod),
                shape: shape(report, TopologyKind::Pod),
                tag: topology.tag.clone(),
                metadata: summary::metadata(&counted, topology),
                parents: parents(report, pod),
                metrics: summary::metrics(pod, topology),
                ..SummaryHead::default()
            });
            (id.clone(), summary)
        })
        .collect();

    let mut edges = Vec::new();
    for (id, container) in &containers_view {
        let Some(from) = pod_of(report, id) else {
            continue;
        };
        edges.extend(
            container
                .adjacency
                .iter()
                .filter_map(|to| Some((from.clone(), pod_of(report, to)?))),
        );
    }
    summary::add_edges(
        &mut nodes,
        edges.iter().map(|(a, b)| (a.as_str(), b.as_str())),
    );
    add_storage(report, &mut nodes);
    nodes
}

/// The node of the pods view that node `id` of the containers view is drawn in (Scope's
/// `PodRenderer`): a running container's pod, or its host's "Unmanaged" node when it has none;
/// "Uncontained" becomes "Unmanaged" and the Internet passes through. Stopped containers and
/// Kubernetes' pause containers are in no pod.
pub(super) fn pod_of(report: &Report, id: &str) -> Option<String> {
    if is_internet(id) {
        return Some(id.to_owned());
    }
    if let Some(host) = id.strip_prefix("pseudo:uncontained:") {
        return Some(format!("pseudo:unmanaged:{host}"));
    }
    let container = report.topology(TopologyKind::Container).nodes.get(id)?;
    let pause = containers::image_name(report, container).is_some_and(|i| is_pause_image(&i));
    if !containers::is_running(container) || pause {
        return None;
    }
    pod_of_container(container).or_else(|| {
        let host = container.latest_value(keys::HOST_NODE_ID).map(host_of)?;
        Some(format!("pseudo:unmanaged:{host}"))
    })
}

/// The pod a container runs in: its `pod` parent, or Kubernetes' pod uid label.
fn pod_of_container(container: &Node) -> Option<String> {
    container
        .parents
        .get(TopologyKind::Pod.name())
        .and_then(|ids| ids.iter().next().cloned())
        .or_else(|| {
            container
                .latest_value("docker_label_io.kubernetes.pod.uid")
                .map(|uid| format!("{uid};<pod>"))
        })
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
