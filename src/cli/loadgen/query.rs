//! `stormscope loadgen --query APP`: while the probes post, one client queries the app's views
//! back to back, so each query finds reports that arrived since the one before, and reports
//! each view's latency and the app's memory.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What to query and for how long.
pub struct QueryPlan {
    pub app: String,
    pub paths: Vec<String>,
    /// (header, tenant) pairs queried in turn; empty: no tenant header.
    pub tenants: Vec<(String, String)>,
    /// Posting alone this long first, so the window is full when querying starts.
    pub warmup: Duration,
    pub until: Instant,
    pub app_pid: Option<u32>,
    /// Ask for gzipped answers.
    pub gzip: bool,
}

#[derive(Default)]
struct PathStats {
    latencies_us: Vec<u64>,
    /// What the app says it took (`Server-Timing`), by part; `app` is the whole.
    server_us: BTreeMap<String, Vec<u64>>,
    failures: BTreeMap<String, u64>,
    degraded: u64,
    last_body: bytes::Bytes,
    /// Whether `last_body` came gzipped.
    last_body_gzipped: bool,
    /// The latency of each tenant's first query of this path: what a user opening the view
    /// waits for while the app reads the tenant's window.
    first_us: Vec<u64>,
    /// What the app says those first queries took, by part.
    first_server_us: BTreeMap<String, Vec<u64>>,
}

/// Runs the query loop to `plan.until`; returns the lines to print.
pub async fn run(plan: QueryPlan) -> Vec<String> {
    tokio::time::sleep(plan.warmup).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut stats: BTreeMap<&str, PathStats> = BTreeMap::new();
    let mut peak_rss = 0;
    let no_tenant = [None];
    let tenants: Vec<Option<&(String, String)>> = if plan.tenants.is_empty() {
        no_tenant.to_vec()
    } else {
        plan.tenants.iter().map(Some).collect()
    };
    let mut queried: std::collections::HashSet<(usize, usize)> = Default::default();
    while Instant::now() < plan.until {
        for (t, tenant) in tenants.iter().enumerate() {
            for (p, path) in plan.paths.iter().enumerate() {
                let first = queried.insert((t, p));
                let mut request = client.get(format!("{}{path}", plan.app.trim_end_matches('/')));
                if let Some((name, value)) = tenant {
                    request = request.header(name.as_str(), value.as_str());
                }
                if plan.gzip {
                    request = request.header("Accept-Encoding", "gzip");
                }
                let started = Instant::now();
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        let degraded = response.headers().contains_key("x-stormscope-degraded");
                        let gzipped = response
                            .headers()
                            .get("content-encoding")
                            .is_some_and(|v| v == "gzip");
                        let server_ms = response
                            .headers()
                            .get("server-timing")
                            .and_then(|v| v.to_str().ok())
                            .map(server_timing)
                            .unwrap_or_default();
                        response
                            .bytes()
                            .await
                            .map(|b| (status, degraded, server_ms, b, gzipped))
                    }
                    Err(e) => Err(e),
                };
                let elapsed = started.elapsed();
                let s = stats.entry(path).or_default();
                match outcome {
                    Ok((status, degraded, server_ms, body, gzipped)) if status.is_success() => {
                        s.latencies_us.push(elapsed.as_micros() as u64);
                        if first {
                            s.first_us.push(elapsed.as_micros() as u64);
                        }
                        for (part, ms) in server_ms {
                            let us = (ms * 1000.0) as u64;
                            if first {
                                s.first_server_us.entry(part.clone()).or_default().push(us);
                            }
                            s.server_us.entry(part).or_default().push(us);
                        }
                        s.degraded += u64::from(degraded);
                        // Parsed once at the end: parsing every answer would take the CPU the
                        // app is being measured on.
                        s.last_body = body;
                        s.last_body_gzipped = gzipped;
                    }
                    Ok((status, ..)) => {
                        *s.failures.entry(status.as_str().to_owned()).or_default() += 1
                    }
                    Err(e) => *s.failures.entry(e.to_string()).or_default() += 1,
                }
            }
        }
        if let Some(pid) = plan.app_pid {
            peak_rss = peak_rss.max(super::rss_kib(pid, "VmRSS").unwrap_or(0));
        }
    }
    let mut lines: Vec<String> = stats
        .iter()
        .map(|(path, s)| {
            let sorted = sorted_ms(&s.latencies_us);
            let body = inflated(&s.last_body, s.last_body_gzipped);
            let nodes = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["nodes"].as_object().map(|n| n.len()))
                .unwrap_or(0);
            let first = sorted_ms(&s.first_us);
            format!(
                "query {path}: n={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms (in the app: {}) first query: n={} p50={:.1}ms max={:.1}ms (in the app: {}) nodes={} body={:.1}MiB{} degraded={} failures={:?}",
                sorted.len(),
                pct(&sorted, 0.5),
                pct(&sorted, 0.9),
                pct(&sorted, 0.99),
                sorted.last().copied().unwrap_or(0.0),
                by_part(&s.server_us),
                first.len(),
                pct(&first, 0.5),
                first.last().copied().unwrap_or(0.0),
                by_part(&s.first_server_us),
                nodes,
                body.len() as f64 / (1 << 20) as f64,
                if s.last_body_gzipped {
                    format!(" (gzipped {:.2}MiB)", s.last_body.len() as f64 / (1 << 20) as f64)
                } else {
                    String::new()
                },
                s.degraded,
                s.failures
            )
        })
        .collect();
    if let Some(pid) = plan.app_pid {
        lines.push(format!(
            "app pid {pid}: peak RSS {:.1} MiB (VmHWM {:.1} MiB)",
            peak_rss as f64 / 1024.0,
            super::rss_kib(pid, "VmHWM").unwrap_or(0) as f64 / 1024.0
        ));
    }
    lines
}

/// The body as the app wrote it: gzipped bodies inflated (the app's own output, so unbounded).
fn inflated(body: &[u8], gzipped: bool) -> Vec<u8> {
    if !gzipped {
        return body.to_vec();
    }
    let mut out = Vec::new();
    match std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}

/// `window p50=1.0ms p99=2.0ms, render ...`: what the app said each part took.
fn by_part(server_us: &BTreeMap<String, Vec<u64>>) -> String {
    let parts: Vec<String> = server_us
        .iter()
        .map(|(part, us)| {
            let sorted = sorted_ms(us);
            format!(
                "{part} p50={:.1}ms p99={:.1}ms",
                pct(&sorted, 0.5),
                pct(&sorted, 0.99)
            )
        })
        .collect();
    parts.join(", ")
}

fn sorted_ms(us: &[u64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = us.iter().map(|&us| us as f64 / 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

/// `app;dur=12.3, render;dur=4.5` as (name, milliseconds) pairs.
fn server_timing(header: &str) -> Vec<(String, f64)> {
    header
        .split(',')
        .filter_map(|metric| {
            let (name, params) = metric.trim().split_once(';')?;
            let ms = params.trim().strip_prefix("dur=")?.parse().ok()?;
            Some((name.to_owned(), ms))
        })
        .collect()
}
