use std::time::Duration;

use anyhow::Context;
use clap::Args;
use stormscope_probe::{DEFAULT_COLLECTOR, ProbeConfig, random_probe_id};

use super::common::{TenantHeaderArgs, duration, init_logging, shutdown_signal};

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The collector's base URL; overrides --collector (as a Scope probe takes its target).
    #[arg(value_name = "URL")]
    target: Option<String>,
    /// The collector's base URL (a Scope app works too).
    #[arg(long, env = "STORMSCOPE_COLLECTOR", default_value = DEFAULT_COLLECTOR)]
    collector: String,
    /// Time between two reports.
    #[arg(long, env = "STORMSCOPE_INTERVAL", value_parser = duration, default_value = "3s")]
    interval: Duration,
    /// Probe token, sent as `Authorization: Scope-Probe token=...` (for --tenancy token).
    #[arg(long, env = "STORMSCOPE_PROBE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    tenancy: TenantHeaderArgs,
    /// Probe id sent as X-Scope-Probe-ID (default: random at each start, as Scope's).
    #[arg(long, env = "STORMSCOPE_PROBE_ID")]
    probe_id: Option<String>,
    /// Log level (RUST_LOG overrides).
    #[arg(long, env = "STORMSCOPE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

impl ProbeArgs {
    fn config(&self) -> anyhow::Result<ProbeConfig> {
        anyhow::ensure!(!self.interval.is_zero(), "--interval must be longer than 0");
        let collector = self.target.as_ref().unwrap_or(&self.collector);
        Ok(ProbeConfig {
            collector: collector.clone(),
            interval: self.interval,
            token: self.token.clone().filter(|t| !t.is_empty()),
            tenant_header: self.tenancy.header(),
            probe_id: self.probe_id.clone().unwrap_or_else(random_probe_id),
        })
    }
}

pub fn run(args: ProbeArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    let config = args.config()?;
    // The token stays out of the log: ProbeConfig's Debug redacts it.
    tracing::info!(?config, "probe starting");
    // One thread is plenty: the probe posts one report per interval, and walks /proc on the
    // blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .context("starting the runtime")?;
    runtime.block_on(stormscope_probe::run(config, shutdown_signal()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        probe: ProbeArgs,
    }

    #[test]
    fn the_positional_target_wins_and_a_tenant_needs_no_header_flag() {
        let cli = Cli::parse_from([
            "probe",
            "--collector",
            "http://flag:1",
            "--tenant",
            "acme",
            "http://positional:2",
        ]);
        let config = cli.probe.config().unwrap();
        assert_eq!(config.collector, "http://positional:2");
        assert_eq!(
            config.tenant_header,
            Some(("X-Scope-OrgID".to_owned(), "acme".to_owned()))
        );
        assert_eq!(config.interval, Duration::from_secs(3));
        assert_eq!(config.probe_id.len(), 16);
        let zero = Cli::parse_from(["probe", "--interval", "0s"]);
        assert!(zero.probe.config().is_err());
    }
}
