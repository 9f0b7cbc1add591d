//! `GET /api`, the merged raw report and the probe list.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::model::keys;
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, TopologyKind};

use super::{AppState, QueryError, flagged, merged, snapshot, window};

pub async fn details(state: web::Data<AppState>) -> HttpResponse {
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
pub async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let (window, _) = window(&req, &state).await?;
    let wants_msgpack = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/msgpack"));
    // Merging a whole window and writing it out takes long enough to stall every other
    // request of this worker: on a blocking thread.
    let (window, body) = web::block(move || {
        let report = merged(&window);
        let body = if wants_msgpack {
            codec::encode(&report, Format::Msgpack, Compression::Identity)
        } else {
            let mut value = serde_json::to_value(&report).expect("reports serialise");
            if window.degraded.is_degraded() {
                value["degraded"] = serde_json::to_value(&window.degraded).expect("serialises");
            }
            serde_json::to_vec(&value).expect("JSON values serialise")
        };
        (window, body)
    })
    .await
    .map_err(|_| QueryError::RenderFailed)?;
    let response = if wants_msgpack {
        HttpResponse::Ok()
            .content_type("application/msgpack")
            .body(body)
    } else {
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .content_type("application/json")
            .body(body)
    };
    Ok(flagged(response, &window.degraded))
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
pub async fn probes(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    if req
        .query_string()
        .split('&')
        .any(|p| p == "sparse" || p.starts_with("sparse="))
    {
        let (window, _) = window(&req, &state).await?;
        return Ok(flagged(
            HttpResponse::Ok().json(!window.reports.is_empty()),
            &window.degraded,
        ));
    }
    // The live window the views use, merged once for all of them, rather than the whole
    // window merged again for each call.
    let snapshot = snapshot(&req, &state).await?;
    let (report, degraded) = (&snapshot.report, &snapshot.degraded);
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
    Ok(flagged(HttpResponse::Ok().json(probes), degraded))
}
