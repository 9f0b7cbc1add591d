//! Estimates of the heap bytes a report holds, for the memory budget ([`crate::budget`]).
//! They walk every node, so they are taken once per cache entry, not per query.
//!
//! A node's small maps are sorted vectors, counted by their room; a topology's nodes and a
//! summary's edges are B-trees, whose nodes are allocated whole with room for 11 entries.
//! `tests/size_estimate.rs` checks the estimate against the allocator's own count.

use std::mem::size_of;

use stormscope_shared::Report;
use stormscope_shared::model::{LatestEntry, Metric, Node, Sample, Sets, StringSet};

use crate::render::{NodeSummary, SharedHead};
use crate::rendered::Nodes;

pub fn report(report: &Report) -> usize {
    report
        .topologies()
        .map(|(_, topology)| {
            btree::<String, Node>(topology.nodes.len())
                + topology
                    .nodes
                    .iter()
                    .map(|(id, node)| id.capacity() + node_heap(node))
                    .sum::<usize>()
        })
        .sum()
}

/// The heap a node holds beyond its own struct (which lives in its map's B-tree node). Its
/// small maps are sorted vectors ([`stormscope_shared::model::VecMap`]): their room, and what
/// their entries point to.
pub fn node_heap(node: &Node) -> usize {
    node.id.capacity()
        + node.topology.capacity()
        + sets(&node.sets)
        + sets(&node.parents)
        + strings(&node.adjacency)
        + node.latest.capacity() * size_of::<(String, LatestEntry)>()
        + node
            .latest
            .iter()
            .map(|(k, e)| k.capacity() + e.value.capacity())
            .sum::<usize>()
        + node.metrics.capacity() * size_of::<(String, Metric)>()
        + node
            .metrics
            .iter()
            .map(|(k, m)| k.capacity() + m.samples.capacity() * size_of::<Sample>())
            .sum::<usize>()
        + btree::<String, Node>(node.children.len())
        + node
            .children
            .iter()
            .map(|(id, child)| id.capacity() + node_heap(child))
            .sum::<usize>()
}

/// A rendered view: its map, the summaries' edges, and the heads no one else holds. A head
/// shared with the kept heads (every head of a view that takes heads over) is counted there.
pub fn view(nodes: &Nodes) -> usize {
    btree::<String, NodeSummary>(nodes.len())
        + nodes
            .iter()
            .map(|(id, node)| {
                let head = node.head();
                let own = if head.is_shared() {
                    0
                } else {
                    head.heap_bytes()
                };
                id.capacity() + own + btree_strings(&node.adjacency)
            })
            .sum::<usize>()
}

/// Heads kept for the next render to take over.
pub fn heads(heads: &[SharedHead]) -> usize {
    std::mem::size_of_val(heads) + heads.iter().map(SharedHead::heap_bytes).sum::<usize>()
}

fn sets(sets: &Sets) -> usize {
    sets.capacity() * size_of::<(String, StringSet)>()
        + sets
            .iter()
            .map(|(k, set)| k.capacity() + strings(set))
            .sum::<usize>()
}

/// A set of strings: its room and the strings' bytes.
fn strings(set: &StringSet) -> usize {
    set.capacity() * size_of::<String>() + set.iter().map(String::capacity).sum::<usize>()
}

/// A B-tree set of strings (a rendered summary's edges): its nodes and the strings' bytes.
fn btree_strings(set: &std::collections::BTreeSet<String>) -> usize {
    btree::<String, ()>(set.len()) + set.iter().map(String::capacity).sum::<usize>()
}

/// The bytes of the nodes of a B-tree map of `len` entries of `K` and `V`: whole nodes of 11
/// entries, filled to about two thirds once inserts split them, and an internal node (the
/// same plus 12 edges) for every 8 leaves or so.
fn btree<K, V>(len: usize) -> usize {
    const CAPACITY: usize = 11;
    if len == 0 {
        return 0;
    }
    let leaf = CAPACITY * (size_of::<K>() + size_of::<V>()) + 16;
    if len <= CAPACITY {
        return leaf;
    }
    let leaves = (len * 3).div_ceil(CAPACITY * 2);
    let internal = leaves.div_ceil(8);
    leaves * leaf + internal * (leaf + 12 * size_of::<usize>())
}
