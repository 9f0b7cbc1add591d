//! The collector and the app against what an attacker, a broken probe or a bad day sends them,
//! as real processes over real memcached and s3s-fs: slow bodies, unread bodies of strangers,
//! tokens that change, a disk that fills up, an app with nothing to read from, and one bad
//! object read over and over.

mod common;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::time::{Duration, Instant};

use common::*;
use stormscope_integration::{
    CollectorProcess, Memcached, S3Server, ServerProcess, app_process, s3_env, shared_memcached,
    shared_s3, stormscope_bin,
};
use stormscope_shared::keys;
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn collector(s3: &S3Server, extra: &[&str]) -> CollectorProcess {
    s3.create_bucket(BUCKET);
    let mut args: Vec<String> = [
        "--object-store",
        &format!("s3://{BUCKET}"),
        "--flush-interval",
        "1s",
        "--object-store-timeout",
        "2s",
        "--collector-id",
        "hard",
        "--memcached",
        &shared_memcached().addr().to_string(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    CollectorProcess::start(s3_env(s3), args)
}

/// Sends a request's head and `body` over a raw connection, then waits for the answer's
/// status line, for at most `within`.
async fn raw_post(url: &str, head: &[&str], body: &[u8], within: Duration) -> (String, Duration) {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("POST /api/report HTTP/1.1\r\nHost: {addr}\r\n");
    for line in head {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    (text, started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_body_gets_408_and_is_counted() {
    let c = collector(shared_s3(), &["--body-read-timeout", "1s"]);
    let client = reqwest::Client::new();
    let before = metric(
        &client,
        &c.url(),
        "stormscope_ingest_rejected_total{reason=\"body_timeout\"}",
    )
    .await;
    // Claims 16 MiB, sends ten bytes, then nothing.
    let (answer, waited) = raw_post(
        &c.url(),
        &[
            "Content-Type: application/msgpack",
            "Content-Encoding: gzip",
            "Content-Length: 16777216",
        ],
        b"0123456789",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"reason\":\"body_timeout\""), "{answer}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let after = metric(
        &client,
        &c.url(),
        "stormscope_ingest_rejected_total{reason=\"body_timeout\"}",
    )
    .await;
    assert_eq!(after - before, 1.0);
    // A probe that sends its body in time is unaffected.
    let p = post(&client, &c.url(), body_with_id(&template(), "in-time"), &[]).await;
    assert_eq!(p.status, 200, "{}", p.body);
}

fn write_tokens(path: &std::path::Path, text: &str) {
    // Written aside and renamed, as a secret mount swaps files: the collector never reads half.
    let aside = path.with_extension("new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// Polls, for up to 10 s, until a report posted with `token` is accepted (200).
async fn until_accepted(client: &reqwest::Client, url: &str, token: &str, id: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_with(client, url, token, id).await != 200 {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_with(client: &reqwest::Client, url: &str, token: &str, id: &str) -> u16 {
    post(
        client,
        url,
        body_with_id(&template(), id),
        &[("Authorization", &format!("Scope-Probe token={token}"))],
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread")]
async fn in_token_mode_the_token_is_checked_before_any_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    write_tokens(&tokens, "good acme\n");
    let c = collector(
        shared_s3(),
        &[
            "--tenancy",
            "token",
            "--tokens-file",
            tokens.to_str().unwrap(),
        ],
    );
    // A stranger announces a large body and sends none of it: refused at once, not after the
    // 30 s body deadline.
    let (answer, waited) = raw_post(
        &c.url(),
        &[
            "Content-Type: application/msgpack",
            "Authorization: Scope-Probe token=wrong",
            "Content-Length: 16000000",
        ],
        b"",
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_reload_when_the_file_changes_and_on_sighup_and_a_bad_file_keeps_the_old() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("watched");
    let signalled = dir.path().join("signalled");
    write_tokens(&watched, "old-w acme\n");
    write_tokens(&signalled, "old-s acme\n");
    let by_change = collector(
        shared_s3(),
        &[
            "--tenancy",
            "token",
            "--tokens-file",
            watched.to_str().unwrap(),
            "--tokens-check-interval",
            "200ms",
        ],
    );
    let by_signal = collector(
        shared_s3(),
        &[
            "--tenancy",
            "token",
            "--tokens-file",
            signalled.to_str().unwrap(),
            "--tokens-check-interval",
            "1h",
        ],
    );
    assert_eq!(
        status_with(&client, &by_change.url(), "old-w", "w1").await,
        200
    );
    assert_eq!(
        status_with(&client, &by_signal.url(), "old-s", "s1").await,
        200
    );

    // The file changes: the new token works within a few checks, the old one no more.
    write_tokens(&watched, "new-w acme\n");
    until_accepted(
        &client,
        &by_change.url(),
        "new-w",
        "w2",
        "the changed file to reload",
    )
    .await;
    assert_eq!(
        status_with(&client, &by_change.url(), "old-w", "w3").await,
        401
    );

    // A version that lists a token twice does not parse: the tokens in force stay, and the
    // log says why, once.
    write_tokens(&watched, "dup acme\ndup globex\n");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status_with(&client, &by_change.url(), "new-w", "w4").await,
        200
    );
    assert_eq!(
        status_with(&client, &by_change.url(), "dup", "w5").await,
        401
    );
    let output = by_change.output();
    assert_eq!(
        output.matches("tokens file not reloaded").count(),
        1,
        "{output}"
    );
    assert!(output.contains("listed twice"), "{output}");
    assert!(
        !output.contains("new-w") && !output.contains("dup acme"),
        "tokens in the log: {output}"
    );

    // Without a check for an hour, only SIGHUP reloads.
    write_tokens(&signalled, "new-s acme\n");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        status_with(&client, &by_signal.url(), "new-s", "s2").await,
        401
    );
    by_signal.hangup();
    until_accepted(
        &client,
        &by_signal.url(),
        "new-s",
        "s3",
        "SIGHUP to reload the tokens",
    )
    .await;
    assert_eq!(
        status_with(&client, &by_signal.url(), "old-s", "s4").await,
        401
    );
}

#[test]
fn a_token_listed_twice_stops_the_collector_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "t1 acme\nt2 globex\nt1 globex\n").unwrap();
    let out = std::process::Command::new(stormscope_bin())
        .args([
            "collector",
            "--listen",
            "127.0.0.1:0",
            "--object-store",
            "memory://",
        ])
        .arg("--spool-dir")
        .arg(dir.path().join("spool"))
        .args(["--tenancy", "token", "--tokens-file"])
        .arg(&tokens)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("listed twice"),
        "{stderr}"
    );
    assert!(!stderr.contains("t1"), "a token in the error: {stderr}");
}

async fn ready(client: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let response = client.get(format!("{url}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    let degraded = response
        .headers()
        .get("x-stormscope-degraded")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, degraded, response.text().await.unwrap())
}

/// A full disk, for real: the collector's file-size limit (RLIMIT_FSIZE) drops below one
/// report, so every spool write fails (EFBIG) as it would with ENOSPC, then goes back up.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_turns_the_collector_unready_at_once_and_it_recovers_by_itself() {
    let s3 = S3Server::start();
    let c = collector(&s3, &[]);
    let client = reqwest::Client::new();
    let template = template();
    let mut acknowledged = BTreeSet::new();
    let mut refused = BTreeSet::new();
    macro_rules! send {
        ($id:expr) => {{
            let id: String = $id;
            let p = post(&client, &c.url(), body_with_id(&template, &id), &[]).await;
            match p.status {
                200 => acknowledged.insert(id),
                _ => refused.insert((id, p.status, p.degraded, p.body)),
            };
        }};
    }
    for n in 0..5 {
        send!(format!("before-{n}"));
    }
    c.limit_file_size(Some(1024));
    for n in 0..10 {
        send!(format!("full-{n}"));
    }
    assert_eq!(acknowledged.len(), 5, "refused: {refused:?}");
    for (id, status, degraded, body) in &refused {
        assert_eq!(*status, 503, "{id}: {body}");
        assert_eq!(degraded.as_deref(), Some("spool"), "{id}");
        assert!(body.contains("\"error\""), "{id}: {body}");
    }
    let (status, degraded, body) = ready(&client, &c.url()).await;
    assert_eq!(
        (status, degraded.as_deref()),
        (503, Some("spool")),
        "{body}"
    );
    assert!(body.contains("spool writes failing"), "{body}");

    c.limit_file_size(None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&client, &c.url()).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready again: {}",
            c.output()
        );
    }
    let (_, degraded, _) = ready(&client, &c.url()).await;
    assert_eq!(degraded, None);
    for n in 0..5 {
        send!(format!("after-{n}"));
    }
    assert_eq!(acknowledged.len(), 10);

    let want: BTreeSet<String> = acknowledged.iter().cloned().collect();
    assert!(
        eventually(Duration::from_secs(20), || want
            .is_subset(&stored_report_ids(&s3)))
        .await,
        "acknowledged reports missing: {:?}",
        want.difference(&stored_report_ids(&s3)).collect::<Vec<_>>()
    );
    let stored = stored_report_ids(&s3);
    for (id, ..) in &refused {
        assert!(!stored.contains(id), "{id} was refused yet stored");
    }
    let output = c.output();
    assert_eq!(
        output.matches("spool writes are failing").count(),
        1,
        "{output}"
    );
    assert_eq!(
        output.matches("spool writes succeed again").count(),
        1,
        "{output}"
    );
}

fn app(s3: &S3Server, memcached: &str) -> ServerProcess {
    s3.create_bucket(BUCKET);
    app_process(s3, BUCKET, memcached, &["--object-store-timeout", "1s"])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_that_reaches_neither_source_answers_flagged_but_is_not_ready() {
    let mut s3 = S3Server::start();
    let mut memcached = Memcached::start();
    let a = app(&s3, &memcached.addr().to_string());
    let url = format!("http://{}", a.addr());
    let client = reqwest::Client::new();
    let (status, _, body) = ready(&client, &url).await;
    assert_eq!(status, 200, "{body}");

    memcached.kill();
    let (status, _, body) = ready(&client, &url).await;
    assert_eq!(status, 200, "the object store is enough: {body}");

    s3.kill();
    let (status, _, body) = ready(&client, &url).await;
    assert_eq!(status, 503, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&json["cache"], &json["object_store"]),
        (&false.into(), &false.into())
    );

    let response = client
        .get(format!("{url}/api/topology/hosts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let degraded = response.headers()["x-stormscope-degraded"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        degraded.contains("cache") && degraded.contains("object-store"),
        "{degraded}"
    );
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(json["nodes"], serde_json::json!({}));

    memcached.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(&client, &url).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready once memcached was back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_segment_read_by_every_query_is_warned_about_once() {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    // No memcached: every window is read from the object store, bad segment included.
    let a = {
        let env = s3_env(&s3);
        ServerProcess::start_with_env(stormscope_bin(), env, move |port| {
            [
                "app",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--object-store",
                &format!("s3://{BUCKET}"),
            ]
            .map(OsString::from)
            .to_vec()
        })
    };
    let single = TenantId::new("single").unwrap();
    let key = keys::segment_key(&single, Timestamp::now().unix_millis() - 2_000, "bad", 1);
    let path = s3.object_path(BUCKET, &key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"this is not a segment").unwrap();

    let url = format!("http://{}", a.addr());
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let response = client
            .get(format!("{url}/api/topology/hosts"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let output = a.output();
    let lines = output.matches("unreadable segment skipped").count();
    assert_eq!(lines, 1, "{output}");
    let suppressed = metric(&client, &url, "stormscope_log_suppressed_total").await;
    assert!(suppressed >= 19.0, "{suppressed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_read_tokens_a_probes_token_cannot_read_the_topology() {
    let s3 = shared_s3();
    s3.create_bucket(BUCKET);
    let dir = tempfile::tempdir().unwrap();
    let (probe_tokens, read_tokens) = (dir.path().join("probe"), dir.path().join("read"));
    std::fs::write(&probe_tokens, "probe-secret acme\n").unwrap();
    std::fs::write(&read_tokens, "reader-secret acme\n").unwrap();
    let a = ServerProcess::start_with_env(stormscope_bin(), s3_env(s3), move |port| {
        let mut args: Vec<OsString> = [
            "app",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--object-store",
            &format!("s3://{BUCKET}"),
            "--tenancy",
            "token",
            "--tokens-file",
        ]
        .map(OsString::from)
        .to_vec();
        args.push(probe_tokens.clone().into());
        args.push("--read-tokens-file".into());
        args.push(read_tokens.clone().into());
        args
    });
    let client = reqwest::Client::new();
    let status = |token: &'static str| {
        let request = client
            .get(format!("http://{}/api/topology/hosts", a.addr()))
            .header("Authorization", format!("Scope-Probe token={token}"));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("reader-secret").await, 200);
    assert_eq!(status("probe-secret").await, 401);
}
