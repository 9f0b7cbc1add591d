//! A topology websocket's loop ends with its client, however the client goes: a close frame,
//! or a connection reset without one. Its own test binary, so the process-wide gauge of open
//! sockets counts only this test's.

mod common;

use std::time::{Duration, Instant};

use common::services::{post_demo, services};
use futures::{SinkExt, StreamExt};
use stormscope_integration::{S3Server, shared_memcached};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(app: &str) -> Socket {
    let url = format!(
        "{}/api/topology/hosts/ws?t=100ms",
        app.replacen("http://", "ws://", 1)
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-Scope-OrgID", "lifetime".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a first diff")
        .unwrap()
        .unwrap();
    assert!(matches!(first, Message::Text(_)), "{first:?}");
    socket
}

/// `stormscope_app_websockets_open` as the app's `/metrics` says.
async fn open_sockets(app: &str) -> f64 {
    let metrics = reqwest::get(format!("{app}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("stormscope_app_websockets_open "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn until_open_sockets(app: &str, expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = open_sockets(app).await;
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} sockets open, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_loop_ends_when_its_client_closes_or_vanishes() {
    let s3 = S3Server::start();
    let services = services(&s3, &shared_memcached().addr().to_string()).await;
    post_demo(&services.collector, "lifetime").await;
    let app = services.app.as_str();

    let mut closing = open(app).await;
    let vanishing = open(app).await;
    let mut staying = open(app).await;
    until_open_sockets(app, 3.0).await;

    closing.close(None).await.unwrap();
    until_open_sockets(app, 2.0).await;

    // A reset, no close frame: the loop learns of it when its next diff cannot be sent.
    match vanishing.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.set_zero_linger().unwrap(),
        _ => unreachable!("plain ws://"),
    }
    drop(vanishing);
    until_open_sockets(app, 1.0).await;

    // The other socket goes on with its diffs.
    let next = tokio::time::timeout(Duration::from_secs(5), staying.next()).await;
    assert!(matches!(next, Ok(Some(Ok(Message::Text(_))))), "{next:?}");
    staying.send(Message::Close(None)).await.unwrap();
    until_open_sockets(app, 0.0).await;
}
