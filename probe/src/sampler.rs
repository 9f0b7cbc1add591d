//! One report per call: this host, its processes and their TCP endpoints, as a real Scope probe
//! walking /proc (no Docker, Kubernetes or conntrack) reports them in a full report.

use std::collections::HashMap;
use std::time::Duration;

use stormscope_shared::time::Timestamp;
use stormscope_shared::{Report, TopologyKind};

use crate::endpoints::{self, EndpointContext};
use crate::host::{self, CpuTicks, HostIdentity};
use crate::processes;

/// The version the probe reports, in its `User-Agent`, `X-Scope-Probe-Version` and the host
/// node's `host_scope_version`.
pub const PROBE_VERSION: &str = concat!("stormscope-", env!("CARGO_PKG_VERSION"));

/// Makes reports of this machine. It keeps the previous sample's CPU counters, so that CPU
/// percentages cover the time between two samples rather than the time since boot.
#[derive(Debug)]
pub struct Sampler {
    host_id: String,
    probe_id: String,
    window: Duration,
    prev_cpu: Option<CpuTicks>,
    /// CPU ticks per process at the previous sample, keyed by (pid, start time) so that a
    /// reused pid starts afresh.
    prev_jiffies: HashMap<(i32, u64), u64>,
}

impl Sampler {
    /// `probe_id` goes into the host node's `control_probe_id`; `window` is the report's
    /// `Window`, the publish interval.
    pub fn new(probe_id: impl Into<String>, window: Duration) -> Self {
        Sampler {
            host_id: host::hostname(),
            probe_id: probe_id.into(),
            window,
            prev_cpu: None,
            prev_jiffies: HashMap::new(),
        }
    }

    /// The host name the node ids are made of (`<host>;<host>`, `<host>;<pid>`).
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Reads /proc and returns a full report. Never fails: whatever cannot be read (a process
    /// that ended mid-walk, another user's descriptors) is left out.
    pub fn sample(&mut self) -> Report {
        let now = Timestamp::now();
        let host_node_id = host::host_node_id(&self.host_id);
        let cpu = CpuTicks::read();
        let walked = processes::walk();

        let mut report = Report::make();
        report.ts = now;
        report.window = i64::try_from(self.window.as_nanos()).unwrap_or(i64::MAX);

        let identity = HostIdentity {
            host_id: &self.host_id,
            probe_id: &self.probe_id,
            version: PROBE_VERSION,
        };
        let hosts = report.topology_mut(TopologyKind::Host);
        host::templates(hosts);
        hosts.add_node(host::node(
            &identity,
            now,
            cpu.as_ref(),
            self.prev_cpu.as_ref(),
        ));

        // As the real probe: a process's ticks over all CPUs' ticks, with a ceiling of 100 per
        // CPU. So one busy core of two reads 50 (of 200); kept, so that our figures and a
        // Scope probe's mean the same in a mixed fleet.
        let elapsed = cpu.map(|c| {
            let prev_total = self.prev_cpu.map_or(0, |p| p.total);
            (c.total.saturating_sub(prev_total), c.cpus as f64 * 100.0)
        });
        let mut jiffies = HashMap::with_capacity(walked.len());
        let procs = report.topology_mut(TopologyKind::Process);
        processes::templates(procs);
        for p in &walked {
            let key = (p.pid, p.start_time);
            let before = self.prev_jiffies.get(&key).copied().unwrap_or(0);
            jiffies.insert(key, p.jiffies);
            let usage = elapsed.filter(|(total, _)| *total > 0).map(|(total, max)| {
                (
                    p.jiffies.saturating_sub(before) as f64 * 100.0 / total as f64,
                    max,
                )
            });
            procs.add_node(processes::node(p, &self.host_id, &host_node_id, now, usage));
        }

        let ctx = EndpointContext {
            host_id: &self.host_id,
            host_node_id: &host_node_id,
            now,
        };
        report.topology_mut(TopologyKind::Endpoint).nodes = endpoints::nodes(&walked, &ctx);

        self.prev_cpu = cpu;
        self.prev_jiffies = jiffies;
        report
    }
}
