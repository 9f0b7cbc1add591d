//! Ingest health reaching the app, black-box: `stormscope collector` and `stormscope app`
//! processes over real memcached and s3s-fs. The collectors publish their health records to
//! memcached; the app's `/api/status` and its topology answers carry what they say.
//!
//! Health records are not per tenant, so each test that asserts a clean answer has its own
//! memcached: another test's failing collector must not show in it.

mod common;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use common::*;
use stormscope_integration::{
    CollectorProcess, Memcached, S3Server, ServerProcess, app_process, s3_env, shared_s3,
    stormscope_bin,
};

fn collector(s3: &S3Server, memcached: &str, id: &str) -> CollectorProcess {
    s3.create_bucket(BUCKET);
    CollectorProcess::start(
        s3_env(s3),
        [
            "--object-store",
            &format!("s3://{BUCKET}"),
            "--memcached",
            memcached,
            "--memcached-timeout",
            "200ms",
            "--flush-interval",
            "1s",
            "--object-store-timeout",
            "1s",
            "--collector-id",
            id,
        ]
        .map(String::from)
        .to_vec(),
    )
}

fn app(s3: &S3Server, memcached: &str) -> ServerProcess {
    let args = [
        "--object-store-timeout",
        "1s",
        "--memcached-timeout",
        "200ms",
    ];
    app_process(s3, BUCKET, memcached, &args)
}

/// An answer: status, the degraded header, the JSON body.
struct Answer {
    header: Option<String>,
    body: serde_json::Value,
}

async fn get(client: &reqwest::Client, url: &str) -> Answer {
    let response = client.get(url).send().await.expect("the app answers");
    assert_eq!(response.status().as_u16(), 200, "{url}");
    let header = response
        .headers()
        .get("x-stormscope-degraded")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    Answer { header, body }
}

fn record<'a>(body: &'a serde_json::Value, collector: &str) -> Option<&'a serde_json::Value> {
    body["ingest"]
        .as_array()?
        .iter()
        .find(|r| r["collector"] == collector)
}

fn millis(value: &serde_json::Value) -> i64 {
    stormscope_shared::time::Timestamp::parse_rfc3339(value.as_str().expect("a time"))
        .expect("RFC 3339")
        .unix_millis()
}

