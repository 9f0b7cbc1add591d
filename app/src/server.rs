//! Starting and running the app in-process: `App::start` builds storage and the window reader,
//! `App::run` serves HTTP on a listener until `shutdown` resolves.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{HttpServer, web};
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::storage::{Health, Storage, StorageError, builder};

use crate::budget::Cache;
use crate::config::AppConfig;
use crate::decoded_cache::DecodedCache;
use crate::http::{self, AppState};
use crate::window::WindowReader;

pub struct App {
    state: web::Data<AppState>,
}

impl App {
    pub fn start(config: AppConfig) -> Result<App, StorageError> {
        Self::start_with_cache(config, None)
    }

    /// As [`App::start`], reading `cache` (written by an in-process collector) instead of the
    /// one the config names.
    pub fn start_with_cache(
        config: AppConfig,
        cache: Option<Arc<dyn Storage>>,
    ) -> Result<App, StorageError> {
        stormscope_shared::telemetry::prometheus();
        let health = Health::new();
        let object_store = builder::object_store(
            &config.object_store,
            config.object_store_timeouts,
            &config.s3_options,
            &health,
        )?;
        let shared_cache = cache.is_some() || !config.memcached.is_empty();
        let cache = match cache {
            Some(shared) => builder::instrumented(shared, &health),
            None => builder::cache(
                &config.memcached,
                config.memcached_config.clone(),
                64 << 20,
                &health,
            ),
        };
        // Between queries (a live window may be read from the cache alone for hours), the
        // object store's health is kept current by a check of its own, so that `/api/status`
        // tells the truth. Without a runtime (a program embedding the app) there is none.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(stormscope_shared::storage::health::watch(
                Arc::downgrade(&object_store),
                health.clone(),
                "health/stormscope-app-probe",
            ));
        }
        let ingest = crate::ingest::IngestView::new(shared_cache.then(|| cache.clone()));
        let reader = WindowReader {
            cache: ReportCache::new(cache, config.cache_ttl),
            object_store,
            decoded: DecodedCache::new(config.memory_budget.share(Cache::DecodedReports)),
            cache_ttl: config.cache_ttl,
            max_flush_lag: config.max_flush_lag,
            limits: config.limits.clone(),
            shared_cache,
        };
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        let state = web::Data::new(AppState {
            reader,
            live: Default::default(),
            rendered: crate::rendered::RenderedViews::new("view", 32).with_budget(
                config.memory_budget.share(Cache::Renders),
                crate::size::view,
            ),
            registries: crate::rendered::Rendered::new("registry", 8),
            kept_heads: crate::kept_heads::KeptHeads::new(
                config.memory_budget.share(Cache::KeptHeads),
            ),
            quanta: crate::quanta::MergedQuanta::new(config.memory_budget.share(Cache::Quanta)),
            budget: config.memory_budget,
            sockets: crate::sockets::Sockets::new(config.websockets),
            ticks: Default::default(),
            tenancy: config.tenancy,
            window: config.window,
            hostname,
            health,
            ingest,
            ui_events: Default::default(),
        });
        evict_on_a_timer(&state);
        Ok(App { state })
    }

    /// The app's routes and state, for an actix `App` of one's own (the standalone process
    /// serves the collector and the app on one listener).
    pub fn configure(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        let state = self.state.clone();
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(state.clone()).configure(http::configure);
        }
    }

    pub async fn run(
        self,
        listener: TcpListener,
        workers: usize,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let configure = self.configure();
        let server = HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(workers.max(1))
            .disable_signals()
            // A view is sent in chunks and its last one is short: with Nagle's algorithm on,
            // that one waited for the client's delayed ACK, 30-40 ms on every answer.
            .tcp_nodelay(true)
            .listen(listener)?
            .run();
        let handle = server.handle();
        let serving = tokio::spawn(server);
        shutdown.await;
        handle.stop(true).await;
        let _ = serving.await;
        Ok(())
    }
}

/// Idle tenants' live windows are dropped every few seconds, not only when some query comes:
/// an app whose tenants went quiet gives their memory back. The thread ends with the app.
fn evict_on_a_timer(state: &web::Data<AppState>) {
    let state = Arc::downgrade(&**state);
    std::thread::Builder::new()
        .name("live-evictor".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                let Some(state) = state.upgrade() else { break };
                state.live.evict(state.budget.share(Cache::LiveWindows));
            }
        })
        .expect("spawning a thread");
}
