//! Checking a msgpack report without building it. The collector stores a probe's body as it
//! came whenever Scope's processing would not change it, so all it needs from the body is
//! whether it is valid (exactly as [`super::decode`] judges it) and what that processing looks
//! at: node counts per topology and where DNS records are. Building the model only to drop it
//! was two thirds of the collector's CPU (BENCHMARKS.md).
//!
//! Every check here mirrors one in `read.rs` or `codec::validate`; the tests and the fuzz
//! target hold the two to the same verdict on every input.

use crate::codec::error::{DecodeError, Limit};
use crate::codec::limits::Limits;
use crate::model::{DnsRecords, LegacyControls, PluginSpec, Report, Sampling, TopologyKind};
use crate::report_kind::ReportKind;

use super::read::Reader;

type Result<T> = std::result::Result<T, DecodeError>;

/// What a valid report holds, as far as Scope's `massage` is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Nodes per topology, in [`TopologyKind`] order.
    pub node_counts: [usize; TopologyKind::COUNT],
    /// Part-merged nodes (a delta's, with no `topology`) per topology, in the same order.
    pub part_merged_counts: [usize; TopologyKind::COUNT],
    pub has_dns: bool,
    pub has_bug_dns: bool,
    pub shortcut: bool,
}

impl Checked {
    /// What checking `report`'s msgpack would find.
    pub fn of(report: &Report) -> Self {
        let mut checked = Checked {
            has_dns: !report.dns.is_empty(),
            has_bug_dns: !report.bug_dns.is_empty(),
            shortcut: report.shortcut,
            ..Checked::default()
        };
        for (kind, topology) in report.topologies() {
            checked.node_counts[kind.index()] = topology.nodes.len();
            checked.part_merged_counts[kind.index()] = topology
                .nodes
                .values()
                .filter(|n| n.is_part_merged())
                .count();
        }
        checked
    }

    pub fn nodes(&self, kind: TopologyKind) -> usize {
        self.node_counts[kind.index()]
    }

    /// Whether the report is a probe's full report, a delta or a shortcut (see [`ReportKind`]).
    pub fn kind(&self) -> ReportKind {
        let full_hosts =
            self.nodes(TopologyKind::Host) - self.part_merged_counts[TopologyKind::Host.index()];
        ReportKind::classify(
            self.shortcut,
            self.part_merged_counts.iter().sum(),
            full_hosts,
        )
    }

    /// Whether `Report::massage(max_topology_nodes)` might change the report. Conservative:
    /// `true` sends the report down the full decode path, which decides exactly.
    pub fn may_need_massage(&self, max_topology_nodes: usize) -> bool {
        use TopologyKind::*;
        let hosts = self.nodes(Host);
        let limit = if hosts > 1 {
            max_topology_nodes.saturating_mul(hosts)
        } else {
            max_topology_nodes
        };
        let over_limit = max_topology_nodes != 0 && self.node_counts.iter().any(|&n| n > limit);
        let pods = self.nodes(ReplicaSet) > 0 && self.nodes(Pod) > 0;
        let namespaces = self.nodes(Namespace) == 0
            && [Pod, Service, Deployment, DaemonSet, StatefulSet, CronJob]
                .iter()
                .any(|&k| self.nodes(k) > 0);
        let dns = self.has_bug_dns || (!self.has_dns && self.nodes(Endpoint) > 0);
        over_limit || pods || namespaces || dns
    }
}

pub fn check(plain: &[u8], limits: &Limits) -> Result<Checked> {
    let mut r = Reader {
        buf: plain,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
    };
    let mut checked = Checked::default();
    let max = limits.max_string_bytes;
    r.scan_report(&mut checked, max)?;
    if r.pos != plain.len() {
        return Err(r.error("trailing bytes after the report"));
    }
    Ok(checked)
}

fn long(max: usize) -> DecodeError {
    DecodeError::limit(Limit::StringLength, max)
}

