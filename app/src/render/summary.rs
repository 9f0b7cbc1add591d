//! The rows of a `NodeSummary` (`render/detailed/summary.go`): metadata and metrics laid out by
//! the topology's templates, parents; and the summaries every view shares (pseudo nodes).

use std::collections::BTreeMap;

use serde::Serialize;
use stormscope_shared::model::{Node, Sample, Topology};

pub use super::head::{NodeSummary, SharedHead, SummaryHead};
pub use super::templates::{Templates, Text};
pub use super::wiring::add_edges;

fn is_zero(f: &f64) -> bool {
    *f == 0.0
}

fn is_zero_i(i: &i64) -> bool {
    *i == 0
}

/// A row's id, label and type come from its topology's template, shared by every row made
/// from it ([`Text`]); its value is the node's own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetadataRow {
    pub id: Text,
    pub label: Text,
    pub value: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: f64,
    #[serde(rename = "dataType", skip_serializing_if = "str::is_empty")]
    pub data_type: Text,
    #[serde(skip_serializing_if = "is_zero_i")]
    pub truncate: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParentRow {
    pub id: String,
    pub label: String,
    /// The view the parent lives in.
    #[serde(rename = "topologyId")]
    pub topology_id: &'static str,
}

/// As [`MetadataRow`], the text from its template shared, its figures the node's own.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRow {
    pub id: Text,
    pub label: Text,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub format: Text,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub group: Text,
    pub value: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: f64,
    /// `null` in summaries; node details carry the samples (the UI fetches them there).
    pub samples: Option<Vec<Sample>>,
    pub min: f64,
    pub max: f64,
    pub url: String,
}

/// A node's metadata rows (see [`Templates::metadata`]), for views that summarise few nodes.
pub fn metadata(node: &Node, topology: &Topology) -> Vec<MetadataRow> {
    Templates::metadata_of(topology).metadata(node)
}

/// A node's metric rows (see [`Templates::metrics`]), for views that summarise few nodes.
pub fn metrics(node: &Node, topology: &Topology) -> Vec<MetricRow> {
    Templates::metrics_of(topology).metrics(node)
}

/// Makes sure the pseudo node `id` exists in a view (the Internet, or a host's "Uncontained" or
/// "Unmanaged" group); says whether `id` is a node of the view at all.
pub fn ensure_node(nodes: &mut BTreeMap<String, NodeSummary>, id: &str) -> bool {
    if nodes.contains_key(id) {
        return true;
    }
    match pseudo_node(id) {
        Some(node) => {
            nodes.insert(id.to_owned(), node);
            true
        }
        None => false,
    }
}

/// Whether `id` names a node no report holds: the Internet, or a `pseudo:` node a view makes
/// up ("Uncontained", "Unmanaged", a known service).
pub fn is_pseudo_id(id: &str) -> bool {
    id == "in-theinternet" || id == "out-theinternet" || id.starts_with("pseudo:")
}

/// The pseudo node `id` names, if it names one.
pub(super) fn pseudo_node(id: &str) -> Option<NodeSummary> {
    if id == "in-theinternet" || id == "out-theinternet" {
        return Some(internet(id));
    }
    let (kind, label, host) = [("uncontained", "Uncontained"), ("unmanaged", "Unmanaged")]
        .into_iter()
        .find_map(|(kind, label)| {
            let host = id
                .strip_prefix("pseudo:")?
                .strip_prefix(kind)?
                .strip_prefix(':')?;
            Some((kind, label, host))
        })?;
    Some(NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label: label.to_owned(),
        label_minor: host.to_owned(),
        rank: format!("{kind}:{host}"),
        shape: "square".into(),
        stack: true,
        pseudo: true,
        ..SummaryHead::default()
    }))
}

/// The two pseudo nodes for addresses outside every local network.
pub fn internet(id: &str) -> NodeSummary {
    let minor = if id.starts_with("in-") {
        "Inbound connections"
    } else {
        "Outbound connections"
    };
    NodeSummary::from(SummaryHead {
        id: id.to_owned(),
        label: "The Internet".into(),
        label_minor: minor.into(),
        rank: id.to_owned(),
        shape: "cloud".into(),
        pseudo: true,
        ..SummaryHead::default()
    })
}

/// The shape the probe gave the topology, or the view's own when it gave none.
pub fn shape_or(topology: &Topology, default: &str) -> String {
    if topology.shape.is_empty() {
        default.to_owned()
    } else {
        topology.shape.clone()
    }
}

/// A host's label and minor label: its name split at the first dot.
pub fn host_labels(hostname: &str) -> (String, String) {
    match hostname.split_once('.') {
        Some((label, rest)) => (label.to_owned(), rest.to_owned()),
        None => (hostname.to_owned(), String::new()),
    }
}

/// A container's label (`render/detailed/summary.go`): the orchestrator's container name (ECS,
/// then Kubernetes), Marathon's app id, the Docker name, the hostname, or the short id.
pub fn container_label(node: &Node, id: &str) -> String {
    [
        "docker_label_com.amazonaws.ecs.container-name",
        "docker_label_io.kubernetes.container.name",
        "docker_env_MARATHON_APP_ID",
        "docker_container_name",
        "docker_container_hostname",
    ]
    .iter()
    .find_map(|key| node.latest_value(key).filter(|v| !v.is_empty()))
    .map(str::to_owned)
    .unwrap_or_else(|| {
        id.split(';')
            .next()
            .unwrap_or_default()
            .chars()
            .take(12)
            .collect()
    })
}
