//! Seeded synthetic reports shaped like a real probe's: hosts with processes, listening and
//! connected TCP endpoints (some crossing hosts), containers with images, and pods. Tests,
//! benchmarks and load generation use them; the same seed gives the same report.

use crate::model::{
    MetadataTemplate, Metric, MetricTemplate, Node, Report, Sample, TopologyKind, keys,
};
use crate::time::Timestamp;

/// What to generate. `hosts` probes' worth of data land in one report (a merged view); a single
/// probe's report has `hosts == 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSpec {
    pub seed: u64,
    /// Index of the first host, so that several single-host reports can describe one cluster.
    pub first_host: usize,
    pub hosts: usize,
    /// Hosts in the cluster the connections reach into (at least `first_host + hosts`).
    pub cluster_hosts: usize,
    pub processes_per_host: usize,
    pub connections_per_host: usize,
    pub containers_per_host: usize,
    pub pods_per_host: usize,
    pub ts: Timestamp,
}

impl Default for SynthSpec {
    /// About the size of a busy host's full report (`bench-01-full`): 145 processes, 300
    /// connections.
    fn default() -> Self {
        SynthSpec {
            seed: 1,
            first_host: 0,
            hosts: 1,
            cluster_hosts: 2,
            processes_per_host: 145,
            connections_per_host: 300,
            containers_per_host: 10,
            pods_per_host: 5,
            ts: Timestamp::from_unix_millis(1_764_162_000_000),
        }
    }
}

impl SynthSpec {
    /// One probe's full report for host `host` of a cluster of `cluster_hosts`.
    pub fn probe(seed: u64, host: usize, cluster_hosts: usize) -> Self {
        SynthSpec {
            seed,
            first_host: host,
            hosts: 1,
            cluster_hosts: cluster_hosts.max(host + 1),
            ..Self::default()
        }
    }

    /// Scales processes and connections so the msgpack encoding is close to `bytes`.
    pub fn with_target_msgpack_bytes(mut self, bytes: usize) -> Self {
        let measured = crate::codec::encode(
            &generate(&self),
            crate::Format::Msgpack,
            crate::codec::Compression::Identity,
        )
        .len();
        let scale = bytes as f64 / measured.max(1) as f64;
        self.processes_per_host =
            ((self.processes_per_host as f64 * scale).round() as usize).max(1);
        self.connections_per_host = (self.connections_per_host as f64 * scale).round() as usize;
        self.containers_per_host =
            ((self.containers_per_host as f64 * scale).round() as usize).max(1);
        self.pods_per_host = (self.pods_per_host as f64 * scale).round() as usize;
        self
    }
}

pub fn hostname(host: usize) -> String {
    format!("host-{host:03}.synth.local")
}

pub fn host_ip(host: usize) -> String {
    format!(
        "10.{}.{}.{}",
        100 + host / 65536 % 100,
        host / 256 % 256,
        host % 256
    )
}

const NAMES: [&str; 12] = [
    "nginx",
    "api",
    "postgres",
    "redis",
    "worker",
    "scheduler",
    "indexer",
    "mailer",
    "auth",
    "search",
    "billing",
    "queue",
];

/// A probe's cycle as it publishes it (scope-compat.md §1): the full report of `spec`, then the
/// reports 3 s and 6 s later as deltas against it ([`Report::unmerge`]). Nothing but timestamps
/// and metric samples changes between them, so a delta keeps only the nodes with metrics
/// (processes, the host), carrying their new samples, as a real probe's delta does.
pub fn full_and_deltas(spec: &SynthSpec) -> Vec<Report> {
    let full = generate(spec);
    let delta = |n: u64| {
        let mut later = spec.clone();
        later.ts = Timestamp::from_unix_nanos(spec.ts.unix_nanos() + n as i128 * 3_000_000_000);
        let mut d = generate(&later);
        d.unmerge(&full);
        d.id = format!("{}{n}", full.id);
        d
    };
    let deltas = [delta(1), delta(2)];
    let mut cycle = vec![full];
    cycle.extend(deltas);
    cycle
}

pub fn generate(spec: &SynthSpec) -> Report {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let mut report = Report::make();
    report.id = rng.i64(0..i64::MAX).to_string();
    report.ts = spec.ts;
    report.window = 3_000_000_000;
    report.sampling.count = 1;
    report.sampling.total = 1;
    add_templates(&mut report);
    let cluster = spec.cluster_hosts.max(spec.first_host + spec.hosts);
    for host in spec.first_host..spec.first_host + spec.hosts {
        add_host(&mut report, spec, host, cluster, &mut rng);
    }
    report
}

fn stamp(spec: &SynthSpec, rng: &mut fastrand::Rng) -> Timestamp {
    Timestamp::from_unix_nanos(spec.ts.unix_nanos() - rng.i128(0..1_000_000_000))
}

