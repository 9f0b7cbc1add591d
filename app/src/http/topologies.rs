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
    let render_state = state.clone();
    // Every view is rendered for its stats: off the worker thread, once per window version
    // however many browsers poll, and taking over what the tenant's latest renders made.
    let (body, snapshot) = web::block(move || {
        let options = Options::from_query(&query);
        let s = &snapshot;
        let key = s.version().map(|v| {
            let options = render::render_key(&s.report, &render::VIEWS, &options);
            ViewKey::new(&s.tenant, v, "", options)
        });
        let body = render_state.registries.get_or_render(key, || {
            render::topologies_rendered(&s.report, &|view| {
                render_state
                    .kept_heads
                    .render(&s.tenant, &s.report, s.lineage.as_ref(), view, &options)
                    .expect("registered views render")
            })
        });
        (body, snapshot)
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
