//! A real collector and app over s3s-fs and memcached, with header tenancy, and the ways the
//! HTTP tests feed them: the two-host demo's 14 real bodies, or any report.

use std::net::TcpListener;
use std::time::Duration;

use stormscope_app::{App, AppConfig};
use stormscope_collector::{Collector, CollectorConfig};
use stormscope_integration::S3Server;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::storage::object::{ObjectStoreTimeouts, S3Options};
use stormscope_shared::tenancy::Tenancy;
use stormscope_shared::{Format, Report};

use super::fixtures;

const BUCKET: &str = "api";

pub struct Services {
    pub collector: String,
    pub app: String,
    _spool: tempfile::TempDir,
}

pub async fn services(s3: &S3Server, memcached: &str) -> Services {
    services_with(s3, memcached, |_| {}).await
}

/// As [`services`], with the app's configuration changed by `configure` first.
pub async fn services_with(
    s3: &S3Server,
    memcached: &str,
    configure: impl FnOnce(&mut AppConfig),
) -> Services {
    s3.create_bucket(BUCKET);
    let timeouts = ObjectStoreTimeouts {
        request: Duration::from_secs(2),
        connect: Duration::from_secs(1),
    };
    let spool = tempfile::tempdir().unwrap();
    let mut c = CollectorConfig::local(spool.path().to_owned(), &format!("s3://{BUCKET}"));
    c.s3_options = S3Options(s3.settings());
    c.object_store_timeouts = timeouts;
    c.memcached = vec![memcached.to_owned()];
    c.flush_interval = Duration::from_millis(500);
    c.tenancy = Tenancy::Header("x-scope-orgid".into());
    let collector = Collector::start(c).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(collector.run(listener, 1, std::future::pending()));

    let mut a = AppConfig::local(&format!("s3://{BUCKET}"));
    a.s3_options = S3Options(s3.settings());
    a.object_store_timeouts = timeouts;
    a.memcached = vec![memcached.to_owned()];
    a.tenancy = Tenancy::Header("x-scope-orgid".into());
    a.window = Duration::from_secs(60);
    configure(&mut a);
    let app = App::start(a).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.run(listener, 1, std::future::pending()));
    Services {
        collector: collector_url,
        app: app_url,
        _spool: spool,
    }
}

/// The 14 demo bodies in arrival order, posted as the probes sent them.
pub async fn post_demo(collector: &str, tenant: &str) {
    for n in 1..=7 {
        for host in ["hostB", "hostA"] {
            let kind = if n % 3 == 1 { "full" } else { "delta" };
            let file = format!("scope-probe/{host}-{n:02}-{kind}.msgpack.gz");
            let probe = if host == "hostA" {
                "500b77fb74924034"
            } else {
                "212bed573776448e"
            };
            let body = std::fs::read(fixtures().join(&file)).unwrap();
            post(collector, tenant, probe, body).await;
        }
    }
}

/// `report` posted as a probe sends it: gzipped msgpack.
pub async fn post_report(collector: &str, tenant: &str, probe: &str, report: &Report) {
    let body = codec::encode(report, Format::Msgpack, Compression::Gzip);
    post(collector, tenant, probe, body).await;
}

async fn post(collector: &str, tenant: &str, probe: &str, body: Vec<u8>) {
    let response = reqwest::Client::new()
        .post(format!("{collector}/api/report"))
        .header("Content-Type", "application/msgpack")
        .header("Content-Encoding", "gzip")
        .header("X-Scope-Probe-ID", probe)
        .header("X-Scope-OrgID", tenant)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "a report from {probe}");
}

/// Segments the collector has uploaded.
pub fn segments(s3: &S3Server) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        usize::from(e.path().extension().is_some_and(|x| x == "seg"))
                    }
                })
                .sum()
        })
    }
    walk(&s3.data_dir().join(BUCKET))
}
