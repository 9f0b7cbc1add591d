//! Helpers for the black-box collector tests.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stormscope_integration::S3Server;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits, Report, segment};

pub const BUCKET: &str = "stormscope";

pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("STORMSCOPE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata"));
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A real probe's full report, to be re-labelled per post.
pub fn template() -> Report {
    codec::decode_sniffed(
        &fixture("scope-probe/hostA-01-full.msgpack.gz"),
        &Limits::default(),
    )
    .unwrap()
}

/// The template as a probe body (gzip msgpack) carrying report id `id`.
pub fn body_with_id(template: &Report, id: &str) -> Vec<u8> {
    let mut report = template.clone();
    report.id = id.to_owned();
    codec::encode(&report, Format::Msgpack, Compression::Gzip)
}

/// The outage length of the outage tests: 30 s as the issue asks, shorter when iterating.
pub fn outage() -> Duration {
    let secs = std::env::var("STORMSCOPE_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}

pub struct Posted {
    pub status: u16,
    pub degraded: Option<String>,
    pub elapsed: Duration,
    pub body: String,
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Posted {
    let mut request = client
        .post(format!("{url}/api/report"))
        .header("Content-Type", "application/msgpack")
        .header("Content-Encoding", "gzip")
        .header("X-Scope-Probe-ID", "500b77fb74924034")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let started = Instant::now();
    let response = request.send().await.expect("collector answers");
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let degraded = response
        .headers()
        .get("x-stormscope-degraded")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap_or_default();
    Posted {
        status,
        degraded,
        elapsed,
        body,
    }
}

/// Report ids in every segment of the bucket (read straight from the S3 server's files), per
/// tenant directory.
pub fn stored_report_ids(s3: &S3Server) -> BTreeSet<String> {
    stored_reports(s3).into_iter().map(|(_, r)| r.id).collect()
}

/// (object key, report) for every report in every segment.
pub fn stored_reports(s3: &S3Server) -> Vec<(String, Report)> {
    let root = s3.data_dir().join(BUCKET);
    let mut out = Vec::new();
    for path in walk(&root) {
        if path.extension().and_then(|e| e.to_str()) != Some("seg") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(entries) = segment::decode(&bytes) else {
            continue;
        };
        let key = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for entry in entries {
            let report = codec::decode_sniffed(&entry.body, &Limits::default())
                .expect("stored reports decode");
            out.push((key.clone(), report));
        }
    }
    out
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Polls `check` until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

pub async fn metric(client: &reqwest::Client, url: &str, name: &str) -> f64 {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with(name)
                && (l.len() == name.len() || matches!(l.as_bytes()[name.len()], b' ' | b'{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
