//! Scope's `renderParents`: the nodes of one view gathered under their parents (services,
//! controllers, ECS tasks and services, Swarm services) and joined with the parent topology's
//! own nodes, connected as their members are.

use std::collections::BTreeMap;

use stormscope_shared::merge::merge_metric;
use stormscope_shared::model::{Metrics, Node, keys};
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::host_of;
use super::processes::parents;
use super::summary::{self, NodeSummary, SummaryHead};

/// How members find their group.
pub(super) struct Grouping<'a> {
    /// The report topologies members come from; the first is the one a group counts.
    pub member_kinds: &'a [TopologyKind],
    pub parent_kinds: &'a [TopologyKind],
    /// Members without a parent gather per host as "Unmanaged" (and so does "Uncontained");
    /// otherwise they are left out.
    pub unmanaged: bool,
}

/// Where one member of a view goes in the view grouping it (Scope's `Map2Parent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// Pseudo nodes pass through as they are (the Internet; a host's "Unmanaged" node from
    /// the view below).
    Itself,
    /// A host's "Unmanaged" node (`pseudo:unmanaged:<host>`).
    Unmanaged(String),
    /// A parent the member names, a node of topology `kind`.
    Parent(TopologyKind, String),
}

impl Target {
    /// The id of the node the member goes into.
    pub(super) fn id<'a>(&'a self, member: &'a str) -> &'a str {
        match self {
            Target::Itself => member,
            Target::Unmanaged(id) | Target::Parent(_, id) => id,
        }
    }
}

/// The nodes member `id` (a node of the view below) goes into. Node details ask the same
/// question of one member at a time, so the answer does not depend on the other members.
pub(super) fn targets(report: &Report, how: &Grouping, id: &str) -> Vec<Target> {
    if how.unmanaged
        && let Some(host) = id.strip_prefix("pseudo:uncontained:")
    {
        return vec![Target::Unmanaged(format!("pseudo:unmanaged:{host}"))];
    }
    if summary::is_pseudo_id(id) {
        return vec![Target::Itself];
    }
    let node = find(report, how.member_kinds, id);
    let mut out = Vec::new();
    for kind in how.parent_kinds {
        for parent in node
            .and_then(|n| n.parents.get(kind.name()))
            .into_iter()
            .flatten()
        {
            out.push(Target::Parent(*kind, parent.clone()));
        }
    }
    if out.is_empty() && how.unmanaged {
        let host = node
            .and_then(|n| n.latest_value(keys::HOST_NODE_ID))
            .map(host_of)
            .unwrap_or_default();
        out.push(Target::Unmanaged(format!("pseudo:unmanaged:{host}")));
    }
    out
}

pub(super) fn group_by_parents(
    report: &Report,
    members: &BTreeMap<String, NodeSummary>,
    how: &Grouping,
) -> BTreeMap<String, NodeSummary> {
    let mut nodes: BTreeMap<String, NodeSummary> = BTreeMap::new();
    // Every node of the parent topologies appears, with or without members.
    let mut groups: BTreeMap<String, (TopologyKind, Vec<&str>)> = BTreeMap::new();
    for kind in how.parent_kinds {
        for id in report.topology(*kind).nodes.keys() {
            groups.entry(id.clone()).or_insert((*kind, Vec::new()));
        }
    }
    let mut targets: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (id, member) in members {
        let mut out = Vec::new();
        for target in self::targets(report, how, id) {
            match &target {
                Target::Itself => {
                    nodes
                        .entry(id.clone())
                        .or_insert_with(|| member.without_adjacency());
                }
                Target::Unmanaged(to) => {
                    summary::ensure_node(&mut nodes, to);
                }
                Target::Parent(kind, parent) => {
                    groups
                        .entry(parent.clone())
                        .or_insert((*kind, Vec::new()))
                        .1
                        .push(id);
                }
            }
            out.push(target.id(id).to_owned());
        }
        targets.insert(id, out);
    }
    // Pods carry the metrics of their one connecting container, which a group of one pod
    // passes on in turn.
    let pod_children = (how.member_kinds[0] == TopologyKind::Pod)
        .then(|| super::pods::children_of(report, &super::containers::containers(report)));
    for (id, (kind, belonging)) in &groups {
        let metrics = single_metrics(report, how, belonging, pod_children.as_ref());
        nodes.insert(
            id.clone(),
            group_summary(report, *kind, id, belonging, how.member_kinds[0], metrics),
        );
    }
    for (id, member) in members {
        for from in &targets[id.as_str()] {
            let to: Vec<&String> = member
                .adjacency
                .iter()
                .filter_map(|m| targets.get(m.as_str()))
                .flatten()
                .collect();
            let node = nodes.get_mut(from).expect("targets are nodes");
            node.adjacency.extend(to.into_iter().cloned());
        }
    }
    nodes
}

