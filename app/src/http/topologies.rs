//! `GET /api/topology`: the topology registry with each view's stats for the window, rendered
//! with the request's options (scope-compat.md §4.3).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, QueryError, flagged, snapshot};
use crate::render::{self, Options};
use crate::rendered::ViewKey;

/// The registry as Scope lists it: an array of topology descriptions. The answer is an array,
/// so a degraded window is flagged by the `X-Stormscope-Degraded` header alone, as
/// `/api/probes` is.
pub async fn topologies(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let snapshot = snapshot(&req, &state).await?;
    let query = req.query_string().to_owned();
    let key = snapshot
        .version()
        .map(|v| ViewKey::new(&snapshot.tenant, v, "", &query));
    let report = snapshot.report.clone();
    let render_state = state.clone();
    // Every view is rendered for its stats: off the worker thread, and once per window
    // version however many browsers poll.
    let body = web::block(move || {
        render_state.registries.get_or_render(key, || {
            render::topologies(&report, &Options::from_query(&query))
        })
    })
    .await
    .map_err(|_| QueryError::RenderFailed)?;
    Ok(flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(&*body),
        &snapshot.degraded,
    ))
}
