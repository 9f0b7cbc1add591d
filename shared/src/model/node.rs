use std::collections::BTreeMap;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::compact::{VecMap, VecSet};
use super::serde_util::{empty_as_null, float_or_null, null_as_default};
use crate::time::Timestamp;

/// Latest keys the model itself interprets (`report/map_keys.go`).
pub mod keys {
    pub const ACTIVE_CONTROLS: &str = "active_controls";
    pub const COUNTER_PREFIX: &str = "count_";
    pub const CONTROL_PROBE_ID: &str = "control_probe_id";
    pub const HOST_NAME: &str = "host_name";
    pub const HOST_NODE_ID: &str = "host_node_id";
    pub const SCOPE_VERSION: &str = "scope_version";
    pub const PID: &str = "pid";
    pub const NAME: &str = "name";
    pub const KUBERNETES_NAME: &str = "kubernetes_name";
    pub const KUBERNETES_NAMESPACE: &str = "kubernetes_namespace";
    pub const KUBERNETES_STATE: &str = "kubernetes_state";
    pub const SNOOPED_DNS_NAMES: &str = "snooped_dns_names";
    pub const REVERSE_DNS_NAMES: &str = "reverse_dns_names";
    /// Scope's separator inside node ids and `;`-joined values.
    pub const SCOPE_DELIM: char = ';';
}

/// A sorted, de-duplicated set of strings (`report.StringSet`).
pub type StringSet = VecSet<String>;

/// Named string sets (`report.Sets`); used both for `sets` and `parents`.
pub type Sets = VecMap<String, StringSet>;

/// `report.StringLatestMap`: per key the most recent value with its timestamp.
pub type LatestMap = VecMap<String, LatestEntry>;

/// A node's metrics by id (`report.Metrics`).
pub type Metrics = VecMap<String, Metric>;

/// Child nodes keyed by id (`report.NodeSet`), encoded as an array of nodes.
pub type NodeSet = BTreeMap<String, Node>;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestEntry {
    #[serde(default)]
    pub timestamp: Timestamp,
    /// An entry without `value` decodes as `""`, as Scope's does.
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    #[serde(default)]
    pub date: Timestamp,
    #[serde(default, deserialize_with = "float_or_null")]
    pub value: f64,
}

/// A time series (`report.Metric`); samples are kept in time order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub samples: Vec<Sample>,
    #[serde(default, deserialize_with = "float_or_null")]
    pub min: f64,
    #[serde(default, deserialize_with = "float_or_null")]
    pub max: f64,
}

/// One node of a topology (`report.Node`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "NodeWire")]
pub struct Node {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Empty on the nodes of a probe's delta report until they are merged with a full one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology: String,
    #[serde(serialize_with = "empty_as_null")]
    pub sets: Sets,
    #[serde(skip_serializing_if = "StringSet::is_empty")]
    pub adjacency: StringSet,
    #[serde(skip_serializing_if = "LatestMap::is_empty")]
    pub latest: LatestMap,
    #[serde(skip_serializing_if = "Metrics::is_empty")]
    pub metrics: Metrics,
    #[serde(serialize_with = "empty_as_null")]
    pub parents: Sets,
    #[serde(serialize_with = "serialize_node_set")]
    pub children: NodeSet,
}

impl Node {
    pub fn new(id: impl Into<String>, topology: &str) -> Self {
        Node {
            id: id.into(),
            topology: topology.to_owned(),
            ..Node::default()
        }
    }

    /// Whether the node is still a probe's delta (no `topology`), waiting to be merged with
    /// its full node (scope-compat.md §3.4).
    pub fn is_part_merged(&self) -> bool {
        self.topology.is_empty()
    }

    pub fn latest_value(&self, key: &str) -> Option<&str> {
        self.latest.get(key).map(|e| e.value.as_str())
    }

    pub fn with_latest(mut self, key: &str, ts: Timestamp, value: impl Into<String>) -> Self {
        self.latest.insert(
            key.to_owned(),
            LatestEntry {
                timestamp: ts,
                value: value.into(),
            },
        );
        self
    }

    pub fn with_adjacent(mut self, id: impl Into<String>) -> Self {
        self.adjacency.insert(id.into());
        self
    }

    pub fn with_parent(mut self, topology: &str, id: impl Into<String>) -> Self {
        self.parents
            .entry(topology.to_owned())
            .or_default()
            .insert(id.into());
        self
    }

