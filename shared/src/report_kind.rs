//! What kind of report a probe sent, and which probe sent it, told by the collector in the report's
//! key (see [`crate::keys::report_key`]) so that a reader can choose reports without decoding
//! them: a tenant's first answer needs each probe's latest full report and what came after it,
//! not the whole window.

use std::io::Cursor;

use crate::model::Report;

/// A probe's report as Scope's probes publish them (scope-compat.md §1.1, §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// Every node the probe knows, whole: the probe publishes one every third time.
    Full,
    /// What changed since the probe's last full report: nodes with no `topology`, which mean
    /// nothing without that report. The newest delta holds all an earlier one did.
    Delta,
    /// Published out of band (`Shortcut: true`), between the regular reports.
    Shortcut,
}

impl ReportKind {
    /// A report is full when it is no shortcut, none of its nodes is part-merged, and it has a
    /// whole host node. The host node rules out a delta whose only nodes are new ones (which keep
    /// their topology): a probe's host node always carries metrics, so it is in every delta,
    /// part-merged.
    pub fn classify(shortcut: bool, part_merged_nodes: usize, full_host_nodes: usize) -> Self {
        if shortcut {
            ReportKind::Shortcut
        } else if part_merged_nodes == 0 && full_host_nodes > 0 {
            ReportKind::Full
        } else {
            ReportKind::Delta
        }
    }

    fn letter(self) -> char {
        match self {
            ReportKind::Full => 'f',
            ReportKind::Delta => 'd',
            ReportKind::Shortcut => 's',
        }
    }

    fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'f' => Some(ReportKind::Full),
            'd' => Some(ReportKind::Delta),
            's' => Some(ReportKind::Shortcut),
            _ => None,
        }
    }
}

impl Report {
    /// See [`ReportKind::classify`]: told from the same counts as a checked body's kind, so a
    /// report is told alike whichever path the collector took.
    pub fn kind(&self) -> ReportKind {
        crate::codec::Checked::of(self).kind()
    }
}

/// Which probe sent a report, and its kind: the tail of its key, `~<kind letter><16 hex>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReportTag {
    /// A hash of the probe's `X-Scope-Probe-ID`: the header is the client's to choose, so only
    /// a fixed-size digest of it goes into keys.
    pub probe: u64,
    pub kind: ReportKind,
}

const SEPARATOR: char = '~';

impl ReportTag {
    pub fn new(probe_id: &str, kind: ReportKind) -> Self {
        // murmur3 rather than std's hasher, whose output may change between Rust releases:
        // collectors and apps built apart must agree on a probe's hash.
        let hash = murmur3::murmur3_x64_128(&mut Cursor::new(probe_id.as_bytes()), 0)
            .expect("hashing a slice cannot fail");
        ReportTag {
            probe: hash as u64,
            kind,
        }
    }

    /// The key suffix that carries this tag.
    pub fn suffix(&self) -> String {
        format!("{SEPARATOR}{}{:016x}", self.kind.letter(), self.probe)
    }

    /// The tag a report key ends with; `None` for a key without one (written before tags, or
    /// for a report sent without a probe id).
    pub fn of_key(key: &str) -> Option<Self> {
        let (_, tail) = key.rsplit_once(SEPARATOR)?;
        let mut chars = tail.chars();
        let kind = ReportKind::from_letter(chars.next()?)?;
        let hex = chars.as_str();
        if hex.len() != 16 {
            return None;
        }
        let probe = u64::from_str_radix(hex, 16).ok()?;
        Some(ReportTag { probe, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Node;
    use crate::{Timestamp, TopologyKind};

    #[test]
    fn a_tag_survives_its_key_and_a_key_without_one_has_none() {
        for kind in [ReportKind::Full, ReportKind::Delta, ReportKind::Shortcut] {
            let tag = ReportTag::new("5ef6c1e1d5c3a4b2", kind);
            let key = format!("r/acme/1795698035825-c1-7{}", tag.suffix());
            assert_eq!(ReportTag::of_key(&key), Some(tag));
        }
        assert_ne!(
            ReportTag::new("a", ReportKind::Full).probe,
            ReportTag::new("b", ReportKind::Full).probe
        );
        assert_eq!(ReportTag::of_key("r/acme/1795698035825-c1-7"), None);
        assert_eq!(
            ReportTag::of_key("r/acme/1795698035825-c1-7~x0000000000000001"),
            None
        );
        assert_eq!(ReportTag::of_key("r/acme/1795698035825-c1-7~f01"), None);
    }

    #[test]
    fn full_needs_a_whole_host_and_no_part_merged_node() {
        let ts = Timestamp::from_unix_millis(1_000);
        let whole = |id: &str, topology: &str| Node::new(id, topology).with_latest("name", ts, "x");
        let mut report = Report::default();
        assert_eq!(
            report.kind(),
            ReportKind::Delta,
            "an empty report is no full one"
        );
        report
            .topology_mut(TopologyKind::Process)
            .nodes
            .insert("h;1".into(), whole("h;1", "process"));
        assert_eq!(report.kind(), ReportKind::Delta, "only new nodes, no host");
        report
            .topology_mut(TopologyKind::Host)
            .nodes
            .insert("h;<host>".into(), whole("h;<host>", "host"));
        assert_eq!(report.kind(), ReportKind::Full);
        report
            .topology_mut(TopologyKind::Process)
            .nodes
            .insert("h;2".into(), whole("h;2", ""));
        assert_eq!(report.kind(), ReportKind::Delta, "a part-merged process");
        report
            .topology_mut(TopologyKind::Process)
            .nodes
            .remove("h;2");
        report.shortcut = true;
        assert_eq!(report.kind(), ReportKind::Shortcut);
    }
}
