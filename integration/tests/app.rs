//! The app as users meet it, black-box: a collector and an app process sharing a real
//! memcached and s3s-fs, and `stormscope standalone` on a fresh data directory.

mod common;

use std::ffi::OsString;
use std::time::{Duration, Instant};

use common::*;
use stormscope_integration::{
    CollectorProcess, ServerProcess, app_process, s3_env, shared_memcached, shared_s3,
    stormscope_bin,
};
use stormscope_shared::Format;
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::synth::{SynthSpec, generate, hostname};
use stormscope_shared::time::Timestamp;

const TENANT: (&str, &str) = ("X-Scope-OrgID", "e2e");

fn app(memcached: &str) -> ServerProcess {
    app_process(shared_s3(), BUCKET, memcached, &["--tenancy", "header"])
}

async fn host_ids(
    client: &reqwest::Client,
    url: &str,
    tenant: Option<(&str, &str)>,
) -> Vec<String> {
    let mut request = client.get(format!("{url}/api/topology/hosts"));
    if let Some((name, value)) = tenant {
        request = request.header(name, value);
    }
    let Ok(response) = request.send().await else {
        return Vec::new();
    };
    let bytes = response.bytes().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    body["nodes"]
        .as_object()
        .map(|nodes| nodes.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_posted_to_the_collector_is_in_the_app_within_a_second() {
    let s3 = shared_s3();
    s3.create_bucket(BUCKET);
    let memcached = shared_memcached().addr().to_string();
    let collector = CollectorProcess::start(
        s3_env(s3),
        [
            "--object-store",
            &format!("s3://{BUCKET}"),
            "--memcached",
            &memcached,
            "--tenancy",
            "header",
        ]
        .map(String::from)
        .to_vec(),
    );
    let app = app(&memcached);
    let url = format!("http://{}", app.addr());
    let client = reqwest::Client::new();
    // Several reports, each a new host, each timed from its acknowledgement.
    for n in 0..5 {
        let mut spec = SynthSpec::probe(7_000 + n, 7_000 + n as usize, 7_010);
        spec.processes_per_host = 20;
        spec.connections_per_host = 20;
        spec.ts = Timestamp::now();
        let body = codec::encode(&generate(&spec), Format::Msgpack, Compression::Gzip);
        let posted = post(&client, &collector.url(), body, &[TENANT]).await;
        assert_eq!(posted.status, 200, "{}", posted.body);
        let acknowledged = Instant::now();
        let host = format!("{};<host>", hostname(7_000 + n as usize));
        loop {
            if host_ids(&client, &url, Some(TENANT)).await.contains(&host) {
                break;
            }
            assert!(
                acknowledged.elapsed() < Duration::from_secs(1),
                "{host} not in the app's hosts view a second after the collector's 200"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Another tenant sees none of it.
    assert!(
        host_ids(&client, &url, Some(("X-Scope-OrgID", "other")))
            .await
            .is_empty()
    );
}

fn standalone(data_dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let data_dir = data_dir.to_owned();
    let extra: Vec<OsString> = extra.iter().map(OsString::from).collect();
    ServerProcess::start(stormscope_bin(), move |port| {
        let mut args: Vec<OsString> = [
            "standalone",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-level",
            "warn",
        ]
        .map(OsString::from)
        .to_vec();
        args.extend(["--data-dir".into(), data_dir.clone().into()]);
        args.extend(extra.iter().cloned());
        args
    })
}

async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_shows_this_machine_within_ten_seconds() {
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let server = standalone(&data.path().join("fresh"), &[]);
    let url = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let wanted = format!("{};<host>", this_host());
    loop {
        if host_ids(&client, &url, None).await.contains(&wanted) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{wanted} not in /api/topology/hosts within 10 s:\n{}",
            server.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its own processes are there too, this test among them.
    let processes = get_json(
        &client,
        &format!("{url}/api/topology/processes?unconnected=show"),
    )
    .await;
    let ours = format!("{};{}", this_host(), std::process::id());
    assert!(processes["nodes"].get(&ours).is_some(), "{ours} missing");
    // The front page is the embedded UI, by relative URLs; `/api` offers history.
    let page = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("src=\"assets/app-"), "{page}");
    let details = get_json(&client, &format!("{url}/api")).await;
    assert_eq!(details["capabilities"]["historic_reports"], true);
    assert!(data.path().join("fresh/spool").is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_without_its_probe_shows_only_what_probes_send() {
    let data = tempfile::tempdir().unwrap();
    let server = standalone(data.path(), &["--no-probe"]);
    let url = format!("http://{}", server.addr());
    let client = reqwest::Client::new();
    let body = fixture("scope-probe/hostA-01-full.msgpack.gz");
    let posted = post(&client, &url, body, &[]).await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    let demo = "web-1.demo.local;<host>".to_owned();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !host_ids(&client, &url, None).await.contains(&demo) {
        assert!(Instant::now() < deadline, "the posted report never showed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Longer than the local probe's first report would take.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(host_ids(&client, &url, None).await, vec![demo]);
}
