//! `POST /api/ui/events` on a real app over HTTP: accepted events are counted in `/metrics`;
//! each limit answers its status, with a JSON error, and is counted by reason.

use std::net::TcpListener;

use stormscope_app::{App, AppConfig};
use stormscope_shared::tenancy::Tenancy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn app(tenancy: Tenancy) -> String {
    let mut config = AppConfig::local("memory://");
    config.tenancy = tenancy;
    let app = App::start(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.run(listener, 1, std::future::pending()));
    url
}

async fn post(app: &str, body: impl Into<reqwest::Body>) -> (u16, Option<String>, String) {
    let response = reqwest::Client::new()
        .post(format!("{app}/api/ui/events"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.text().await.unwrap())
}

/// The value of one sample in `/metrics`, 0 when absent.
async fn metric(app: &str, sample: &str) -> f64 {
    let text = reqwest::get(format!("{app}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn events(kind: &str, n: usize) -> String {
    let one = serde_json::json!({"kind": kind, "message": "took long", "value": 812.5});
    serde_json::json!({ "events": vec![one; n] }).to_string()
}

fn error_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON error");
    json["error"].as_str().expect("an error text").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_events_are_counted_and_each_limit_has_its_status() {
    let app = app(Tenancy::Single).await;
    let accepted = r#"stormscope_ui_events_total{kind="slow-render"}"#;
    let rejected =
        |reason: &str| format!(r#"stormscope_ui_events_rejected_total{{reason="{reason}"}}"#);
    let before = metric(&app, accepted).await;

    let (status, _, body) = post(&app, events("slow-render", 3)).await;
    assert_eq!((status, body.as_str()), (204, ""));
    // A message over 200 characters is cut, not refused.
    let long =
        serde_json::json!({"events": [{"kind": "slow-render", "message": "x".repeat(5000 / 2)}]});
    assert_eq!(post(&app, long.to_string()).await.0, 204);
    assert_eq!(metric(&app, accepted).await - before, 4.0);

    let too_large = rejected("too-large");
    let before_large = metric(&app, &too_large).await;
    let (status, _, body) = post(&app, "x".repeat(5000)).await;
    assert_eq!(status, 413);
    assert!(error_of(&body).contains("4096"), "{body}");
    // Chunked, without Content-Length: the bound is on what arrives.
    assert_eq!(chunked_post(&app, &"y".repeat(6000)).await, 413);
    assert_eq!(metric(&app, &too_large).await - before_large, 2.0);

    let (status, _, body) = post(&app, events("slow-render", 21)).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("21 events"), "{body}");

    let (status, _, body) = post(&app, events("mystery", 1)).await;
    assert_eq!(status, 400);
    assert!(
        error_of(&body).contains("unknown event kind \"mystery\""),
        "{body}"
    );

    let (status, _, body) = post(&app, "{\"events\": [{\"kind\": 3}]}").await;
    assert_eq!(status, 400);
    assert!(error_of(&body).starts_with("invalid events"), "{body}");

    assert_eq!(
        metric(&app, accepted).await - before,
        4.0,
        "refused requests count none of their events"
    );
    assert!(metric(&app, &rejected("too-many-events")).await >= 1.0);
    assert!(metric(&app, &rejected("unknown-kind")).await >= 1.0);
    assert!(metric(&app, &rejected("bad-json")).await >= 1.0);
}

/// A body sent in chunks with no `Content-Length`, over a raw socket; the status answered.
async fn chunked_post(app: &str, body: &str) -> u16 {
    let addr = app.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/ui/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(1000) {
        let frame = format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            std::str::from_utf8(chunk).unwrap()
        );
        // The server may answer and close before the last chunk: that is the point.
        if socket.write_all(frame.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_posting_too_often_gets_429_with_retry_after() {
    let app = app(Tenancy::Single).await;
    let limited = r#"stormscope_ui_events_rejected_total{reason="rate-limited"}"#;
    let before = metric(&app, limited).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let (status, retry_after, body) = post(&app, events("ws-drop", 1)).await;
        if status == 429 {
            let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
            assert!((1..=2).contains(&seconds), "{seconds}");
            assert!(error_of(&body).contains("too many requests"), "{body}");
        }
        statuses.push(status);
    }
    // A burst of 20, then about one a second: the test sends 30 in well under 5 s.
    let accepted = statuses.iter().filter(|s| **s == 204).count();
    assert!((20..=25).contains(&accepted), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        30 - accepted
    );
    assert_eq!(metric(&app, limited).await - before, (30 - accepted) as f64);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tenant_is_resolved_as_for_every_route() {
    let app = app(Tenancy::Header("x-scope-orgid".into())).await;
    let (status, _, body) = post(&app, events("api-error", 1)).await;
    assert_eq!(status, 401);
    assert!(!error_of(&body).is_empty());
    let response = reqwest::Client::new()
        .post(format!("{app}/api/ui/events"))
        .header("X-Scope-OrgID", "team-a")
        .body(events("api-error", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}
