//! `GET /api/status`: how the app and the collectors are doing, for the UI's banner and status
//! bar, without reading any window: the storage clients' health as their last calls left it
//! (and the app's background check of the object store), and the collectors' health records.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{AppState, QueryError, flagged, tenant};
use crate::window::Degraded;

/// The storage sources the app reads, in the order the answer lists them.
const SOURCES: [&str; 2] = ["cache", "object-store"];

pub async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    // Resolved only to refuse what other routes refuse; nothing here is per tenant.
    tenant(&req, &state)?;
    // The records first: reading them is also a cache call, which updates the cache's health.
    let ingest = state.ingest.all().await;
    let failing = state.health.failing_since();
    let sources: serde_json::Map<String, serde_json::Value> = SOURCES
        .iter()
        .map(|s| {
            let value = if failing.contains_key(s) {
                "failing"
            } else {
                "ok"
            };
            ((*s).to_owned(), json!(value))
        })
        .collect();
    let degraded = Degraded {
        sources: SOURCES
            .into_iter()
            .filter(|s| failing.contains_key(s))
            .collect(),
        missing_reports: 0,
        since: failing
            .iter()
            .filter(|(s, _)| SOURCES.contains(*s))
            .map(|(s, t)| (*s, *t))
            .collect(),
        ingest: ingest.iter().filter(|r| r.is_failing()).cloned().collect(),
        partial_window: false,
    };
    let body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "hostname": state.hostname,
        "window": humantime::format_duration(state.window).to_string(),
        "degraded": degraded.is_degraded().then_some(&degraded),
        "sources": sources,
        "ingest": &*ingest,
    });
    Ok(flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(body),
        &degraded,
    ))
}