/// `PropagateSingleMetrics`: the metrics of a group's only member that makes connections, as
/// rendered in its own view (a pod with the metrics of its one connecting container); none
/// when it has several or none. Only members of the counted kind count.
fn single_metrics(
    report: &Report,
    how: &Grouping,
    members: &[&str],
    pod_children: Option<&BTreeMap<String, Vec<&Node>>>,
) -> Option<Metrics> {
    let mut connecting = members
        .iter()
        .filter_map(|id| Some((*id, find(report, &how.member_kinds[..1], id)?)))
        .filter(|(_, node)| node.latest_value("does_not_make_connections").is_none());
    let (Some((id, only)), None) = (connecting.next(), connecting.next()) else {
        return None;
    };
    Some(match pod_children {
        Some(children) => {
            let children = children.get(id).map(Vec::as_slice).unwrap_or_default();
            super::pods::with_children(only, children)
                .into_owned()
                .metrics
        }
        None => only.metrics.clone(),
    })
}

/// A member's report node, from the first of `kinds` holding it.
fn find<'r>(report: &'r Report, kinds: &[TopologyKind], id: &str) -> Option<&'r Node> {
    kinds.iter().find_map(|k| report.topology(*k).nodes.get(id))
}

/// The service an ECS service id names: `<cluster>;<service>`; older probes wrote
/// `<service>;<ecs_service>`.
pub(super) fn ecs_service_name(id: &str) -> &str {
    match id.split_once(';') {
        Some((name, "<ecs_service>")) => name,
        Some((_, name)) => name,
        None => "",
    }
}

/// A group's summary (`render/detailed/summary.go`: `podGroupNodeSummary`,
/// `ecsTaskNodeSummary`, `ecsServiceNodeSummary`, `swarmServiceNodeSummary`).
fn group_summary(
    report: &Report,
    kind: TopologyKind,
    id: &str,
    members: &[&str],
    counted: TopologyKind,
    single: Option<Metrics>,
) -> NodeSummary {
    use TopologyKind::*;
    let topology = report.topology(kind);
    let node = topology
        .nodes
        .get(id)
        .cloned()
        .unwrap_or_else(|| Node::new(id, kind.name()));
    // Scope counts a group's members into `count_<member topology>`, which the templates and
    // the minor label read.
    let counted_node = node.clone().with_latest(
        &format!("{}{}", keys::COUNTER_PREFIX, counted.name()),
        Default::default(),
        members.len().to_string(),
    );
    let mut measured = counted_node.clone();
    for (key, metric) in single.into_iter().flatten() {
        let merged = match measured.metrics.get(&key) {
            Some(ours) => merge_metric(&metric, ours),
            None => metric,
        };
        measured.metrics.insert(key, merged);
    }
    let first = id.split(';').next().unwrap_or(id).to_owned();
    let latest = |key: &str| node.latest_value(key).filter(|v| !v.is_empty());
    let count = members.len();
    let pods = format!("{count} {}", if count == 1 { "pod" } else { "pods" });
    let (label, label_minor, rank, stack) = match kind {
        Service | Deployment | DaemonSet | StatefulSet | CronJob | Job => {
            let label = latest(keys::KUBERNETES_NAME).map_or(first, str::to_owned);
            let namespace = node
                .latest_value(keys::KUBERNETES_NAMESPACE)
                .unwrap_or_default();
            let minor = match kind {
                Deployment => format!("Deployment of {pods}"),
                DaemonSet => format!("DaemonSet of {pods}"),
                StatefulSet => format!("StatefulSet of {pods}"),
                CronJob => format!("CronJob of {pods}"),
                Job => format!("Job of {pods}"),
                _ => pods,
            };
            let rank = format!("{namespace}/{label}");
            (label, minor, rank, true)
        }
        EcsTask => (
            latest("ecs_task_family").map_or(first, str::to_owned),
            String::new(),
            String::new(),
            false,
        ),
        EcsService => (
            ecs_service_name(id).to_owned(),
            String::new(),
            String::new(),
            true,
        ),
        SwarmService => (
            latest("service_name").map_or(first, str::to_owned),
            String::new(),
            String::new(),
            false,
        ),
        _ => (id.to_owned(), String::new(), String::new(), false),
    };
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label,
        label_minor,
        rank,
        shape: super::summary::shape_or(topology, "circle"),
        tag: topology.tag.clone(),
        stack,
        metadata: summary::metadata(&counted_node, topology),
        parents: parents(report, &node),
        metrics: summary::metrics(&measured, topology),
        ..SummaryHead::default()
    })
}
