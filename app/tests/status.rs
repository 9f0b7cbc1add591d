//! `GET /api/status` of an app that shares an in-process cache with an in-process collector
//! (as `standalone` runs them) over a real s3s-fs: healthy, then with s3s-fs hung, the
//! collector's health record and the app's own object-store check reach the answer, and both
//! go away when it answers again.

mod common;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::services::post_report;
use stormscope_app::{App, AppConfig};
use stormscope_collector::{Collector, CollectorConfig};
use stormscope_integration::S3Server;
use stormscope_shared::storage::Storage;
use stormscope_shared::storage::memory::MemoryStorage;
use stormscope_shared::storage::object::{ObjectStoreTimeouts, S3Options};
use stormscope_shared::synth::{SynthSpec, generate};
use stormscope_shared::tenancy::Tenancy;
use stormscope_shared::time::Timestamp;

const BUCKET: &str = "status";
const TENANT: &str = "status-tenant";

struct Running {
    app: String,
    collector: String,
    _spool: tempfile::TempDir,
}

async fn start(s3: &S3Server) -> Running {
    s3.create_bucket(BUCKET);
    let timeouts = ObjectStoreTimeouts {
        request: Duration::from_secs(1),
        connect: Duration::from_millis(500),
    };
    let cache: Arc<dyn Storage> = Arc::new(MemoryStorage::new("cache", 64 << 20));
    let spool = tempfile::tempdir().unwrap();
    let mut c = CollectorConfig::local(spool.path().to_owned(), &format!("s3://{BUCKET}"));
    c.collector_id = "status-collector".into();
    c.s3_options = S3Options(s3.settings());
    c.object_store_timeouts = timeouts;
    c.flush_interval = Duration::from_millis(500);
    c.tenancy = Tenancy::Header("x-scope-orgid".into());
    let collector = Collector::start_with_cache(c, Some(cache.clone()))
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(collector.run(listener, 1, std::future::pending()));

    let mut a = AppConfig::local(&format!("s3://{BUCKET}"));
    a.s3_options = S3Options(s3.settings());
    a.object_store_timeouts = timeouts;
    a.tenancy = Tenancy::Header("x-scope-orgid".into());
    let app = App::start_with_cache(a, Some(cache)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.run(listener, 1, std::future::pending()));
    Running {
        app: app_url,
        collector: collector_url,
        _spool: spool,
    }
}

/// Status, the degraded header and the body.
async fn get(url: &str) -> (u16, Option<String>, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("X-Scope-OrgID", TENANT)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("x-stormscope-degraded")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, header, body)
}

async fn post_one(collector: &str, n: u64) {
    let mut spec = SynthSpec::probe(n, 1, 2);
    spec.ts = Timestamp::now();
    post_report(collector, TENANT, "status-probe", &generate(&spec)).await;
}

/// Polls the app's status until `check` holds, posting a report to the collector each round.
async fn until(
    s: &Running,
    within: Duration,
    what: &str,
    check: impl Fn(&Option<String>, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    let mut n = 0;
    loop {
        post_one(&s.collector, n).await;
        n += 1;
        let (status, header, body) = get(&format!("{}/api/status", s.app)).await;
        assert_eq!(status, 200, "{body}");
        if check(&header, &body) {
            return body;
        }
        assert!(
            started.elapsed() < within,
            "{what} not within {within:?}: {header:?} {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn our_record(body: &serde_json::Value) -> Option<&serde_json::Value> {
    body["ingest"]
        .as_array()?
        .iter()
        .find(|r| r["collector"] == "status-collector")
}

fn rfc3339(value: &serde_json::Value) -> i64 {
    Timestamp::parse_rfc3339(value.as_str().unwrap_or_else(|| panic!("{value}")))
        .unwrap()
        .unix_millis()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_the_collectors_and_the_apps_sources_through_an_outage() {
    let mut s3 = S3Server::start();
    let s = start(&s3).await;

    let healthy = until(
        &s,
        Duration::from_secs(10),
        "the collector's record",
        |_, b| our_record(b).is_some(),
    )
    .await;
    assert_eq!(healthy["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(healthy["window"], "15s");
    assert!(healthy["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(
        healthy["sources"],
        serde_json::json!({"cache": "ok", "object-store": "ok"})
    );
    assert_eq!(healthy["degraded"], serde_json::Value::Null);
    let record = our_record(&healthy).unwrap();
    assert_eq!(record["sources"], serde_json::json!([]));
    assert!(rfc3339(&record["updated"]) > Timestamp::now().unix_millis() - 10_000);
    rfc3339(&record["since"]);

    let hung = Timestamp::now().unix_millis();
    s3.stop();
    let outage = until(
        &s,
        Duration::from_secs(10),
        "the outage in status",
        |h, b| {
            h.as_deref().is_some_and(|h| h.contains("ingest"))
                && our_record(b).is_some_and(|r| r["backlog_records"].as_u64() > Some(0))
                && b["sources"]["object-store"] == "failing"
        },
    )
    .await;
    let degraded = &outage["degraded"];
    let failing = &degraded["ingest"][0];
    assert_eq!(failing["collector"], "status-collector");
    assert_eq!(failing["sources"], serde_json::json!(["object-store"]));
    let since = rfc3339(&failing["since"]);
    assert!(since >= hung - 1_000, "{failing}");
    assert!(failing["backlog_bytes"].as_u64() > Some(0), "{failing}");
    assert!(rfc3339(&failing["oldest_pending"]) <= Timestamp::now().unix_millis());
    assert!(rfc3339(&degraded["since"]["object-store"]) >= hung - 1_000);
    assert_eq!(degraded["sources"], serde_json::json!(["object-store"]));

    // A topology answer says the same: whole (the cache has every report) but flagged.
    let (status, header, view) = get(&format!("{}/api/topology/hosts", s.app)).await;
    assert_eq!(status, 200);
    assert!(header.unwrap_or_default().contains("ingest"));
    assert_eq!(
        view["degraded"]["ingest"][0]["collector"],
        "status-collector"
    );

    s3.resume();
    let recovered = until(&s, Duration::from_secs(30), "recovery", |h, b| {
        h.is_none()
            && b["degraded"].is_null()
            && our_record(b).is_some_and(|r| r["sources"] == serde_json::json!([]))
    })
    .await;
    assert_eq!(recovered["sources"]["object-store"], "ok");
    let (_, header, view) = get(&format!("{}/api/topology/hosts", s.app)).await;
    assert_eq!(header, None);
    assert!(view.get("degraded").is_none(), "{view}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_resolves_the_tenant_as_every_route_does() {
    let s3 = S3Server::start();
    let s = start(&s3).await;
    let response = reqwest::get(format!("{}/api/status", s.app)).await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(body["error"].as_str().is_some(), "{body}");
}
