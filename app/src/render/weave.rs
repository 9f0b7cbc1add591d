//! The `weave` view ("Weave Net"): the Weave peers of the overlay topology, connected as the
//! peers report. Peers no probe monitors (no `host_node_id`) show as "Unmanaged" pseudo nodes
//! named by their nickname; Docker overlay peers are left out.

use std::collections::BTreeMap;

use stormscope_shared::model::keys;
use stormscope_shared::{Report, TopologyKind};

use super::processes::parents;
use super::summary::{self, NodeSummary, SummaryHead};

const NICKNAME: &str = "weave_peer_nick_name";

pub fn weave(report: &Report) -> BTreeMap<String, NodeSummary> {
    let topology = report.topology(TopologyKind::Overlay);
    let mut nodes = BTreeMap::new();
    let mut mapped: BTreeMap<&str, String> = BTreeMap::new();
    for (id, peer) in &topology.nodes {
        // Overlay ids are `#<peer>`, Docker's `#docker_peer_<peer>`; anything else reads as a
        // Weave peer with no name.
        let name = id.strip_prefix('#').unwrap_or_default();
        if name.starts_with("docker_peer_") {
            continue;
        }
        let nickname = peer.latest_value(NICKNAME).unwrap_or_default();
        if !peer.latest.contains_key(keys::HOST_NODE_ID) {
            let to = format!("pseudo:unmanaged:{nickname}");
            summary::ensure_node(&mut nodes, &to);
            mapped.insert(id, to);
            continue;
        }
        let summary = NodeSummary::from(SummaryHead {
            id: id.clone(),
            label: if nickname.is_empty() { name } else { nickname }.to_owned(),
            label_minor: name.to_owned(),
            shape: super::summary::shape_or(topology, "circle"),
            tag: topology.tag.clone(),
            metadata: summary::metadata(peer, topology),
            parents: parents(report, peer),
            metrics: summary::metrics(peer, topology),
            ..SummaryHead::default()
        });
        nodes.insert(id.clone(), summary);
        mapped.insert(id, id.clone());
    }
    for (id, peer) in &topology.nodes {
        let Some(from) = mapped.get(id.as_str()) else {
            continue;
        };
        let to: Vec<String> = peer
            .adjacency
            .iter()
            .filter_map(|a| mapped.get(a.as_str()).cloned())
            .collect();
        if let Some(node) = nodes.get_mut(from) {
            node.adjacency.extend(to);
        }
    }
    nodes
}
