//! Sampling this very machine: the report must describe the test process and the TCP
//! connection it opens to itself, as a Scope probe would.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use stormscope_probe::{PROBE_VERSION, Sampler};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits, Report, TopologyKind};

/// The host name from uname(2), not from /proc as the sampler reads it.
fn uname_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0, "gethostname failed");
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn latest<'a>(report: &'a Report, kind: TopologyKind, id: &str, key: &str) -> Option<&'a str> {
    report.topology(kind).nodes.get(id)?.latest_value(key)
}

#[test]
fn the_host_node_describes_this_machine() {
    let host = uname_hostname();
    let mut sampler = Sampler::new("0123456789abcdef", Duration::from_secs(3));
    assert_eq!(sampler.host_id(), host);
    let report = sampler.sample();

    let hosts = report.topology(TopologyKind::Host);
    let id = format!("{host};<host>");
    assert_eq!(hosts.nodes.keys().collect::<Vec<_>>(), vec![&id]);
    let node = &hosts.nodes[&id];
    assert_eq!(node.latest_value("host_name"), Some(host.as_str()));
    assert_eq!(node.latest_value("host_node_id"), Some(id.as_str()));
    assert_eq!(
        node.latest_value("control_probe_id"),
        Some("0123456789abcdef")
    );
    assert_eq!(node.latest_value("host_scope_version"), Some(PROBE_VERSION));
    assert_eq!(node.latest_value("os"), Some("linux"));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(
        node.latest_value("kernel_version")
            .unwrap()
            .starts_with(&format!("{} ", release.trim())),
        "{:?}",
        node.latest_value("kernel_version")
    );
    let uptime: u64 = node.latest_value("uptime").unwrap().parse().unwrap();
    assert!(uptime > 0);
    assert!(
        node.sets["local_networks"].contains("127.0.0.1/8"),
        "{:?}",
        node.sets
    );
    assert!(node.parents["host"].contains(&id));
    let mem = &node.metrics["host_mem_usage_bytes"];
    assert_eq!(mem.samples.len(), 1);
    assert!(mem.samples[0].value > 0.0 && mem.samples[0].value <= mem.max);
    let cpu = &node.metrics["host_cpu_usage_percent"];
    assert!((0.0..=100.0).contains(&cpu.samples[0].value) && cpu.max == 100.0);
    assert!(node.metrics.contains_key("load1"));
    for template in [
        "host_name",
        "os",
        "kernel_version",
        "uptime",
        "local_networks",
    ] {
        assert!(
            hosts.metadata_templates.contains_key(template),
            "{template}"
        );
    }
    assert_eq!(hosts.metric_templates["load1"].group, "load");
    assert_eq!(report.window, 3_000_000_000);
    assert!(!report.id.is_empty() && report.id.parse::<i64>().is_ok());
    let age = report.ts.unix_millis() - stormscope_shared::Timestamp::now().unix_millis();
    assert!(age.abs() < 10_000, "report TS is not now: {:?}", report.ts);
}

#[test]
fn this_test_process_is_a_process_node() {
    let host = uname_hostname();
    let pid = std::process::id();
    let report = Sampler::new("p", Duration::from_secs(3)).sample();
    let id = format!("{host};{pid}");
    let node = report
        .topology(TopologyKind::Process)
        .nodes
        .get(&id)
        .unwrap_or_else(|| panic!("no process node {id}"));
    let argv0 = std::env::args().next().unwrap();
    assert_eq!(node.latest_value("pid"), Some(pid.to_string().as_str()));
    assert_eq!(node.latest_value("name"), Some(argv0.as_str()));
    assert!(
        node.latest_value("cmdline")
            .unwrap()
            .starts_with(&format!("{argv0} "))
    );
    let ppid = std::os::unix::process::parent_id().to_string();
    assert_eq!(node.latest_value("ppid"), Some(ppid.as_str()));
    assert!(
        node.latest_value("threads")
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 1
    );
    let host_node = format!("{host};<host>");
    assert_eq!(node.latest_value("host_node_id"), Some(host_node.as_str()));
    assert!(node.parents["host"].contains(&host_node));
    let memory = &node.metrics["process_memory_usage_bytes"];
    assert!(memory.samples[0].value > 0.0);
    let files = &node.metrics["open_files_count"];
    assert!(
        files.samples[0].value >= 3.0,
        "stdin, stdout and stderr at least"
    );
    assert!(node.metrics.contains_key("process_cpu_usage_percent"));
    let templates = &report.topology(TopologyKind::Process).metadata_templates;
    assert_eq!(templates["pid"].priority, 1.0);
}

/// This process's user plus system time, in clock ticks.
fn own_ticks() -> u64 {
    let stat = procfs::process::Process::myself().unwrap().stat().unwrap();
    stat.utime + stat.stime
}

