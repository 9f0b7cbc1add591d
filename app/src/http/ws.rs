//! `GET /api/topology/{view}/ws?t=5s`: a view kept current over a websocket, the way Scope's UI
//! follows the topology on screen (scope-compat.md §4.1, §4.4).
//!
//! As Scope's `handleWebsocket` does, the socket sends a diff every `t` whether or not anything
//! changed (an empty one is all `null`s), so a client hears from the app on a fixed beat and a
//! window turning degraded or healthy again reaches it within a tick. What the browser sends
//! is discarded, save pings and close. With `?timestamp=` the view plays forward from that
//! moment at the pace of the wall clock, also as Scope does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{Message, MessageStream};
use serde::Serialize;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;

use super::ws_frames::{self, Outgoing};
use super::{
    AppState, QueryError, Snapshot, flagged, query_param, snapshot_at, tenant, timestamp_ms,
};
use crate::render::{self, Diff};
use crate::rendered::Nodes;
use crate::sockets::SocketPermit;
use crate::window::Degraded;

/// Scope's default when the request has no `t`.
const DEFAULT_PERIOD: Duration = Duration::from_secs(1);
/// A shorter `t` would only have the app re-render a view faster than anyone can look at it.
const MIN_PERIOD: Duration = Duration::from_millis(100);
/// A longer `t` is refused: Scope's UI asks for seconds, and a huge one would overflow the
/// timer.
pub const MAX_PERIOD: Duration = Duration::from_secs(60);

/// Checks everything a plain request can be refused for (view, tenant, `t`, `timestamp`, the
/// caps on open sockets) before upgrading, so a refusal is an HTTP status and JSON error, not
/// a closed socket. The first window is read before upgrading too, so the 101 answer carries
/// the degraded header of the window the first message shows.
pub async fn topology(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, QueryError> {
    let view = path.into_inner();
    if !render::VIEWS.contains(&view.as_str()) {
        return Err(QueryError::UnknownTopology(view));
    }
    let tenant = tenant(&req, &state)?;
    let period = period(query_param(&req, "t").as_deref())?;
    let clock = Clock {
        from_ms: timestamp_ms(&req)?,
        opened: Instant::now(),
    };
    let permit = state
        .sockets
        .open(&tenant)
        .map_err(QueryError::TooManySockets)?;
    let (response, session, messages) =
        ws_frames::upgrade(&req, body).map_err(|e| QueryError::Handshake(e.to_string()))?;
    let first = snapshot_at(&state, tenant.clone(), clock.end_ms()).await;
    let response = flagged(response, &first.degraded);
    let feed = Feed {
        state: state.into_inner(),
        tenant,
        view,
        // The query's `t` counts as a parameter, so the options' defaults apply, as in Scope.
        query: req.query_string().to_owned(),
        clock,
        period,
    };
    // The payload behind `messages` belongs to this worker's thread: a local task.
    actix_web::rt::spawn(feed.run(first, permit, session, messages));
    Ok(response)
}

/// `t` in Go's duration syntax, read by humantime (already a dependency), which takes every
/// duration Scope's UI sends (`5s`, `500ms`, `1m30s`, `1.5s`); it also takes some Go does not
/// (`2 min`), and refuses Go's bare `0` and signed forms, which would be clamped anyway.
fn period(t: Option<&str>) -> Result<Duration, QueryError> {
    match t {
        None => Ok(DEFAULT_PERIOD),
        Some(t) => humantime::parse_duration(t)
            .ok()
            .filter(|d| *d <= MAX_PERIOD)
            .map(|d| d.max(MIN_PERIOD))
            .ok_or_else(|| QueryError::Interval(t.to_owned())),
    }
}

/// Which moment each tick shows: now, or with `?timestamp=`, that moment plus the time the
/// socket has been open.
struct Clock {
    from_ms: Option<i64>,
    opened: Instant,
}

impl Clock {
    fn is_live(&self) -> bool {
        self.from_ms.is_none()
    }

    fn end_ms(&self) -> i64 {
        match self.from_ms {
            None => Timestamp::now().unix_millis(),
            Some(from) => from + self.opened.elapsed().as_millis() as i64,
        }
    }
}

/// One socket's loop and what it renders.
struct Feed {
    state: Arc<AppState>,
    tenant: TenantId,
    view: String,
    /// The query as sent: the options, and the name of the render in the shared cache of
    /// rendered views.
    query: String,
    clock: Clock,
    period: Duration,
}

/// A diff as sent: Scope's fields, plus `"degraded"` when the window lacked something.
#[derive(Serialize)]
struct Update<'a> {
    #[serde(flatten)]
    diff: Diff<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    degraded: Option<&'a Degraded>,
}

