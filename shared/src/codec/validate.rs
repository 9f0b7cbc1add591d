use super::error::{DecodeError, Limit};
use super::limits::Limits;
use crate::model::{Node, Report, TopologyKind};

/// Checks what decoding alone cannot: string lengths, node ids, and sampling counts.
///
/// Node ids must contain `;` (Scope's `Topology.Validate`), except overlay peers, whose ids
/// are `#<prefix><peer>`. A node's own `id`, when set, must match its key.
pub fn validate(report: &Report, limits: &Limits) -> Result<(), DecodeError> {
    let max = limits.max_string_bytes;
    let long = |s: &str| s.len() > max;
    if long(&report.id) {
        return Err(DecodeError::limit(Limit::StringLength, max));
    }
    if report.sampling.count > report.sampling.total {
        return Err(DecodeError::Invalid(format!(
            "sampling count {} is bigger than total {}",
            report.sampling.count, report.sampling.total
        )));
    }
    for (kind, topology) in report.topologies() {
        for (id, node) in &topology.nodes {
            if kind != TopologyKind::Overlay && !id.contains(';') {
                return Err(DecodeError::Invalid(format!(
                    "{kind} node id {:?} has no ';'",
                    truncate(id)
                )));
            }
            check_node(id, node, max)?;
        }
    }
    for (addr, record) in report.dns.iter().chain(report.bug_dns.iter()) {
        if long(addr)
            || record
                .forward
                .iter()
                .chain(record.reverse.iter())
                .any(|s| long(s))
        {
            return Err(DecodeError::limit(Limit::StringLength, max));
        }
    }
    Ok(())
}

fn check_node(key: &str, node: &Node, max: usize) -> Result<(), DecodeError> {
    if !node.id.is_empty() && node.id != key {
        return Err(DecodeError::Invalid(format!(
            "node {:?} carries a different id {:?}",
            truncate(key),
            truncate(&node.id)
        )));
    }
    let long = |s: &str| s.len() > max;
    let too_long = long(key)
        || long(&node.topology)
        || node.adjacency.iter().any(|s| long(s))
        || node.latest.iter().any(|(k, e)| long(k) || long(&e.value))
        || node.metrics.keys().any(|k| long(k))
        || node
            .sets
            .iter()
            .chain(node.parents.iter())
            .any(|(k, set)| long(k) || set.iter().any(|s| long(s)));
    if too_long {
        return Err(DecodeError::limit(Limit::StringLength, max));
    }
    for (id, child) in &node.children {
        check_node(id, child, max)?;
    }
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}
