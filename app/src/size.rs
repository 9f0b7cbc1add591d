//! Estimates of the heap bytes a report or a rendered view holds, for the memory budget
//! ([`crate::budget`]): the strings' lengths plus a fixed cost per map entry and per node.
//! They walk every node, so they are taken once per cache entry, not per query.

use stormscope_shared::Report;
use stormscope_shared::model::{Metric, Node, Sets};

/// What a B-tree map entry costs beyond its key and value: its share of a node's slots and
/// pointers, about what the standard library's B-tree spends per element.
const ENTRY: usize = 48;

pub fn report(report: &Report) -> usize {
    report
        .topologies()
        .map(|(_, topology)| {
            topology
                .nodes
                .iter()
                .map(|(id, node)| ENTRY + id.len() + self::node(node))
                .sum::<usize>()
        })
        .sum()
}

pub fn node(node: &Node) -> usize {
    std::mem::size_of::<Node>()
        + node.id.len()
        + node.topology.len()
        + sets(&node.sets)
        + sets(&node.parents)
        + node
            .adjacency
            .iter()
            .map(|a| ENTRY + a.len())
            .sum::<usize>()
        + node
            .latest
            .iter()
            .map(|(k, e)| ENTRY + k.len() + e.value.len() + 16)
            .sum::<usize>()
        + node
            .metrics
            .iter()
            .map(|(k, m)| ENTRY + k.len() + metric(m))
            .sum::<usize>()
        + node
            .children
            .iter()
            .map(|(id, child)| ENTRY + id.len() + self::node(child))
            .sum::<usize>()
}

fn sets(sets: &Sets) -> usize {
    sets.iter()
        .map(|(k, set)| ENTRY + k.len() + set.iter().map(|v| ENTRY + v.len()).sum::<usize>())
        .sum()
}

fn metric(metric: &Metric) -> usize {
    std::mem::size_of::<Metric>() + metric.samples.capacity() * 16
}
