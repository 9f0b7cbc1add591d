//! The `hosts` view: the hosts the probes run on, connected as their endpoints are.

use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::{edges, host_of, map_endpoints};
use super::summary::{self, NodeSummary, host_labels};

pub fn hosts(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Host);
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .map(|(id, node)| {
            let name = node
                .latest_value(keys::HOST_NAME)
                .unwrap_or_else(|| host_of(id));
            let (label, minor) = host_labels(name);
            let summary = NodeSummary {
                id: id.clone(),
                label,
                label_minor: minor.clone(),
                rank: minor,
                shape: if topology.shape.is_empty() {
                    "circle".into()
                } else {
                    topology.shape.clone()
                },
                tag: topology.tag.clone(),
                metadata: summary::metadata(node, topology),
                metrics: summary::metrics(node, topology),
                ..NodeSummary::default()
            };
            (id.clone(), summary)
        })
        .collect();
    let mapping = map_endpoints(report, |e| {
        e.latest_value(keys::HOST_NODE_ID).map(str::to_owned)
    });
    summary::add_edges(&mut nodes, edges(report, &mapping));
    nodes
}
