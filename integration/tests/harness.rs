//! The harness's own tests: the servers are real, and the outage controls and fault proxy do what
//! later outage tests will rely on.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use stormscope_integration::{
    FaultMode, FaultProxy, Memcached, MemcachedClient, S3Server, free_port, shared_memcached,
    shared_s3,
};

/// Long enough that a healthy loopback answer always beats it, short enough to keep tests quick.
const HUNG: Duration = Duration::from_millis(300);
const ANSWER: Duration = Duration::from_secs(5);

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn assert_refused(addr: SocketAddr) {
    match TcpStream::connect_timeout(&addr, ANSWER) {
        Err(e) => assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "connect to {addr}"
        ),
        Ok(_) => panic!("{addr} still accepts connections"),
    }
}

// ---- memcached ----

#[test]
fn memcached_set_get_round_trip() {
    let mut client = shared_memcached().client();
    assert!(!client.version().unwrap().is_empty());
    let value = b"probe report \x00\xff with binary\r\nEND\r\n";
    client.set("harness-round-trip", value).unwrap();
    assert_eq!(
        client.get("harness-round-trip").unwrap().as_deref(),
        Some(&value[..])
    );
    assert_eq!(client.get("harness-never-set").unwrap(), None);
}

#[test]
fn memcached_client_rejects_keys_that_would_inject_commands() {
    let mut client = shared_memcached().client();
    let err = client.get("a\r\nflush_all").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn memcached_sigstop_hangs_and_sigcont_answers() {
    let mut memcached = Memcached::start();
    let mut client = memcached.client();
    client.set("k", b"v").unwrap();

    memcached.stop();
    client.set_timeout(HUNG).unwrap();
    client.send_get("k").unwrap();
    let err = client.read_get().unwrap_err();
    assert!(
        is_timeout(&err),
        "expected a timeout from a hung server, got {err}"
    );
    // Hung, not down: the kernel still completes handshakes for the stopped process.
    let mut late = MemcachedClient::connect(memcached.addr()).expect("connect to a hung server");
    late.set_timeout(HUNG).unwrap();
    assert!(is_timeout(&late.version().unwrap_err()));

    memcached.resume();
    client.set_timeout(ANSWER).unwrap();
    // The request sent while it was stopped is answered once it runs again.
    assert_eq!(client.read_get().unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(
        memcached.client().get("k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn memcached_kill_and_restart_on_the_same_port() {
    let mut memcached = Memcached::start();
    let addr = memcached.addr();
    let first_pid = memcached.pid().unwrap();
    memcached.client().set("k", b"v").unwrap();

    memcached.kill();
    assert_eq!(memcached.pid(), None);
    assert_refused(addr);

    memcached.restart();
    assert_eq!(memcached.addr(), addr);
    assert_ne!(memcached.pid().unwrap(), first_pid);
    let mut client = memcached.client();
    assert!(!client.version().unwrap().is_empty());
    // A restarted memcached is empty: what the service must cope with after a cache outage.
    assert_eq!(client.get("k").unwrap(), None);
}

#[test]
fn memcached_restart_while_hung() {
    let mut memcached = Memcached::start();
    let addr = memcached.addr();
    memcached.stop();
    memcached.restart();
    assert_eq!(memcached.addr(), addr);
    assert!(!memcached.client().version().unwrap().is_empty());
}

// ---- s3s-fs ----

/// An unsigned HTTP/1.1 GET; returns the status code and body.
fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, response.to_string()))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    Ok((status, body))
}

#[test]
fn s3_rejects_unsigned_requests() {
    let s3 = shared_s3();
    assert_eq!(s3.endpoint_url(), format!("http://127.0.0.1:{}", s3.port()));
    let (status, body) = http_get(s3.addr(), "/", ANSWER).unwrap();
    assert_eq!(status, 403, "unsigned ListBuckets: {body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("Signature is required"), "{body}");

    s3.create_bucket("harness-unsigned");
    let (status, body) = http_get(s3.addr(), "/harness-unsigned/some-key", ANSWER).unwrap();
    assert_eq!(status, 403, "unsigned GetObject: {body}");
}

#[test]
fn s3_credentials_and_buckets() {
    let s3 = shared_s3();
    assert_eq!(s3.access_key(), "stormscope-test");
    assert_eq!(s3.secret_key(), "stormscope-test-secret");
    assert_eq!(s3.region(), "us-east-1");
    let bucket = s3.create_bucket("harness-buckets");
    assert!(bucket.is_dir());
    assert_eq!(bucket, s3.data_dir().join("harness-buckets"));
    // Idempotent, so every test on the shared server can create the bucket it uses.
    s3.create_bucket("harness-buckets");
    assert_eq!(
        s3.object_path("harness-buckets", "a/b"),
        bucket.join("a").join("b")
    );
}

#[test]
#[should_panic(expected = "invalid S3 bucket name")]
fn s3_create_bucket_rejects_names_s3s_fs_would_ignore() {
    shared_s3().create_bucket("Not_A_Bucket");
}

#[test]
fn s3_sigstop_hangs_and_sigcont_answers() {
    let mut s3 = S3Server::start();
    s3.stop();
    let err = http_get(s3.addr(), "/", HUNG).unwrap_err();
    assert!(
        is_timeout(&err),
        "expected a timeout from a hung server, got {err}"
    );
    s3.resume();
    assert_eq!(http_get(s3.addr(), "/", ANSWER).unwrap().0, 403);
}

#[test]
fn s3_kill_and_restart_keeps_port_and_data() {
    let mut s3 = S3Server::start();
    let addr = s3.addr();
    let bucket = s3.create_bucket("reports");
    std::fs::write(bucket.join("report-1"), b"stored").unwrap();

    s3.kill();
    assert_refused(addr);

    s3.restart();
    assert_eq!(s3.addr(), addr);
    assert_eq!(http_get(addr, "/", ANSWER).unwrap().0, 403);
    assert_eq!(
        std::fs::read(s3.object_path("reports", "report-1")).unwrap(),
        b"stored"
    );
}

// ---- fault proxy ----

/// A loopback echo server on its own threads; lives until the test binary exits.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let mut writer = stream;
                let _ = io::copy(&mut reader, &mut writer);
            });
        }
    });
    addr
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, ANSWER).unwrap();
    stream.set_read_timeout(Some(ANSWER)).unwrap();
    stream.set_write_timeout(Some(ANSWER)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

fn echo(stream: &mut TcpStream, message: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(message)?;
    let mut answer = vec![0; message.len()];
    stream.read_exact(&mut answer)?;
    Ok(answer)
}

/// Asserts that a new connection to `addr` is aborted with a RST.
fn assert_new_connection_reset(addr: SocketAddr) {
    match TcpStream::connect_timeout(&addr, ANSWER) {
        // The RST can arrive before connect_timeout() has checked the socket for errors.
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "got {e}"),
        Ok(mut stream) => {
            stream.set_read_timeout(Some(ANSWER)).unwrap();
            stream.set_write_timeout(Some(ANSWER)).unwrap();
            assert_reset(&mut stream);
        }
    }
}

