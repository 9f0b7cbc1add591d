//! `stormscope check`: posts one report to a collector and waits until an app lists its host,
//! the end-to-end check of a deployment (the Helm chart's `helm test` hook runs it).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::synth::{self, SynthSpec, generate};
use stormscope_shared::tenancy::Tokens;
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Report};

use super::common::{TenantHeaderArgs, duration};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The collector's base URL (where probes post).
    #[arg(long, env = "STORMSCOPE_COLLECTOR")]
    collector: String,
    /// The app's base URL (where the report is read back).
    #[arg(long, env = "STORMSCOPE_APP")]
    app: String,
    /// Probe token, sent to both as `Authorization: Scope-Probe token=...` (--tenancy token).
    #[arg(long, env = "STORMSCOPE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// With --tenancy token: take the token from this file of `TOKEN TENANT` lines (the first
    /// one), so the check needs no token of its own.
    #[arg(long, env = "STORMSCOPE_TOKENS_FILE", conflicts_with = "token")]
    tokens_file: Option<PathBuf>,
    #[command(flatten)]
    tenancy: TenantHeaderArgs,
    /// How long to wait for the app to show the report.
    #[arg(long, env = "STORMSCOPE_TIMEOUT", value_parser = duration, default_value = "60s")]
    timeout: Duration,
}

pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let token = match (&args.token, &args.tokens_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                Tokens::first_token(&text)
                    .with_context(|| format!("{} holds no token", path.display()))?,
            )
        }
        (None, None) => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(check(&args, token))
}

/// A small report from a host no one else reports, so that seeing it proves this one arrived.
fn unique_report() -> (Report, String) {
    let seed = u64::from_str_radix(&stormscope_probe::random_probe_id(), 16).unwrap_or(7);
    let host = 1_000_000 + (seed % 1_000_000) as usize;
    let spec = SynthSpec {
        processes_per_host: 3,
        connections_per_host: 2,
        containers_per_host: 1,
        pods_per_host: 1,
        ts: Timestamp::now(),
        ..SynthSpec::probe(seed, host, host + 1)
    };
    (generate(&spec), synth::hostname(host))
}

async fn check(args: &CheckArgs, token: Option<String>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let with_tenant = |mut request: reqwest::RequestBuilder| {
        if let Some(token) = &token {
            request = request.header("Authorization", format!("Scope-Probe token={token}"));
        }
        if let Some((header, tenant)) = args.tenancy.header() {
            request = request.header(header, tenant);
        }
        request
    };
    let (report, hostname) = unique_report();
    let body = codec::encode(&report, Format::Msgpack, Compression::Gzip);
    let url = format!("{}/api/report", args.collector.trim_end_matches('/'));
    let response = with_tenant(client.post(&url))
        .header("Content-Type", "application/msgpack")
        .header("Content-Encoding", "gzip")
        .header("X-Scope-Probe-ID", stormscope_probe::random_probe_id())
        .body(body)
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    if status.as_u16() != 200 {
        let text = response.text().await.unwrap_or_default();
        bail!("{url} answered {status}: {text}");
    }
    println!("posted a report of {hostname} to {url}");

    let url = format!("{}/api/probes", args.app.trim_end_matches('/'));
    let deadline = Instant::now() + args.timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match with_tenant(client.get(&url)).send().await {
            Ok(response) if response.status().is_success() => {
                let body = response.bytes().await.unwrap_or_default();
                let probes: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let listed = probes.as_array().into_iter().flatten().any(|probe| {
                    probe.get("hostname").and_then(|h| h.as_str()) == Some(hostname.as_str())
                });
                if listed {
                    println!("{url} lists {hostname}: ok");
                    return Ok(());
                }
                last = "not listed yet".into();
            }
            Ok(response) => last = format!("answered {}", response.status()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "{url} did not list {hostname} within {:?} (last: {last})",
        args.timeout
    )
}
