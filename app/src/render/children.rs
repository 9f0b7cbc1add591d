//! The tables of a node's details that list what it is made of (`render/detailed/node.go`): a
//! host's pods, containers, processes and images; a container's processes; and so on. Each
//! row is the child's summary as the view it lives in renders it.

use std::collections::BTreeMap;

use serde::Serialize;
use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::containers::{self, split_image_name};
use super::endpoints::host_of;
use super::membership::Membership;
use super::pods;
use super::processes::{self, parents};
use super::summary::{self, NodeSummary, SummaryHead, container_label};

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

/// The kinds of children, in the order Scope lists their tables.
#[derive(Clone, Copy)]
enum Kind {
    Pods,
    Containers,
    Processes,
    Images,
}

impl Kind {
    fn table(self, nodes: Vec<NodeSummary>) -> ChildTable {
        let (label, view, columns): (_, _, &[(&str, &str, &str)]) = match self {
            Kind::Pods => (
                "Pods",
                "pods",
                &[
                    ("kubernetes_state", "State", ""),
                    ("container", "# Containers", "number"),
                    ("kubernetes_ip", "IP", "ip"),
                ],
            ),
            Kind::Containers => (
                "Containers",
                "containers",
                &[
                    ("docker_cpu_total_usage", "CPU", "number"),
                    ("docker_memory_usage", "Memory", "number"),
                ],
            ),
            Kind::Processes => (
                "Processes",
                "processes",
                &[
                    ("pid", "PID", "number"),
                    ("process_cpu_usage_percent", "CPU", "number"),
                    ("process_memory_usage_bytes", "Memory", "number"),
                ],
            ),
            Kind::Images => ("Container images", "containers-by-image", &[]),
        };
        ChildTable {
            id: String::new(),
            label: label.to_owned(),
            nodes,
            topology_id: view.to_owned(),
            columns: columns
                .iter()
                .map(|(id, label, data_type)| Column::new(id, label, data_type))
                .collect(),
        }
    }
}

/// The child tables of node `id` of `view`, empty ones left out.
pub(super) fn children(
    report: &Report,
    view: &str,
    id: &str,
    membership: &Membership,
) -> Vec<ChildTable> {
    let mut tables: Vec<(Kind, Vec<NodeSummary>)> = Vec::new();
    if view == "hosts" {
        // Scope hangs every process, container, image and pod under the hosts it names as
        // parents; the containers come from its plain container renderer, before image names
        // are joined in.
        let on_host = |summary: &NodeSummary| {
            !summary.pseudo
                && summary
                    .parents
                    .iter()
                    .any(|p| p.topology_id == "hosts" && p.id == id)
        };
        let select = |nodes: BTreeMap<String, NodeSummary>| -> Vec<NodeSummary> {
            nodes.into_values().filter(|n| on_host(n)).collect()
        };
        tables.push((Kind::Pods, select(pods::pods(report))));
        tables.push((Kind::Containers, select(plain_containers(report))));
        tables.push((Kind::Processes, select(processes::processes(report, None))));
        tables.push((Kind::Images, select(containers::by_image(report))));
    } else {
        let mine = |owner: Option<String>, child: &str| child != id && owner.as_deref() == Some(id);
        let containers_view = containers::containers(report);
        tables.push((
            Kind::Containers,
            containers_view
                .into_values()
                .filter(|c| !c.pseudo && mine(membership.container(&c.id), &c.id))
                .collect(),
        ));
        tables.push((
            Kind::Processes,
            processes::processes(report, None)
                .into_values()
                .filter(|p| !p.pseudo && mine(membership.process(&p.id), &p.id))
                .collect(),
        ));
    }
    // Views come as maps keyed by id, so each table is already in Scope's order (by id).
    tables
        .into_iter()
        .filter(|(_, nodes)| !nodes.is_empty())
        .map(|(kind, nodes)| kind.table(nodes))
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
    let rank = match container.latest_value("docker_image_name") {
        Some(image) => split_image_name(image).0,
        None if !host.is_empty() => host.clone(),
        None => label.clone(),
    };
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
