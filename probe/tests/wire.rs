//! What the probe puts on the wire, as a capture endpoint sees it (the way the fixtures in
//! shared/fixtures/scope-probe were recorded): the handshake first, then gzip msgpack posts
//! with a Scope probe's headers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stormscope_probe::{PROBE_VERSION, ProbeConfig, run};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::{Format, Limits, TopologyKind};

struct Request {
    at: Instant,
    method: String,
    path: String,
    /// Header lines as received, names in the case the probe wrote them.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_exact_header(&self, name: &str, value: &str) -> bool {
        self.headers.iter().any(|(n, v)| n == name && v == value)
    }
}

/// A one-connection-per-request HTTP endpoint that records every request. `GET /api` answers
/// 503 the first `refuse_handshakes` times, then 200 with an id; posts get 200.
fn capture_server(refuse_handshakes: usize) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut refusals = refuse_handshakes;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or("").to_owned(),
                parts.next().unwrap_or("").to_owned(),
            );
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap();
                headers.push((n.to_owned(), v.trim().to_owned()));
            }
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let answer = if method == "GET" && refusals > 0 {
                refusals -= 1;
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 7\r\nConnection: close\r\n\r\nnot yet".to_owned()
            } else if method == "GET" {
                let json = r#"{"id":"capture-0001","version":"test","hostname":"capture"}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                    json.len()
                )
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let mut stream = reader.into_inner();
            let _ = stream.write_all(answer.as_bytes());
            let request = Request {
                at: Instant::now(),
                method,
                path,
                headers,
                body,
            };
            if tx.send(request).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// Runs a probe until `posts` reports were captured; returns every request in order.
async fn capture(config: ProbeConfig, rx: mpsc::Receiver<Request>, posts: usize) -> Vec<Request> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let probe = tokio::spawn(run(config, async {
        let _ = stopped.await;
    }));
    let requests = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        while seen
            .iter()
            .filter(|r: &&Request| r.method == "POST")
            .count()
            < posts
        {
            let request = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the probe keeps sending");
            seen.push(request);
        }
        seen
    })
    .await
    .unwrap();
    stop.send(()).unwrap();
    probe.await.unwrap().unwrap();
    requests
}

#[tokio::test]
async fn posts_carry_a_scope_probes_headers_after_the_handshake() {
    let (url, rx) = capture_server(1);
    let mut config = ProbeConfig::new(url);
    config.interval = Duration::from_millis(200);
    config.token = Some("t0ken".into());
    config.probe_id = "500b77fb74924034".into();
    config.tenant_header = Some(("X-Scope-OrgID".into(), "acme".into()));
    let requests = capture(config, rx, 2).await;

    // The handshake: refused once, retried after the first backoff step, and nothing posted
    // before it succeeded.
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/api")
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("GET", "/api")
    );
    let backoff = requests[1].at - requests[0].at;
    assert!(backoff >= Duration::from_millis(900), "{backoff:?}");
    let posts: Vec<&Request> = requests[2..].iter().collect();
    assert!(
        posts
            .iter()
            .all(|r| r.method == "POST" && r.path == "/api/report")
    );

    let user_agent = format!("Scope_Probe/{PROBE_VERSION}");
    for request in [&requests[0], &requests[1], posts[0], posts[1]] {
        // Names as Go's net/http writes them, values as in headers.txt.
        assert!(
            request.has_exact_header("User-Agent", &user_agent),
            "{:?}",
            request.headers
        );
        assert!(request.has_exact_header("Authorization", "Scope-Probe token=t0ken"));
        assert!(request.has_exact_header("X-Scope-Probe-Id", "500b77fb74924034"));
        assert!(request.has_exact_header("X-Scope-Probe-Version", PROBE_VERSION));
        assert_eq!(request.header("X-Scope-OrgID"), Some("acme"));
    }
    for post in &posts {
        assert!(post.has_exact_header("Content-Encoding", "gzip"));
        assert!(post.has_exact_header("Content-Type", "application/msgpack"));
        assert_eq!(
            post.header("Content-Length"),
            Some(post.body.len().to_string().as_str())
        );
        let report = codec::decode(
            &post.body,
            Compression::Gzip,
            Format::Msgpack,
            &Limits::default(),
        )
        .expect("the body is a gzip msgpack report");
        let hosts = &report.topology(TopologyKind::Host).nodes;
        assert_eq!(hosts.len(), 1);
        let host = hosts.values().next().unwrap();
        assert_eq!(
            host.latest_value("control_probe_id"),
            Some("500b77fb74924034")
        );
    }
    let gap = posts[1].at - posts[0].at;
    assert!(
        gap >= Duration::from_millis(150),
        "posts follow the interval: {gap:?}"
    );
}

#[tokio::test]
async fn without_a_token_no_authorization_is_sent() {
    let (url, rx) = capture_server(0);
    let mut config = ProbeConfig::new(url);
    config.interval = Duration::from_millis(200);
    let probe_id = config.probe_id.clone();
    let requests = capture(config, rx, 1).await;
    assert_eq!(requests[0].path, "/api");
    for request in &requests {
        assert_eq!(request.header("Authorization"), None);
        assert_eq!(request.header("X-Scope-OrgID"), None);
        assert_eq!(request.header("X-Scope-Probe-Id"), Some(probe_id.as_str()));
    }
}
