//! `stormscope loadgen`: many simulated probes posting to a collector, for benchmarks and
//! soak tests. Bounded by `--duration`; it talks only to the `--target` it is given (and the
//! app named by `--query`, which it queries while posting).

mod query;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Args;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::model::keys;
use stormscope_shared::synth::{SynthSpec, full_and_deltas};
use stormscope_shared::{Format, Limits, Report, TopologyKind};

use super::common::duration;

#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// The collector's base URL.
    #[arg(long, default_value = "http://127.0.0.1:4041")]
    target: String,
    /// Simulated probes, each with its own probe id and host.
    #[arg(long, default_value_t = 100)]
    probes: usize,
    /// Reports per second across all probes; 0 posts as fast as --concurrency allows.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to run.
    #[arg(long, value_parser = duration, default_value = "30s")]
    duration: Duration,
    /// Real probe bodies (gzip msgpack) to post, cycled per probe; each probe gets its own host.
    /// Without it, synthetic reports: a full report, then two deltas, as a probe publishes.
    #[arg(long)]
    body: Vec<PathBuf>,
    /// Probe token, sent as `Authorization: Scope-Probe token=...`.
    #[arg(long, env = "STORMSCOPE_LOADGEN_TOKEN")]
    token: Option<String>,
    /// Tenant to send in --tenant-header.
    #[arg(long)]
    tenant: Option<String>,
    /// Spread the probes over this many tenants (`<tenant>-<n>`, probe p in tenant p mod N,
    /// `--tenant` defaulting to `tenant`); queries go to each tenant in turn.
    #[arg(long, default_value_t = 1)]
    tenants: usize,
    #[arg(long, default_value = "X-Scope-OrgID")]
    tenant_header: String,
    /// A process to report the memory of (the collector's pid): peak and current RSS.
    #[arg(long)]
    watch_pid: Option<u32>,
    /// An app's base URL to query while posting, one request after another.
    #[arg(long)]
    query: Option<String>,
    /// The paths to query in turn.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "/api/topology/processes,/api/topology/hosts"
    )]
    query_path: Vec<String>,
    /// Post this long before querying, so the app's window is full.
    #[arg(long, value_parser = duration, default_value = "15s")]
    query_warmup: Duration,
    /// The app's pid, to report its memory.
    #[arg(long)]
    query_pid: Option<u32>,
    /// Queries with `Accept-Encoding: gzip`, as a browser does: latencies then include the
    /// app's compressing, and each view's body is reported as sent and as inflated.
    #[arg(long)]
    query_gzip: bool,
    /// Writes the id of every report acknowledged with 200 to this file, one a line, for an
    /// audit of the object store (scripts/chaos.sh). Each post then carries a report id of its
    /// own (`--id-prefix` and a number), so every acknowledged report can be found again.
    #[arg(long)]
    acked_file: Option<PathBuf>,
    /// Writes the id of every report refused with an HTTP error status to this file. Reports
    /// whose request failed without an answer (connection reset, timeout) are in neither.
    #[arg(long)]
    refused_file: Option<PathBuf>,
    /// The start of each report id with --acked-file; distinct per loadgen sharing a bucket.
    #[arg(long, default_value = "lg")]
    id_prefix: String,
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<String, u64>,
    degraded: u64,
    /// With --acked-file or --refused-file: the report ids answered 200, and refused.
    acked_ids: Vec<String>,
    refused_ids: Vec<String>,
}

pub fn run(args: LoadgenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.probes > 0, "--probes must be at least 1");
    anyhow::ensure!(args.tenants > 0, "--tenants must be at least 1");
    let reports = prepare_bodies(&args)?;
    let tracked = args.acked_file.is_some() || args.refused_file.is_some();
    // Encoded once, unless each post carries its own id.
    let bodies: Vec<Vec<Bytes>> = if tracked {
        Vec::new()
    } else {
        reports
            .iter()
            .map(|per_probe| per_probe.iter().map(encode).collect())
            .collect()
    };
    eprintln!(
        "loadgen: {} probes, {} distinct bodies, target {}",
        args.probes,
        reports.iter().map(Vec::len).sum::<usize>(),
        args.target
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(drive(args, reports, bodies))
}

