//! Requests an attacker or a broken client would send, over a real collector, memcached and
//! s3s-fs: a timestamp in the future, more websockets than allowed, a `t` too long.

mod common;

use common::services::{post_demo, services, services_with};
use serde_json::Value;
use stormscope_app::sockets::SocketCaps;
use stormscope_integration::{S3Server, shared_memcached};
use stormscope_shared::time::Timestamp;
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn get(url: &str, tenant: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("X-Scope-OrgID", tenant)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a websocket as `tenant`; a refusal is its status and JSON body.
async fn connect(app: &str, path: &str, tenant: &str) -> Result<Socket, (u16, Value)> {
    let url = format!("{}{path}", app.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-Scope-OrgID", tenant.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((stream, _)) => Ok(stream),
        Err(Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            Err((
                response.status().as_u16(),
                serde_json::from_slice(body).unwrap_or(Value::Null),
            ))
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

fn rfc3339(offset_ms: i64) -> String {
    Timestamp::from_unix_millis(Timestamp::now().unix_millis() + offset_ms).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timestamp_in_the_future_is_refused_and_a_little_skew_is_not() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("future-{}", Timestamp::now().unix_millis());
    post_demo(&s.collector, &tenant).await;

    let future = rfc3339(3_600_000);
    for path in [
        "/api/topology/hosts",
        "/api/topology",
        "/api/report",
        "/api/probes",
        "/api/topology/hosts/x",
    ] {
        let (status, body) = get(&format!("{}{path}?timestamp={future}", s.app), &tenant).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("in the future"),
            "{path}: {body}"
        );
    }
    let refused = connect(
        &s.app,
        &format!("/api/topology/hosts/ws?timestamp={future}"),
        &tenant,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.0, 400, "{refused:?}");

    // A browser clock a second ahead still gets the live view, with both hosts.
    let skewed = rfc3339(1_000);
    let (status, body) = get(
        &format!("{}/api/topology/hosts?timestamp={skewed}", s.app),
        &tenant,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nodes"].as_object().unwrap().len(), 2, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn websockets_past_the_caps_and_long_periods_are_refused_before_upgrading() {
    let s3 = S3Server::start();
    let s = services_with(&s3, &shared_memcached().addr().to_string(), |a| {
        a.websockets = SocketCaps {
            global: 3,
            per_tenant: 2,
        };
    })
    .await;
    let stamp = Timestamp::now().unix_millis();
    let (a, b) = (format!("caps-a-{stamp}"), format!("caps-b-{stamp}"));
    let path = "/api/topology/hosts/ws?t=1s";

    let (status, body) = connect(&s.app, "/api/topology/hosts/ws?t=61s", &a)
        .await
        .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("at most 60s"),
        "{body}"
    );
    let (status, _) = connect(&s.app, "/api/topology/hosts/ws?t=100000000000h", &a)
        .await
        .unwrap_err();
    assert_eq!(status, 400);

    let a1 = connect(&s.app, path, &a).await.unwrap();
    let _a2 = connect(&s.app, path, &a).await.unwrap();
    let (status, body) = connect(&s.app, path, &a).await.unwrap_err();
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("this tenant"),
        "{body}"
    );

    // Another tenant still gets one, then the server's cap stops it.
    let _b1 = connect(&s.app, path, &b).await.unwrap();
    let (status, body) = connect(&s.app, path, &b).await.unwrap_err();
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("this server"),
        "{body}"
    );

    // A closed socket gives its place back.
    drop(a1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match connect(&s.app, path, &b).await {
            Ok(_) => break,
            Err((429, _)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(other) => panic!("the closed socket's place never came back: {other:?}"),
        }
    }
}
