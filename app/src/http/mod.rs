//! The app's HTTP surface. Every answer built from reports says whether it is degraded: the
//! `X-Stormscope-Degraded` header, and a `"degraded"` object in JSON bodies. Handlers live in
//! one file per area; this module holds what they share: the state, the error mapping, and
//! reading a tenant's window.

mod details;
mod raw;
mod status;
mod topologies;
mod topology;
mod ui;
mod ui_events;
mod ws;
mod ws_frames;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use stormscope_shared::Report;
use stormscope_shared::merge::fast_merge;
use stormscope_shared::routes::Routes;
use stormscope_shared::tenancy::{Tenancy, TenancyError, TenantId};
use stormscope_shared::time::Timestamp;

use crate::rendered::{Nodes, ViewKey};
use crate::window::{Degraded, Window, WindowReader};

pub struct AppState {
    pub reader: WindowReader,
    /// Live windows kept merged between queries.
    pub live: crate::live::LiveWindows,
    /// Merged quanta for history.
    pub quanta: crate::quanta::MergedQuanta,
    /// Views rendered from live windows, shared by requests that ask for the same.
    pub rendered: crate::rendered::RenderedViews,
    /// Each tenant's latest heads of the views that take them over, for the next render.
    pub kept_heads: crate::kept_heads::KeptHeads,
    /// `/api/topology` answers (every view rendered for its stats), shared the same way.
    pub registries: crate::rendered::Rendered<Vec<crate::render::TopologyDesc>>,
    /// Open websockets and their caps.
    pub sockets: Arc<crate::sockets::Sockets>,
    /// Live windows read once per tenant per websocket tick.
    pub ticks: crate::ticks::SharedTicks<Snapshot>,
    pub tenancy: Tenancy,
    /// The byte budget the caches share.
    pub budget: crate::budget::MemoryBudget,
    pub window: Duration,
    pub hostname: String,
    /// Which storage sources are failing, as the storage decorators see every call.
    pub health: stormscope_shared::storage::Health,
    /// The collectors' health records.
    pub ingest: crate::ingest::IngestView,
    /// Rate limits of `POST /api/ui/events`.
    pub ui_events: ui_events::UiEvents,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    routes(&mut Routes::Serve(cfg));
    // Errors extracting a path (an id that is not UTF-8 once decoded) answer in JSON too.
    cfg.app_data(
        web::PathConfig::default().error_handler(|e, _| QueryError::BadPath(e.to_string()).into()),
    );
}

/// Every route the app serves, as (method, path); the API document lists exactly these.
pub fn route_table() -> Vec<(actix_web::http::Method, String)> {
    stormscope_shared::routes::list(routes)
}

/// The app's routes. Every route is declared here and nowhere else, and documented in
/// `openapi.json` (a test compares the two).
fn routes(r: &mut Routes) {
    r.get("/", ui::index)
        .get("/index.html", ui::index)
        .get("/assets/{file}", ui::asset)
        .get_gzipped("/api", raw::details)
        .get_gzipped("/api/openapi.json", openapi)
        .get_gzipped("/api/report", raw::report)
        .get_gzipped("/api/probes", raw::probes)
        .get_gzipped("/api/topology", topologies::topologies)
        .get_gzipped("/api/topology/{topology}", topology::topology)
        // Before `{id}`, which would take `ws` for a node id.
        .get("/api/topology/{topology}/ws", ws::topology)
        .get_gzipped("/api/topology/{topology}/{id}", details::node)
        .get_gzipped("/api/status", status::status)
        .post("/api/ui/events", ui_events::post)
        .get("/healthz", || async {
            HttpResponse::Ok().content_type("text/plain").body("ok\n")
        })
        .get("/metrics", || async {
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4")
                .body(stormscope_shared::telemetry::render())
        })
        .get("/readyz", ready);
}

