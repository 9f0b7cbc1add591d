//! Starting and running a collector: `Collector::start` opens the spool and storage and starts
//! the background tasks; `Collector::run` serves HTTP on a listener until `shutdown` resolves.
//! Both are plain library calls, so tests run collectors in-process.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::retry::Retry;
use stormscope_shared::storage::{Health, Storage, builder};
use stormscope_shared::time::Timestamp;
use tokio::task::JoinHandle;

use crate::config::CollectorConfig;
use crate::http;
use crate::spool::{Spool, SpoolConfig};
use crate::state::CollectorState;
use crate::write_behind::{WriteBehind, WriteBehindConfig};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("opening the spool in {dir}: {source}")]
    Spool { dir: String, source: std::io::Error },
    #[error("object store: {0}")]
    ObjectStore(#[from] stormscope_shared::storage::StorageError),
    #[error("serving HTTP: {0}")]
    Http(#[from] std::io::Error),
}

pub struct Collector {
    state: web::Data<CollectorState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Collector {
    pub async fn start(config: CollectorConfig) -> Result<Collector, StartError> {
        Self::start_with_cache(config, None).await
    }

    /// As [`Collector::start`], writing to `cache` instead of the one the config names: an
    /// in-process cache shared with an in-process app (`stormscope standalone`).
    pub async fn start_with_cache(
        config: CollectorConfig,
        cache: Option<Arc<dyn Storage>>,
    ) -> Result<Collector, StartError> {
        crate::telemetry::prometheus();
        let health = Health::new();
        let object_store = builder::object_store(
            &config.object_store,
            config.object_store_timeouts,
            &config.s3_options,
            &health,
        )?;
        let cache_storage = match cache {
            Some(shared) => builder::instrumented(shared, &health),
            None => builder::cache(
                &config.memcached,
                config.memcached_config.clone(),
                config.local_cache_bytes,
                &health,
            ),
        };
        let cache = ReportCache::new(cache_storage, config.cache_ttl);

        let spool_config = SpoolConfig {
            dir: config.spool_dir.clone(),
            max_bytes: config.spool_max_bytes,
            // The file being written is only deleted after it rotates, so files are kept small
            // against the limit: a drained spool then always has room again.
            file_bytes: (config.spool_max_bytes / 8).clamp(4 << 10, 64 << 20),
        };
        let dir = config.spool_dir.display().to_string();
        let (spool, replayed) = tokio::task::spawn_blocking(move || Spool::open(spool_config))
            .await
            .expect("spool open does not panic")
            .map_err(|source| StartError::Spool { dir, source })?;
        let spool = Arc::new(spool);
        if !replayed.records.is_empty() || replayed.torn_tails > 0 || replayed.corrupt_frames > 0 {
            tracing::warn!(
                records = replayed.records.len(),
                torn_tails = replayed.torn_tails,
                corrupt_frames = replayed.corrupt_frames,
                "replaying the spool: these reports were acknowledged but not yet in the object store"
            );
        }
        metrics::counter!("stormscope_spool_replayed_records_total")
            .increment(replayed.records.len() as u64);
        metrics::counter!("stormscope_spool_torn_tails_total").increment(replayed.torn_tails);
        metrics::counter!("stormscope_spool_corrupt_frames_total")
            .increment(replayed.corrupt_frames);

        let wb_config = WriteBehindConfig {
            collector_id: config.collector_id.clone(),
            flush_interval: config.flush_interval,
            segment_max_bytes: config.segment_max_bytes,
            upload_concurrency: config.upload_concurrency,
            retry: Retry {
                base: Duration::from_millis(200),
                max: Duration::from_secs(10),
                attempts: 0,
                jitter: 0.3,
            },
        };
        let (write_behind, mut tasks) = WriteBehind::start(
            spool.clone(),
            object_store.clone(),
            wb_config,
            replayed.records,
        );
        let state = web::Data::new(CollectorState {
            config,
            spool,
            cache,
            object_store,
            write_behind,
            health,
            next_seq: AtomicU64::new(Timestamp::now().unix_millis().max(0) as u64 * 1000),
            hostname: hostname(),
            refused_bytes: Default::default(),
        });
        tasks.push(tokio::spawn(publish_spool_metrics(state.clone())));
        tasks.push(tokio::spawn(stormscope_shared::storage::health::watch(
            Arc::downgrade(&state.object_store),
            state.health.clone(),
            "health/stormscope-collector-probe",
        )));
        tasks.push(tokio::spawn(crate::ingest_health::publish(state.clone())));
        Ok(Collector { state, tasks })
    }

    pub fn state(&self) -> &CollectorState {
        &self.state
    }

    /// The collector's routes and state, for an actix `App` of one's own (the standalone
    /// process serves the collector and the app on one listener).
    pub fn configure(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        let state = self.state.clone();
        move |cfg: &mut web::ServiceConfig| {
            let limit = state.config.limits.max_compressed_bytes;
            cfg.app_data(state.clone())
                .app_data(web::PayloadConfig::new(limit))
                .configure(http::configure);
        }
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish,
    /// and drains the write-behind ([`Collector::stop`]).
    pub async fn run(
        self,
        listener: TcpListener,
        workers: usize,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StartError> {
        let configure = self.configure();
        let server = HttpServer::new(move || App::new().configure(configure.clone()))
            .workers(workers.max(1))
            .disable_signals()
            .listen(listener)?
            .run();
        let handle = server.handle();
        let serving = tokio::spawn(server);
        shutdown.await;
        handle.stop(true).await;
        let _ = serving.await;
        self.stop().await;
        Ok(())
    }

    /// Tries to drain the write-behind for a few seconds (the spool keeps the rest for the
    /// next start), then stops the background tasks.
    pub async fn stop(self) {
        if !self.state.write_behind.drain(Duration::from_secs(5)).await {
            tracing::warn!(backlog = ?self.state.write_behind.backlog(), "stopping with a backlog; the spool keeps it for the next start");
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn publish_spool_metrics(state: web::Data<CollectorState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if state.spool.write_failure().is_some() {
            let spool = state.spool.clone();
            // About one report's worth: room for that is room to accept again.
            let _ = tokio::task::spawn_blocking(move || spool.recheck_writes(64 << 10)).await;
        }
        metrics::gauge!("stormscope_spool_write_failing").set(
            if state.spool.write_failure().is_some() {
                1.0
            } else {
                0.0
            },
        );
        let stats = state.spool.stats();
        metrics::gauge!("stormscope_spool_bytes").set(stats.bytes as f64);
        metrics::gauge!("stormscope_spool_files").set(stats.files as f64);
        metrics::gauge!("stormscope_spool_pending_records").set(stats.pending_records as f64);
        metrics::gauge!("stormscope_spool_full").set(if state.spool_full() { 1.0 } else { 0.0 });
        // The fill ratio's denominator, so that alerts need no copy of the flag.
        metrics::gauge!("stormscope_spool_max_bytes").set(state.config.spool_max_bytes as f64);
        state.write_behind.publish_backlog();
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
