//! `stormscope standalone`: the collector, the app and a local probe in one process, with
//! embedded storage under one data directory (an in-process cache and a `file://` object
//! store), on one listener. The first thing to run: no memcached, no S3, nothing to configure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use stormscope_app::{App, AppConfig};
use stormscope_collector::{Collector, CollectorConfig};
use stormscope_probe::{ProbeConfig, random_probe_id};
use stormscope_shared::storage::Storage;
use stormscope_shared::storage::memory::MemoryStorage;

use super::common::{bytes, duration, init_logging, serve, shutdown_signal};

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Address to serve the API (and accept probe reports) on.
    #[arg(long, env = "STORMSCOPE_LISTEN", default_value = "127.0.0.1:4040")]
    listen: String,
    /// Where the spool and the object store live (`spool/`, `objects/`).
    #[arg(long, env = "STORMSCOPE_DATA_DIR", default_value = "stormscope-data")]
    data_dir: PathBuf,
    /// Do not run the local probe (only report what other probes send).
    #[arg(long, env = "STORMSCOPE_NO_PROBE")]
    no_probe: bool,
    /// Time between two reports of the local probe.
    #[arg(long, env = "STORMSCOPE_PROBE_INTERVAL", value_parser = duration, default_value = "3s")]
    probe_interval: Duration,
    /// How much history a query merges (Scope's --app.window).
    #[arg(long, env = "STORMSCOPE_WINDOW", value_parser = duration, default_value = "15s")]
    window: Duration,
    /// How often the reports of the last interval are written to the object store.
    #[arg(long, env = "STORMSCOPE_FLUSH_INTERVAL", value_parser = duration, default_value = "15s")]
    flush_interval: Duration,
    /// Memory for the in-process cache of recent reports.
    #[arg(long, env = "STORMSCOPE_CACHE_SIZE", value_parser = bytes, default_value = "256MiB")]
    cache_size: u64,
    /// Bytes the app's caches share (see `stormscope app --memory-budget`).
    #[arg(long, env = "STORMSCOPE_MEMORY_BUDGET", value_parser = bytes, default_value = "192MiB")]
    memory_budget: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "STORMSCOPE_WORKERS")]
    workers: Option<usize>,
    /// Log level (RUST_LOG overrides).
    #[arg(long, env = "STORMSCOPE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

pub fn run(args: StandaloneArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    let spool_dir = args.data_dir.join("spool");
    let objects = args.data_dir.join("objects");
    std::fs::create_dir_all(&objects).with_context(|| format!("creating {}", objects.display()))?;
    let objects = std::fs::canonicalize(&objects)?;
    let object_store = format!("file://{}", objects.display());

    let mut collector_config = CollectorConfig::local(spool_dir, &object_store);
    collector_config.flush_interval = args.flush_interval;
    collector_config.collector_id = "standalone".into();
    let mut app_config = AppConfig::local(&object_store);
    app_config.window = args.window;
    app_config.memory_budget =
        stormscope_app::budget::MemoryBudget::new(args.memory_budget as usize);
    app_config.cache_ttl = collector_config.cache_ttl;
    // Segments are sealed once per flush interval; history reads look that far ahead.
    app_config.max_flush_lag = args.flush_interval * 4;
    let cache: Arc<dyn Storage> = Arc::new(MemoryStorage::new("cache", args.cache_size as usize));

    let listen = args.listen.clone();
    serve(&args.listen, args.workers, |listener, workers| async move {
        let local = listener.local_addr()?;
        let collector = Collector::start_with_cache(collector_config, Some(cache.clone())).await?;
        let app = App::start_with_cache(app_config, Some(cache))?;
        // The app's routes first: its `/api` says it serves history. Probe posts fall through
        // to the collector's `POST /api/report`.
        let (app_routes, collector_routes) = (app.configure(), collector.configure());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .configure(app_routes.clone())
                .configure(collector_routes.clone())
        })
        .workers(workers.max(1))
        .disable_signals()
        // Views are sent in chunks (see the app's server).
        .tcp_nodelay(true)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let serving = tokio::spawn(server);
        tracing::info!(%listen, data_dir = %args.data_dir.display(), "standalone serving: open http://{local}/");

        let (stop_probe, probe_stopped) = tokio::sync::oneshot::channel::<()>();
        let probe = (!args.no_probe).then(|| {
            let host = if local.ip().is_unspecified() {
                std::net::IpAddr::from([127, 0, 0, 1])
            } else {
                local.ip()
            };
            let mut config = ProbeConfig::new(format!("http://{host}:{}", local.port()));
            config.interval = args.probe_interval;
            config.probe_id = random_probe_id();
            tokio::spawn(stormscope_probe::run(config, async move {
                let _ = probe_stopped.await;
            }))
        });

        shutdown_signal().await;
        let _ = stop_probe.send(());
        if let Some(probe) = probe {
            match probe.await {
                Ok(Err(e)) => tracing::warn!(error = %e, "the local probe stopped"),
                Err(e) => tracing::warn!(error = %e, "the local probe task failed"),
                Ok(Ok(())) => {}
            }
        }
        handle.stop(true).await;
        let _ = serving.await;
        collector.stop().await;
        anyhow::Ok(())
    })
}