fn metric(spec: &SynthSpec, rng: &mut fastrand::Rng, scale: f64, samples: usize) -> Metric {
    let values: Vec<Sample> = (0..samples)
        .map(|i| Sample {
            date: Timestamp::from_unix_nanos(
                spec.ts.unix_nanos() - (samples - i) as i128 * 1_000_000_000,
            ),
            value: (rng.f64() * scale * 100.0).round() / 100.0,
        })
        .collect();
    let min = values.iter().map(|s| s.value).fold(f64::INFINITY, f64::min);
    let max = values
        .iter()
        .map(|s| s.value)
        .fold(f64::NEG_INFINITY, f64::max);
    Metric {
        samples: values,
        min,
        max,
    }
}

fn add_host(
    report: &mut Report,
    spec: &SynthSpec,
    host: usize,
    cluster: usize,
    rng: &mut fastrand::Rng,
) {
    let host_name = hostname(host);
    let host_id = format!("{host_name};<host>");
    let ip = host_ip(host);
    let ts = stamp(spec, rng);
    let probe_id = format!(
        "{:x}",
        spec.seed
            .wrapping_mul(0x9e37_79b9)
            .wrapping_add(host as u64)
    );
    let mut host_node = Node::new(&host_id, TopologyKind::Host.name())
        .with_latest(keys::HOST_NAME, ts, &host_name)
        .with_latest(keys::HOST_NODE_ID, ts, &host_id)
        .with_latest("os", ts, "linux")
        .with_latest("kernel_version", ts, "6.1.0-synth #1 SMP")
        .with_latest("uptime", ts, (1000 + rng.u32(0..1_000_000)).to_string())
        .with_latest(keys::CONTROL_PROBE_ID, ts, &probe_id)
        .with_latest(keys::SCOPE_VERSION, ts, "1.13.2")
        .with_set("local_networks", &[&format!("{ip}/16")]);
    host_node
        .metrics
        .insert("host_cpu_usage_percent".into(), metric(spec, rng, 100.0, 3));
    host_node
        .metrics
        .insert("host_mem_usage_bytes".into(), metric(spec, rng, 8e9, 3));
    host_node
        .metrics
        .insert("load1".into(), metric(spec, rng, 4.0, 3));
    report.topology_mut(TopologyKind::Host).add_node(host_node);

    for c in 0..spec.containers_per_host {
        let cid = format!("{:016x}{host:04x}{c:04x}", rng.u64(..));
        let image = NAMES[c % NAMES.len()];
        let image_id = format!(
            "sha256-{image}-{:08x}",
            ((c % NAMES.len()) as u32).wrapping_mul(2654435761)
        );
        let image_node_id = format!("{image_id};<container_image>");
        let mut container = Node::new(format!("{cid};<container>"), TopologyKind::Container.name())
            .with_latest("docker_container_id", ts, &cid)
            .with_latest("docker_container_name", ts, format!("{image}-{c}"))
            .with_latest("docker_image_id", ts, &image_id)
            .with_latest("docker_container_state", ts, "running")
            .with_latest(keys::HOST_NODE_ID, ts, &host_id)
            .with_parent(TopologyKind::Host.name(), &host_id)
            .with_parent(TopologyKind::ContainerImage.name(), &image_node_id);
        if c < spec.pods_per_host {
            let pod_id = format!("pod-{host}-{c};<pod>");
            container = container.with_parent(TopologyKind::Pod.name(), &pod_id);
            let pod = Node::new(&pod_id, TopologyKind::Pod.name())
                .with_latest(keys::KUBERNETES_NAME, ts, format!("{image}-{c}"))
                .with_latest(
                    keys::KUBERNETES_NAMESPACE,
                    ts,
                    if c % 2 == 0 { "default" } else { "platform" },
                )
                .with_latest(keys::KUBERNETES_STATE, ts, "Running")
                .with_latest(keys::HOST_NODE_ID, ts, &host_id)
                .with_parent(TopologyKind::Host.name(), &host_id);
            report.topology_mut(TopologyKind::Pod).add_node(pod);
        }
        report
            .topology_mut(TopologyKind::Container)
            .add_node(container);
        let image_node = Node::new(&image_node_id, TopologyKind::ContainerImage.name())
            .with_latest("docker_image_id", ts, &image_id)
            .with_latest(
                "docker_image_name",
                ts,
                format!("registry.synth/{image}:1.{}", c % 3),
            )
            .with_parent(TopologyKind::Host.name(), &host_id);
        report
            .topology_mut(TopologyKind::ContainerImage)
            .add_node(image_node);
    }

    for pid in 1..=spec.processes_per_host {
        let name = NAMES[pid % NAMES.len()];
        let mut process = Node::new(format!("{host_name};{pid}"), TopologyKind::Process.name())
            .with_latest(keys::PID, ts, pid.to_string())
            .with_latest(keys::NAME, ts, format!("/usr/bin/{name}"))
            .with_latest(
                "cmdline",
                ts,
                format!("/usr/bin/{name} --worker {pid} --config /etc/{name}.conf"),
            )
            .with_latest("ppid", ts, "1")
            .with_latest("threads", ts, (1 + rng.u8(0..16)).to_string())
            .with_latest(keys::HOST_NODE_ID, ts, &host_id)
            .with_parent(TopologyKind::Host.name(), &host_id);
        if spec.containers_per_host > 0 && pid % 3 == 0 {
            let container = report
                .topology(TopologyKind::Container)
                .nodes
                .keys()
                .nth(pid % spec.containers_per_host);
            if let Some(container) = container.cloned() {
                process = process.with_parent(TopologyKind::Container.name(), container);
            }
        }
        process.metrics.insert(
            "process_cpu_usage_percent".into(),
            metric(spec, rng, 100.0, 2),
        );
        process.metrics.insert(
            "process_memory_usage_bytes".into(),
            metric(spec, rng, 5e8, 2),
        );
        report.topology_mut(TopologyKind::Process).add_node(process);
        if pid % 7 == 1 {
            let port = 8000 + (pid as u16 % 1000);
            let listen = Node::new(format!(";{ip};{port}"), TopologyKind::Endpoint.name())
                .with_latest(keys::PID, ts, pid.to_string())
                .with_latest(keys::HOST_NODE_ID, ts, &host_id);
            report.topology_mut(TopologyKind::Endpoint).add_node(listen);
        }
    }
    if spec.processes_per_host == 0 {
        return;
    }
    for conn in 0..spec.connections_per_host {
        let client_pid = 1 + rng.usize(0..spec.processes_per_host);
        let client_port = 32768 + (conn as u32 * 7 + rng.u32(0..7)) % 28000;
        let remote_host = if cluster > 1 && conn % 3 == 0 {
            (host + 1 + rng.usize(0..cluster - 1)) % cluster
        } else {
            host
        };
        let remote_port = 8000
            + (1 + 7 * rng.usize(0..(spec.processes_per_host.div_ceil(7)).max(1))) as u16 % 1000;
        let remote = format!(";{};{remote_port}", host_ip(remote_host));
        let client = Node::new(
            format!(";{ip};{client_port}"),
            TopologyKind::Endpoint.name(),
        )
        .with_latest(keys::PID, ts, client_pid.to_string())
        .with_latest(keys::HOST_NODE_ID, ts, &host_id)
        .with_adjacent(&remote);
        report.topology_mut(TopologyKind::Endpoint).add_node(client);
        if remote_host != host {
            // The far side as this probe sees it: an address with no pid, like a real probe's.
            report
                .topology_mut(TopologyKind::Endpoint)
                .nodes
                .entry(remote.clone())
                .or_insert_with(|| Node::new(&remote, TopologyKind::Endpoint.name()));
        }
    }
    let dns = report.dns.entry(ip).or_default();
    dns.reverse
        .insert(host_name.split('.').next().unwrap_or_default().to_owned());
    dns.reverse.insert(host_name);
}

