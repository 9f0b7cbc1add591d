//! `POST /api/ui/events`: the browser UI reports its own health (pages that failed to load, API
//! errors, websocket drops, slow renders), so that an outage users see shows in the app's
//! metrics even when the servers think they are fine.
//!
//! Anyone who can reach the app can post here, so everything is bounded: the body is read up
//! to [`MAX_BODY_BYTES`] whatever `Content-Length` says, a request holds at most [`MAX_EVENTS`]
//! events, each client address has a token bucket, and accepted events reach the log through a
//! throttle.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde::Deserialize;

use super::{AppState, QueryError, tenant};
use crate::rate_limit::{LogThrottle, PerClient, Rate};

pub const MAX_BODY_BYTES: usize = 4 << 10;
pub const MAX_EVENTS: usize = 20;
/// Longer messages are cut to this many characters (and accepted): a long error text still
/// says that something failed.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// The kinds the UI sends; anything else is refused, so that the metric's labels stay few.
pub const KINDS: [&str; 4] = ["page-load-error", "api-error", "ws-drop", "slow-render"];

/// Per client address: a burst of 20 requests, then one every second.
const PER_CLIENT: Rate = Rate {
    capacity: 20.0,
    per_second: 1.0,
};
const MAX_CLIENTS: usize = 10_000;
/// Accepted events logged: a burst of 10 lines, then one every 5 s.
const LOG_LINES: Rate = Rate {
    capacity: 10.0,
    per_second: 0.2,
};

/// The limits' state, one per app.
#[derive(Debug)]
pub struct UiEvents {
    clients: PerClient,
    log: LogThrottle,
}

impl Default for UiEvents {
    fn default() -> Self {
        UiEvents {
            clients: PerClient::new(PER_CLIENT, MAX_CLIENTS),
            log: LogThrottle::new(LOG_LINES),
        }
    }
}

#[derive(Deserialize)]
struct Body {
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    kind: String,
    #[serde(default)]
    message: String,
    value: Option<f64>,
}

pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let result = accept(&req, payload, &state).await;
    if let Err(e) = &result {
        metrics::counter!("stormscope_ui_events_rejected_total", "reason" => e.reason())
            .increment(1);
    }
    result
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, QueryError> {
    let tenant = tenant(req, state)?;
    let client = req
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    state
        .ui_events
        .clients
        .take(client)
        .map_err(|wait| QueryError::RateLimited((wait.as_secs_f64().ceil() as u64).max(1)))?;
    let body = read_bounded(payload, MAX_BODY_BYTES).await?;
    let body: Body =
        serde_json::from_slice(&body).map_err(|e| QueryError::BadEvents(e.to_string()))?;
    if body.events.len() > MAX_EVENTS {
        return Err(QueryError::TooManyEvents(body.events.len()));
    }
    // All checked before any is counted: a refused request counts nothing but its refusal.
    let mut kinds = Vec::with_capacity(body.events.len());
    for event in &body.events {
        let kind = KINDS
            .iter()
            .find(|k| **k == event.kind)
            .ok_or_else(|| QueryError::UnknownEventKind(short(&event.kind).to_owned()))?;
        kinds.push(*kind);
    }
    for (event, kind) in body.events.iter().zip(kinds) {
        metrics::counter!("stormscope_ui_events_total", "kind" => kind).increment(1);
        if let Some(suppressed) = state.ui_events.log.admit() {
            tracing::info!(
                kind,
                message = short(&event.message),
                value = event.value,
                tenant = tenant.as_str(),
                %client,
                suppressed_before = suppressed,
                "ui event"
            );
        }
    }
    Ok(HttpResponse::NoContent().finish())
}

/// At most the first [`MAX_MESSAGE_CHARS`] characters.
fn short(text: &str) -> &str {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The body, refused as soon as it passes `limit` bytes: `Content-Length` may lie or be absent
/// (chunked), so the count is of what arrives.
async fn read_bounded(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, QueryError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| QueryError::BadEvents(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(QueryError::BodyTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_on_a_character_boundary() {
        assert_eq!(short("fine"), "fine");
        let long = "é".repeat(250);
        assert_eq!(short(&long).chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(short(&long).len(), 2 * MAX_MESSAGE_CHARS);
    }
}
