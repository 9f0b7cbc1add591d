//! The tables of a node's details that list what it is made of (`render/detailed/node.go`): a
//! host's pods, containers, processes and images; a service's or controller's pods, and their
//! containers and processes; an ECS service's tasks, containers and processes; a container's
//! processes; and so on. Each row is the child's summary as the view it lives in renders it.

use std::collections::BTreeMap;

use serde::Serialize;
use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::containers;
use super::endpoints::host_of;
use super::membership::{Member, Membership};
use super::processes::{self, parents};
use super::summary::{self, NodeSummary, SummaryHead, container_label};
use super::{ecs, kubernetes, pods};

/// One table of children: the nodes of one view rendered under the node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChildTable {
    /// Always empty: Scope tells its tables apart by `topologyId`.
    pub id: String,
    pub label: String,
    pub nodes: Vec<NodeSummary>,
    #[serde(rename = "topologyId")]
    pub topology_id: String,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    pub id: String,
    pub label: String,
    #[serde(rename = "defaultSort")]
    pub default_sort: bool,
    #[serde(rename = "dataType")]
    pub data_type: String,
}

impl Column {
    pub(super) fn new(id: &str, label: &str, data_type: &str) -> Self {
        Column {
            id: id.to_owned(),
            label: label.to_owned(),
            default_sort: false,
            data_type: data_type.to_owned(),
        }
    }
}

/// One of Scope's `nodeSummaryGroupSpecs` (`render/detailed/node.go`): how the children from
/// one report topology are tabled, and the view the UI links their rows to.
struct Spec {
    kind: TopologyKind,
    label: &'static str,
    view: &'static str,
    columns: &'static [(&'static str, &'static str, &'static str)],
}

const fn spec(
    kind: TopologyKind,
    label: &'static str,
    view: &'static str,
    columns: &'static [(&'static str, &'static str, &'static str)],
) -> Spec {
    Spec {
        kind,
        label,
        view,
        columns,
    }
}

/// In the order Scope lists the tables. Every kind of child this app finds has a spec, so
/// Scope's fallback for kinds without one (a table labelled with the topology's plural) is
/// never needed.
const SPECS: [Spec; 10] = {
    use TopologyKind::*;
    [
        spec(
            Pod,
            "Pods",
            "pods",
            &[
                ("kubernetes_state", "State", ""),
                ("container", "# Containers", "number"),
                ("kubernetes_ip", "IP", "ip"),
            ],
        ),
        spec(
            EcsTask,
            "Tasks",
            "ecs-tasks",
            &[("ecs_created_at", "Created At", "datetime")],
        ),
        spec(
            Container,
            "Containers",
            "containers",
            &[
                ("docker_cpu_total_usage", "CPU", "number"),
                ("docker_memory_usage", "Memory", "number"),
            ],
        ),
        spec(
            Process,
            "Processes",
            "processes",
            &[
                ("pid", "PID", "number"),
                ("process_cpu_usage_percent", "CPU", "number"),
                ("process_memory_usage_bytes", "Memory", "number"),
            ],
        ),
        spec(
            ContainerImage,
            "Container images",
            "containers-by-image",
            &[],
        ),
        spec(PersistentVolume, "Persistent Volumes", "pods", &[]),
        spec(
            PersistentVolumeClaim,
            "Persistent Volume Claims",
            "pods",
            &[],
        ),
        spec(StorageClass, "Storage Classes", "pods", &[]),
        spec(VolumeSnapshot, "Volume Snapshots", "pods", &[]),
        spec(VolumeSnapshotData, "Volume Snapshot Data", "pods", &[]),
    ]
};

impl Spec {
    fn table(&self, nodes: Vec<NodeSummary>) -> ChildTable {
        ChildTable {
            id: String::new(),
            label: self.label.to_owned(),
            nodes,
            topology_id: self.view.to_owned(),
            columns: self
                .columns
                .iter()
                .map(|(id, label, data_type)| Column::new(id, label, data_type))
                .collect(),
        }
    }
}

