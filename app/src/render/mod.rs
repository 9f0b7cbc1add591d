//! Scope's rendered views (scope-compat.md §4.5): a merged report mapped into the nodes a user
//! sees, each summarised as the UI expects (§4.4), filtered by the request's topology options
//! (§4.3, [`render_with`]). [`topologies`] is the registry `GET /api/topology` lists; [`diff`]
//! is what the topology websocket sends between two renders.

mod children;
mod connections;
mod containers;
mod details;
mod diff;
mod ecs;
mod endpoint_index;
mod endpoints;
mod grouping;
mod head;
mod head_json;
mod hostnames;
mod hosts;
mod join;
mod json;
mod kubernetes;
mod membership;
mod options;
pub(crate) mod parallel;
mod pods;
mod processes;
mod registry;
mod reuse;
mod summary;
mod templates;
mod weave;
mod wiring;

use std::collections::BTreeMap;

use stormscope_shared::Report;

pub use children::{ChildTable, Column};
pub use connections::{Connection, ConnectionsTable};
pub use details::{ControlInstance, DetailedNode, details, details_with};
pub use diff::{Diff, diff};
pub use json::ViewBody;
#[cfg(test)]
pub use json::view_body;
pub use options::{Options, Rendered, render_key, render_reusing, render_with};
pub use registry::{TopologyDesc, TopologyStats, topologies, topologies_rendered};
pub use reuse::{EndpointIndex, Frame, Reuse};
pub use summary::{MetadataRow, MetricRow, NodeSummary, ParentRow, SharedHead, SummaryHead};

/// The view ids this module renders, as `/api/topology/{id}` names them.
pub const VIEWS: [&str; 13] = [
    "processes",
    "processes-by-name",
    "containers",
    "containers-by-hostname",
    "containers-by-image",
    "pods",
    "kube-controllers",
    "services",
    "ecs-tasks",
    "ecs-services",
    "swarm-services",
    "hosts",
    "weave",
];

/// Renders view `id` of a merged report (part-merged delta nodes already removed) as a request
/// without options gets it; `None` for a view it does not know.
pub fn render(report: &Report, id: &str) -> Option<BTreeMap<String, NodeSummary>> {
    render_with(report, id, &Options::default()).map(|r| r.nodes)
}

/// View `id` before any filter. Views Scope renders only when the report has their kind of
/// object (its `ConditionalRenderer`s) are empty otherwise. Views that can take over heads
/// from an earlier render do when `reuse` is given.
fn unfiltered(
    report: &Report,
    id: &str,
    reuse: Option<&Reuse>,
) -> Option<BTreeMap<String, NodeSummary>> {
    let when = |cond: bool, view: fn(&Report) -> BTreeMap<String, NodeSummary>| {
        if cond { view(report) } else { BTreeMap::new() }
    };
    let has_processes = !report
        .topology(stormscope_shared::TopologyKind::Process)
        .nodes
        .is_empty();
    let kubernetes = kubernetes::renders(report);
    Some(match id {
        "processes" if has_processes => processes::processes(report, reuse),
        "processes" => BTreeMap::new(),
        "processes-by-name" => when(has_processes, processes::by_name),
        "containers" => containers::containers(report),
        "containers-by-hostname" => hostnames::by_hostname(report),
        "containers-by-image" => containers::by_image(report),
        "pods" => when(kubernetes, pods::pods),
        "kube-controllers" => when(kubernetes, kubernetes::controllers),
        "services" => when(kubernetes, kubernetes::services),
        "ecs-tasks" => when(ecs::renders_ecs(report), ecs::tasks),
        "ecs-services" => when(ecs::renders_ecs(report), ecs::services),
        "swarm-services" => when(ecs::renders_swarm(report), ecs::swarm_services),
        "hosts" => hosts::hosts(report, reuse),
        "weave" => weave::weave(report),
        _ => return None,
    })
}

/// Scope's `FilterUnconnectedPseudo`: pseudo nodes nothing connects to or from are dropped.
/// The rules live with the options' filters, which it always follows.
fn filter_unconnected_pseudo(
    nodes: BTreeMap<String, NodeSummary>,
) -> BTreeMap<String, NodeSummary> {
    options::without_unconnected_pseudo(nodes)
}
