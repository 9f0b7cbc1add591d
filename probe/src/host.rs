//! The Host topology: the one node describing this machine, as the real probe's host reporter
//! (`probe/host`) makes it, plus the machine-wide CPU counters the process metrics share.

use procfs::{Current, CurrentSI, KernelStats, LoadAverage, Meminfo, Uptime};
use stormscope_shared::model::{MetadataTemplate, Node, Topology};
use stormscope_shared::time::Timestamp;

use crate::netif;
use crate::processes::{metric_templates, singleton};

pub(crate) const CPU_USAGE: &str = "host_cpu_usage_percent";
pub(crate) const MEMORY_USAGE: &str = "host_mem_usage_bytes";
pub(crate) const LOAD1: &str = "load1";
/// The control the real probe marks active on its host node (a shell on the host). It does so
/// even with controls disabled; the Host topology then offers no control of that name, so the
/// UI shows none, and neither does ours.
const EXEC_HOST: &str = "host_exec";

/// The `cpu` line of /proc/stat, reduced to what the percentages need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTicks {
    /// Idle plus I/O wait.
    pub idle: u64,
    /// Everything the real probe counts: user, nice, system, irq, softirq, steal and the idle
    /// part. Guest time is already inside user time, so it is not added again.
    pub total: u64,
    /// CPUs on the machine: the per-process ceiling is 100 per CPU.
    pub cpus: usize,
}

impl CpuTicks {
    pub(crate) fn read() -> Option<CpuTicks> {
        let stats = KernelStats::current().ok()?;
        let t = &stats.total;
        let idle = t.idle + t.iowait.unwrap_or(0);
        let busy = t.user
            + t.nice
            + t.system
            + t.irq.unwrap_or(0)
            + t.softirq.unwrap_or(0)
            + t.steal.unwrap_or(0);
        Some(CpuTicks {
            idle,
            total: idle + busy,
            cpus: stats.cpu_time.len(),
        })
    }

    /// Busy share of the time since `prev`, in percent. Without a previous reading the real
    /// probe compares with zero, which gives the average since boot; so does this.
    pub(crate) fn usage_since(&self, prev: Option<&CpuTicks>) -> Option<f64> {
        let prev = prev.copied().unwrap_or_default();
        let total = self.total.checked_sub(prev.total)?;
        let idle = self.idle.saturating_sub(prev.idle);
        (total > 0).then(|| total.saturating_sub(idle) as f64 * 100.0 / total as f64)
    }
}

/// What the host node says about the probe itself.
pub(crate) struct HostIdentity<'a> {
    pub host_id: &'a str,
    pub probe_id: &'a str,
    pub version: &'a str,
}

/// The host node. Facts that cannot be read are left out rather than made up.
pub(crate) fn node(
    id: &HostIdentity<'_>,
    now: Timestamp,
    cpu: Option<&CpuTicks>,
    prev_cpu: Option<&CpuTicks>,
) -> Node {
    let node_id = host_node_id(id.host_id);
    let mut node = Node::new(node_id.clone(), "host")
        .with_latest("control_probe_id", now, id.probe_id)
        .with_latest("ts", now, now.to_rfc3339())
        .with_latest("host_name", now, id.host_id)
        .with_latest("os", now, "linux")
        .with_latest("host_scope_version", now, id.version)
        .with_latest("host_node_id", now, node_id.clone())
        .with_latest("active_controls", now, EXEC_HOST)
        .with_parent("host", node_id);
    if let Some(kernel) = kernel_version() {
        node = node.with_latest("kernel_version", now, kernel);
    }
    if let Ok(uptime) = Uptime::current() {
        // Whole seconds, as the real probe truncates them.
        node = node.with_latest("uptime", now, (uptime.uptime as u64).to_string());
    }
    let networks = netif::ipv4_networks();
    let networks: Vec<&str> = networks.iter().map(String::as_str).collect();
    node = node.with_set("local_networks", &networks);

    if let Ok(load) = LoadAverage::current() {
        // Through the text /proc/loadavg prints, so 0.11 stays 0.11 rather than the f32's
        // nearest f64 (0.10999999940395355).
        let one = format!("{}", load.one)
            .parse()
            .unwrap_or(f64::from(load.one));
        node.metrics.insert(LOAD1.into(), singleton(now, one, None));
    }
    if let Some(percent) = cpu.and_then(|c| c.usage_since(prev_cpu)) {
        node.metrics
            .insert(CPU_USAGE.into(), singleton(now, percent, Some(100.0)));
    }
    if let Ok(mem) = Meminfo::current() {
        let used = mem
            .mem_total
            .saturating_sub(mem.mem_free)
            .saturating_sub(mem.buffers)
            .saturating_sub(mem.cached);
        node.metrics.insert(
            MEMORY_USAGE.into(),
            singleton(now, used as f64, Some(mem.mem_total as f64)),
        );
    }
    node
}

pub(crate) fn host_node_id(host_id: &str) -> String {
    format!("{host_id};<host>")
}

/// The host name, as the kernel knows it (what `uname -n` prints).
pub(crate) fn hostname() -> String {
    read_kernel_value("hostname").unwrap_or_else(|| "localhost".to_owned())
}

/// `uname -r` and `uname -v` joined by a space, as the real probe writes `kernel_version`.
fn kernel_version() -> Option<String> {
    let release = read_kernel_value("osrelease")?;
    let version = read_kernel_value("version")?;
    Some(format!("{release} {version}"))
}

/// A value under /proc/sys/kernel. procfs parses the release into numbers and has no accessor
/// for the host name or the version text, so these few lines read them as text.
fn read_kernel_value(name: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The Host topology's templates as the real probe sends them.
pub(crate) fn templates(topology: &mut Topology) {
    let meta = [
        ("kernel_version", "Kernel version", "", 1.0, "latest"),
        ("uptime", "Uptime", "duration", 2.0, "latest"),
        ("host_name", "Hostname", "", 11.0, "latest"),
        ("os", "OS", "", 12.0, "latest"),
        ("local_networks", "Local networks", "", 13.0, "sets"),
        ("host_scope_version", "Scope version", "", 14.0, "latest"),
    ];
    topology.metadata_templates = meta
        .into_iter()
        .map(|(id, label, data_type, priority, from)| {
            let template = MetadataTemplate {
                id: id.into(),
                label: label.into(),
                data_type: data_type.into(),
                priority,
                from: from.into(),
                ..MetadataTemplate::default()
            };
            (id.to_owned(), template)
        })
        .collect();
    topology.metric_templates = metric_templates(&[
        (CPU_USAGE, "CPU", "percent", "", 1.0),
        (MEMORY_USAGE, "Memory", "filesize", "", 2.0),
        (LOAD1, "Load (1m)", "", "load", 11.0),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_usage_is_the_busy_share_of_the_interval() {
        let prev = CpuTicks {
            idle: 100,
            total: 200,
            cpus: 2,
        };
        let now = CpuTicks {
            idle: 130,
            total: 240,
            cpus: 2,
        };
        assert_eq!(now.usage_since(Some(&prev)), Some(25.0));
        // No time passed: no figure rather than a division by zero.
        assert_eq!(prev.usage_since(Some(&prev)), None);
        // Since boot when there is no previous reading.
        assert_eq!(now.usage_since(None), Some(110.0 * 100.0 / 240.0));
    }
}
