//! The topology websocket (`/api/topology/{view}/ws`) over a real collector, memcached and
//! s3s-fs: a reset first, then what later reports add; the query's options; one tenant's
//! socket never showing another's nodes; refusals before upgrading; a degraded window flagged
//! in every message.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::services::{post_demo, post_report, segments, services};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use stormscope_integration::{Memcached, S3Server, shared_memcached};
use stormscope_shared::synth::{self, SynthSpec};
use stormscope_shared::time::Timestamp;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const DEMO_HOSTS: [&str; 2] = ["db-1.demo.local;<host>", "web-1.demo.local;<host>"];

struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// `X-Stormscope-Degraded` on the 101 answer.
    degraded: Option<String>,
}

/// Opens `path` on the app as `tenant`; a refusal is its status and JSON body.
async fn connect(app: &str, path: &str, tenant: Option<&str>) -> Result<Socket, (u16, Value)> {
    let url = format!("{}{path}", app.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    // As browsers send it on the upgrade: the API's GET answers are gzipped, never the upgrade.
    request
        .headers_mut()
        .insert("Accept-Encoding", "gzip, deflate, br".parse().unwrap());
    if let Some(tenant) = tenant {
        request
            .headers_mut()
            .insert("X-Scope-OrgID", tenant.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((stream, response)) => Ok(Socket {
            stream,
            degraded: response
                .headers()
                .get("x-stormscope-degraded")
                .map(|v| v.to_str().unwrap().to_owned()),
        }),
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

impl Socket {
    /// The next frame that is not a text message's neighbour (pings, pongs) skipped.
    async fn next_frame(&mut self) -> Option<Message> {
        tokio::time::timeout(Duration::from_secs(10), self.stream.next())
            .await
            .expect("a frame within 10 s")
            .map(|frame| frame.expect("a well-formed frame"))
    }

    async fn next_diff(&mut self) -> Value {
        loop {
            match self.next_frame().await {
                Some(Message::Text(text)) => return serde_json::from_str(&text).unwrap(),
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("expected a diff, got {other:?}"),
            }
        }
    }

    /// Diffs until one satisfies `found`, for at most `limit` of them.
    async fn diff_where(&mut self, limit: usize, found: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..limit {
            let diff = self.next_diff().await;
            if found(&diff) {
                return diff;
            }
        }
        panic!("no such diff in {limit} messages");
    }
}

/// The ids of a diff's `add` or `update` list; `null` is none.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|node| node["id"].as_str().unwrap().to_owned())
        .collect()
}

fn stamp() -> i64 {
    Timestamp::now().unix_millis()
}

/// A small full report from a third host's probe, stamped now.
fn third_host() -> (String, stormscope_shared::Report) {
    let spec = SynthSpec {
        processes_per_host: 3,
        connections_per_host: 2,
        containers_per_host: 1,
        pods_per_host: 0,
        ts: Timestamp::now(),
        ..SynthSpec::probe(7, 2, 3)
    };
    (
        format!("{};<host>", synth::hostname(2)),
        synth::generate(&spec),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_with_both_hosts_then_a_new_host_in_add() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("ws-{}", stamp());
    post_demo(&s.collector, &tenant).await;

    let mut socket = connect(&s.app, "/api/topology/hosts/ws?t=200ms", Some(&tenant))
        .await
        .unwrap();
    assert_eq!(socket.degraded, None);
    let first = socket.next_diff().await;
    assert_eq!(first["reset"], true, "{first}");
    assert_eq!(ids(&first["add"]), DEMO_HOSTS);
    assert_eq!(
        (&first["update"], &first["remove"]),
        (&Value::Null, &Value::Null)
    );
    assert!(first.get("degraded").is_none(), "healthy: {first}");
    assert_eq!(first["add"][0]["label"], "db-1", "whole summaries");

    // Nothing new: the next diffs come anyway, every tick, as Scope sends them.
    let quiet = socket.next_diff().await;
    assert!(quiet.get("reset").is_none(), "{quiet}");
    assert_eq!(quiet["add"], Value::Null);
    assert_eq!(quiet["remove"], Value::Null);

    socket
        .stream
        .send(Message::Ping(b"still there?"[..].into()))
        .await
        .unwrap();
    loop {
        match socket.next_frame().await {
            Some(Message::Pong(payload)) => {
                assert_eq!(&payload[..], b"still there?");
                break;
            }
            Some(Message::Text(_)) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }

    let (host, report) = third_host();
    post_report(&s.collector, &tenant, "0000000000000003", &report).await;
    let added = socket
        .diff_where(50, |d| ids(&d["add"]).contains(&host))
        .await;
    assert!(added.get("reset").is_none(), "{added}");
    assert!(
        ids(&added["add"])
            .iter()
            .all(|id| !DEMO_HOSTS.contains(&id.as_str())),
        "hosts the client holds are not added again: {added}"
    );

    // A clean close: the app answers the close frame and ends the stream.
    socket.stream.send(Message::Close(None)).await.unwrap();
    loop {
        match socket.stream.next().await {
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("closing: {e}"),
        }
    }
}

/// One server frame read off `stream`: its first byte and its payload (never masked).
async fn read_frame(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[1] & 0x80, 0, "a server frame is not masked");
    let len = match head[1] & 0x7f {
        126 => stream.read_u16().await.unwrap() as usize,
        127 => stream.read_u64().await.unwrap() as usize,
        n => n as usize,
    };
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}

/// A browser's upgrade, written by hand since tungstenite has no permessage-deflate: the
/// extension is agreed, and the first message, the reset, comes compressed and inflates to
/// the view.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_offering_permessage_deflate_gets_compressed_messages() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("ws-deflate-{}", stamp());
    post_demo(&s.collector, &tenant).await;

    let host = s.app.trim_start_matches("http://");
    let mut stream = BufReader::new(TcpStream::connect(host).await.unwrap());
    let request = format!(
        "GET /api/topology/hosts/ws?t=200ms HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
         X-Scope-OrgID: {tenant}\r\n\r\n"
    );
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push(line.trim_end().to_ascii_lowercase());
    }
    assert!(head[0].starts_with("http/1.1 101"), "{head:?}");
    assert!(
        head.contains(
            &"sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover".to_owned()
        ),
        "{head:?}"
    );

    let (first_byte, payload) = read_frame(&mut stream).await;
    assert_eq!(
        first_byte,
        0x80 | 0x40 | 0x1,
        "a final text frame, compressed (RSV1)"
    );
    let mut whole = payload.clone();
    whole.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut text = Vec::with_capacity(whole.len() * 50);
    flate2::Decompress::new(false)
        .decompress_vec(&whole, &mut text, flate2::FlushDecompress::Sync)
        .unwrap();
    let first: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(first["reset"], true, "{first}");
    assert_eq!(ids(&first["add"]), DEMO_HOSTS);
    assert!(
        payload.len() * 3 < text.len(),
        "{} of {} bytes",
        payload.len(),
        text.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_options_filter_every_message() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("ws-options-{}", stamp());
    post_demo(&s.collector, &tenant).await;
    let unconnected = [
        "db-1.demo.local;1",
        "db-1.demo.local;11",
        "web-1.demo.local;1",
        "web-1.demo.local;8",
    ];

    let mut shown = connect(
        &s.app,
        "/api/topology/processes/ws?t=200ms&unconnected=show",
        Some(&tenant),
    )
    .await
    .unwrap();
    let all = ids(&shown.next_diff().await["add"]);
    assert_eq!(all.len(), 8);
    assert!(unconnected.iter().all(|id| all.contains(&id.to_string())));

    let mut hidden = connect(
        &s.app,
        "/api/topology/processes/ws?t=200ms&unconnected=hide",
        Some(&tenant),
    )
    .await
    .unwrap();
    let first = hidden.next_diff().await;
    let connected: BTreeSet<String> = ids(&first["add"]).into_iter().collect();
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|id| !unconnected.contains(&id.as_str()))
        .cloned()
        .collect();
    assert_eq!(connected, expected);
    for _ in 0..5 {
        let diff = hidden.next_diff().await;
        for id in ids(&diff["add"]).iter().chain(&ids(&diff["update"])) {
            assert!(!unconnected.contains(&id.as_str()), "{id} sent: {diff}");
        }
    }

    // `t` alone is a parameter, so the view's defaults apply (processes: unconnected hidden).
    let mut defaults = connect(&s.app, "/api/topology/processes/ws?t=200ms", Some(&tenant))
        .await
        .unwrap();
    let first = defaults.next_diff().await;
    assert_eq!(
        ids(&first["add"]).into_iter().collect::<BTreeSet<_>>(),
        expected
    );

    // History: a socket from a moment before the reports plays forward from there.
    let before = Timestamp::from_unix_millis(stamp() - 600_000).to_rfc3339();
    let mut history = connect(
        &s.app,
        &format!("/api/topology/processes/ws?t=200ms&timestamp={before}"),
        Some(&tenant),
    )
    .await
    .unwrap();
    let first = history.next_diff().await;
    assert_eq!(
        (&first["reset"], &first["add"]),
        (&Value::Bool(true), &Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenants_socket_never_sees_another_tenants_nodes() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let (owner, other) = (
        format!("ws-owner-{}", stamp()),
        format!("ws-other-{}", stamp()),
    );

    let mut others = connect(&s.app, "/api/topology/hosts/ws?t=200ms", Some(&other))
        .await
        .unwrap();
    let first = others.next_diff().await;
    assert_eq!(
        (&first["reset"], &first["add"]),
        (&Value::Bool(true), &Value::Null)
    );

    post_demo(&s.collector, &owner).await;
    let mut owners = connect(&s.app, "/api/topology/hosts/ws?t=200ms", Some(&owner))
        .await
        .unwrap();
    assert_eq!(ids(&owners.next_diff().await["add"]), DEMO_HOSTS);
    for _ in 0..10 {
        let diff = others.next_diff().await;
        assert_eq!(
            (&diff["add"], &diff["update"], &diff["remove"]),
            (&Value::Null, &Value::Null, &Value::Null),
            "{diff}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_http_errors_before_any_upgrade() {
    let s3 = S3Server::start();
    let s = services(&s3, &shared_memcached().addr().to_string()).await;
    let tenant = format!("ws-refused-{}", stamp());

    let (status, body) = connect(&s.app, "/api/topology/no-such-view/ws", Some(&tenant))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("no-such-view"),
        "{body}"
    );
    let refused = |path: &'static str, tenant: Option<String>| {
        let app = s.app.clone();
        async move {
            connect(&app, path, tenant.as_deref())
                .await
                .err()
                .unwrap()
                .0
        }
    };
    let hosts = "/api/topology/hosts/ws";
    assert_eq!(refused(hosts, None).await, 401, "no tenant");
    assert_eq!(
        refused(hosts, Some("x".repeat(1000))).await,
        400,
        "a bad tenant"
    );
    let valid = || Some(tenant.clone());
    assert_eq!(refused("/api/topology/hosts/ws?t=soon", valid()).await, 400);
    assert_eq!(
        refused("/api/topology/hosts/ws?timestamp=yesterday", valid()).await,
        400
    );

    // A plain GET is not a websocket; the route does not fall through to node details.
    let response = reqwest::Client::new()
        .get(format!("{}/api/topology/hosts/ws", s.app))
        .header("X-Scope-OrgID", &tenant)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("websocket"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_memcached_down_every_message_says_degraded() {
    let s3 = S3Server::start();
    let mut memcached = Memcached::start();
    let s = services(&s3, &memcached.addr().to_string()).await;
    let tenant = format!("ws-degraded-{}", stamp());
    post_demo(&s.collector, &tenant).await;
    // Let the collector seal and upload the segments, then take the cache away.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while segments(&s3) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "segments never uploaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    memcached.kill();

    let mut socket = connect(&s.app, "/api/topology/hosts/ws?t=200ms", Some(&tenant))
        .await
        .unwrap();
    assert!(
        socket
            .degraded
            .as_deref()
            .is_some_and(|d| d.contains("cache")),
        "the upgrade answer is flagged: {:?}",
        socket.degraded
    );
    let first = socket.next_diff().await;
    assert_eq!(first["reset"], true);
    assert_eq!(
        ids(&first["add"]),
        DEMO_HOSTS,
        "both hosts, from the object store"
    );
    assert_eq!(first["degraded"]["sources"][0], "cache", "{first}");
    for _ in 0..2 {
        let diff = socket.next_diff().await;
        assert_eq!(diff["degraded"]["sources"][0], "cache", "{diff}");
    }
}