impl<'a> Reader<'a> {
    /// A string that may be nil, as `string()` reads it.
    fn opt_str(&mut self) -> Result<&'a str> {
        if self.nil() { Ok("") } else { self.str() }
    }

    fn bounded_str(&mut self, max: usize) -> Result<&'a str> {
        let s = self.opt_str()?;
        if s.len() > max { Err(long(max)) } else { Ok(s) }
    }

    fn utf8_key(&self, key: &'a [u8]) -> Result<&'a str> {
        simdutf8::basic::from_utf8(key).map_err(|_| self.error("map key is not UTF-8"))
    }

    fn scan_report(&mut self, checked: &mut Checked, max: usize) -> Result<()> {
        if self
            .buf
            .first()
            .is_none_or(|&b| !matches!(b, 0x80..=0x8f | 0xde | 0xdf))
        {
            return Err(self.error("a report must be a map"));
        }
        let mut sampling = Sampling::default();
        self.each_entry(|r, key| {
            match key {
                b"TS" => drop(r.time()?),
                b"DNS" | b"nodes" => {
                    let records: DnsRecords = r.serde::<Option<_>>()?.unwrap_or_default();
                    let too_long = records.iter().any(|(addr, rec)| {
                        addr.len() > max
                            || rec
                                .forward
                                .iter()
                                .chain(&rec.reverse)
                                .any(|s| s.len() > max)
                    });
                    if too_long {
                        return Err(long(max));
                    }
                    if key == b"DNS" {
                        checked.has_dns = !records.is_empty();
                    } else {
                        checked.has_bug_dns = !records.is_empty();
                    }
                }
                b"Sampling" => sampling = r.serde::<Option<_>>()?.unwrap_or_default(),
                b"Window" => drop(r.int()?),
                b"Shortcut" => checked.shortcut = r.bool()?,
                b"Plugins" => drop(r.serde::<Option<Vec<PluginSpec>>>()?),
                b"ID" => drop(r.bounded_str(max)?),
                other => match std::str::from_utf8(other)
                    .ok()
                    .and_then(TopologyKind::from_field_name)
                {
                    Some(kind) => {
                        let (nodes, part_merged) = r.scan_topology(kind, max)?;
                        checked.node_counts[kind.index()] = nodes;
                        checked.part_merged_counts[kind.index()] = part_merged;
                    }
                    None => r.skip()?,
                },
            }
            Ok(())
        })?;
        if sampling.count > sampling.total {
            return Err(DecodeError::Invalid(format!(
                "sampling count {} is bigger than total {}",
                sampling.count, sampling.total
            )));
        }
        Ok(())
    }

    /// A later duplicate of a topology key replaces the earlier one in `decode`, so the count
    /// is of the last occurrence, as is what `check` returns: its nodes, and how many of them
    /// are part-merged.
    fn scan_topology(&mut self, kind: TopologyKind, max: usize) -> Result<(usize, usize)> {
        let mut counts = (0, 0);
        self.each_entry(|r, key| {
            match key {
                b"shape" | b"tag" | b"label" | b"label_plural" => drop(r.opt_str()?),
                b"nodes" => {
                    // A later duplicate of a node id replaces the earlier one, as in `decode`.
                    let mut ids = std::collections::BTreeMap::new();
                    r.each_entry(|r, id| {
                        let id = r.utf8_key(id)?;
                        let part_merged = r.scan_node(id, max)?;
                        ids.insert(id, part_merged);
                        Ok(())
                    })?;
                    for id in ids.keys() {
                        if kind != TopologyKind::Overlay && !id.contains(';') {
                            return Err(DecodeError::Invalid(format!("{kind} node id {id:?} has no ';'")));
                        }
                    }
                    counts = (ids.len(), ids.values().filter(|&&p| p).count());
                }
                b"controls" => drop(r.serde::<Option<std::collections::BTreeMap<String, crate::model::Control>>>()?),
                b"metadata_templates" => drop(r.serde::<Option<std::collections::BTreeMap<String, crate::model::MetadataTemplate>>>()?),
                b"metric_templates" => drop(r.serde::<Option<std::collections::BTreeMap<String, crate::model::MetricTemplate>>>()?),
                b"table_templates" => drop(r.serde::<Option<std::collections::BTreeMap<String, crate::model::TableTemplate>>>()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        Ok(counts)
    }

    /// Checks a node stored under `key` (for a child: under its own id); whether it is
    /// part-merged (its `topology` empty or absent).
    fn scan_node(&mut self, key: &str, max: usize) -> Result<bool> {
        if key.len() > max {
            return Err(long(max));
        }
        let mut id = "";
        let mut topology = "";
        let mut children: Vec<&'a str> = Vec::new();
        self.each_entry(|r, field| {
            match field {
                b"id" => id = r.bounded_str(max)?,
                b"topology" => topology = r.bounded_str(max)?,
                b"sets" | b"parents" => r.each_entry(|r, k| {
                    if r.utf8_key(k)?.len() > max {
                        return Err(long(max));
                    }
                    r.scan_strings(max)
                })?,
                b"adjacency" => r.scan_strings(max)?,
                b"latest" => r.each_entry(|r, k| {
                    if r.utf8_key(k)?.len() > max {
                        return Err(long(max));
                    }
                    r.each_entry(|r, f| {
                        match f {
                            b"timestamp" => drop(r.time()?),
                            b"value" => drop(r.bounded_str(max)?),
                            _ => r.skip()?,
                        }
                        Ok(())
                    })
                })?,
                b"metrics" => r.each_entry(|r, k| {
                    if r.utf8_key(k)?.len() > max {
                        return Err(long(max));
                    }
                    r.scan_metric()
                })?,
                b"children" => {
                    let len = r.array_len()?;
                    r.enter()?;
                    for _ in 0..len {
                        // A child's key is its own id, which it carries.
                        let start = r.pos;
                        let child_id = r.peek_node_id()?;
                        r.pos = start;
                        // A legacy child's own topology says nothing of its parent's.
                        r.scan_node(child_id, max)?;
                        children.push(child_id);
                    }
                    r.leave();
                }
                b"latestControls" => drop(r.serde::<Option<LegacyControls>>()?),
                b"counters" => drop(r.serde::<Option<std::collections::BTreeMap<String, i64>>>()?),
                _ => r.skip()?,
            }
            Ok(())
        })?;
        if !id.is_empty() && id != key {
            return Err(DecodeError::Invalid(format!(
                "node {key:?} carries a different id {id:?}"
            )));
        }
        Ok(topology.is_empty())
    }

    /// The `id` of the node map that starts here (empty if it has none), read without moving on
    /// for good: the caller rewinds.
    fn peek_node_id(&mut self) -> Result<&'a str> {
        let len = self.map_len()?;
        let mut id = "";
        for _ in 0..len {
            let key = self.raw()?;
            if key == b"id" {
                id = self.opt_str()?;
            } else {
                self.skip()?;
            }
        }
        Ok(id)
    }

    fn scan_strings(&mut self, max: usize) -> Result<()> {
        let len = self.array_len()?;
        self.enter()?;
        for _ in 0..len {
            self.bounded_str(max)?;
        }
        self.leave();
        Ok(())
    }

    fn scan_metric(&mut self) -> Result<()> {
        self.each_entry(|r, key| {
            match key {
                b"samples" => {
                    let len = r.array_len()?;
                    r.enter()?;
                    for _ in 0..len {
                        r.each_entry(|r, field| {
                            match field {
                                b"date" => drop(r.time()?),
                                b"value" => drop(r.float()?),
                                _ => r.skip()?,
                            }
                            Ok(())
                        })?;
                    }
                    r.leave();
                }
                b"min" | b"max" => drop(r.float()?),
                _ => r.skip()?,
            }
            Ok(())
        })
    }
}