/// Polls until `check` holds, calling `between` each round (posting reports); panics after
/// `within` with `what` and the last answer.
async fn until<T>(
    within: Duration,
    what: &str,
    mut round: impl AsyncFnMut() -> T,
    check: impl Fn(&T) -> bool,
    show: impl Fn(&T) -> String,
) -> T {
    let started = Instant::now();
    loop {
        let value = round().await;
        if check(&value) {
            return value;
        }
        assert!(
            started.elapsed() < within,
            "{what} not within {within:?}: {}",
            show(&value)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn show(a: &Answer) -> String {
    format!("{:?} {:#}", a.header, a.body)
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_not_reaching_the_object_store_reach_the_app_and_clear_after_the_drain() {
    let mut s3 = S3Server::start();
    let memcached = Memcached::start();
    let m = memcached.addr().to_string();
    let c = collector(&s3, &m, "ingest_a");
    let app = app(&s3, &m);
    let (status, view) = (
        format!("http://{}/api/status", app.addr()),
        format!("http://{}/api/topology/hosts", app.addr()),
    );
    let client = reqwest::Client::new();
    let template = template();
    let mut n = 0;
    let mut post_one = async || {
        n += 1;
        let p = post(
            &client,
            &c.url(),
            body_with_id(&template, &format!("a-{n}")),
            &[],
        )
        .await;
        assert_eq!(p.status, 200, "{}", p.body);
    };

    let healthy = until(
        Duration::from_secs(10),
        "the collector's healthy record",
        async || {
            post_one().await;
            get(&client, &status).await
        },
        |a| record(&a.body, "ingest_a").is_some(),
        show,
    )
    .await;
    assert_eq!(healthy.header, None);
    assert!(healthy.body["degraded"].is_null(), "{}", show(&healthy));

    s3.stop();
    let stopped = Instant::now();
    let flagged = until(
        Duration::from_secs(10),
        "object-store ingest health in /api/status",
        async || {
            post_one().await;
            get(&client, &status).await
        },
        |a| {
            a.header.as_deref().is_some_and(|h| h.contains("ingest"))
                && a.body["degraded"]["ingest"][0]["sources"] == serde_json::json!(["object-store"])
        },
        show,
    )
    .await;
    assert!(stopped.elapsed() < Duration::from_secs(10));
    let first = record(&flagged.body["degraded"], "ingest_a")
        .expect("ours")
        .clone();
    assert!(
        millis(&first["since"]) <= millis(&first["updated"]),
        "{first}"
    );
    assert!(first["oldest_pending"].is_string(), "{first}");
    // A topology answer carries it too.
    let answer = get(&client, &view).await;
    assert!(
        answer
            .header
            .as_deref()
            .is_some_and(|h| h.contains("ingest")),
        "{}",
        show(&answer)
    );
    let in_view = record(&answer.body["degraded"], "ingest_a").expect("in the view's degraded");
    assert_eq!(in_view["sources"], serde_json::json!(["object-store"]));

    // The backlog grows while probes keep posting.
    let grown = until(
        Duration::from_secs(15),
        "a growing backlog",
        async || {
            post_one().await;
            get(&client, &status).await
        },
        |a| {
            record(&a.body, "ingest_a").is_some_and(|r| {
                r["backlog_records"].as_u64() > first["backlog_records"].as_u64().map(|b| b + 5)
            })
        },
        show,
    )
    .await;
    let grown = record(&grown.body, "ingest_a").unwrap();
    assert_eq!(grown["since"], first["since"], "one continuous failure");
    assert!(grown["backlog_bytes"].as_u64() > first["backlog_bytes"].as_u64());

    s3.resume();
    let clean = until(
        Duration::from_secs(40),
        "recovery after the backlog drained",
        async || get(&client, &status).await,
        |a| {
            a.header.is_none()
                && a.body["degraded"].is_null()
                && record(&a.body, "ingest_a").is_some_and(|r| r["backlog_records"] == 0)
        },
        show,
    )
    .await;
    let ours = record(&clean.body, "ingest_a").unwrap();
    assert_eq!(ours["sources"], serde_json::json!([]));
    assert!(ours["oldest_pending"].is_null(), "{ours}");
    let answer = get(&client, &view).await;
    assert_eq!(answer.header, None, "{}", show(&answer));
    assert!(answer.body.get("degraded").is_none(), "{}", show(&answer));
}

#[tokio::test(flavor = "multi_thread")]
async fn memcached_down_flags_the_apps_answers_with_since_until_it_is_back() {
    let s3 = shared_s3();
    let mut memcached = Memcached::start();
    let m = memcached.addr().to_string();
    let c = collector(s3, &m, "ingest_b");
    let app = app(s3, &m);
    let (status, view) = (
        format!("http://{}/api/status", app.addr()),
        format!("http://{}/api/topology/hosts", app.addr()),
    );
    let client = reqwest::Client::new();
    let posted = post(&client, &c.url(), body_with_id(&template(), "b-1"), &[]).await;
    assert_eq!(posted.status, 200);
    let answer = get(&client, &view).await;
    assert_eq!(answer.header, None, "{}", show(&answer));

    memcached.kill();
    let killed = stormscope_shared::time::Timestamp::now().unix_millis();
    let flagged = until(
        Duration::from_secs(10),
        "cache in the view's answer",
        async || get(&client, &view).await,
        |a| {
            a.header
                .as_deref()
                .is_some_and(|h| h.split(',').any(|t| t == "cache"))
        },
        show,
    )
    .await;
    let since = millis(&flagged.body["degraded"]["since"]["cache"]);
    assert!(since >= killed - 1_000, "{}", show(&flagged));
    let st = get(&client, &status).await;
    assert_eq!(st.body["sources"]["cache"], "failing", "{}", show(&st));
    assert_eq!(
        millis(&st.body["degraded"]["since"]["cache"]),
        since,
        "one failure, one start"
    );

    memcached.restart();
    until(
        Duration::from_secs(20),
        "a clean answer after memcached is back",
        async || {
            let _ = post(&client, &c.url(), body_with_id(&template(), "b-2"), &[]).await;
            (get(&client, &view).await, get(&client, &status).await)
        },
        |(v, s)| {
            v.header.is_none()
                && v.body.get("degraded").is_none()
                && s.header.is_none()
                && s.body["sources"]["cache"] == "ok"
        },
        |(v, s)| format!("{}\n{}", show(v), show(s)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_lists_every_collector_across_two_memcached_servers() {
    let s3 = shared_s3();
    let (m1, m2) = (Memcached::start(), Memcached::start());
    let servers = format!("{},{}", m1.addr(), m2.addr());
    let _c1 = collector(s3, &servers, "ingest_c1");
    let _c2 = collector(s3, &servers, "ingest_c2");
    let app = app(s3, &servers);
    let status = format!("http://{}/api/status", app.addr());
    let client = reqwest::Client::new();
    let both = until(
        Duration::from_secs(10),
        "both collectors listed",
        async || get(&client, &status).await,
        |a| record(&a.body, "ingest_c1").is_some() && record(&a.body, "ingest_c2").is_some(),
        show,
    )
    .await;
    for id in ["ingest_c1", "ingest_c2"] {
        let r = record(&both.body, id).unwrap();
        let age = stormscope_shared::time::Timestamp::now().unix_millis() - millis(&r["updated"]);
        assert!((0..10_000).contains(&age), "{r}");
    }
    // Each collector once, however many times it published.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = get(&client, &status).await;
    let ids: Vec<&str> = again.body["ingest"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["collector"].as_str())
        .collect();
    assert_eq!(ids, vec!["ingest_c1", "ingest_c2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_shows_its_own_collectors_health_and_backlog() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    let server = ServerProcess::start(stormscope_bin(), move |port| {
        let mut args: Vec<OsString> = [
            "standalone",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-probe",
            "--flush-interval",
            "1h",
            "--log-level",
            "warn",
        ]
        .map(OsString::from)
        .to_vec();
        args.extend(["--data-dir".into(), dir.clone().into()]);
        args
    });
    let url = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let template = template();
    for n in 0..3 {
        let p = post(
            &client,
            &url,
            body_with_id(&template, &format!("d-{n}")),
            &[],
        )
        .await;
        assert_eq!(p.status, 200, "{}", p.body);
    }
    // Nothing is flushed for an hour: the three reports are the backlog.
    let status = format!("{url}/api/status");
    let answer = until(
        Duration::from_secs(10),
        "the standalone collector's record",
        async || get(&client, &status).await,
        |a| record(&a.body, "standalone").is_some_and(|r| r["backlog_records"] == 3),
        show,
    )
    .await;
    let r = record(&answer.body, "standalone").unwrap();
    assert_eq!(r["sources"], serde_json::json!([]));
    assert!(r["backlog_bytes"].as_u64() > Some(0), "{r}");
    assert!(r["oldest_pending"].is_string(), "{r}");
    assert_eq!(answer.header, None);
    assert!(answer.body["degraded"].is_null());
}