/// All CPUs' time as the probe counts it, in clock ticks.
fn machine_ticks() -> u64 {
    use procfs::CurrentSI;
    let t = procfs::KernelStats::current().unwrap().total;
    [t.user, t.nice, t.system, t.idle]
        .into_iter()
        .chain([t.iowait, t.irq, t.softirq, t.steal].into_iter().flatten())
        .sum()
}

#[test]
fn cpu_percentages_cover_the_time_between_samples() {
    let pid = std::process::id();
    let mut sampler = Sampler::new("p", Duration::from_secs(3));
    let id = format!("{};{pid}", sampler.host_id());
    let machine_before = machine_ticks();
    sampler.sample();
    // Burn 30 ticks of CPU between the two samples, however long a loaded machine takes.
    let start = own_ticks();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut x = 0u64;
    while own_ticks() < start + 30 && std::time::Instant::now() < deadline {
        for _ in 0..100_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
    }
    let report = sampler.sample();
    let machine_elapsed = machine_ticks() - machine_before;

    let cpu =
        &report.topology(TopologyKind::Process).nodes[&id].metrics["process_cpu_usage_percent"];
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as f64;
    assert_eq!(cpu.max, 100.0 * cpus, "100 per CPU");
    // The samples saw at least our 30 ticks within at most the machine's ticks counted around
    // them. A figure averaged since boot (no previous sample kept) would be far below this.
    let floor = 30.0 * 100.0 / machine_elapsed as f64;
    assert!(cpu.samples[0].value >= floor, "{cpu:?} < {floor}");
    assert!(cpu.samples[0].value <= cpu.max, "{cpu:?}");
}

#[test]
fn a_loopback_connection_becomes_an_edge_between_our_endpoints() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_port = listener.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", server_port)).unwrap();
    let (mut accepted, _) = listener.accept().unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    accepted.read_exact(&mut buf).unwrap();
    let client_port = client.local_addr().unwrap().port();

    let mut sampler = Sampler::new("p", Duration::from_secs(3));
    let host = sampler.host_id().to_owned();
    let report = sampler.sample();

    let netns = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    let server_id = format!("{host}-{netns};127.0.0.1;{server_port}");
    let client_id = format!("{host}-{netns};127.0.0.1;{client_port}");
    let endpoints = report.topology(TopologyKind::Endpoint);
    let pid = std::process::id().to_string();
    let host_node = format!("{host};<host>");
    for id in [&server_id, &client_id] {
        let node = endpoints
            .nodes
            .get(id)
            .unwrap_or_else(|| panic!("no endpoint {id}"));
        assert_eq!(node.latest_value("pid"), Some(pid.as_str()), "{id}");
        assert_eq!(node.latest_value("host_node_id"), Some(host_node.as_str()));
    }
    assert!(
        endpoints.nodes[&client_id].adjacency.contains(&server_id),
        "{:?}",
        endpoints.nodes[&client_id]
    );
    assert!(
        endpoints.nodes[&server_id].adjacency.is_empty(),
        "the accepting side points nowhere: {:?}",
        endpoints.nodes[&server_id]
    );
    assert_eq!(
        latest(&report, TopologyKind::Endpoint, &client_id, "pid"),
        latest(
            &report,
            TopologyKind::Process,
            &format!("{host};{pid}"),
            "pid"
        ),
        "the endpoint's pid names our process node"
    );
    drop((client, accepted, listener));
}

#[test]
fn a_listening_socket_is_a_node_without_edges() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut sampler = Sampler::new("p", Duration::from_secs(3));
    let netns = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    let id = format!("{}-{netns};127.0.0.1;{port}", sampler.host_id());
    let report = sampler.sample();
    let node = report.topology(TopologyKind::Endpoint).nodes.get(&id);
    let node = node.unwrap_or_else(|| panic!("no endpoint {id}"));
    assert_eq!(
        node.latest_value("pid"),
        Some(std::process::id().to_string().as_str())
    );
    assert!(node.adjacency.is_empty());
    drop(listener);
}

#[test]
fn the_report_survives_the_shared_codec() {
    let report = Sampler::new("p", Duration::from_secs(3)).sample();
    for format in [Format::Msgpack, Format::Json] {
        let body = codec::encode(&report, format, Compression::Gzip);
        let decoded = codec::decode(&body, Compression::Gzip, format, &Limits::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        for kind in [
            TopologyKind::Host,
            TopologyKind::Process,
            TopologyKind::Endpoint,
        ] {
            assert_eq!(
                decoded.topology(kind),
                report.topology(kind),
                "{format:?} {kind}"
            );
        }
        assert_eq!(decoded.ts, report.ts);
        assert_eq!(decoded.id, report.id);
        assert_eq!(decoded.window, report.window);
    }
}
