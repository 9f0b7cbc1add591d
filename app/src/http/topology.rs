//! `GET /api/topology/{view}`: one rendered view of the window.

use actix_web::{HttpRequest, HttpResponse, web};

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AppState, QueryError, flagged_body, snapshot};
use crate::render;
use crate::window::Degraded;

/// One rendered view of the window: `{"nodes": {id: NodeSummary}}`, with `"degraded"` when the
/// window lacked something. Part-merged delta nodes are removed first, as Scope does.
pub async fn topology(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let view = path.into_inner();
    if !render::VIEWS.contains(&view.as_str()) {
        return Err(QueryError::UnknownTopology(view));
    }
    let snapshot = snapshot(&req, &state).await?;
    let nodes = render::render(&snapshot.report, &view).expect("a known view renders");
    Ok(flagged_body(
        &NodesBody {
            nodes: &nodes,
            degraded: Some(&snapshot.degraded).filter(|d| d.is_degraded()),
        },
        &snapshot.degraded,
    ))
}

/// Serialised straight from the rendered nodes: a view can hold tens of thousands of them, and
/// going through `serde_json::Value` would copy each.
#[derive(Serialize)]
struct NodesBody<'a> {
    nodes: &'a BTreeMap<String, render::NodeSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    degraded: Option<&'a Degraded>,
}
