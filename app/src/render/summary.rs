//! `NodeSummary` (`render/detailed/summary.go`): what the UI shows of a node, with metadata and
//! metrics laid out by the topology's templates.

use std::collections::BTreeSet;

use serde::Serialize;
use stormscope_shared::model::{Metric, Node, Sample, Topology};

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(f: &f64) -> bool {
    *f == 0.0
}

fn is_zero_i(i: &i64) -> bool {
    *i == 0
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeSummary {
    pub id: String,
    pub label: String,
    #[serde(rename = "labelMinor")]
    pub label_minor: String,
    pub rank: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub shape: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(skip_serializing_if = "is_false")]
    pub stack: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub pseudo: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<ParentRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricRow>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub adjacency: BTreeSet<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetadataRow {
    pub id: String,
    pub label: String,
    pub value: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: f64,
    #[serde(rename = "dataType", skip_serializing_if = "String::is_empty")]
    pub data_type: String,
    #[serde(skip_serializing_if = "is_zero_i")]
    pub truncate: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParentRow {
    pub id: String,
    pub label: String,
    #[serde(rename = "topologyId")]
    pub topology_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricRow {
    pub id: String,
    pub label: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub format: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    pub value: f64,
    #[serde(skip_serializing_if = "is_zero")]
    pub priority: f64,
    /// `null` in summaries; node details carry the samples (the UI fetches them there).
    pub samples: Option<Vec<Sample>>,
    pub min: f64,
    pub max: f64,
    pub url: String,
}

/// Templates in the order Scope lays out rows: by priority, then id.
fn by_priority<'a, T>(
    templates: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> (f64, &String),
) -> Vec<&'a T> {
    let mut sorted: Vec<&T> = templates.collect();
    sorted.sort_by(|a, b| {
        let (pa, ia) = key(a);
        let (pb, ib) = key(b);
        pa.total_cmp(&pb).then_with(|| ia.cmp(ib))
    });
    sorted
}

/// Metadata rows from the topology's templates, by priority: each template's value from
/// `latest`, `sets` (joined by ", ") or a `count_` entry, as its `from` says (all three in that
/// order when empty).
pub fn metadata(node: &Node, topology: &Topology) -> Vec<MetadataRow> {
    by_priority(topology.metadata_templates.values(), |t| {
        (t.priority, &t.id)
    })
    .into_iter()
    .filter_map(|t| {
        let latest = || node.latest_value(&t.id).map(str::to_owned);
        let sets = || {
            node.sets
                .get(&t.id)
                .filter(|s| !s.is_empty())
                .map(|s| s.iter().cloned().collect::<Vec<_>>().join(", "))
        };
        let counters = || {
            node.latest_value(&format!("count_{}", t.id))
                .map(str::to_owned)
        };
        let value = match t.from.as_str() {
            "latest" => latest(),
            "sets" => sets(),
            "counters" => counters(),
            _ => latest().or_else(sets).or_else(counters),
        }?;
        Some(MetadataRow {
            id: t.id.clone(),
            label: t.label.clone(),
            value,
            priority: t.priority,
            data_type: t.data_type.clone(),
            truncate: t.truncate,
        })
    })
    .collect()
}

/// Metric rows from the topology's templates, by priority. The value is the last sample,
/// truncated toward zero to two decimals as Scope does.
pub fn metrics(node: &Node, topology: &Topology) -> Vec<MetricRow> {
    by_priority(topology.metric_templates.values(), |t| (t.priority, &t.id))
        .into_iter()
        .filter_map(|t| {
            let metric: &Metric = node.metrics.get(&t.id)?;
            let last = metric.samples.last().map_or(0.0, |s| s.value);
            Some(MetricRow {
                id: t.id.clone(),
                label: t.label.clone(),
                format: t.format.clone(),
                group: t.group.clone(),
                value: (last * 100.0).trunc() / 100.0,
                priority: t.priority,
                samples: None,
                min: metric.min,
                max: metric.max,
                url: String::new(),
            })
        })
        .collect()
}

/// Makes sure the pseudo node `id` exists in a view (the Internet, or a host's "Uncontained" or
/// "Unmanaged" group); says whether `id` is a node of the view at all.
pub fn ensure_node(nodes: &mut std::collections::BTreeMap<String, NodeSummary>, id: &str) -> bool {
    if nodes.contains_key(id) {
        return true;
    }
    let node = if id == "in-theinternet" || id == "out-theinternet" {
        internet(id)
    } else if let Some((kind, label)) = [("uncontained", "Uncontained"), ("unmanaged", "Unmanaged")]
        .into_iter()
        .find(|(kind, _)| id.starts_with(&format!("pseudo:{kind}:")))
    {
        let host = &id[format!("pseudo:{kind}:").len()..];
        NodeSummary {
            id: id.to_owned(),
            label: label.to_owned(),
            label_minor: host.to_owned(),
            rank: format!("{kind}:{host}"),
            shape: "square".into(),
            stack: true,
            pseudo: true,
            ..NodeSummary::default()
        }
    } else {
        return false;
    };
    nodes.insert(id.to_owned(), node);
    true
}

/// Adds each edge whose both ends are nodes of the view (creating pseudo nodes on use).
/// Many connections join the same two nodes, so each pair is looked up once.
pub fn add_edges<'a>(
    nodes: &mut std::collections::BTreeMap<String, NodeSummary>,
    edges: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let mut seen = std::collections::HashSet::new();
    for (from, to) in edges {
        if seen.insert((from, to))
            && ensure_node(nodes, from)
            && ensure_node(nodes, to)
            && let Some(node) = nodes.get_mut(from)
        {
            node.adjacency.insert(to.to_owned());
        }
    }
}

/// The two pseudo nodes for addresses outside every local network.
pub fn internet(id: &str) -> NodeSummary {
    let minor = if id.starts_with("in-") {
        "Inbound connections"
    } else {
        "Outbound connections"
    };
    NodeSummary {
        id: id.to_owned(),
        label: "The Internet".into(),
        label_minor: minor.into(),
        rank: id.to_owned(),
        shape: "cloud".into(),
        pseudo: true,
        ..NodeSummary::default()
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