/// The HTTP API's OpenAPI document: Scope's routes, Stormscope's additions, and the
/// collector's `POST /api/report`.
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// How long `/readyz` waits for each source: a hung object store must not hang the probe
/// that is meant to notice it.
const READY_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Ready when the app can answer from something: its config is loaded (it is serving) and it
/// can reach the cache it shares with the collectors or the object store. With neither it
/// still answers queries, empty and flagged, but a load balancer should prefer another app.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let reader = &state.reader;
    let reach = |storage: &Arc<dyn stormscope_shared::storage::Storage>, key: &'static str| {
        let storage = storage.clone();
        async move {
            matches!(
                tokio::time::timeout(READY_CHECK_TIMEOUT, storage.get(key)).await,
                Ok(Ok(_))
            )
        }
    };
    // An app without a shared cache reads every window from the object store: its private
    // cache answering says nothing about whether it has data.
    let cache = async {
        reader.shared_cache && reach(reader.cache.storage(), "health/stormscope-app").await
    };
    let object_store = reach(&reader.object_store, "health/stormscope-app");
    let (cache, object_store) = futures::join!(cache, object_store);
    let body = serde_json::json!({
        "ready": cache || object_store,
        "cache": cache,
        "object_store": object_store,
    });
    if cache || object_store {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Every way a query can be refused, and the one place that maps them to HTTP.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Tenancy(#[from] TenancyError),
    #[error("invalid timestamp: {0}")]
    Timestamp(String),
    #[error("unknown topology {0:?}")]
    UnknownTopology(String),
    #[error("no node {0:?} in this topology")]
    UnknownNode(String),
    #[error("invalid interval t={0:?}: want a duration like 5s or 500ms, at most 60s")]
    Interval(String),
    #[error("too many open websockets: {}", match .0 {
        crate::sockets::Refused::Tenant(n) => format!("this tenant has {n}, the most allowed"),
        crate::sockets::Refused::Global(n) => format!("this server has {n}, the most allowed"),
    })]
    TooManySockets(crate::sockets::Refused),
    #[error("not a websocket request: {0}")]
    Handshake(String),
    #[error("invalid path: {0}")]
    BadPath(String),
    /// A render that did not finish (it panicked, or the runtime is stopping): a bug or a
    /// shutdown, never the client's doing.
    #[error("rendering the view failed")]
    RenderFailed,
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("invalid events: {0}")]
    BadEvents(String),
    #[error("{0} events in one request; at most {max}", max = ui_events::MAX_EVENTS)]
    TooManyEvents(usize),
    #[error("unknown event kind {0:?}; known: {known}", known = ui_events::KINDS.join(", "))]
    UnknownEventKind(String),
    /// Too many requests from one client; the number is the seconds to wait.
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
}

impl QueryError {
    /// A short name for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            QueryError::Tenancy(_) => "tenant",
            QueryError::Timestamp(_) => "timestamp",
            QueryError::UnknownTopology(_) => "unknown-topology",
            QueryError::UnknownNode(_) => "unknown-node",
            QueryError::Interval(_) => "interval",
            QueryError::Handshake(_) => "handshake",
            QueryError::RenderFailed => "render-failed",
            QueryError::BodyTooLarge(_) => "too-large",
            QueryError::BadEvents(_) => "bad-json",
            QueryError::TooManyEvents(_) => "too-many-events",
            QueryError::UnknownEventKind(_) => "unknown-kind",
            QueryError::RateLimited(_) => "rate-limited",
            QueryError::TooManySockets(_) => "too-many-sockets",
            QueryError::BadPath(_) => "bad-path",
        }
    }
}

