//! The `processes` and `processes-by-name` views.

use std::collections::BTreeMap;

use stormscope_shared::model::{Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{IN_INTERNET, OUT_INTERNET, edges, host_of, map_endpoints};
use super::parallel::par_map;
use super::summary::{self, NodeSummary, ParentRow, host_labels};

/// Every process the probes report, connected as their endpoints are.
pub fn processes(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Process);
    let processes: Vec<(&String, &Node)> = topology.nodes.iter().collect();
    let mut nodes: BTreeMap<String, NodeSummary> = par_map(&processes, |(id, n)| {
        ((*id).clone(), process_summary(report, id, n))
    })
    .into_iter()
    .collect();
    let mapping = map_endpoints(report, process_of_endpoint);
    summary::add_edges(&mut nodes, edges(report, &mapping));
    nodes
}

/// The process a local endpoint belongs to, from the host and pid the probe recorded on it.
pub(super) fn process_of_endpoint(e: &Node) -> Option<String> {
    let host = host_of(e.latest_value(keys::HOST_NODE_ID)?);
    Some(format!("{host};{}", e.latest_value(keys::PID)?))
}

pub fn is_internet(id: &str) -> bool {
    id == IN_INTERNET || id == OUT_INTERNET
}

/// Processes grouped by name: one stacked node per name, connected as its processes are.
pub fn by_name(report: &Report) -> BTreeMap<String, NodeSummary> {
    let processes = processes(report);
    let group_of = |id: &str| -> Option<String> {
        if is_internet(id) {
            return Some(id.to_owned());
        }
        report
            .topology(TopologyKind::Process)
            .nodes
            .get(id)?
            .latest_value(keys::NAME)
            .map(str::to_owned)
    };
    let mut groups: BTreeMap<String, (NodeSummary, usize)> = BTreeMap::new();
    for (id, process) in &processes {
        let Some(group) = group_of(id) else { continue };
        let entry = groups.entry(group.clone()).or_insert_with(|| {
            let node = if process.pseudo {
                process.clone()
            } else {
                NodeSummary {
                    id: group.clone(),
                    label: group.clone(),
                    rank: group.clone(),
                    shape: "square".into(),
                    stack: true,
                    ..NodeSummary::default()
                }
            };
            (
                NodeSummary {
                    adjacency: Default::default(),
                    ..node
                },
                0,
            )
        });
        entry.1 += 1;
        for to in &process.adjacency {
            if let Some(target) = group_of(to) {
                entry.0.adjacency.insert(target);
            }
        }
    }
    groups
        .into_iter()
        .map(|(id, (mut node, count))| {
            if !node.pseudo {
                node.label_minor = format!(
                    "{count} {}",
                    if count == 1 { "process" } else { "processes" }
                );
            }
            (id, node)
        })
        .collect()
}

fn process_summary(report: &Report, id: &str, node: &Node) -> NodeSummary {
    let topology = report.topology(TopologyKind::Process);
    let name = node.latest_value(keys::NAME).unwrap_or_default().to_owned();
    let host = node
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_else(|| id.split(';').next().unwrap_or_default());
    let pid = node
        .latest_value(keys::PID)
        .unwrap_or_else(|| id.rsplit(';').next().unwrap_or_default());
    NodeSummary {
        id: id.to_owned(),
        label: name.clone(),
        label_minor: format!("{host} ({pid})"),
        rank: name,
        shape: if topology.shape.is_empty() {
            "square".into()
        } else {
            topology.shape.clone()
        },
        tag: topology.tag.clone(),
        metadata: summary::metadata(node, topology),
        parents: parents(report, node),
        metrics: summary::metrics(node, topology),
        ..NodeSummary::default()
    }
}

const PARENT_ORDER: [&str; 8] = [
    "containers",
    "containers-by-image",
    "pods",
    "kube-controllers",
    "services",
    "ecs-tasks",
    "ecs-services",
    "swarm-services",
];

/// A node's parents as the UI links them: the view each lives in and its label there.
pub fn parents(report: &Report, node: &Node) -> Vec<ParentRow> {
    let mut rows = Vec::new();
    for (topology, ids) in &node.parents {
        let Some(kind) = TopologyKind::from_name(topology) else {
            continue;
        };
        let view = match kind {
            TopologyKind::Host => "hosts",
            TopologyKind::Container => "containers",
            TopologyKind::ContainerImage => "containers-by-image",
            TopologyKind::Pod => "pods",
            TopologyKind::Service => "services",
            TopologyKind::Deployment
            | TopologyKind::DaemonSet
            | TopologyKind::StatefulSet
            | TopologyKind::CronJob => "kube-controllers",
            TopologyKind::EcsTask => "ecs-tasks",
            TopologyKind::EcsService => "ecs-services",
            TopologyKind::SwarmService => "swarm-services",
            _ => continue,
        };
        for id in ids {
            let parent = report.topology(kind).nodes.get(id);
            let label = match kind {
                TopologyKind::Host => {
                    let name = parent
                        .and_then(|p| p.latest_value(keys::HOST_NAME))
                        .unwrap_or_else(|| host_of(id));
                    host_labels(name).0
                }
                TopologyKind::Container => match parent {
                    Some(p) => summary::container_label(p, id),
                    None => id
                        .split(';')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(12)
                        .collect(),
                },
                TopologyKind::ContainerImage => {
                    match parent.and_then(|p| p.latest_value("docker_image_name")) {
                        Some(name) => super::containers::split_image_name(name).0,
                        // Rendered views name images by name: `<name>;<container_image>`.
                        None => id.split(';').next().unwrap_or_default().to_owned(),
                    }
                }
                _ => parent
                    .and_then(|p| {
                        p.latest_value(keys::KUBERNETES_NAME)
                            .or(p.latest_value("name"))
                    })
                    .unwrap_or_default()
                    .to_owned(),
            };
            rows.push(ParentRow {
                id: id.clone(),
                label,
                topology_id: view.to_owned(),
            });
        }
    }
    // Scope lists parents in a fixed order of views, hosts last.
    let rank = |view: &str| {
        PARENT_ORDER
            .iter()
            .position(|v| *v == view)
            .unwrap_or(PARENT_ORDER.len())
    };
    rows.sort_by(|a, b| {
        (rank(&a.topology_id), &a.label, &a.id).cmp(&(rank(&b.topology_id), &b.label, &b.id))
    });
    rows
}
