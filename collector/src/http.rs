//! The collector's HTTP surface: `POST /api/report`, the probe handshake `GET /api`, and
//! `/healthz`, `/readyz`, `/metrics`.

use std::time::Instant;

use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::keys;
use stormscope_shared::report_kind::{ReportKind, ReportTag};
use stormscope_shared::routes::Routes;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits};

use crate::error::IngestError;
use crate::spool::{Record, SpoolError};
use crate::state::CollectorState;
use crate::telemetry;

pub const DEGRADED_HEADER: &str = "X-Stormscope-Degraded";

/// The most a body's buffer holds before any of it arrived, whatever Content-Length says.
const INITIAL_BODY_BUFFER: usize = 64 << 10;

/// Bodies larger than this (as sent) are checked and decoded on a blocking thread: inflating
/// and checking several megabytes would stall every other request of the async worker.
const DECODE_INLINE_BYTES: usize = 256 << 10;

/// Registers every route; `App::new().app_data(state).configure(configure)`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes(&mut Routes::Serve(cfg));
}

/// Every route the collector serves, as (method, path); the API document lists these.
pub fn route_table() -> Vec<(actix_web::http::Method, String)> {
    stormscope_shared::routes::list(routes)
}

/// The collector's routes, declared here and nowhere else.
fn routes(r: &mut Routes) {
    r.post("/api/report", post_report)
        .get("/api", details)
        .get("/healthz", || async {
            HttpResponse::Ok().content_type("text/plain").body("ok\n")
        })
        .get("/readyz", ready)
        .get("/metrics", || async {
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4")
                .body(telemetry::render())
        });
}

fn with_degraded(mut response: HttpResponse, state: &CollectorState) -> HttpResponse {
    let degraded = state.degraded();
    if !degraded.is_empty() {
        let value = actix_web::http::header::HeaderValue::from_str(&degraded.join(","))
            .expect("source names are ASCII");
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-stormscope-degraded"),
            value,
        );
    }
    response
}

