//! The probe against a real in-process collector: reports arrive under the tenant its token
//! names, and a refused token neither stops the probe nor gets anything stored.

use std::future::pending;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use stormscope_collector::{Collector, CollectorConfig};
use stormscope_probe::{ProbeConfig, run};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::tenancy::{Tenancy, TenantId, Tokens};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits, Report, TopologyKind};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "probe-token-acme";
const TENANT: &str = "acme";

struct TestCollector {
    url: String,
    cache: ReportCache,
    _spool: tempfile::TempDir,
}

/// A collector with `--tenancy token`, its tokens file naming one probe token.
async fn collector() -> TestCollector {
    let spool = tempfile::tempdir().unwrap();
    let tokens_file = spool.path().join("tokens");
    std::fs::write(&tokens_file, format!("# probes\n{TOKEN} {TENANT}\n")).unwrap();
    let tokens = Tokens::parse(&std::fs::read_to_string(&tokens_file).unwrap()).unwrap();
    let mut config = CollectorConfig::local(spool.path().join("spool"), "memory://");
    config.tenancy = Tenancy::Token(tokens.into());
    let collector = Collector::start(config).await.unwrap();
    let cache = collector.state().cache.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(collector.run(listener, 1, pending()));
    TestCollector {
        url,
        cache,
        _spool: spool,
    }
}

fn start_probe(config: ProbeConfig) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(config, async {
            let _ = stopped.await;
        })
        .await
        .expect("the probe's config is valid");
    });
    (stop, task)
}

/// The reports the collector stored for the tenant in the last minute, decoded.
async fn stored_reports(cache: &ReportCache) -> Vec<Report> {
    let tenant = TenantId::new(TENANT).unwrap();
    let now = Timestamp::now().unix_millis();
    let keys = cache
        .keys_between(&tenant, now - 60_000, now + 1_000)
        .await
        .unwrap();
    let bodies = cache.get_many(&keys).await.unwrap();
    bodies
        .into_iter()
        .flatten()
        .map(|b| codec::decode(&b, Compression::Gzip, Format::Msgpack, &Limits::default()).unwrap())
        .collect()
}

async fn metric(collector: &str, line_prefix: &str) -> f64 {
    let text = reqwest::get(format!("{collector}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(line_prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_reach_the_collector_under_the_tokens_tenant() {
    let collector = collector().await;
    let mut config = ProbeConfig::new(format!("{}/", collector.url));
    config.interval = Duration::from_millis(300);
    config.token = Some(TOKEN.into());
    config.probe_id = "00000000deadbeef".into();
    let (stop, task) = start_probe(config);

    let deadline = Instant::now() + Duration::from_secs(30);
    let reports = loop {
        let reports = stored_reports(&collector.cache).await;
        if reports.len() >= 3 {
            break reports;
        }
        assert!(
            Instant::now() < deadline,
            "only {} reports stored",
            reports.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host_node = format!("{};<host>", host.trim());
    let pid = std::process::id().to_string();
    let mut ids = Vec::new();
    for report in &reports {
        let hosts = &report.topology(TopologyKind::Host).nodes;
        assert_eq!(
            hosts[&host_node].latest_value("control_probe_id"),
            Some("00000000deadbeef")
        );
        let me = format!("{};{pid}", host.trim());
        assert!(
            report
                .topology(TopologyKind::Process)
                .nodes
                .contains_key(&me),
            "the test process {me} is in every report"
        );
        assert_eq!(report.window, 300_000_000);
        ids.push(report.id.clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), reports.len(), "each report is a new one");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the probe stops when told")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_retried_and_nothing_is_stored() {
    let collector = collector().await;
    let mut config = ProbeConfig::new(collector.url.clone());
    config.interval = Duration::from_millis(200);
    config.token = Some("not-a-known-token".into());
    let (stop, task) = start_probe(config);

    // Each post is refused; the probe must go on posting every interval regardless.
    let refused = "stormscope_ingest_requests_total{status=\"401\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&collector.url, refused).await < 3.0 {
        assert!(Instant::now() < deadline, "fewer than 3 refused posts");
        assert!(!task.is_finished(), "the probe stopped after a refusal");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!task.is_finished());
    assert!(stored_reports(&collector.cache).await.is_empty());

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the probe stops when told")
        .unwrap();
}