/// Per probe, the bodies it cycles through.
fn prepare_bodies(args: &LoadgenArgs) -> anyhow::Result<Vec<Vec<Report>>> {
    let templates: Vec<Report> = if args.body.is_empty() {
        Vec::new()
    } else {
        args.body
            .iter()
            .map(|path| {
                let raw =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                codec::decode_sniffed(&raw, &Limits::default())
                    .with_context(|| format!("{} is not a report", path.display()))
            })
            .collect::<anyhow::Result<_>>()?
    };
    Ok((0..args.probes)
        .map(|probe| {
            if templates.is_empty() {
                synthetic(probe, args.probes)
            } else {
                templates.iter().map(|t| as_probe(t, probe)).collect()
            }
        })
        .collect())
}

fn encode(report: &Report) -> Bytes {
    Bytes::from(codec::encode(report, Format::Msgpack, Compression::Gzip))
}

fn probe_id(probe: usize) -> String {
    format!("{:016x}", 0x5eed_0000_0000_0000u64 + probe as u64)
}

/// A real body re-labelled as coming from probe `probe`: its own host node and probe id.
fn as_probe(template: &Report, probe: usize) -> Report {
    let mut report = template.clone();
    report.id = format!("{}{probe}", template.id);
    let hosts = std::mem::take(&mut report.topology_mut(TopologyKind::Host).nodes);
    for (id, mut node) in hosts {
        let name = id.trim_end_matches(";<host>");
        let new_id = format!("{name}-p{probe};<host>");
        node.id = new_id.clone();
        for (key, value) in [
            (keys::HOST_NAME, format!("{name}-p{probe}")),
            (keys::CONTROL_PROBE_ID, probe_id(probe)),
        ] {
            if let Some(entry) = node.latest.get_mut(key) {
                entry.value = value;
            }
        }
        report
            .topology_mut(TopologyKind::Host)
            .nodes
            .insert(new_id, node);
    }
    report
}

/// A full report and two deltas (process nodes carrying only new metrics), as a probe sends.
fn synthetic(probe: usize, cluster: usize) -> Vec<Report> {
    full_and_deltas(&SynthSpec::probe(probe as u64 + 1, probe, cluster))
}