impl ResponseError for QueryError {
    fn status_code(&self) -> StatusCode {
        match self {
            QueryError::Tenancy(TenancyError::InvalidTenant(_))
            | QueryError::Timestamp(_)
            | QueryError::Interval(_)
            | QueryError::Handshake(_)
            | QueryError::BadEvents(_)
            | QueryError::TooManyEvents(_)
            | QueryError::UnknownEventKind(_)
            | QueryError::BadPath(_) => StatusCode::BAD_REQUEST,
            QueryError::Tenancy(_) => StatusCode::UNAUTHORIZED,
            QueryError::UnknownTopology(_) | QueryError::UnknownNode(_) => StatusCode::NOT_FOUND,
            QueryError::TooManySockets(_) => StatusCode::TOO_MANY_REQUESTS,
            QueryError::RenderFailed => StatusCode::INTERNAL_SERVER_ERROR,
            QueryError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            QueryError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let QueryError::RateLimited(seconds) = self {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        response.json(serde_json::json!({ "error": self.to_string() }))
    }
}

fn tenant(req: &HttpRequest, state: &AppState) -> Result<TenantId, QueryError> {
    Ok(state
        .tenancy
        .resolve(|name| req.headers().get(name).and_then(|v| v.to_str().ok()))?)
}

/// A query parameter, `None` when absent or empty.
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()?
        .into_inner()
        .remove(name)
        .filter(|v| !v.is_empty())
}

/// How far ahead of this host's clock a `?timestamp=` may be: a browser's clock a little
/// ahead of the app's is normal, a moment that has not happened yet is a mistake.
pub const CLOCK_SKEW_MS: i64 = 5_000;

/// `?timestamp=RFC3339` for history; `None` for now. Scope reads an unparseable one as zero
/// time; an explicit 400 tells the caller instead. A moment later than now (beyond
/// [`CLOCK_SKEW_MS`]) is refused: it would pass for a live query and rebuild the tenant's
/// merged window from whatever little it found.
fn timestamp_ms(req: &HttpRequest) -> Result<Option<i64>, QueryError> {
    query_param(req, "timestamp")
        .map(|t| {
            let ms = Timestamp::parse_rfc3339(&t)
                .map(Timestamp::unix_millis)
                .map_err(|e| QueryError::Timestamp(e.to_string()))?;
            if ms > Timestamp::now().unix_millis() + CLOCK_SKEW_MS {
                return Err(QueryError::Timestamp(format!(
                    "{t} is in the future (more than {} s ahead of this server's clock)",
                    CLOCK_SKEW_MS / 1000
                )));
            }
            Ok(ms)
        })
        .transpose()
}

fn end_ms(req: &HttpRequest) -> Result<i64, QueryError> {
    Ok(timestamp_ms(req)?.unwrap_or_else(|| Timestamp::now().unix_millis()))
}

async fn window(req: &HttpRequest, state: &AppState) -> Result<(Window, TenantId), QueryError> {
    let tenant = tenant(req, state)?;
    let end = end_ms(req)?;
    let mut window = state.reader.read(&tenant, end, state.window).await;
    window.degraded = state.completed(window.degraded).await;
    Ok((window, tenant))
}

fn flagged(mut response: HttpResponse, degraded: &Degraded) -> HttpResponse {
    let sources = degraded.header_tokens();
    if !sources.is_empty() {
        let value = HeaderValue::from_str(&sources.join(",")).expect("ASCII source names");
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-stormscope-degraded"), value);
    }
    response
}

fn merged(window: &Window) -> Report {
    fast_merge(window.reports.iter().map(|(_, r)| Arc::as_ref(r)))
}

/// A tenant's window merged and ready to render: part-merged delta nodes removed, as Scope
/// does before rendering.
pub struct Snapshot {
    pub report: Arc<Report>,
    /// The live window's version and what changed in it (see [`crate::live`]); `None` for
    /// history.
    pub lineage: Option<crate::live::Lineage>,
    pub degraded: Degraded,
    pub tenant: TenantId,
}

impl Snapshot {
    /// The live window's version; `None` for history.
    pub fn version(&self) -> Option<u64> {
        self.lineage.as_ref().map(crate::live::Lineage::version)
    }
}

/// Reads and merges the window a request asks for (its tenant, `?timestamp=`). Live windows
/// come from the tenant's live state, which merges only what is new; history from merged
/// quanta.
async fn snapshot(req: &HttpRequest, state: &AppState) -> Result<Snapshot, QueryError> {
    let tenant = tenant(req, state)?;
    let end = end_ms(req)?;
    Ok(snapshot_at(state, tenant, end).await)
}

/// The window of `tenant` ending at `end` (unix ms), merged.
async fn snapshot_at(state: &AppState, tenant: TenantId, end: i64) -> Snapshot {
    // A timestamp within the clock-skew allowance is now: the live window never ends later.
    let end = end.min(Timestamp::now().unix_millis());
    let live = end >= Timestamp::now().unix_millis() - crate::quanta::QUANTUM_MS;
    let start = end - state.window.as_millis() as i64;
    if live {
        // The live state keeps the window's bodies as stored, so only new ones are fetched.
        let held = state.live.held(&tenant);
        let first = !state.live.has_state(&tenant);
        if let Some(stored) = state
            .reader
            .read_stored(&tenant, end, state.window, &held, first)
            .await
        {
            let (report, lineage, partial) = state.live.merged_from_bodies(
                &tenant,
                &stored.keys,
                stored.fresh,
                start,
                &state.reader.limits,
            );
            state
                .live
                .evict(state.budget.share(crate::budget::Cache::LiveWindows));
            let mut degraded = state.completed(stored.degraded).await;
            degraded.partial_window = partial;
            return Snapshot {
                report,
                lineage: Some(lineage),
                degraded,
                tenant,
            };
        }
    }
    let window = state.reader.read(&tenant, end, state.window).await;
    let (report, lineage) = if live {
        let (report, lineage) = state.live.merged_versioned(
            &tenant,
            &window.reports,
            end - state.window.as_millis() as i64,
        );
        (report, Some(lineage))
    } else {
        let mut report = state.quanta.merge(&tenant, end, &window.reports);
        report.remove_part_merged_nodes();
        (Arc::new(report), None)
    };
    Snapshot {
        report,
        lineage,
        degraded: state.completed(window.degraded).await,
        tenant,
    }
}

impl AppState {
    /// What a window read found lacking, completed with what the app knows beyond the read:
    /// since when each failing source fails, and the collectors that report failing.
    async fn completed(&self, mut degraded: Degraded) -> Degraded {
        let since = self.health.failing_since();
        for source in &degraded.sources {
            // A source the read saw fail but that no storage call counted as down (an error
            // that is not an outage) has no earlier start than now.
            let at = since.get(source).copied().unwrap_or_else(Timestamp::now);
            degraded.since.insert(source, at);
        }
        degraded.ingest = self.ingest.failing().await;
        degraded
    }

    /// View `view` of `snapshot` for a request with query string `query`: a render shared
    /// with other requests for the same, or rendered anew, taking over what it can from the
    /// tenant's latest render of the view.
    fn rendered_view(&self, snapshot: &Snapshot, view: &str, query: &str) -> Arc<Nodes> {
        let options = crate::render::Options::from_query(query);
        let key = snapshot.version().map(|v| {
            let normalised = crate::render::render_key(&snapshot.report, &[view], &options);
            ViewKey::new(&snapshot.tenant, v, view, normalised)
        });
        self.rendered.get_or_render(key, || {
            let lineage = snapshot.lineage.as_ref();
            self.kept_heads
                .render(&snapshot.tenant, &snapshot.report, lineage, view, &options)
                .expect("a known view renders")
                .nodes
        })
    }
}

/// A JSON body with the `"degraded"` object added when the answer lacks something, and the
/// header set to match.
fn json_flagged(mut body: serde_json::Value, degraded: &Degraded) -> HttpResponse {
    if degraded.is_degraded() {
        body["degraded"] = serde_json::to_value(degraded).expect("serialises");
    }
    flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(body),
        degraded,
    )
}
