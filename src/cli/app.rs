use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use stormscope_app::budget::MemoryBudget;
use stormscope_app::{App, AppConfig};
use stormscope_shared::storage::object::ObjectStoreTimeouts;

use super::collector::{StorageArgs, TenancyMode};
use super::common::{bytes, duration, init_logging, serve, shutdown_signal, warn_header_tenancy};

#[derive(Debug, Args)]
pub struct AppArgs {
    /// Address to serve the API on.
    #[arg(long, env = "STORMSCOPE_LISTEN", default_value = "0.0.0.0:4040")]
    listen: String,
    #[command(flatten)]
    storage: StorageArgs,
    /// With --tenancy token: the tokens that may read, in place of --tokens-file (same format,
    /// reloaded the same way). Keeps a probe's token, which sits on every node, from reading
    /// the topology.
    #[arg(long, env = "STORMSCOPE_READ_TOKENS_FILE")]
    read_tokens_file: Option<PathBuf>,
    /// How much history a query merges (Scope's --app.window).
    #[arg(long, env = "STORMSCOPE_WINDOW", value_parser = duration, default_value = "15s")]
    window: Duration,
    /// How long after arriving a report may still be sealed into a segment (history reads look
    /// this far past a window's end).
    #[arg(long, env = "STORMSCOPE_MAX_FLUSH_LAG", value_parser = duration, default_value = "1h")]
    max_flush_lag: Duration,
    /// Bytes every cache of the app shares: live windows (merged, with their reports as
    /// stored), decoded reports, history quanta, shared renders and kept heads.
    #[arg(long, env = "STORMSCOPE_MEMORY_BUDGET", value_parser = bytes, default_value = "192MiB")]
    memory_budget: u64,
    /// Memory faulted in at startup and kept for the first answers (0: none). A tenant's first
    /// answer at 100 probes touches about 110 MiB; faulting it in while nothing waits took a
    /// fifth off the first query (BENCHMARKS.md). Up to this much freed memory stays resident
    /// until the app outgrows it, then freed memory is returned to the system as usual.
    #[arg(long, env = "STORMSCOPE_WARM_MEMORY", value_parser = bytes, default_value = "128MiB")]
    warm_memory: u64,
    /// Topology websockets open at once, in all; past it a new one is refused with 429.
    #[arg(long, env = "STORMSCOPE_MAX_WEBSOCKETS", default_value_t = 1024)]
    max_websockets: usize,
    /// Topology websockets one tenant may hold open at once; past it a new one is refused
    /// with 429.
    #[arg(
        long,
        env = "STORMSCOPE_MAX_WEBSOCKETS_PER_TENANT",
        default_value_t = 64
    )]
    max_websockets_per_tenant: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "STORMSCOPE_WORKERS")]
    workers: Option<usize>,
    /// Log level (RUST_LOG overrides).
    #[arg(long, env = "STORMSCOPE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

pub fn run(args: AppArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    stormscope_shared::allocator::warm_up(args.warm_memory as usize);
    let mut config = AppConfig::local(&args.storage.object_store);
    config.object_store_timeouts = ObjectStoreTimeouts {
        request: args.storage.object_store_timeout,
        ..ObjectStoreTimeouts::default()
    };
    config.memcached = args.storage.memcached_servers();
    config.memcached_config = args.storage.memcached_config();
    config.cache_ttl = args.storage.cache_ttl;
    if args.read_tokens_file.is_some() {
        anyhow::ensure!(
            matches!(args.storage.tenancy, TenancyMode::Token),
            "--read-tokens-file needs --tenancy token"
        );
    }
    let (tenancy, reload) = args.storage.tenancy(args.read_tokens_file.as_deref())?;
    config.tenancy = tenancy;
    config.window = args.window;
    config.max_flush_lag = args.max_flush_lag;
    config.memory_budget = MemoryBudget::new(args.memory_budget as usize);
    config.websockets = stormscope_app::sockets::SocketCaps {
        global: args.max_websockets,
        per_tenant: args.max_websockets_per_tenant,
    };
    let listen = args.listen.clone();
    serve(&args.listen, args.workers, |listener, workers| async move {
        warn_header_tenancy(&config.tenancy, &listener);
        if let Some(reload) = reload {
            reload.spawn();
        }
        let app = App::start(config)?;
        tracing::info!(%listen, "app serving");
        app.run(listener, workers, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}
