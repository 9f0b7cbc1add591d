//! A short, human summary of a report for `stormscope report inspect`.

use std::collections::BTreeSet;
use std::fmt;

use crate::model::{Report, TopologyKind, keys};

/// What an operator wants to know first about a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub id: String,
    pub ts: String,
    pub window_seconds: f64,
    pub shortcut: bool,
    /// Topologies holding nodes, with their node counts, in report order.
    pub topologies: Vec<(TopologyKind, usize)>,
    pub probe_ids: BTreeSet<String>,
    pub host_ids: BTreeSet<String>,
    pub dns_records: usize,
    pub plugins: usize,
}

impl Summary {
    pub fn of(report: &Report) -> Summary {
        let hosts = &report.topology(TopologyKind::Host).nodes;
        let probe_ids = hosts
            .values()
            .filter_map(|n| {
                n.latest_value(keys::CONTROL_PROBE_ID)
                    .or(n.latest_value("probe_id"))
            })
            .map(str::to_owned)
            .collect();
        Summary {
            id: report.id.clone(),
            ts: report.ts.to_rfc3339(),
            window_seconds: report.window as f64 / 1e9,
            shortcut: report.shortcut,
            topologies: report
                .topologies()
                .filter(|(_, t)| !t.nodes.is_empty())
                .map(|(k, t)| (k, t.nodes.len()))
                .collect(),
            probe_ids,
            host_ids: hosts.keys().cloned().collect(),
            dns_records: report.dns.len() + report.bug_dns.len(),
            plugins: report.plugins.len(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "id:        {}", self.id)?;
        writeln!(f, "ts:        {}", self.ts)?;
        writeln!(f, "window:    {}s", self.window_seconds)?;
        writeln!(f, "shortcut:  {}", self.shortcut)?;
        writeln!(f, "probes:    {}", join(&self.probe_ids))?;
        writeln!(f, "hosts:     {}", join(&self.host_ids))?;
        writeln!(f, "dns:       {} records", self.dns_records)?;
        writeln!(f, "plugins:   {}", self.plugins)?;
        writeln!(f, "topologies:")?;
        if self.topologies.is_empty() {
            writeln!(f, "  (no nodes)")?;
        }
        for (kind, count) in &self.topologies {
            writeln!(f, "  {:<24} {count}", kind.name())?;
        }
        Ok(())
    }
}

fn join(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "-".to_owned()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}
