//! The Process topology: one node per `/proc/<pid>`, with the keys, metrics and templates of
//! the real probe's /proc walker (`probe/process`).
//!
//! One walk also gathers what the endpoint reporter needs (each process's socket inodes and
//! network namespace), so /proc is read once per sample.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use procfs::process::{FDTarget, LimitValue, Process};
use stormscope_shared::model::{MetadataTemplate, Metric, MetricTemplate, Node, Sample, Topology};
use stormscope_shared::time::Timestamp;

pub(crate) const CPU_USAGE: &str = "process_cpu_usage_percent";
pub(crate) const MEMORY_USAGE: &str = "process_memory_usage_bytes";
pub(crate) const OPEN_FILES: &str = "open_files_count";

/// What one walk learnt about a process.
#[derive(Debug, Clone)]
pub(crate) struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    /// argv[0], or `[comm]` when the command line is empty (kernel threads, zombies).
    pub name: String,
    /// The arguments joined by spaces, with the trailing space the real probe leaves from the
    /// final NUL; empty when /proc has none.
    pub cmdline: String,
    pub threads: i64,
    /// User plus system time, in clock ticks.
    pub jiffies: u64,
    /// Clock ticks after boot at which it started: with the pid, tells a reused pid apart.
    pub start_time: u64,
    pub rss_bytes: u64,
    pub rss_limit: u64,
    /// Open descriptors and their soft limit, when the fd directory is readable (our own
    /// processes, or all of them as root).
    pub open_files: Option<(usize, Option<u64>)>,
    pub socket_inodes: Vec<u64>,
    /// Inode of the process's network namespace, when we may look at it.
    pub net_ns: Option<u64>,
}

/// Walks /proc. A process that ends during the walk, or whose `stat` cannot be read, is left
/// out; parts that need more privilege than we have are left empty.
pub(crate) fn walk() -> Vec<ProcessInfo> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let page_size = procfs::page_size();
    all.filter_map(Result::ok)
        .filter_map(|p| read_one(&p, page_size))
        .collect()
}

fn read_one(process: &Process, page_size: u64) -> Option<ProcessInfo> {
    let stat = process.stat().ok()?;
    let (name, cmdline) = names(process, &stat.comm);
    // The count includes descriptors whose link we may not read (another user's process, or
    // a sandbox that hides links even from root), as the real probe's directory count does;
    // procfs's iterator skips those, so it only supplies the sockets.
    let socket_inodes: Vec<u64> = process
        .fd()
        .map(|fds| {
            fds.flatten()
                .filter_map(|fd| match fd.target {
                    FDTarget::Socket(inode) => Some(inode),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let open_files = process.fd_count().ok().map(|count| {
        let limit = process
            .limits()
            .ok()
            .and_then(|l| match l.max_open_files.soft_limit {
                LimitValue::Value(v) => Some(v),
                LimitValue::Unlimited => None,
            });
        (count, limit)
    });
    let net_ns = std::fs::metadata(format!("/proc/{}/ns/net", stat.pid))
        .ok()
        .map(|m| m.ino());
    Some(ProcessInfo {
        pid: stat.pid,
        ppid: stat.ppid,
        name,
        cmdline,
        threads: stat.num_threads,
        jiffies: stat.utime + stat.stime,
        start_time: stat.starttime,
        rss_bytes: stat.rss.saturating_mul(page_size),
        rss_limit: stat.rsslim,
        open_files,
        socket_inodes,
        net_ns,
    })
}

/// (name, cmdline) from the raw `cmdline` bytes. procfs's own `cmdline()` drops empty
/// arguments and refuses non-UTF-8 ones, and the real probe keeps both, so the bytes are read
/// here and converted leniently.
fn names(process: &Process, comm: &str) -> (String, String) {
    let mut raw = Vec::new();
    let read = process
        .open_relative("cmdline")
        .and_then(|mut f| f.read_to_end(&mut raw).map_err(Into::into));
    if read.is_err() {
        raw.clear();
    }
    let first = raw.split(|b| *b == 0).next().unwrap_or_default();
    let mut name = String::from_utf8_lossy(first).into_owned();
    if name.is_empty() {
        name = format!("[{}]", comm.trim());
    }
    let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
    (name, cmdline)
}

/// The process's node. `cpu` is its CPU use in percent of all CPUs' time since the previous
/// sample and the ceiling the real probe reports (100 per CPU), when there is a previous sample
/// of the machine's CPU time.
pub(crate) fn node(
    p: &ProcessInfo,
    host_id: &str,
    host_node_id: &str,
    now: Timestamp,
    cpu: Option<(f64, f64)>,
) -> Node {
    let pid = p.pid.to_string();
    let mut node = Node::new(format!("{host_id};{pid}"), "process")
        .with_latest("pid", now, pid)
        .with_latest("threads", now, p.threads.to_string())
        .with_latest("host_node_id", now, host_node_id)
        .with_parent("host", host_node_id);
    if !p.name.is_empty() {
        node = node.with_latest("name", now, p.name.clone());
    }
    if !p.cmdline.is_empty() {
        node = node.with_latest("cmdline", now, p.cmdline.clone());
    }
    // pid 1 and the kernel's threads have parent 0, which the real probe leaves out.
    if p.ppid > 0 {
        node = node.with_latest("ppid", now, p.ppid.to_string());
    }
    node.metrics.insert(
        MEMORY_USAGE.into(),
        singleton(now, p.rss_bytes as f64, Some(p.rss_limit as f64)),
    );
    if let Some((count, limit)) = p.open_files {
        let max = limit.map(|l| l as f64);
        node.metrics
            .insert(OPEN_FILES.into(), singleton(now, count as f64, max));
    }
    if let Some((percent, max)) = cpu {
        node.metrics
            .insert(CPU_USAGE.into(), singleton(now, percent, Some(max)));
    }
    node
}

/// One sample, as Scope's `MakeSingletonMetric(...).WithMax(max)`.
pub(crate) fn singleton(now: Timestamp, value: f64, max: Option<f64>) -> Metric {
    Metric {
        samples: vec![Sample { date: now, value }],
        min: value,
        max: max.unwrap_or(value),
    }
}

/// The Process topology's templates as the real probe sends them.
pub(crate) fn templates(topology: &mut Topology) {
    let meta = [
        ("pid", "PID", "number", 1.0),
        ("cmdline", "Command", "", 2.0),
        ("ppid", "Parent PID", "number", 3.0),
        ("threads", "# Threads", "number", 4.0),
    ];
    topology.metadata_templates = meta
        .into_iter()
        .map(|(id, label, data_type, priority)| {
            let template = MetadataTemplate {
                id: id.into(),
                label: label.into(),
                data_type: data_type.into(),
                priority,
                from: "latest".into(),
                ..MetadataTemplate::default()
            };
            (id.to_owned(), template)
        })
        .collect();
    topology.metric_templates = metric_templates(&[
        (CPU_USAGE, "CPU", "percent", "", 1.0),
        (MEMORY_USAGE, "Memory", "filesize", "", 2.0),
        (OPEN_FILES, "Open files", "integer", "", 3.0),
    ]);
}

/// Metric templates from (id, label, format, group, priority) rows.
pub(crate) fn metric_templates(
    rows: &[(&str, &str, &str, &str, f64)],
) -> BTreeMap<String, MetricTemplate> {
    rows.iter()
        .map(|&(id, label, format, group, priority)| {
            let template = MetricTemplate {
                id: id.into(),
                label: label.into(),
                format: format.into(),
                group: group.into(),
                priority,
            };
            (id.to_owned(), template)
        })
        .collect()
}