/// Asserts that the connection is aborted with a RST (not closed with a FIN, not left hanging).
fn assert_reset(stream: &mut TcpStream) {
    if let Err(e) = stream.write_all(b"ping") {
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "expected a reset on write, got {e}"
        );
        return;
    }
    let mut buf = [0; 16];
    match stream.read(&mut buf) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "got {e}"),
        Ok(0) => panic!("connection was closed cleanly, not reset"),
        Ok(n) => panic!("connection answered {:?} instead of being reset", &buf[..n]),
    }
}

#[test]
fn proxy_passes_traffic_through() {
    let proxy = FaultProxy::start(echo_server());
    assert_eq!(proxy.mode(), FaultMode::PassThrough);
    let mut stream = connect(proxy.addr());
    assert_eq!(echo(&mut stream, b"hello").unwrap(), b"hello");
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(echo(&mut stream, &big).unwrap(), big);
}

#[test]
fn proxy_passes_memcached_traffic_through() {
    let proxy = FaultProxy::start(shared_memcached().addr());
    assert_eq!(proxy.target(), shared_memcached().addr());
    let mut client = MemcachedClient::connect(proxy.addr()).unwrap();
    client.set("harness-proxied", b"through the proxy").unwrap();
    assert_eq!(
        shared_memcached()
            .client()
            .get("harness-proxied")
            .unwrap()
            .as_deref(),
        Some(&b"through the proxy"[..])
    );
}