impl Feed {
    /// Sends a diff every period until the socket is gone: the client closed it, the
    /// connection failed (actix drops the response body, so sending fails), or the client
    /// sent something that is not a websocket frame.
    async fn run(
        self,
        first: Snapshot,
        _permit: SocketPermit,
        session: Outgoing,
        mut messages: MessageStream,
    ) {
        let mut previous: Option<Arc<Nodes>> = None;
        let mut pending = Some(Arc::new(first));
        // Ticks fall on the wall clock's multiples of the period, so the live sockets of one
        // tenant tick together and share one window read (and, on one view, one render).
        let period_ms = self.period.as_millis() as i64;
        let now_ms = Timestamp::now().unix_millis();
        let first_tick_ms = (now_ms.div_euclid(period_ms) + 1) * period_ms;
        let started = tokio::time::Instant::now();
        let first_tick = started + Duration::from_millis((first_tick_ms - now_ms) as u64);
        let mut ticks = tokio::time::interval_at(first_tick, self.period);
        // A render slower than the period skips ticks rather than bunching them up, and keeps
        // the others on the shared beat.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let snapshot = match pending.take() {
                Some(snapshot) => snapshot,
                None => tokio::select! {
                    at = ticks.tick() => {
                        let tick_ms = first_tick_ms + at.duration_since(first_tick).as_millis() as i64;
                        self.snapshot(round_to(tick_ms, MIN_PERIOD.as_millis() as i64)).await
                    }
                    message = messages.recv() => {
                        if !answer(&session, message).await {
                            return;
                        }
                        continue;
                    }
                },
            };
            let (view, query) = (self.view.clone(), self.query.clone());
            let (state, texts) = (self.state.clone(), session.text_frames());
            // Off the worker thread: a large view takes long enough to render (and to
            // compress) to stall every other request this worker serves.
            let rendered = web::block(move || {
                let current = state.rendered_view(&snapshot, &view, &query);
                let text = message(previous.as_deref(), &current, &snapshot.degraded);
                (current, texts.frame(&text))
            })
            .await;
            let Ok((current, frame)) = rendered else {
                return;
            };
            if session.send(frame).await.is_err() {
                return;
            }
            previous = Some(current);
        }
    }

    /// The window of the tick at `tick_ms`: shared with the tenant's other live sockets
    /// ticking then; a history socket's own.
    async fn snapshot(&self, tick_ms: i64) -> Arc<Snapshot> {
        if !self.clock.is_live() {
            let end = self.clock.end_ms();
            return Arc::new(snapshot_at(&self.state, self.tenant.clone(), end).await);
        }
        self.state
            .ticks
            .get_or_read(&self.tenant, tick_ms, || {
                snapshot_at(
                    &self.state,
                    self.tenant.clone(),
                    Timestamp::now().unix_millis(),
                )
            })
            .await
    }
}

fn round_to(ms: i64, step: i64) -> i64 {
    (ms + step / 2).div_euclid(step) * step
}

/// Answers what the client sent; `false` when the socket is done.
async fn answer(
    session: &Outgoing,
    message: Option<Result<Message, actix_ws::ProtocolError>>,
) -> bool {
    match message {
        Some(Ok(Message::Ping(bytes))) => session.pong(&bytes).await.is_ok(),
        Some(Ok(Message::Close(reason))) => {
            session.close(reason).await;
            false
        }
        Some(Ok(_)) => true,
        Some(Err(_)) | None => false,
    }
}

/// The message taking the client from `previous` to `current`.
fn message(previous: Option<&Nodes>, current: &Nodes, degraded: &Degraded) -> String {
    let update = Update {
        diff: render::diff(previous, current),
        degraded: degraded.is_degraded().then_some(degraded),
    };
    serde_json::to_string(&update).expect("diffs serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_is_a_go_style_duration_clamped_below_and_bounded_above() {
        let ok = |t: &str| period(Some(t)).unwrap();
        assert_eq!(period(None).unwrap(), Duration::from_secs(1));
        assert_eq!(ok("5s"), Duration::from_secs(5));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1m"), Duration::from_secs(60));
        assert_eq!(ok("0.5m"), Duration::from_secs(30));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("1ms"), MIN_PERIOD);
        assert_eq!(ok("60s"), MAX_PERIOD);
        for bad in [
            "soon",
            "5",
            "5 parsecs",
            "-1s",
            "61s",
            "1m30s",
            "99999999999999h",
        ] {
            assert!(
                matches!(period(Some(bad)), Err(QueryError::Interval(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_message_carries_degraded_only_when_the_window_lacked_something() {
        let healthy = message(None, &Nodes::new(), &Degraded::default());
        assert_eq!(
            healthy,
            r#"{"add":null,"update":null,"remove":null,"reset":true}"#
        );
        let degraded = Degraded {
            sources: vec!["cache"],
            missing_reports: 1,
            ..Degraded::default()
        };
        let flagged = message(Some(&Nodes::new()), &Nodes::new(), &degraded);
        assert_eq!(
            flagged,
            r#"{"add":null,"update":null,"remove":null,"degraded":{"sources":["cache"],"missing_reports":1}}"#
        );
    }
}
