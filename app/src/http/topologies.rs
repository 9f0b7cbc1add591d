//! `GET /api/topology`: the topology registry with each view's stats for the window, rendered
//! with the request's options (scope-compat.md §4.3).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, QueryError, flagged, snapshot};
use crate::render::{self, Options};

/// The registry as Scope lists it: an array of topology descriptions. The answer is an array,
/// so a degraded window is flagged by the `X-Stormscope-Degraded` header alone, as
/// `/api/probes` is.
pub async fn topologies(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let snapshot = snapshot(&req, &state).await?;
    let options = Options::from_query(req.query_string());
    let body = render::topologies(&snapshot.report, &options);
    Ok(flagged(
        HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-cache"))
            .json(body),
        &snapshot.degraded,
    ))
}
