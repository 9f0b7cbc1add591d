//! The scaled-out deployment on one machine, black-box (the Helm chart's shape): 3 collector
//! processes and 2 app processes over 2 memcached and one s3s-fs, with 30 simulated probes
//! spread over the collectors, each posting its own host's report every second.
//!
//! - Both apps show all 30 hosts, whichever collector took their reports.
//! - A collector killed with SIGKILL and a memcached stopped lose no acknowledged report: after
//!   recovery every one of them is in the object store (audited by report id, read from the
//!   segments' entries).
//! - While a memcached is down, the apps' answers are flagged `X-Stormscope-Degraded`.
//! - Object keys never collide: each collector writes under its own id, and the other
//!   collectors' write-behinds keep uploading while one is down.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use stormscope_integration::{
    CollectorProcess, Memcached, S3Server, ServerProcess, app_process, s3_env,
};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::synth::{SynthSpec, generate, hostname};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, segment};

const PROBES: usize = 30;
const COLLECTORS: usize = 3;

fn collector(s3: &S3Server, memcached: &str, i: usize) -> CollectorProcess {
    CollectorProcess::start(
        s3_env(s3),
        [
            "--object-store",
            &format!("s3://{BUCKET}"),
            "--memcached",
            memcached,
            "--flush-interval",
            "2s",
            // As the chart sets it from the pod name: unique per collector, stable across
            // restarts. (On one machine the default, the host name, would be shared.)
            "--collector-id",
            &format!("collector-{i}"),
            "--log-level",
            "warn",
        ]
        .map(String::from)
        .to_vec(),
    )
}

fn app(s3: &S3Server, memcached: &str) -> ServerProcess {
    let args = ["--window", "6s", "--workers", "1", "--log-level", "warn"];
    app_process(s3, BUCKET, memcached, &args)
}

/// Probe `p`'s report number `n`: its own host, a report id naming both.
fn report(p: usize, n: u64) -> (String, Vec<u8>) {
    let mut spec = SynthSpec::probe(p as u64 + 1, p, PROBES);
    spec.processes_per_host = 8;
    spec.connections_per_host = 8;
    spec.containers_per_host = 2;
    spec.pods_per_host = 1;
    spec.ts = Timestamp::now();
    let mut report = generate(&spec);
    report.id = format!("probe{p}-{n}");
    let id = report.id.clone();
    (
        id,
        codec::encode(&report, Format::Msgpack, Compression::Gzip),
    )
}

/// The 30 probes, posting once a second until stopped. A probe posts to its own collector
/// and, when that one refuses connections, to the next (as a Service would send it there).
/// Only reports answered 200 count as acknowledged.
struct Probes {
    acked: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Probes {
    fn start(urls: Vec<String>) -> Probes {
        let acked = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (acked, stop) = (acked.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let round = (0..PROBES).map(|p| {
                        let (client, urls, acked) = (client.clone(), urls.clone(), acked.clone());
                        async move {
                            let (id, body) = report(p, n);
                            for attempt in 0..COLLECTORS {
                                let c = (p + attempt) % COLLECTORS;
                                let sent = client
                                    .post(format!("{}/api/report", urls[c]))
                                    .header("Content-Type", "application/msgpack")
                                    .header("Content-Encoding", "gzip")
                                    .header("X-Scope-Probe-ID", format!("{p:016x}"))
                                    .body(body.clone())
                                    .send()
                                    .await;
                                match sent {
                                    Ok(r) if r.status() == 200 => {
                                        acked.lock().unwrap().insert(id, c);
                                        return;
                                    }
                                    Ok(_) => return,
                                    Err(_) => continue,
                                }
                            }
                        }
                    });
                    futures::future::join_all(round).await;
                    n += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        };
        Probes { acked, stop, task }
    }

    fn acked(&self) -> BTreeMap<String, usize> {
        self.acked.lock().unwrap().clone()
    }

    async fn stop(self) -> BTreeMap<String, usize> {
        let Probes { acked, stop, task } = self;
        stop.store(true, Ordering::Relaxed);
        task.await.unwrap();
        acked.lock().unwrap().clone()
    }
}

struct Answer {
    hosts: BTreeSet<String>,
    degraded: Option<String>,
}

async fn hosts(client: &reqwest::Client, app: &ServerProcess) -> Answer {
    let Ok(response) = client
        .get(format!("http://{}/api/topology/hosts", app.addr()))
        .send()
        .await
    else {
        return Answer {
            hosts: BTreeSet::new(),
            degraded: None,
        };
    };
    let degraded = response
        .headers()
        .get("x-stormscope-degraded")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.unwrap_or_default()).unwrap_or_default();
    let hosts = body["nodes"]
        .as_object()
        .map(|nodes| nodes.keys().cloned().collect())
        .unwrap_or_default();
    Answer { hosts, degraded }
}

fn all_hosts() -> BTreeSet<String> {
    (0..PROBES)
        .map(|p| format!("{};<host>", hostname(p)))
        .collect()
}

