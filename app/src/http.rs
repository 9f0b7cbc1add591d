//! The app's HTTP surface so far: `GET /api`, `GET /api/report`, `GET /api/probes`, and
//! `/healthz`, `/readyz`. Every answer built from reports says whether it is degraded: the
//! `X-Stormscope-Degraded` header, and a `"degraded"` object in report bodies.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::merge::fast_merge;
use stormscope_shared::model::keys;
use stormscope_shared::tenancy::{Tenancy, TenancyError, TenantId};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Report, TopologyKind};

use crate::render;
use crate::window::{Degraded, Window, WindowReader};

pub struct AppState {
    pub reader: WindowReader,
    pub tenancy: Tenancy,
    pub window: Duration,
    pub hostname: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api", web::get().to(details))
        .route("/api/report", web::get().to(report))
        .route("/api/probes", web::get().to(probes))
        .route("/api/topology/{topology}", web::get().to(topology))
        .route(
            "/healthz",
            web::get().to(|| async { HttpResponse::Ok().body("ok\n") }),
        )
        .route(
            "/readyz",
            web::get().to(|| async { HttpResponse::Ok().body("ok\n") }),
        );
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
}

impl ResponseError for QueryError {
    fn status_code(&self) -> StatusCode {
        match self {
            QueryError::Tenancy(TenancyError::InvalidTenant(_)) | QueryError::Timestamp(_) => {
                StatusCode::BAD_REQUEST
            }
            QueryError::Tenancy(_) => StatusCode::UNAUTHORIZED,
            QueryError::UnknownTopology(_) => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

fn tenant(req: &HttpRequest, state: &AppState) -> Result<TenantId, QueryError> {
    Ok(state
        .tenancy
        .resolve(|name| req.headers().get(name).and_then(|v| v.to_str().ok()))?)
}

/// `?timestamp=RFC3339` for history; now otherwise. Scope reads an unparseable one as zero
/// time; an explicit 400 tells the caller instead.
fn end_ms(req: &HttpRequest) -> Result<i64, QueryError> {
    let query =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.into_inner())
            .unwrap_or_default();
    match query.get("timestamp").filter(|t| !t.is_empty()) {
        None => Ok(Timestamp::now().unix_millis()),
        Some(t) => Timestamp::parse_rfc3339(t)
            .map(Timestamp::unix_millis)
            .map_err(|e| QueryError::Timestamp(e.to_string())),
    }
}

async fn window(req: &HttpRequest, state: &AppState) -> Result<(Window, TenantId), QueryError> {
    let tenant = tenant(req, state)?;
    let end = end_ms(req)?;
    Ok((state.reader.read(&tenant, end, state.window).await, tenant))
}

fn flagged(mut response: HttpResponse, degraded: &Degraded) -> HttpResponse {
    let mut sources: Vec<&str> = degraded.sources.clone();
    if degraded.missing_reports > 0 {
        sources.push("missing-reports");
    }
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

async fn details(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": state.hostname,
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": state.hostname,
        "plugins": null,
        "capabilities": { "historic_reports": true },
    }))
}

/// The merged raw report of the window, as Scope serves it: msgpack (not gzipped) when asked
/// with `Accept: application/msgpack`, JSON otherwise, with a `"degraded"` key in JSON.
async fn report(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, QueryError> {
    let (window, _) = window(&req, &state).await?;
    let report = merged(&window);
    let wants_msgpack = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/msgpack"));
    let response = if wants_msgpack {
        HttpResponse::Ok()
            .content_type("application/msgpack")
            .body(codec::encode(
                &report,
                Format::Msgpack,
                Compression::Identity,
            ))
    } else {
        let mut value = serde_json::to_value(&report).expect("reports serialise");
        if window.degraded.is_degraded() {
            value["degraded"] = serde_json::to_value(&window.degraded).expect("serialises");
        }
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(value)
    };
    Ok(flagged(response, &window.degraded))
}

/// One rendered view of the window: `{"nodes": {id: NodeSummary}}`, with `"degraded"` when the
/// window lacked something. Part-merged delta nodes are removed first, as Scope does.
async fn topology(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let view = path.into_inner();
    if !render::VIEWS.contains(&view.as_str()) {
        return Err(QueryError::UnknownTopology(view));
    }
    let (window, _) = window(&req, &state).await?;
    let mut report = merged(&window);
    report.remove_part_merged_nodes();
    let nodes = render::render(&report, &view).expect("a known view renders");
    let mut body = serde_json::json!({ "nodes": nodes });
    if window.degraded.is_degraded() {
        body["degraded"] = serde_json::to_value(&window.degraded).expect("serialises");
    }
    Ok(flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(body),
        &window.degraded,
    ))
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct ProbeDesc {
    id: String,
    hostname: String,
    version: String,
    #[serde(rename = "lastSeen")]
    last_seen: Timestamp,
}

/// The probes seen in the window, from the Host nodes they report: `[{"id", "hostname",
/// "version", "lastSeen"}]`, or with `?sparse` only whether there are any.
async fn probes(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, QueryError> {
    let (window, _) = window(&req, &state).await?;
    if req
        .query_string()
        .split('&')
        .any(|p| p == "sparse" || p.starts_with("sparse="))
    {
        return Ok(flagged(
            HttpResponse::Ok().json(!window.reports.is_empty()),
            &window.degraded,
        ));
    }
    let report = merged(&window);
    let mut probes: Vec<ProbeDesc> = report
        .topology(TopologyKind::Host)
        .nodes
        .values()
        .map(|n| {
            let version = n.latest.get("host_scope_version");
            ProbeDesc {
                id: n
                    .latest_value(keys::CONTROL_PROBE_ID)
                    .unwrap_or_default()
                    .to_owned(),
                hostname: n
                    .latest_value(keys::HOST_NAME)
                    .unwrap_or_default()
                    .to_owned(),
                version: version.map(|e| e.value.clone()).unwrap_or_default(),
                last_seen: version.map(|e| e.timestamp).unwrap_or_default(),
            }
        })
        .collect();
    probes.sort_by(|a, b| (&a.id, &a.hostname).cmp(&(&b.id, &b.hostname)));
    Ok(flagged(HttpResponse::Ok().json(probes), &window.degraded))
}
