//! The `processes` and `processes-by-name` views.

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::HashMap;
use stormscope_shared::model::{Node, Topology, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{IN_INTERNET, OUT_INTERNET, host_of};
use super::parallel::join;
use super::reuse::{self, Reuse};
use super::summary::{self, NodeSummary, ParentRow, SummaryHead, Templates, host_labels};
use super::wiring::endpoint_edges;

/// Every process the probes report, connected as their endpoints are; heads of unchanged
/// processes taken over when `reuse` allows.
pub fn processes(report: &Report, reuse: Option<&Reuse>) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Process);
    // The edges are found on another thread while this one summarises the processes: the
    // summaries are freed with the view, on this thread, and memory freed by another thread
    // than the one that allocated it costs several times as much to free.
    let (edges, mut nodes) = join(
        || reuse::endpoint_edges(reuse, report, TopologyKind::Process, process_of_endpoint),
        || {
            let templates = Templates::of(topology);
            let parents = ParentLabels::new(report);
            let mut kept = reuse.map(Reuse::cursor);
            topology
                .nodes
                .iter()
                .map(|(id, node)| {
                    // A summary reads its parents' nodes for their labels.
                    let reads = node.parents.values().flatten().map(String::as_str);
                    let summary = match kept.as_mut().and_then(|k| k.take(id, reads)) {
                        Some(head) => NodeSummary::of(head),
                        None => process_summary(topology, &templates, &parents, id, node),
                    };
                    (id.clone(), summary)
                })
                .collect()
        },
    );
    edges.add_to(&mut nodes);
    nodes
}

/// The process a local endpoint belongs to, from the host (`host_node_id`) and pid the probe
/// recorded on it.
pub(crate) fn process_of_endpoint<'r>(e: &'r Node, host_node_id: &str) -> Option<Cow<'r, str>> {
    let host = host_of(host_node_id);
    let pid = e.latest_value(keys::PID)?;
    // Not `format!`: its machinery costs more than the copies, at one id per endpoint.
    Some(Cow::Owned([host, ";", pid].concat()))
}

pub fn is_internet(id: &str) -> bool {
    id == IN_INTERNET || id == OUT_INTERNET
}

