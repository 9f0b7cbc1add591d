//! The `containers-by-hostname` view ("by DNS name"): containers grouped by their Docker
//! hostname, one stacked node per hostname, connected as their containers are. Containers
//! without a hostname are left out; pseudo nodes pass through.

use std::collections::BTreeMap;

use stormscope_shared::{Report, TopologyKind};

use super::containers;
use super::summary::{NodeSummary, SummaryHead, is_pseudo_id};

pub fn by_hostname(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Container);
    let containers = containers::containers(report);
    let group_of = |id: &str| containers.get(id).and_then(|_| hostname_of(report, id));
    let mut groups: BTreeMap<String, (NodeSummary, usize)> = BTreeMap::new();
    for (id, container) in &containers {
        let Some(group) = group_of(id) else { continue };
        let (node, count) = groups.entry(group.clone()).or_insert_with(|| {
            let node = if container.pseudo {
                container.without_adjacency()
            } else {
                // `groupNodeSummary`: the hostname is label and rank, shaped as containers;
                // a group shows no metadata, metrics or parents of its own.
                NodeSummary::from(SummaryHead {
                    id: group.clone(),
                    label: group.clone(),
                    rank: group,
                    shape: super::summary::shape_or(topology, "circle"),
                    tag: topology.tag.clone(),
                    stack: true,
                    ..SummaryHead::default()
                })
            };
            (node, 0)
        });
        *count += 1;
        node.adjacency
            .extend(container.adjacency.iter().filter_map(|to| group_of(to)));
    }
    groups
        .into_iter()
        .map(|(id, (mut node, count))| {
            if !node.pseudo && !topology.label.is_empty() {
                let noun = if count == 1 {
                    &topology.label
                } else {
                    &topology.label_plural
                };
                node.label_minor = format!("{count} {noun}");
            }
            (id, node)
        })
        .collect()
}

/// The group node `id` of the containers view is drawn in: its container's Docker hostname;
/// pseudo nodes pass through.
pub(super) fn hostname_of(report: &Report, id: &str) -> Option<String> {
    if is_pseudo_id(id) {
        return Some(id.to_owned());
    }
    report
        .topology(TopologyKind::Container)
        .nodes
        .get(id)?
        .latest_value("docker_container_hostname")
        .map(str::to_owned)
}
