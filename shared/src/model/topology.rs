use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::node::Node;
use super::serde_util::{empty_as_null, is_zero_f64, is_zero_i64, null_as_default};

/// One topology of a report (`report.Topology`): its nodes plus how the UI should show them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub shape: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tag: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub label: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub label_plural: String,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub nodes: BTreeMap<String, Node>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub controls: BTreeMap<String, Control>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub metadata_templates: BTreeMap<String, MetadataTemplate>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub metric_templates: BTreeMap<String, MetricTemplate>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub table_templates: BTreeMap<String, TableTemplate>,
}

impl Topology {
    pub fn is_empty(&self) -> bool {
        self == &Topology::default()
    }

    pub fn add_node(&mut self, node: Node) {
        self.nodes.insert(node.id.clone(), node);
    }
}

/// A control a probe offers on nodes of this topology (`report.Control`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Control {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub human: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub icon: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub confirmation: String,
    #[serde(default)]
    pub rank: i64,
    #[serde(
        default,
        rename = "probeId",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub probe_id: String,
}

/// How to show a `latest`/`sets` entry in node details (`report.MetadataTemplate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataTemplate {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub label: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub truncate: i64,
    #[serde(
        default,
        rename = "dataType",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub data_type: String,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub priority: f64,
    /// `latest`, `sets` or `counters`; empty means try them in that order.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub from: String,
}

/// How to show a metric (`report.MetricTemplate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricTemplate {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub label: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub format: String,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub group: String,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub priority: f64,
}

/// A table of `latest` entries sharing a key prefix (`report.TableTemplate`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableTemplate {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub label: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub prefix: String,
    #[serde(default, rename = "type", deserialize_with = "null_as_default")]
    pub kind: String,
    #[serde(
        default,
        serialize_with = "empty_as_null",
        deserialize_with = "null_as_default"
    )]
    pub columns: Vec<Column>,
    #[serde(
        default,
        rename = "fixedRows",
        serialize_with = "empty_as_null",
        deserialize_with = "null_as_default"
    )]
    pub fixed_rows: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Column {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub label: String,
    #[serde(default, rename = "dataType", deserialize_with = "null_as_default")]
    pub data_type: String,
}
