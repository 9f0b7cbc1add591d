//! `GET /api/topology/{view}/{id}`: one node of a view in detail.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, QueryError, json_flagged, snapshot};
use crate::render;

/// `{"node": DetailedNode}`, with `"degraded"` when the window lacked something; 404 when the
/// view is unknown or does not render the node. The query string's topology options filter
/// the view the node's connections are found in, but a node they filter out still answers,
/// as in Scope.
///
/// The UI sends ids through `encodeURIComponent`, and ids hold `;`, `<`, `>` and `/` (a
/// process name is a path). Actix matches routes on a path that keeps `%2F` (and `%25`)
/// encoded, so an encoded `/` stays inside the `{id}` segment, and decodes each segment once
/// on extraction: the same split-then-unescape Scope's URL matcher does.
pub async fn node(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let (view, id) = path.into_inner();
    if !render::VIEWS.contains(&view.as_str()) {
        return Err(QueryError::UnknownTopology(view));
    }
    let snapshot = snapshot(&req, &state).await?;
    let options = render::Options::from_query(req.query_string());
    // Details render the whole view to find the node's connections: on a blocking thread,
    // as views are.
    let (node, snapshot) = web::block(move || {
        let node = render::details_with(&snapshot.report, &view, &id, &options)
            .ok_or(QueryError::UnknownNode(id));
        (node, snapshot)
    })
    .await
    .map_err(|_| QueryError::RenderFailed)?;
    let node = node?;
    Ok(json_flagged(
        serde_json::json!({ "node": node }),
        &snapshot.degraded,
    ))
}
