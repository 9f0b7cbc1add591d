//! `GET /api/topology/{view}`: one rendered view of the window.

use std::time::Instant;

use actix_web::body::SizedStream;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, QueryError, flagged, snapshot};
use crate::render;

/// One rendered view of the window: `{"nodes": {id: NodeSummary}}`, with `"degraded"` when the
/// window lacked something. Part-merged delta nodes are removed first, as Scope does; the
/// query string's topology options filter the view.
pub async fn topology(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let view = path.into_inner();
    if !render::VIEWS.contains(&view.as_str()) {
        return Err(QueryError::UnknownTopology(view));
    }
    let started = Instant::now();
    let snapshot = snapshot(&req, &state).await?;
    let merged = Instant::now();
    let query = req.query_string().to_owned();
    let render_state = state.clone();
    let render_view = view.clone();
    // Off the worker thread: a large view takes long enough to stall the worker's other
    // requests.
    let (nodes, snapshot) = web::block(move || {
        let nodes = render_state.rendered_view(&snapshot, &render_view, &query);
        (nodes, snapshot)
    })
    .await
    .map_err(|_| QueryError::RenderFailed)?;
    let rendered = Instant::now();
    let body = render::ViewBody::new(nodes, &snapshot.degraded);
    let elapsed = started.elapsed();
    let ms = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64() * 1000.0;
    let timing = format!(
        "app;dur={:.1}, window;dur={:.1}, render;dur={:.1}, json;dur={:.1}",
        elapsed.as_secs_f64() * 1000.0,
        ms(started, merged),
        ms(merged, rendered),
        ms(rendered, Instant::now()),
    );
    metrics::histogram!("stormscope_app_query_seconds", "route" => "topology", "view" => view)
        .record(elapsed.as_secs_f64());
    Ok(flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            // How long the answer took to make (reading and merging the window, rendering,
            // writing JSON), for clients and load tests to tell it from moving it.
            .insert_header(("Server-Timing", timing))
            .content_type("application/json")
            .body(SizedStream::new(
                body.len(),
                futures::stream::iter(body.map(Ok::<_, std::convert::Infallible>)),
            )),
        &snapshot.degraded,
    ))
}