#[test]
fn proxy_adds_latency() {
    let delay = Duration::from_millis(150);
    let proxy = FaultProxy::start(echo_server());
    let mut stream = connect(proxy.addr());
    // Connected before the change: faults must reach pooled connections too.
    assert_eq!(echo(&mut stream, b"warm").unwrap(), b"warm");

    proxy.set_mode(FaultMode::Latency(delay));
    let started = Instant::now();
    assert_eq!(echo(&mut stream, b"slow").unwrap(), b"slow");
    let elapsed = started.elapsed();
    // One delay each way; a lower bound only, this is not a performance test.
    assert!(elapsed >= 2 * delay, "round trip took {elapsed:?}");

    let mut fresh = connect(proxy.addr());
    let started = Instant::now();
    assert_eq!(echo(&mut fresh, b"slow").unwrap(), b"slow");
    assert!(started.elapsed() >= 2 * delay);
}

#[test]
fn proxy_resets_new_and_open_connections() {
    let proxy = FaultProxy::start(echo_server());
    let mut open = connect(proxy.addr());
    assert_eq!(echo(&mut open, b"before").unwrap(), b"before");

    proxy.set_mode(FaultMode::Reset);
    assert_reset(&mut open);
    assert_new_connection_reset(proxy.addr());

    proxy.set_mode(FaultMode::PassThrough);
    assert_eq!(
        echo(&mut connect(proxy.addr()), b"after").unwrap(),
        b"after"
    );
}

#[test]
fn proxy_blackholes_then_delivers_intact() {
    let proxy = FaultProxy::start(echo_server());
    let mut open = connect(proxy.addr());
    assert_eq!(echo(&mut open, b"before").unwrap(), b"before");

    proxy.set_mode(FaultMode::Blackhole);
    let mut fresh = connect(proxy.addr());
    for stream in [&mut open, &mut fresh] {
        stream.set_read_timeout(Some(HUNG)).unwrap();
        let err = echo(stream, b"lost?").unwrap_err();
        assert!(is_timeout(&err), "expected silence, got {err}");
    }

    proxy.set_mode(FaultMode::PassThrough);
    for stream in [&mut open, &mut fresh] {
        stream.set_read_timeout(Some(ANSWER)).unwrap();
        let mut answer = [0; 5];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"lost?");
    }
}

#[test]
fn proxy_blackholes_memcached() {
    let proxy = FaultProxy::start(shared_memcached().addr());
    let mut client = MemcachedClient::connect(proxy.addr()).unwrap();
    proxy.set_mode(FaultMode::Blackhole);
    client.set_timeout(HUNG).unwrap();
    let err = client.version().unwrap_err();
    assert!(is_timeout(&err), "expected a timeout, got {err}");
}

#[test]
fn proxy_to_a_down_target_resets_clients() {
    let proxy = FaultProxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, free_port())));
    assert_new_connection_reset(proxy.addr());
}

#[test]
fn proxy_passes_on_a_target_going_down() {
    let mut memcached = Memcached::start();
    let proxy = FaultProxy::start(memcached.addr());
    let mut client = MemcachedClient::connect(proxy.addr()).unwrap();
    assert!(!client.version().unwrap().is_empty());
    memcached.kill();
    let err = client.version().unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        ),
        "expected the connection to end, got {err}"
    );
}
