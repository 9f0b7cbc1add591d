//! The report model of Scope (`report/*.go`): a report holds one [`Topology`] per
//! [`TopologyKind`], each a map of [`Node`]s.

mod compact;
mod kind;
mod node;
mod report;
mod serde_util;
mod topology;

pub use compact::{VecMap, VecSet};
pub use kind::TopologyKind;
pub use node::{
    LatestEntry, LatestMap, Metric, Metrics, Node, NodeSet, Sample, Sets, StringSet, keys,
};
pub(crate) use node::{LegacyControls, fold_legacy_controls, fold_legacy_counters};
pub use report::{DnsRecord, DnsRecords, PluginSpec, Plugins, Report, Sampling};
pub use topology::{Column, Control, MetadataTemplate, MetricTemplate, TableTemplate, Topology};