/// Report ids in the object store, from the segments' entries, and the object keys.
fn stored(s3: &S3Server) -> (BTreeSet<String>, Vec<String>) {
    let reports = stored_reports(s3);
    let keys = reports.iter().map(|(k, _)| k.clone()).collect();
    (reports.into_iter().map(|(_, r)| r.id).collect(), keys)
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if tokio::time::Instant::now() >= deadline => {
                panic!("{what} within {timeout:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn three_collectors_and_two_apps_behave_as_one_service_through_failures() {
    let s3 = S3Server::start();
    s3.create_bucket(BUCKET);
    let m1 = Memcached::start();
    let mut m2 = Memcached::start();
    let memcached = format!("{},{}", m1.addr(), m2.addr());
    let mut collectors: Vec<CollectorProcess> = (0..COLLECTORS)
        .map(|i| collector(&s3, &memcached, i))
        .collect();
    let apps = [app(&s3, &memcached), app(&s3, &memcached)];
    let client = reqwest::Client::new();
    let probes = Probes::start(collectors.iter().map(|c| c.url()).collect());

    // Any app sees every probe, whichever collector took its reports.
    let want = all_hosts();
    for app in &apps {
        wait_until(
            "an app showing all 30 hosts",
            Duration::from_secs(30),
            || async {
                let got = hosts(&client, app).await.hosts;
                if want.is_subset(&got) {
                    Ok(())
                } else {
                    Err(format!("{} of 30 hosts", want.intersection(&got).count()))
                }
            },
        )
        .await;
    }
    let per_collector = probes.acked().values().fold([0; COLLECTORS], |mut n, c| {
        n[*c] += 1;
        n
    });
    assert!(
        per_collector.iter().all(|n| *n > 0),
        "probes spread over the collectors: {per_collector:?}"
    );

    // kill -9 one collector, with reports in its spool not yet in the object store (its flush
    // interval is 2 s). Its probes go to the others meanwhile, whose write-behinds carry on.
    let url0 = collectors[0].url();
    wait_until(
        "collector-0 holding reports not yet in the object store",
        Duration::from_secs(10),
        || async {
            match metric(&client, &url0, "stormscope_write_behind_backlog_records").await {
                n if n > 0.0 => Ok(()),
                n => Err(format!("{n} records")),
            }
        },
    )
    .await;
    let before_kill = probes.acked();
    collectors[0].kill();
    let stored_at_kill = stored(&s3).0.len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        stored(&s3).0.len() > stored_at_kill,
        "the other collectors kept uploading while collector-0 was down"
    );
    collectors[0].restart();
    let restarted_collector = collectors[0].url();
    wait_until(
        "collector-0 replaying its spool after the kill",
        Duration::from_secs(30),
        || async {
            let stored = stored(&s3).0;
            let missing: Vec<_> = before_kill
                .keys()
                .filter(|id| !stored.contains(*id))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("{} acknowledged reports missing", missing.len()))
            }
        },
    )
    .await;
    assert!(
        metric(
            &client,
            &restarted_collector,
            "stormscope_spool_replayed_records_total"
        )
        .await
            > 0.0,
        "collector-0 replayed the reports its spool held"
    );

    // Stop one memcached: the apps flag their answers while it is missing, and still show
    // every host (from the other memcached and the object store).
    m2.kill();
    for app in &apps {
        wait_until(
            "an app's answers flagged `cache` and whole while a memcached is down",
            Duration::from_secs(20),
            || async {
                let answer = hosts(&client, app).await;
                let flagged = answer
                    .degraded
                    .as_deref()
                    .is_some_and(|d| d.contains("cache"));
                if flagged && want.is_subset(&answer.hosts) {
                    Ok(())
                } else {
                    Err(format!(
                        "flag {:?}, {} hosts",
                        answer.degraded,
                        want.intersection(&answer.hosts).count()
                    ))
                }
            },
        )
        .await;
    }
    let url1 = collectors[1].url();
    wait_until(
        "collector-1's breaker for the stopped memcached open",
        Duration::from_secs(15),
        || async {
            match metric(&client, &url1, "stormscope_memcached_breaker_open").await {
                1.0 => Ok(()),
                open => Err(format!("{open} breakers open")),
            }
        },
    )
    .await;
    m2.restart();
    for app in &apps {
        wait_until(
            "an app's answers unflagged after memcached is back",
            Duration::from_secs(30),
            || async {
                let answer = hosts(&client, app).await;
                match answer.degraded {
                    None if want.is_subset(&answer.hosts) => Ok(()),
                    flag => Err(format!("flag {flag:?}")),
                }
            },
        )
        .await;
    }

    // Every acknowledged report is in the object store, once.
    let acked = probes.stop().await;
    assert!(
        acked.len() > PROBES * 5,
        "{} reports acknowledged",
        acked.len()
    );
    wait_until(
        "every acknowledged report in the object store",
        Duration::from_secs(30),
        || async {
            let stored = stored(&s3).0;
            let missing: Vec<_> = acked.keys().filter(|id| !stored.contains(*id)).collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{} missing, e.g. {:?}",
                    missing.len(),
                    &missing[..missing.len().min(5)]
                ))
            }
        },
    )
    .await;
    // Object keys never collide: each collector's segments carry its id (dashes become
    // underscores in keys), and a report key
    // (the key inside the segment) always names one report, even where at-least-once delivery
    // stored an entry twice after the kill.
    let (_, keys) = stored(&s3);
    for i in 0..COLLECTORS {
        assert!(
            keys.iter().any(|k| k.contains(&format!("-collector_{i}-"))),
            "segments of collector-{i}"
        );
    }
    let mut reports_by_key: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in walk(&s3.data_dir().join(BUCKET)) {
        let Ok(entries) = segment::decode(&std::fs::read(&path).unwrap()) else {
            continue;
        };
        for entry in entries {
            let report = codec::decode_sniffed(&entry.body, &Default::default()).unwrap();
            reports_by_key
                .entry(entry.key)
                .or_default()
                .insert(report.id);
        }
    }
    let shared: Vec<_> = reports_by_key
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    assert!(
        shared.is_empty(),
        "report keys naming several reports: {shared:?}"
    );
}
