//! Node details (`render/detailed/node.go`): what the UI's side panel shows for one node of a
//! view. The node's summary as the view renders it, with its metrics' samples, the controls
//! its probe offers, the nodes rendered under it, and its connections.

use serde::Serialize;
use stormscope_shared::model::{Node, Topology, keys};
use stormscope_shared::{Report, TopologyKind};

use super::children::{self, ChildTable};
use super::connections::{self, ConnectionsTable, EndpointsByNode};
use super::membership::Membership;
use super::options::{Options, filtered};
use super::summary::NodeSummary;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetailedNode {
    /// As in the view, except that each metric carries its samples.
    #[serde(flatten)]
    pub summary: NodeSummary,
    /// Always present, `[]` when the node offers none: the UI iterates it unconditionally.
    pub controls: Vec<ControlInstance>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildTable>,
    /// Always Inbound then Outbound, even when empty.
    pub connections: Vec<ConnectionsTable>,
}

/// A control the UI can invoke on this node, and where to send it
/// (`POST /api/control/{probeId}/{nodeId}/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControlInstance {
    #[serde(rename = "probeId")]
    pub probe_id: String,
    #[serde(rename = "nodeId")]
    pub node_id: String,
    pub id: String,
    pub human: String,
    pub icon: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub confirmation: String,
    pub rank: i64,
}

/// Details of node `id` of view `view` for a request without options; see [`details_with`].
pub fn details(report: &Report, view: &str, id: &str) -> Option<DetailedNode> {
    details_with(report, view, id, &Options::default())
}

/// Details of node `id` of view `view` for a request with `options`; `None` if the view is
/// unknown or its renderer makes no such node.
///
/// As Scope's `handleNode` does, the node is looked up in the view before any filter, then
/// the request's filters are applied: a node they keep is detailed as the filtered view has
/// it (its edges to filtered nodes cut); a node they drop is put back as the renderer made
/// it, so a link the UI followed to a node hidden by the current options still answers.
/// Connections are found among the filtered view's nodes and the node itself.
pub fn details_with(
    report: &Report,
    view: &str,
    id: &str,
    options: &Options,
) -> Option<DetailedNode> {
    let unfiltered = super::unfiltered(report, view, None)?;
    let node = unfiltered.get(id)?.clone();
    let mut nodes = filtered(report, view, unfiltered, options).nodes;
    let mut summary = nodes.entry(id.to_owned()).or_insert(node).clone();
    let origin = origin(report, id);
    if let Some((_, node)) = origin {
        for row in &mut summary.metrics {
            row.samples = node
                .metrics
                .get(&*row.id)
                .filter(|m| !m.samples.is_empty())
                .map(|m| m.samples.clone());
        }
    }
    let membership = Membership::of(report, view);
    let endpoints = EndpointsByNode::new(report, &membership.endpoints());
    Some(DetailedNode {
        controls: origin.map_or_else(Vec::new, |(topology, node)| controls(topology, node, id)),
        children: children::children(report, id, &membership),
        connections: connections::connections(report, view, &summary, &nodes, &endpoints),
        summary,
    })
}

/// The report node a view node stands for, with its topology; none for the nodes a view
/// makes up (groups, the Internet, "Uncontained").
fn origin<'r>(report: &'r Report, id: &str) -> Option<(&'r Topology, &'r Node)> {
    report
        .topologies()
        .filter(|(kind, _)| *kind != TopologyKind::Endpoint)
        .find_map(|(_, topology)| Some((topology, topology.nodes.get(id)?)))
}

/// The node's active controls (`active_controls`, `;`-joined) that its topology describes,
/// addressed to the probe that reported it unless the control names another.
fn controls(topology: &Topology, node: &Node, id: &str) -> Vec<ControlInstance> {
    let Some(probe) = node.latest_value(keys::CONTROL_PROBE_ID) else {
        return Vec::new();
    };
    node.latest_value(keys::ACTIVE_CONTROLS)
        .unwrap_or_default()
        .split(keys::SCOPE_DELIM)
        .filter_map(|name| {
            let control = topology.controls.get(name)?;
            Some(ControlInstance {
                probe_id: if control.probe_id.is_empty() {
                    probe.to_owned()
                } else {
                    control.probe_id.clone()
                },
                node_id: id.to_owned(),
                id: if control.id.is_empty() {
                    name.to_owned()
                } else {
                    control.id.clone()
                },
                human: control.human.clone(),
                icon: control.icon.clone(),
                confirmation: control.confirmation.clone(),
                rank: control.rank,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use stormscope_shared::model::Control;
    use stormscope_shared::time::Timestamp;

    use super::*;

    fn control(id: &str, confirmation: &str, probe_id: &str) -> Control {
        Control {
            id: id.into(),
            human: format!("{id}!"),
            icon: "fa-x".into(),
            confirmation: confirmation.into(),
            rank: 3,
            probe_id: probe_id.into(),
        }
    }

    #[test]
    fn controls_are_the_active_ones_the_topology_describes_in_the_probes_order() {
        let mut topology = Topology::default();
        for c in [
            control("docker_stop_container", "", ""),
            control("docker_remove_container", "Really?", ""),
            control("plugin_action", "", "other-probe"),
            control("docker_pause_container", "", ""),
        ] {
            topology.controls.insert(c.id.clone(), c);
        }
        let node = Node::new("c1;<container>", "container")
            .with_latest(keys::CONTROL_PROBE_ID, Timestamp::default(), "probe-1")
            .with_latest(
                keys::ACTIVE_CONTROLS,
                Timestamp::default(),
                "docker_remove_container;not_described;docker_stop_container;plugin_action",
            );
        let got = controls(&topology, &node, "c1;<container>");
        let ids: Vec<(&str, &str)> = got
            .iter()
            .map(|c| (c.id.as_str(), c.probe_id.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("docker_remove_container", "probe-1"),
                ("docker_stop_container", "probe-1"),
                ("plugin_action", "other-probe"),
            ]
        );
        let json = serde_json::to_value(&got).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({"probeId": "probe-1", "nodeId": "c1;<container>",
                "id": "docker_remove_container", "human": "docker_remove_container!",
                "icon": "fa-x", "confirmation": "Really?", "rank": 3})
        );
        assert!(json[1].get("confirmation").is_none());
    }

    #[test]
    fn no_probe_id_means_no_controls() {
        let mut topology = Topology::default();
        topology.controls.insert(
            "docker_stop_container".into(),
            control("docker_stop_container", "", ""),
        );
        let node = Node::new("c1;<container>", "container").with_latest(
            keys::ACTIVE_CONTROLS,
            Timestamp::default(),
            "docker_stop_container",
        );
        assert!(controls(&topology, &node, "c1;<container>").is_empty());
    }
}