    pub fn with_set(mut self, key: &str, values: &[&str]) -> Self {
        let set = self.sets.entry(key.to_owned()).or_default();
        set.extend(values.iter().map(|v| (*v).to_owned()));
        self
    }
}

fn serialize_node_set<S: Serializer>(set: &NodeSet, s: S) -> Result<S::Ok, S::Error> {
    if set.is_empty() {
        return s.serialize_none();
    }
    let mut seq = s.serialize_seq(Some(set.len()))?;
    for node in set.values() {
        seq.serialize_element(node)?;
    }
    seq.end()
}

/// A node as it may arrive: today's keys plus the legacy `latestControls` and `counters`
/// (`report/backcompat.go`), folded into `latest` on conversion.
#[derive(Deserialize)]
struct NodeWire {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    topology: String,
    #[serde(default, deserialize_with = "sets_or_null")]
    sets: Sets,
    #[serde(default, deserialize_with = "null_as_default")]
    adjacency: StringSet,
    #[serde(default, deserialize_with = "null_as_default")]
    latest: LatestMap,
    #[serde(default, deserialize_with = "null_as_default")]
    metrics: Metrics,
    #[serde(default, deserialize_with = "sets_or_null")]
    parents: Sets,
    #[serde(default, deserialize_with = "node_set")]
    children: NodeSet,
    #[serde(
        default,
        rename = "latestControls",
        deserialize_with = "null_as_default"
    )]
    latest_controls: BTreeMap<String, LegacyControlEntry>,
    #[serde(default, deserialize_with = "null_as_default")]
    counters: BTreeMap<String, i64>,
}

#[derive(Deserialize)]
pub(crate) struct LegacyControlEntry {
    #[serde(default)]
    timestamp: Timestamp,
    #[serde(default, deserialize_with = "null_as_default")]
    value: LegacyControlState,
}

#[derive(Default, Deserialize)]
struct LegacyControlState {
    #[serde(default)]
    dead: bool,
}

impl From<NodeWire> for Node {
    fn from(wire: NodeWire) -> Node {
        let mut node = Node {
            id: wire.id,
            topology: wire.topology,
            sets: wire.sets,
            adjacency: wire.adjacency,
            latest: wire.latest,
            metrics: wire.metrics,
            parents: wire.parents,
            children: wire.children,
        };
        fold_legacy_controls(&mut node.latest, wire.latest_controls);
        fold_legacy_counters(&mut node.latest, wire.counters);
        node
    }
}

/// Legacy per-node controls, keyed by control name.
pub(crate) type LegacyControls = BTreeMap<String, LegacyControlEntry>;

/// `latestControls` becomes `latest.active_controls`: the live control names joined by `;`,
/// stamped with the newest of their timestamps.
pub(crate) fn fold_legacy_controls(latest: &mut LatestMap, controls: LegacyControls) {
    let Some(newest) = controls.values().map(|e| e.timestamp).max() else {
        return;
    };
    let live: Vec<&str> = controls
        .iter()
        .filter(|(_, e)| !e.value.dead)
        .map(|(name, _)| name.as_str())
        .collect();
    latest.insert(
        keys::ACTIVE_CONTROLS.to_owned(),
        LatestEntry {
            timestamp: newest,
            value: live.join(";"),
        },
    );
}

/// `counters` become `latest.count_<name>` entries.
pub(crate) fn fold_legacy_counters(latest: &mut LatestMap, counters: BTreeMap<String, i64>) {
    if counters.is_empty() {
        return;
    }
    // Scope stamps upgraded counters with the decode time; so do we.
    let now = Timestamp::now();
    for (key, value) in counters {
        let entry = LatestEntry {
            timestamp: now,
            value: value.to_string(),
        };
        latest.insert(format!("{}{key}", keys::COUNTER_PREFIX), entry);
    }
}

/// A set whose value lists may themselves be `null`.
fn sets_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Sets, D::Error> {
    let raw: Option<BTreeMap<String, Option<StringSet>>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

fn node_set<'de, D: Deserializer<'de>>(d: D) -> Result<NodeSet, D::Error> {
    let nodes: Option<Vec<Node>> = Option::deserialize(d)?;
    Ok(nodes
        .unwrap_or_default()
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect())
}