/// Processes grouped by name: one stacked node per name, connected as its processes are.
pub fn by_name(report: &Report) -> BTreeMap<String, NodeSummary> {
    // A group takes no more of its processes than their edges (pseudo nodes come whole), so
    // they are not summarised.
    let mut processes: BTreeMap<String, NodeSummary> = report
        .topology(TopologyKind::Process)
        .nodes
        .keys()
        .map(|id| (id.clone(), NodeSummary::default()))
        .collect();
    endpoint_edges(report, TopologyKind::Process, process_of_endpoint).add_to(&mut processes);
    // Each edge of each process asks for its target's name: hashed, rather than an ordered
    // lookup of a long id among every process for each.
    let names: HashMap<&str, &str> = report
        .topology(TopologyKind::Process)
        .nodes
        .iter()
        .filter_map(|(id, node)| Some((id.as_str(), node.latest_value(keys::NAME)?)))
        .collect();
    let mut groups: BTreeMap<String, (NodeSummary, usize)> = BTreeMap::new();
    for (id, process) in &processes {
        let Some(group) = group_of(&names, id) else {
            continue;
        };
        if !groups.contains_key(group) {
            let node = if process.pseudo {
                process.clone()
            } else {
                NodeSummary::from(SummaryHead {
                    id: group.to_owned(),
                    label: group.to_owned(),
                    rank: group.to_owned(),
                    shape: "square".into(),
                    stack: true,
                    ..SummaryHead::default()
                })
            };
            let node = node.without_adjacency();
            groups.insert(group.to_owned(), (node, 0));
        }
        let entry = groups.get_mut(group).expect("inserted above");
        entry.1 += 1;
        for to in &process.adjacency {
            if let Some(target) = group_of(&names, to)
                && !entry.0.adjacency.contains(target)
            {
                entry.0.adjacency.insert(target.to_owned());
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

/// The name group of process `id`: its name; the Internet is a group of its own.
fn group_of<'a>(names: &HashMap<&str, &'a str>, id: &'a str) -> Option<&'a str> {
    if is_internet(id) {
        return Some(id);
    }
    names.get(id).copied()
}

fn process_summary(
    topology: &Topology,
    templates: &Templates,
    parents: &ParentLabels,
    id: &str,
    node: &Node,
) -> NodeSummary {
    let name = node.latest_value(keys::NAME).unwrap_or_default().to_owned();
    let host = node
        .latest_value(keys::HOST_NODE_ID)
        .map(host_of)
        .unwrap_or_else(|| id.split(';').next().unwrap_or_default());
    let pid = node
        .latest_value(keys::PID)
        .unwrap_or_else(|| id.rsplit(';').next().unwrap_or_default());
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label: name.clone(),
        // Not `format!`, which grows its string as it goes: one label per process.
        label_minor: [host, " (", pid, ")"].concat(),
        rank: name,
        shape: super::summary::shape_or(topology, "square"),
        tag: topology.tag.clone(),
        metadata: templates.metadata(node),
        parents: parents.rows(node),
        metrics: templates.metrics(node),
        ..SummaryHead::default()
    })
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
    parent_rows(node, |kind, id| parent_label(report, kind, id))
}

/// Parent labels found once per render: every process of a host, and of a container, has it
/// as a parent, and each label takes ordered lookups by long ids (the parent, then its
/// `latest` entries).
pub struct ParentLabels<'r> {
    report: &'r Report,
    known: HashMap<(TopologyKind, &'r str), String>,
}

impl<'r> ParentLabels<'r> {
    pub fn new(report: &'r Report) -> Self {
        let known = [TopologyKind::Host, TopologyKind::Container]
            .into_iter()
            .flat_map(|kind| {
                let ids = report.topology(kind).nodes.keys();
                ids.map(move |id| ((kind, id.as_str()), parent_label(report, kind, id)))
            })
            .collect();
        ParentLabels { report, known }
    }

    /// [`parents`] of `node`.
    pub fn rows(&self, node: &Node) -> Vec<ParentRow> {
        parent_rows(node, |kind, id| match self.known.get(&(kind, id)) {
            Some(label) => label.clone(),
            None => parent_label(self.report, kind, id),
        })
    }
}

fn parent_rows(node: &Node, label: impl Fn(TopologyKind, &str) -> String) -> Vec<ParentRow> {
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
            rows.push(ParentRow {
                id: id.clone(),
                label: label(kind, id),
                topology_id: view,
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
        (rank(a.topology_id), &a.label, &a.id).cmp(&(rank(b.topology_id), &b.label, &b.id))
    });
    rows
}

/// The label of parent `id`, a node of topology `kind`, in the view it lives in.
fn parent_label(report: &Report, kind: TopologyKind, id: &str) -> String {
    let parent = report.topology(kind).nodes.get(id);
    match kind {
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
                Some(name) => super::containers::image_name_without_tag(name).to_owned(),
                // Rendered views name images by name: `<name>;<container_image>`.
                None => id.split(';').next().unwrap_or_default().to_owned(),
            }
        }
        // As Scope's `getLabelForTopology` names ECS and Swarm parents.
        TopologyKind::EcsTask => latest_or_empty(parent, "ecs_task_family"),
        TopologyKind::EcsService => super::grouping::ecs_service_name(id).to_owned(),
        TopologyKind::SwarmService => latest_or_empty(parent, "service_name"),
        _ => parent
            .and_then(|p| {
                p.latest_value(keys::KUBERNETES_NAME)
                    .or(p.latest_value("name"))
            })
            .unwrap_or_default()
            .to_owned(),
    }
}

fn latest_or_empty(node: Option<&Node>, key: &str) -> String {
    node.and_then(|n| n.latest_value(key))
        .unwrap_or_default()
        .to_owned()
}