fn add_templates(report: &mut Report) {
    let meta = |id: &str, label: &str, priority: f64| MetadataTemplate {
        id: id.into(),
        label: label.into(),
        priority,
        from: "latest".into(),
        ..MetadataTemplate::default()
    };
    let metric = |id: &str, label: &str, format: &str, priority: f64| MetricTemplate {
        id: id.into(),
        label: label.into(),
        format: format.into(),
        priority,
        ..MetricTemplate::default()
    };
    let process = report.topology_mut(TopologyKind::Process);
    for t in [
        meta("pid", "PID", 1.0),
        meta("cmdline", "Command", 2.0),
        meta("threads", "# Threads", 3.0),
    ] {
        process.metadata_templates.insert(t.id.clone(), t);
    }
    for t in [
        metric("process_cpu_usage_percent", "CPU", "percent", 1.0),
        metric("process_memory_usage_bytes", "Memory", "filesize", 2.0),
    ] {
        process.metric_templates.insert(t.id.clone(), t);
    }
    let host = report.topology_mut(TopologyKind::Host);
    for t in [
        meta("host_name", "Hostname", 11.0),
        meta("os", "OS", 12.0),
        meta("kernel_version", "Kernel version", 1.0),
    ] {
        host.metadata_templates.insert(t.id.clone(), t);
    }
    for t in [
        metric("host_cpu_usage_percent", "CPU", "percent", 1.0),
        metric("host_mem_usage_bytes", "Memory", "filesize", 2.0),
        metric("load1", "Load (1m)", "", 11.0),
    ] {
        host.metric_templates.insert(t.id.clone(), t);
    }
}
