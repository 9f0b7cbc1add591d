//! The `hosts` view: the hosts the probes run on, connected as their endpoints are.

use std::borrow::Cow;
use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::endpoints::host_of;
use super::reuse::{self, Reuse};
use super::summary::{NodeSummary, SummaryHead, Templates, host_labels};

/// Every host the probes report; heads of unchanged hosts taken over when `reuse` allows.
pub fn hosts(report: &Report, reuse: Option<&Reuse>) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Host);
    let templates = Templates::of(topology);
    let mut kept = reuse.map(Reuse::cursor);
    let mut nodes: BTreeMap<String, NodeSummary> = topology
        .nodes
        .iter()
        .map(|(id, node)| {
            if let Some(head) = kept.as_mut().and_then(|k| k.take(id, [])) {
                return (id.clone(), NodeSummary::of(head));
            }
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
    let to_host = |_: &_, host| Some(Cow::Borrowed(host));
    reuse::endpoint_edges(reuse, report, TopologyKind::Host, to_host).add_to(&mut nodes);
    nodes
}
