use crate::model::{LatestMap, Node, Report, Sets, StringSet, Topology};

impl Report {
    /// `Report.UnsafeUnMerge(full)`, which a probe applies to make a delta report
    /// (scope-compat.md §3.4): what merging `full` would add back is taken out, so a delta
    /// carries only what changed since the probe's last full report. Nodes left keep no id or
    /// topology until they are merged with their full node.
    pub fn unmerge(&mut self, full: &Report) {
        self.window = self.window.saturating_sub(full.window);
        for ((_, ours), (_, theirs)) in self.topologies_mut().zip(full.topologies()) {
            ours.unmerge(theirs);
        }
    }
}

impl Topology {
    /// `Topology.UnsafeUnMerge`: equal shape, labels and tag are blanked; templates go, as
    /// Scope takes templates to be static.
    fn unmerge(&mut self, full: &Topology) {
        if self.shape == full.shape {
            self.shape.clear();
        }
        if self.label == full.label && self.label_plural == full.label_plural {
            self.label.clear();
            self.label_plural.clear();
        }
        if self.tag == full.tag {
            self.tag.clear();
        }
        self.nodes.retain(|id, node| match full.nodes.get(id) {
            Some(full_node) => !node.unmerge(full_node),
            None => true,
        });
        self.metadata_templates.clear();
        self.metric_templates.clear();
        self.table_templates.clear();
    }
}

impl Node {
    /// `Node.UnsafeUnMerge`: each of latest, sets, parents and adjacency is dropped whole when
    /// it equals the full node's (latest values ignoring their timestamps). Returns whether
    /// the node can go: all four were equal and it has no metrics. A node of another id or
    /// topology is kept as it is.
    fn unmerge(&mut self, full: &Node) -> bool {
        if self.id != full.id || self.topology != full.topology {
            return false;
        }
        self.id.clear();
        self.topology.clear();
        let mut unchanged = true;
        if equal_ignoring_timestamps(&self.latest, &full.latest) {
            self.latest.clear();
        } else {
            unchanged = false;
        }
        for (mine, theirs) in [
            (&mut self.sets, &full.sets),
            (&mut self.parents, &full.parents),
        ] {
            if same_sets(mine, theirs) {
                mine.clear();
            } else {
                unchanged = false;
            }
        }
        if self.adjacency == full.adjacency {
            self.adjacency.clear();
        } else {
            unchanged = false;
        }
        unchanged && self.metrics.is_empty()
    }
}

fn equal_ignoring_timestamps(ours: &LatestMap, theirs: &LatestMap) -> bool {
    ours.len() == theirs.len()
        && ours
            .iter()
            .zip(theirs.iter())
            .all(|((k, a), (l, b))| k == l && a.value == b.value)
}

/// Scope's `Sets.DeepEqual`, where an empty set under a key is no set at all.
fn same_sets(ours: &Sets, theirs: &Sets) -> bool {
    fn present(sets: &Sets) -> impl Iterator<Item = (&String, &StringSet)> {
        sets.iter().filter(|(_, set)| !set.is_empty())
    }
    present(ours).eq(present(theirs))
}

#[cfg(test)]
mod tests {
    use crate::model::{Report, TopologyKind};
    use crate::synth::{SynthSpec, generate};
    use crate::time::Timestamp;

    fn next_report(spec: &SynthSpec, seconds: i128) -> Report {
        let mut later = spec.clone();
        later.ts = Timestamp::from_unix_nanos(spec.ts.unix_nanos() + seconds * 1_000_000_000);
        generate(&later)
    }

    #[test]
    fn a_delta_keeps_only_what_changed_since_the_full_report() {
        let spec = SynthSpec::default();
        let full = generate(&spec);
        let mut delta = next_report(&spec, 3);
        delta.unmerge(&full);
        // Endpoints have no metrics and did not change: they are gone.
        assert!(delta.topology(TopologyKind::Endpoint).nodes.is_empty());
        // Processes have new metric samples: they stay, with nothing else.
        let processes = &delta.topology(TopologyKind::Process).nodes;
        assert_eq!(
            processes.len(),
            full.topology(TopologyKind::Process).nodes.len()
        );
        for node in processes.values() {
            assert!(node.is_part_merged());
            assert!(node.latest.is_empty() && node.parents.is_empty());
            assert!(!node.metrics.is_empty());
        }
        assert!(
            delta
                .topologies()
                .all(|(_, t)| t.metadata_templates.is_empty() && t.shape.is_empty())
        );
    }

    #[test]
    fn a_changed_value_keeps_its_section_and_merging_the_full_report_restores_the_node() {
        let spec = SynthSpec::default();
        let full = generate(&spec);
        let mut later = next_report(&spec, 3);
        let (id, node) = later
            .topology_mut(TopologyKind::Process)
            .nodes
            .iter_mut()
            .next()
            .unwrap();
        let id = id.clone();
        node.latest.get_mut("cmdline").unwrap().value = "changed --flag".into();
        let mut delta = later.clone();
        delta.unmerge(&full);
        let part = &delta.topology(TopologyKind::Process).nodes[&id];
        assert_eq!(part.latest_value("cmdline"), Some("changed --flag"));
        let mut merged = full.clone();
        merged.merge(&delta);
        let node = &merged.topology(TopologyKind::Process).nodes[&id];
        assert!(!node.is_part_merged());
        assert_eq!(node.latest_value("cmdline"), Some("changed --flag"));
        assert_eq!(
            node.parents,
            full.topology(TopologyKind::Process).nodes[&id].parents
        );
    }

    #[test]
    fn a_node_the_full_report_lacks_stays_whole() {
        let spec = SynthSpec::default();
        let mut full = generate(&spec);
        let later = next_report(&spec, 3);
        let (id, _) = full
            .topology_mut(TopologyKind::Endpoint)
            .nodes
            .pop_first()
            .unwrap();
        let mut delta = later.clone();
        delta.unmerge(&full);
        assert_eq!(
            delta.topology(TopologyKind::Endpoint).nodes.get(&id),
            later.topology(TopologyKind::Endpoint).nodes.get(&id)
        );
    }
}
