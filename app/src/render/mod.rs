//! Scope's rendered views (scope-compat.md §4.5): a merged report mapped into the nodes a user
//! sees, each summarised as the UI expects (§4.4). Views so far: `processes`,
//! `processes-by-name`, `containers`, `containers-by-image`, `pods` and `hosts`.

mod children;
mod connections;
mod containers;
mod details;
mod endpoints;
mod hosts;
mod json;
mod membership;
pub(crate) mod parallel;
mod pods;
mod processes;
mod summary;

use std::collections::BTreeMap;

use stormscope_shared::Report;

pub use children::{ChildTable, Column};
pub use connections::{Connection, ConnectionsTable};
pub use details::{ControlInstance, DetailedNode, details};
pub use json::view_body;
pub use summary::{MetadataRow, MetricRow, NodeSummary, ParentRow};

/// The view ids this module renders, as `/api/topology/{id}` names them.
pub const VIEWS: [&str; 6] = [
    "processes",
    "processes-by-name",
    "containers",
    "containers-by-image",
    "pods",
    "hosts",
];

/// Renders view `id` of a merged report (part-merged delta nodes already removed); `None` for a
/// view it does not know.
pub fn render(report: &Report, id: &str) -> Option<BTreeMap<String, NodeSummary>> {
    let nodes = match id {
        "processes" => processes::processes(report),
        "processes-by-name" => processes::by_name(report),
        "containers" => containers::containers(report),
        "containers-by-image" => containers::by_image(report),
        "pods" => pods::pods(report),
        "hosts" => hosts::hosts(report),
        _ => return None,
    };
    Some(filter_unconnected_pseudo(nodes))
}

/// Scope's `FilterUnconnectedPseudo`: pseudo nodes nothing connects to or from are dropped.
fn filter_unconnected_pseudo(
    mut nodes: BTreeMap<String, NodeSummary>,
) -> BTreeMap<String, NodeSummary> {
    let targets: std::collections::BTreeSet<String> = nodes
        .values()
        .flat_map(|n| n.adjacency.iter().cloned())
        .collect();
    nodes.retain(|id, n| !n.pseudo || !n.adjacency.is_empty() || targets.contains(id));
    nodes
}
