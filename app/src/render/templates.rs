//! A topology's metadata and metric templates, laid out once per render: a view of many nodes
//! makes the same rows, bar their values, for every node.

use std::sync::Arc;

use stormscope_shared::model::{MetadataTemplate, Metric, MetricTemplate, Node, Topology, keys};

use super::summary::{MetadataRow, MetricRow};

/// Text a row takes from its template. Every row made from a template shares it: a view of
/// tens of thousands of nodes would otherwise copy (and free) each id and label as often.
pub type Text = Arc<str>;

/// The templates in the order Scope lays out rows (by priority, then id), with their text.
///
/// Rows share the text through reference counts, which threads would contend for: a thread
/// that makes rows makes its own `Templates`.
pub struct Templates<'t> {
    metadata: Vec<MetadataLayout<'t>>,
    metrics: Vec<MetricLayout<'t>>,
}

struct MetadataLayout<'t> {
    template: &'t MetadataTemplate,
    id: Text,
    label: Text,
    data_type: Text,
    /// The template's `count_` entry in a node's `latest`, named once rather than per node.
    counter: String,
}

struct MetricLayout<'t> {
    template: &'t MetricTemplate,
    id: Text,
    label: Text,
    format: Text,
    group: Text,
}

impl<'t> Templates<'t> {
    pub fn of(topology: &'t Topology) -> Self {
        Templates {
            metadata: Self::metadata_of(topology).metadata,
            metrics: Self::metrics_of(topology).metrics,
        }
    }

    /// The metadata templates alone.
    pub(super) fn metadata_of(topology: &'t Topology) -> Self {
        let metadata = by_priority(topology.metadata_templates.values(), |t| {
            (t.priority, &t.id)
        })
        .map(|t| MetadataLayout {
            template: t,
            id: t.id.as_str().into(),
            label: t.label.as_str().into(),
            data_type: t.data_type.as_str().into(),
            counter: [keys::COUNTER_PREFIX, &t.id].concat(),
        })
        .collect();
        Templates {
            metadata,
            metrics: Vec::new(),
        }
    }

    /// The metric templates alone.
    pub(super) fn metrics_of(topology: &'t Topology) -> Self {
        let metrics = by_priority(topology.metric_templates.values(), |t| (t.priority, &t.id))
            .map(|t| MetricLayout {
                template: t,
                id: t.id.as_str().into(),
                label: t.label.as_str().into(),
                format: t.format.as_str().into(),
                group: t.group.as_str().into(),
            })
            .collect();
        Templates {
            metadata: Vec::new(),
            metrics,
        }
    }

    /// Metadata rows: each template's value from `latest`, `sets` (joined by ", ") or a
    /// `count_` entry, as its `from` says (all three in that order when empty).
    pub fn metadata(&self, node: &Node) -> Vec<MetadataRow> {
        self.metadata
            .iter()
            .filter_map(|layout| {
                let t = layout.template;
                let latest = || node.latest_value(&t.id).map(str::to_owned);
                let sets = || {
                    node.sets
                        .get(&t.id)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.iter().cloned().collect::<Vec<_>>().join(", "))
                };
                let counters = || node.latest_value(&layout.counter).map(str::to_owned);
                let value = match t.from.as_str() {
                    "latest" => latest(),
                    "sets" => sets(),
                    "counters" => counters(),
                    _ => latest().or_else(sets).or_else(counters),
                }?;
                Some(MetadataRow {
                    id: layout.id.clone(),
                    label: layout.label.clone(),
                    value,
                    priority: t.priority,
                    data_type: layout.data_type.clone(),
                    truncate: t.truncate,
                })
            })
            .collect()
    }

    /// Metric rows. The value is the last sample, truncated toward zero to two decimals as
    /// Scope does.
    pub fn metrics(&self, node: &Node) -> Vec<MetricRow> {
        self.metrics
            .iter()
            .filter_map(|layout| {
                let t = layout.template;
                let metric: &Metric = node.metrics.get(&t.id)?;
                let last = metric.samples.last().map_or(0.0, |s| s.value);
                Some(MetricRow {
                    id: layout.id.clone(),
                    label: layout.label.clone(),
                    format: layout.format.clone(),
                    group: layout.group.clone(),
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
}

/// Templates in the order Scope lays out rows: by priority, then id.
fn by_priority<'a, T: 'a>(
    templates: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> (f64, &String),
) -> impl Iterator<Item = &'a T> {
    let mut sorted: Vec<&T> = templates.collect();
    sorted.sort_by(|a, b| {
        let (pa, ia) = key(a);
        let (pb, ib) = key(b);
        pa.total_cmp(&pb).then_with(|| ia.cmp(ib))
    });
    sorted.into_iter()
}