async fn drive(
    args: LoadgenArgs,
    reports: Vec<Vec<Report>>,
    bodies: Vec<Vec<Bytes>>,
) -> anyhow::Result<()> {
    let tracked = bodies.is_empty();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(12))
        .build()?;
    let url = format!("{}/api/report", args.target.trim_end_matches('/'));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let started = Instant::now();
    let deadline = started + args.duration;
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let mut next_progress = started + Duration::from_secs(1);
    let querying = args.query.clone().map(|app| {
        tokio::spawn(query::run(query::QueryPlan {
            app,
            paths: args.query_path.clone(),
            tenants: tenants(&args)
                .into_iter()
                .map(|t| (args.tenant_header.clone(), t))
                .collect(),
            warmup: args.query_warmup,
            until: deadline,
            app_pid: args.query_pid,
            gzip: args.query_gzip,
        }))
    });
    let mut peak_rss = 0;
    let mut sent = 0usize;
    while Instant::now() < deadline {
        let permit = permits.clone().acquire_owned().await?;
        let probe = sent % reports.len();
        let nth = (sent / reports.len()) % reports[probe].len();
        let (body, id) = if tracked {
            let mut report = reports[probe][nth].clone();
            report.id = format!("{}-{sent}", args.id_prefix);
            (encode(&report), Some(report.id))
        } else {
            (bodies[probe][nth].clone(), None)
        };
        let mut request = client
            .post(&url)
            .header("Content-Type", "application/msgpack")
            .header("Content-Encoding", "gzip")
            .header("X-Scope-Probe-ID", probe_id(probe))
            .header("User-Agent", "Scope_Probe/stormscope-loadgen")
            .body(body);
        if let Some(token) = &args.token {
            request = request.header("Authorization", format!("Scope-Probe token={token}"));
        }
        if let Some(tenant) = tenant_of(&args, probe) {
            request = request.header(args.tenant_header.as_str(), tenant);
        }
        let task_stats = stats.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let outcome = request.send().await;
            let elapsed = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
            let mut s = task_stats.lock().expect("stats lock");
            match outcome {
                Ok(response) => {
                    if response.headers().contains_key("x-stormscope-degraded") {
                        s.degraded += 1;
                    }
                    let status = response.status().as_u16();
                    *s.statuses.entry(status.to_string()).or_default() += 1;
                    if let Some(id) = id {
                        if status == 200 {
                            s.acked_ids.push(id);
                        } else {
                            s.refused_ids.push(id);
                        }
                    }
                }
                Err(e) => {
                    *s.statuses
                        .entry(if e.is_timeout() {
                            "timeout".into()
                        } else {
                            "connect-error".into()
                        })
                        .or_default() += 1
                }
            }
            s.latencies_us.push(elapsed);
            drop(permit);
        });
        sent += 1;
        if let Some(interval) = interval {
            let due = started + interval.mul_f64(sent as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            peak_rss = peak_rss.max(
                args.watch_pid
                    .and_then(|pid| rss_kib(pid, "VmRSS"))
                    .unwrap_or(0),
            );
            eprintln!(
                "{}",
                summary_line(&stats.lock().expect("stats lock"), started.elapsed())
            );
        }
    }
    // Let requests in flight finish so every sent report is counted.
    let _ = permits.acquire_many(args.concurrency.max(1) as u32).await?;
    let elapsed = started.elapsed();
    if let Some(querying) = querying {
        for line in querying.await? {
            println!("{line}");
        }
    }
    let s = stats.lock().expect("stats lock");
    println!("{}", summary_line(&s, elapsed));
    for (path, ids) in [
        (&args.acked_file, &s.acked_ids),
        (&args.refused_file, &s.refused_ids),
    ] {
        if let Some(path) = path {
            let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if let Some(pid) = args.watch_pid {
        let hwm = rss_kib(pid, "VmHWM").unwrap_or(0);
        let now = rss_kib(pid, "VmRSS").unwrap_or(0);
        println!(
            "target pid {pid}: peak RSS {:.1} MiB, RSS now {:.1} MiB, max sampled {:.1} MiB",
            hwm as f64 / 1024.0,
            now as f64 / 1024.0,
            peak_rss as f64 / 1024.0
        );
    }
    Ok(())
}

/// Every tenant the probes post as: none (no header), `--tenant`, or `--tenants` of them.
fn tenants(args: &LoadgenArgs) -> Vec<String> {
    match (args.tenants, &args.tenant) {
        (1, None) => Vec::new(),
        (1, Some(t)) => vec![t.clone()],
        (n, t) => {
            let prefix = t.as_deref().unwrap_or("tenant");
            (0..n).map(|i| format!("{prefix}-{i}")).collect()
        }
    }
}

fn tenant_of(args: &LoadgenArgs, probe: usize) -> Option<String> {
    let all = tenants(args);
    (!all.is_empty()).then(|| all[probe % all.len()].clone())
}

fn summary_line(s: &Stats, elapsed: Duration) -> String {
    let acked = s.statuses.get("200").copied().unwrap_or(0);
    let mut sorted = s.latencies_us.clone();
    sorted.sort_unstable();
    let pct = |p: f64| {
        sorted
            .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    let errors: Vec<String> = s
        .statuses
        .iter()
        .filter(|(k, _)| k.as_str() != "200")
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!(
        "t={:.1}s sent={} acked={} acked/s={:.0} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms degraded={} errors=[{}]",
        elapsed.as_secs_f64(),
        sorted.len(),
        acked,
        acked as f64 / elapsed.as_secs_f64().max(1e-9),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        sorted.last().map_or(0.0, |&us| us as f64 / 1000.0),
        s.degraded,
        errors.join(" ")
    )
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
