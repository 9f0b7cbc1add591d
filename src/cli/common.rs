//! Parsing shared by the service subcommands.

use std::time::Duration;

use clap::Args;

/// The tenant a client (the probe, `check`) names in a header, for collectors and apps run
/// with `--tenancy header`.
#[derive(Debug, Args)]
pub struct TenantHeaderArgs {
    /// Tenant to send in --tenant-header (for collectors with --tenancy header).
    #[arg(long, env = "STORMSCOPE_TENANT")]
    pub tenant: Option<String>,
    /// The header that carries --tenant.
    #[arg(
        long,
        env = "STORMSCOPE_TENANT_HEADER",
        default_value = "X-Scope-OrgID"
    )]
    pub tenant_header: String,
}

impl TenantHeaderArgs {
    /// `(header, tenant)` when a tenant is given.
    pub fn header(&self) -> Option<(String, String)> {
        let tenant = self.tenant.clone()?;
        Some((self.tenant_header.clone(), tenant))
    }
}

pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e} (try 15s, 500ms, 5m)"))
}

/// Sizes like `64MiB`, `1GiB`, `512KiB` or plain bytes. Hand-written: four units do not
/// justify a dependency.
pub fn bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 64MiB)"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Binds `listen`, starts the runtime and runs `serve(listener, workers)` to its end. Worker
/// threads default to one per core.
pub fn serve<F, Fut>(listen: &str, workers: Option<usize>, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(std::net::TcpListener, usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use anyhow::Context;
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    let workers =
        workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    // Few blocking threads: the collector only reads spool records back on them, and each one
    // left idle keeps an allocator heap of its own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(listener, workers))
}

/// With header tenancy the tenant is whatever `X-Scope-OrgID` a caller sends: only an
/// authenticating proxy in front may be able to reach us. Listening beyond loopback makes that
/// easy to get wrong, so it is said at start.
pub fn warn_header_tenancy(
    tenancy: &stormscope_shared::tenancy::Tenancy,
    listener: &std::net::TcpListener,
) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    if let stormscope_shared::tenancy::Tenancy::Header(header) = tenancy
        && !addr.ip().is_loopback()
    {
        tracing::warn!(%addr, header = %header, "header tenancy on a non-loopback address: anyone who can reach this port can name any tenant; it must sit behind the authenticating proxy that sets the header");
    }
}

/// Logs go to stderr; `RUST_LOG` overrides `--log-level`.
pub fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A log line that cannot be written (the log's disk is full) is dropped; reporting it
        // on stderr would panic, in whatever code was logging.
        .log_internal_errors(false)
        .try_init();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(bytes("64MiB"), Ok(64 << 20));
        assert_eq!(bytes("1GiB"), Ok(1 << 30));
        assert_eq!(bytes("123"), Ok(123));
        assert!(bytes("12XB").is_err());
        assert_eq!(duration("15s"), Ok(Duration::from_secs(15)));
        assert!(duration("soon").is_err());
    }
}
