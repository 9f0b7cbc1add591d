//! The `hosts` view: the hosts the probes run on, connected as their endpoints are.

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::host_of;
use super::summary::{NodeSummary, SummaryHead, Templates, host_labels};
use super::wiring::endpoint_edges;

pub fn hosts(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Host);
    let templates = Templates::of(topology);
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .map(|(id, node)| {
            let name = node
                .latest_value(keys::HOST_NAME)
                .unwrap_or_else(|| host_of(id));
            let (label, minor) = host_labels(name);
            let summary = NodeSummary::from(SummaryHead {
                id: id.clone(),
                label,
                label_minor: minor.clone(),
                rank: minor,
                shape: super::summary::shape_or(topology, "circle"),
                tag: topology.tag.clone(),
                metadata: templates.metadata(node),
                metrics: templates.metrics(node),
                ..SummaryHead::default()
            });
            (id.clone(), summary)
        })
        .collect();
    endpoint_edges(report, TopologyKind::Host, |_, host| {
        Some(Cow::Borrowed(host))
    })
    .add_to(&mut nodes);
    nodes
}
