use std::time::Duration;

use clap::Args;
use stormscope_app::budget::MemoryBudget;
use stormscope_app::{App, AppConfig};
use stormscope_shared::storage::object::ObjectStoreTimeouts;

use super::collector::StorageArgs;
use super::common::{bytes, duration, init_logging, serve, shutdown_signal};

#[derive(Debug, Args)]
pub struct AppArgs {
    /// Address to serve the API on.
    #[arg(long, env = "STORMSCOPE_LISTEN", default_value = "0.0.0.0:4040")]
    listen: String,
    #[command(flatten)]
    storage: StorageArgs,
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
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "STORMSCOPE_WORKERS")]
    workers: Option<usize>,
    /// Log level (RUST_LOG overrides).
    #[arg(long, env = "STORMSCOPE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

pub fn run(args: AppArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    let mut config = AppConfig::local(&args.storage.object_store);
    config.object_store_timeouts = ObjectStoreTimeouts {
        request: args.storage.object_store_timeout,
        ..ObjectStoreTimeouts::default()
    };
    config.memcached = args.storage.memcached_servers();
    config.memcached_config = args.storage.memcached_config();
    config.cache_ttl = args.storage.cache_ttl;
    config.tenancy = args.storage.tenancy()?;
    config.window = args.window;
    config.max_flush_lag = args.max_flush_lag;
    config.memory_budget = MemoryBudget::new(args.memory_budget as usize);
    let listen = args.listen.clone();
    serve(&args.listen, args.workers, |listener, workers| async move {
        let app = App::start(config)?;
        tracing::info!(%listen, "app serving");
        app.run(listener, workers, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}