/// The child tables of node `id` of the view `membership` describes, empty ones left out.
pub(super) fn children(report: &Report, id: &str, membership: &Membership) -> Vec<ChildTable> {
    let rows = if membership.is_hosts() {
        host_children(report, id)
    } else {
        chain_children(report, id, membership)
    };
    // Each kind's rows come from one view, a map keyed by id, so they are already in Scope's
    // order (by id).
    let mut by_kind: BTreeMap<TopologyKind, Vec<NodeSummary>> = BTreeMap::new();
    for (kind, node) in rows {
        by_kind.entry(kind).or_default().push(node);
    }
    SPECS
        .iter()
        .filter_map(|spec| Some(spec.table(by_kind.remove(&spec.kind)?)))
        .collect()
}

/// Every member of a lower level whose way up the view's chain ends in node `id`, as its own
/// view summarises it. The node itself and pseudo nodes are no one's rows, as in Scope.
fn chain_children(
    report: &Report,
    id: &str,
    membership: &Membership,
) -> Vec<(TopologyKind, NodeSummary)> {
    let mut rows = Vec::new();
    for member in membership.child_kinds() {
        for (child, summary) in rendered(report, member) {
            if summary.pseudo || child == id {
                continue;
            }
            if membership.owners(member, &child).iter().any(|o| o == id) {
                rows.push((kind_of(report, member, &child), summary));
            }
        }
    }
    rows
}

/// The view a kind of member is a node of, rendered.
fn rendered(report: &Report, member: Member) -> BTreeMap<String, NodeSummary> {
    match member {
        Member::Process => processes::processes(report, None),
        Member::Container => containers::containers(report),
        Member::Pod => pods::pods(report),
        Member::EcsTask => ecs::tasks(report),
    }
}

/// The report topology of member `id`, which picks its table: the pods view also shows
/// storage objects.
fn kind_of(report: &Report, member: Member, id: &str) -> TopologyKind {
    match member {
        Member::Process => TopologyKind::Process,
        Member::Container => TopologyKind::Container,
        Member::EcsTask => TopologyKind::EcsTask,
        Member::Pod => kubernetes::POD_VIEW_KINDS
            .into_iter()
            .find(|k| report.topology(*k).nodes.contains_key(id))
            .unwrap_or(TopologyKind::Pod),
    }
}

/// Scope hangs every process, container, image and pod under the hosts it names as parents;
/// the containers come from its plain container renderer, before image names are joined in.
fn host_children(report: &Report, id: &str) -> Vec<(TopologyKind, NodeSummary)> {
    let on_host = |summary: &NodeSummary| {
        !summary.pseudo
            && summary
                .parents
                .iter()
                .any(|p| p.topology_id == "hosts" && p.id == id)
    };
    let pods = pods::pods(report)
        .into_iter()
        .map(|(child, node)| (kind_of(report, Member::Pod, &child), node));
    let all =
        |kind, nodes: BTreeMap<String, NodeSummary>| nodes.into_values().map(move |n| (kind, n));
    pods.chain(all(TopologyKind::Container, plain_containers(report)))
        .chain(all(
            TopologyKind::Process,
            processes::processes(report, None),
        ))
        .chain(all(
            TopologyKind::ContainerImage,
            containers::by_image(report),
        ))
        .filter(|(_, node)| on_host(node))
        .collect()
}

/// Every container as Scope's plain container renderer summarises it: no image name joined
/// in, so the image parent is the image's own id and the rank falls back to the host.
fn plain_containers(report: &Report) -> BTreeMap<String, NodeSummary> {
    let mut rendered = containers::containers(report);
    rendered.retain(|_, c| !c.pseudo);
    let topology = report.topology(TopologyKind::Container);
    for (id, summary) in &mut rendered {
        if let Some(container) = topology.nodes.get(id) {
            let adjacency = std::mem::take(&mut summary.adjacency);
            *summary = plain_container(report, id, container).with_adjacency(adjacency);
        }
    }
    rendered
}

fn plain_container(report: &Report, id: &str, container: &Node) -> NodeSummary {
    let topology = report.topology(TopologyKind::Container);
    let label = container_label(container, id);
    let host = container
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_default()
        .to_owned();
    let rank = containers::container_rank(container, &host, &label);
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label,
        label_minor: host,
        rank,
        shape: super::summary::shape_or(topology, "hexagon"),
        tag: topology.tag.clone(),
        metadata: summary::metadata(container, topology),
        parents: parents(report, container),
        metrics: summary::metrics(container, topology),
        ..SummaryHead::default()
    })
}
