use crate::model::{LatestEntry, LatestMap, Node, NodeSet, Sets, TopologyKind, keys};

use super::metric::merge_metric;

impl Node {
    /// Leaves in `self` what Scope's `theirs.Merge(ours)` returns, which is how a topology
    /// merge combines two nodes of the same id (`self` = ours, `theirs` = the incoming report's).
    pub fn merge(&mut self, theirs: &Node) {
        if !theirs.id.is_empty() {
            self.id.clone_from(&theirs.id);
        }
        // Scope panics on two different non-empty topologies; a bad report must not take the
        // process down, so the incoming node's topology is kept as Scope's receiver would be.
        if !theirs.topology.is_empty() {
            self.topology.clone_from(&theirs.topology);
        }
        let mut their_latest = None;
        if self.topology == TopologyKind::Host.name() {
            their_latest = merge_active_controls(&mut self.latest, &theirs.latest);
        }
        merge_latest(
            &mut self.latest,
            their_latest.as_ref().unwrap_or(&theirs.latest),
        );
        merge_sets(&mut self.sets, &theirs.sets);
        merge_sets(&mut self.parents, &theirs.parents);
        self.adjacency.extend(theirs.adjacency.iter().cloned());
        for (key, metric) in &theirs.metrics {
            match self.metrics.get_mut(key) {
                Some(ours) => *ours = merge_metric(metric, ours),
                None => {
                    self.metrics.insert(key.clone(), metric.clone());
                }
            }
        }
        merge_children(&mut self.children, &theirs.children);
    }
}

/// `StringLatestMap.Merge` with `theirs` as receiver: per key the newer entry wins; on equal
/// timestamps the entry of the longer map wins, and between maps of equal length the one whose
/// first entry is newer (the receiver's when those tie too).
fn merge_latest(ours: &mut LatestMap, theirs: &LatestMap) {
    if theirs.is_empty() {
        return;
    }
    let theirs_primary = match ours.len().cmp(&theirs.len()) {
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Equal => {
            let first = |m: &LatestMap| m.values().next().map(|e| e.timestamp);
            first(theirs) >= first(ours)
        }
    };
    for (key, entry) in theirs {
        match ours.get_mut(key) {
            None => {
                ours.insert(key.clone(), entry.clone());
            }
            Some(mine) => {
                let take = if theirs_primary {
                    mine.timestamp <= entry.timestamp
                } else {
                    mine.timestamp < entry.timestamp
                };
                if take {
                    mine.clone_from(entry);
                }
            }
        }
    }
}

/// `MergeActiveControls` for host nodes: both sides' `active_controls` become the union of
/// their names, stamped with the newer timestamp, before the general latest merge. Returns
/// their latest map with the union applied, or `None` when there is nothing to unite.
fn merge_active_controls(ours: &mut LatestMap, theirs: &LatestMap) -> Option<LatestMap> {
    let (mine, other) = (
        ours.get(keys::ACTIVE_CONTROLS)?,
        theirs.get(keys::ACTIVE_CONTROLS)?,
    );
    let mut names: Vec<&str> = mine
        .value
        .split(';')
        .chain(other.value.split(';'))
        .filter(|s| !s.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    let united = LatestEntry {
        timestamp: mine.timestamp.max(other.timestamp),
        value: names.join(";"),
    };
    ours.insert(keys::ACTIVE_CONTROLS.to_owned(), united.clone());
    let mut theirs = theirs.clone();
    theirs.insert(keys::ACTIVE_CONTROLS.to_owned(), united);
    Some(theirs)
}

fn merge_sets(ours: &mut Sets, theirs: &Sets) {
    for (key, set) in theirs {
        match ours.get_mut(key) {
            Some(mine) => mine.extend(set.iter().cloned()),
            None => {
                ours.insert(key.clone(), set.clone());
            }
        }
    }
}

/// `NodeSet.Merge` with `theirs` as receiver: a union by id in which, for a shared id, the
/// entry from the smaller set wins, and ours on equal sizes.
fn merge_children(ours: &mut NodeSet, theirs: &NodeSet) {
    let theirs_win = theirs.len() < ours.len();
    for (id, child) in theirs {
        if theirs_win || !ours.contains_key(id) {
            ours.insert(id.clone(), child.clone());
        }
    }
}
