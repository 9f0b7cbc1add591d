use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::model::{MetadataTemplate, MetricTemplate, TableTemplate, Topology};

impl Topology {
    /// `Topology.UnsafeMerge`: ours keeps its shape and tag unless empty, takes their labels
    /// only if ours is unlabelled; nodes unite (`theirs.Merge(ours)` on collision); their
    /// controls win; the template of higher priority wins.
    pub fn merge(&mut self, other: &Topology) {
        for (id, theirs) in &other.nodes {
            match self.nodes.get_mut(id) {
                Some(ours) => ours.merge(theirs),
                None => {
                    self.nodes.insert(id.clone(), theirs.clone());
                }
            }
        }
        self.merge_besides_nodes(other);
    }

    /// As [`Topology::merge`], taking `other`: nodes new to this topology move in.
    pub fn merge_owned(&mut self, mut other: Topology) {
        for (id, theirs) in std::mem::take(&mut other.nodes) {
            match self.nodes.entry(id) {
                Entry::Occupied(mut ours) => ours.get_mut().merge(&theirs),
                Entry::Vacant(slot) => {
                    slot.insert(theirs);
                }
            }
        }
        self.merge_besides_nodes(&other);
    }

    fn merge_besides_nodes(&mut self, other: &Topology) {
        if self.shape.is_empty() {
            self.shape.clone_from(&other.shape);
        }
        if self.tag.is_empty() {
            self.tag.clone_from(&other.tag);
        }
        if self.label.is_empty() {
            self.label.clone_from(&other.label);
            self.label_plural.clone_from(&other.label_plural);
        }
        for (id, control) in &other.controls {
            self.controls.insert(id.clone(), control.clone());
        }
        merge_by_priority(
            &mut self.metadata_templates,
            &other.metadata_templates,
            |t: &MetadataTemplate| t.priority,
        );
        merge_by_priority(
            &mut self.metric_templates,
            &other.metric_templates,
            |t: &MetricTemplate| t.priority,
        );
        for (id, theirs) in &other.table_templates {
            match self.table_templates.get_mut(id) {
                Some(ours) => merge_table_template(ours, theirs),
                None => {
                    self.table_templates.insert(id.clone(), theirs.clone());
                }
            }
        }
    }
}

/// Union where, on a shared key, the higher priority wins; on equal priority the larger map's
/// entry stays (Scope iterates the smaller map into a copy of the larger).
fn merge_by_priority<T: Clone>(
    ours: &mut BTreeMap<String, T>,
    theirs: &BTreeMap<String, T>,
    priority: impl Fn(&T) -> f64,
) {
    let ours_is_base = ours.len() >= theirs.len();
    for (id, candidate) in theirs {
        match ours.get_mut(id) {
            None => {
                ours.insert(id.clone(), candidate.clone());
            }
            Some(existing) => {
                let replace = if ours_is_base {
                    priority(existing) < priority(candidate)
                } else {
                    priority(existing) <= priority(candidate)
                };
                if replace {
                    *existing = candidate.clone();
                }
            }
        }
    }
}

/// `TableTemplate.Merge`: ours wins each non-empty field; columns and fixed rows are united.
fn merge_table_template(ours: &mut TableTemplate, theirs: &TableTemplate) {
    for (mine, other) in [
        (&mut ours.id, &theirs.id),
        (&mut ours.label, &theirs.label),
        (&mut ours.prefix, &theirs.prefix),
        (&mut ours.kind, &theirs.kind),
    ] {
        if mine.is_empty() {
            mine.clone_from(other);
        }
    }
    for column in &theirs.columns {
        if !ours.columns.iter().any(|c| c.id == column.id) {
            ours.columns.push(column.clone());
        }
    }
    for (key, value) in &theirs.fixed_rows {
        ours.fixed_rows
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
}