async fn post_report(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<CollectorState>,
) -> HttpResponse {
    let started = Instant::now();
    let result = ingest(&req, payload, &state).await;
    let response = match &result {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(e) => {
            metrics::counter!("stormscope_ingest_rejected_total", "reason" => e.reason())
                .increment(1);
            if let IngestError::Decode(d) = e {
                metrics::counter!("stormscope_decode_errors_total", "kind" => d.kind())
                    .increment(1);
            }
            tracing::debug!(error = %e, status = e.status_code().as_u16(), "report refused");
            e.error_response()
        }
    };
    let status = response.status().as_u16().to_string();
    metrics::counter!("stormscope_ingest_requests_total", "status" => status).increment(1);
    metrics::histogram!("stormscope_ingest_seconds").record(started.elapsed().as_secs_f64());
    with_degraded(response, &state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn ingest(
    req: &HttpRequest,
    mut payload: web::Payload,
    state: &CollectorState,
) -> Result<(), IngestError> {
    let headers = req.headers();
    let tenant = state.config.tenancy.resolve(|name| header(headers, name))?;
    let content_type = header(headers, "content-type").unwrap_or("");
    let format = Format::from_content_type(content_type)
        .ok_or_else(|| IngestError::ContentType(content_type.to_owned()))?;
    let compression = Compression::from_content_encoding(header(headers, "content-encoding"));

    let max = state.config.limits.max_compressed_bytes;
    let declared = header(headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(IngestError::BodyTooLarge(max));
    }
    // The buffer grows with what arrives: a client's Content-Length is only a claim, and
    // reserving it up front would let idle connections hold the limit each.
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(INITIAL_BODY_BUFFER));
    let deadline = state.config.body_read_timeout;
    let read = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| IngestError::Body(e.to_string()))?;
            if body.len() + chunk.len() > max {
                return Err(IngestError::BodyTooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| IngestError::BodyTimeout(deadline))??;
    let body = body.freeze();
    metrics::counter!("stormscope_ingest_bytes_total").increment(body.len() as u64);

    let max_nodes = state.config.max_topology_nodes;
    let (stored, kind) = if body.len() > DECODE_INLINE_BYTES {
        let limits = state.config.limits.clone();
        let owner = tenant.clone();
        tokio::task::spawn_blocking(move || {
            store_form(body, compression, format, &limits, max_nodes, &owner)
        })
        .await
        .map_err(|e| IngestError::Internal(format!("decoding the report stopped: {e}")))??
    } else {
        store_form(
            body,
            compression,
            format,
            &state.config.limits,
            max_nodes,
            &tenant,
        )?
    };

    let received_ms = Timestamp::now().unix_millis();
    // Scope's probes name themselves on every request; a report without the header is stored
    // untagged, and readers treat it as any probe's.
    let tag = header(headers, "x-scope-probe-id").map(|probe| ReportTag::new(probe, kind));
    let key = keys::report_key(
        &tenant,
        received_ms,
        &state.config.collector_id,
        state.next_seq(),
        tag.as_ref(),
    );
    let record = Record {
        tenant: tenant.as_str().to_owned(),
        received_ms,
        key: key.clone(),
        body: stored.clone(),
    };
    let appended = state.spool.append(&record).await;
    let refused = if matches!(appended, Err(SpoolError::Full { .. })) {
        record.body.len() as u64 + 512
    } else {
        0
    };
    state
        .refused_bytes
        .store(refused, std::sync::atomic::Ordering::Relaxed);
    let id = appended.map_err(|e| match e {
        SpoolError::Full { bytes, max } => IngestError::SpoolFull { bytes, max },
        other => IngestError::Spool(other.to_string()),
    })?;
    state
        .write_behind
        .enqueue(&tenant, id, stored.len() as u32, received_ms);
    // The report is durable; the cache only makes it visible sooner, so its failure is a
    // degraded signal (recorded by the storage decorators), never a failed ingest.
    if let Err(e) = state.cache.put(&tenant, &key, received_ms, stored).await {
        tracing::debug!(error = %e, "cache write failed");
    }
    Ok(())
}

/// What goes to the spool, cache and object store (gzip msgpack), and the report's kind.
///
/// A probe's own gzip msgpack body is kept byte for byte when Scope's processing (Upgrade,
/// DropTopologiesOver) would not change it: it is only checked, never built, which is most of
/// the collector's CPU saved. Anything else is decoded, processed and re-encoded.
fn store_form(
    body: Bytes,
    compression: Compression,
    format: Format,
    limits: &Limits,
    max_topology_nodes: usize,
    tenant: &TenantId,
) -> Result<(Bytes, ReportKind), IngestError> {
    if compression == Compression::Gzip && format == Format::Msgpack {
        let checked = codec::check(&body, compression, format, limits)?;
        if !checked.may_need_massage(max_topology_nodes) {
            return Ok((body, checked.kind()));
        }
    }
    let mut report = codec::decode(&body, compression, format, limits)?;
    // Told before Scope's processing, which adds part-merged namespace nodes to full reports.
    let kind = report.kind();
    let massaged = report.massage(max_topology_nodes);
    if !massaged.dropped.is_empty() {
        tracing::warn!(tenant = %tenant, dropped = ?massaged.dropped, "report topologies over the node limit were dropped");
        metrics::counter!("stormscope_topologies_dropped_total")
            .increment(massaged.dropped.len() as u64);
    }
    let encoded = codec::encode(&report, Format::Msgpack, Compression::Gzip);
    Ok((Bytes::from(encoded), kind))
}

/// The probe handshake: probes publish nothing until this answers with an `id`.
async fn details(state: web::Data<CollectorState>) -> HttpResponse {
    let body = serde_json::json!({
        "id": state.config.collector_id,
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": state.hostname,
        "plugins": null,
        "capabilities": { "historic_reports": true },
    });
    with_degraded(HttpResponse::Ok().json(body), &state)
}

/// Ready while reports can be accepted durably: an object-store or cache outage does not
/// change that; a full spool, or a spool whose writes fail (a full disk), does.
async fn ready(state: web::Data<CollectorState>) -> HttpResponse {
    let stats = state.spool.stats();
    let reason = if let Some(why) = state.spool.write_failure() {
        Some(format!("spool writes failing: {why}"))
    } else if state.spool_full() {
        Some("spool full".to_owned())
    } else {
        None
    };
    let response = match reason {
        Some(reason) => HttpResponse::ServiceUnavailable().json(
            serde_json::json!({"ready": false, "reason": reason, "spool_bytes": stats.bytes}),
        ),
        None => HttpResponse::Ok().json(serde_json::json!({"ready": true, "spool_bytes": stats.bytes, "backlog": state.write_behind.backlog().records})),
    };
    with_degraded(response, &state)
}
