//! The collector as probes and operators meet it, against real memcached and s3s-fs processes:
//! the happy path, object-store and memcached outages, a crash mid-outage, oversize reports,
//! tenancy, and hostile bodies.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use flate2::write::GzEncoder;
use stormscope_integration::{
    CollectorProcess, Memcached, S3Server, s3_env, shared_memcached, shared_s3,
};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::storage::memcached::{MemcachedConfig, MemcachedStorage};
use stormscope_shared::tenancy::TenantId;
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits};

fn collector(s3: &S3Server, memcached: &[String], extra: &[&str]) -> CollectorProcess {
    s3.create_bucket(BUCKET);
    let mut args: Vec<String> = vec![
        "--object-store".into(),
        format!("s3://{BUCKET}"),
        "--flush-interval".into(),
        "1s".into(),
        "--object-store-timeout".into(),
        "2s".into(),
        "--collector-id".into(),
        "it".into(),
    ];
    if !memcached.is_empty() {
        args.extend(["--memcached".into(), memcached.join(",")]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    CollectorProcess::start(s3_env(s3), args)
}

fn reader(servers: &[String]) -> ReportCache {
    ReportCache::new(
        Arc::new(MemcachedStorage::new(
            servers.to_vec(),
            MemcachedConfig::default(),
        )),
        Duration::from_secs(300),
    )
}

/// The keys memcached's index holds for `tenant` from a second before `from_ms` until now.
async fn indexed_since(cache: &ReportCache, tenant: &str, from_ms: i64) -> Vec<String> {
    cache
        .keys_between(
            &TenantId::new(tenant).unwrap(),
            from_ms - 1000,
            Timestamp::now().unix_millis(),
        )
        .await
        .unwrap()
}

fn addr(m: &Memcached) -> String {
    m.addr().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_in_memcached_at_once_and_in_the_object_store_after_a_flush() {
    let s3 = S3Server::start();
    let servers = vec![addr(shared_memcached())];
    let c = collector(&s3, &servers, &["--tenancy", "header"]);
    let client = reqwest::Client::new();
    let template = template();
    let tenant = format!("happy-{}", Timestamp::now().unix_millis());
    let ids: Vec<String> = (0..5).map(|i| format!("happy-{i}")).collect();
    let from = Timestamp::now().unix_millis();
    let posting = Instant::now();
    for id in &ids {
        let posted = post(
            &client,
            &c.url(),
            body_with_id(&template, id),
            &[("X-Scope-OrgID", &tenant)],
        )
        .await;
        assert_eq!(posted.status, 200, "{}", posted.body);
        assert_eq!(posted.degraded, None);
    }
    let cache = reader(&servers);
    let keys = indexed_since(&cache, &tenant, from).await;
    assert_eq!(
        keys.len(),
        5,
        "every report is indexed in memcached as soon as it is acknowledged"
    );
    let mut cached_ids = BTreeSet::new();
    for value in cache.get_many(&keys).await.unwrap() {
        let report = codec::decode(
            &value.expect("value present"),
            Compression::Gzip,
            Format::Msgpack,
            &Limits::default(),
        )
        .unwrap();
        cached_ids.insert(report.id);
    }
    assert_eq!(cached_ids, ids.iter().cloned().collect());
    let want: BTreeSet<String> = ids.iter().cloned().collect();
    assert!(
        eventually(Duration::from_secs(5), || stored_report_ids(&s3) == want).await,
        "segments after one flush: {:?}",
        stored_report_ids(&s3)
    );
    let keys: BTreeSet<String> = stored_reports(&s3).into_iter().map(|(k, _)| k).collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("reports/{tenant}/")) && k.contains("-it-")),
        "{keys:?}"
    );
    // The posts span at most this many 1 s flush intervals; a slow machine may stretch them.
    let intervals = posting.elapsed().as_secs() as usize + 2;
    assert!(
        keys.len() <= intervals.min(ids.len() - 1),
        "one segment per flush interval, not one per report: {keys:?}"
    );
}

/// The collector tells in each report's key which probe sent it and whether it is a full
/// report, a delta or a shortcut, so the app can choose a first answer's reports unread.
#[tokio::test(flavor = "multi_thread")]
async fn report_keys_name_the_probe_and_the_kind_of_report() {
    use stormscope_shared::report_kind::{ReportKind, ReportTag};
    let s3 = S3Server::start();
    let servers = vec![addr(shared_memcached())];
    let c = collector(&s3, &servers, &["--tenancy", "header"]);
    let tenant = format!("tagged-{}", Timestamp::now().unix_millis());
    let from = Timestamp::now().unix_millis();
    let mut shortcut = codec::decode_sniffed(
        &fixture("scope-probe/hostB-04-full.msgpack.gz"),
        &Limits::default(),
    )
    .unwrap();
    shortcut.shortcut = true;
    // A full report that Scope's processing changes (namespaces made from its pods, which
    // are part-merged), so it is decoded and re-encoded: still a full report.
    let mut processed = stormscope_shared::synth::SynthSpec::probe(1, 1, 10);
    processed.pods_per_host = 3;
    let processed = stormscope_shared::synth::generate(&processed);
    const MSGPACK: &str = "application/msgpack";
    let posts = [
        (
            fixture("scope-probe/hostA-01-full.msgpack.gz"),
            MSGPACK,
            Some("probe-a"),
            Some(ReportKind::Full),
        ),
        (
            fixture("scope-probe/hostA-02-delta.msgpack.gz"),
            MSGPACK,
            Some("probe-a"),
            Some(ReportKind::Delta),
        ),
        (
            codec::encode(&shortcut, Format::Msgpack, Compression::Gzip),
            MSGPACK,
            Some("probe-b"),
            Some(ReportKind::Shortcut),
        ),
        (
            codec::encode(&processed, Format::Json, Compression::Gzip),
            "application/json",
            Some("probe-c"),
            Some(ReportKind::Full),
        ),
        (
            fixture("scope-probe/hostB-01-full.msgpack.gz"),
            MSGPACK,
            None,
            None,
        ),
    ];
    let client = reqwest::Client::new();
    for (body, content_type, probe, _) in &posts {
        let mut request = client
            .post(format!("{}/api/report", c.url()))
            .header("Content-Type", *content_type)
            .header("Content-Encoding", "gzip")
            .header("X-Scope-OrgID", &tenant)
            .body(body.clone());
        if let Some(probe) = probe {
            request = request.header("X-Scope-Probe-ID", *probe);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        // One report per millisecond at least, so the keys sort in posting order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let keys = indexed_since(&reader(&servers), &tenant, from).await;
    let tags: Vec<Option<ReportTag>> = keys.iter().map(|k| ReportTag::of_key(k)).collect();
    let expected: Vec<Option<ReportTag>> = posts
        .iter()
        .map(|(_, _, probe, kind)| Some(ReportTag::new((*probe)?, (*kind)?)))
        .collect();
    assert_eq!(tags, expected, "{keys:?}");
}

/// Posts for the outage length, asserting each post is acknowledged and flagged; returns the ids.
async fn post_through_outage(
    c: &CollectorProcess,
    prefix: &str,
    flag: &str,
) -> (Vec<String>, Vec<Duration>) {
    let client = reqwest::Client::new();
    let template = template();
    let url = c.url();
    // The degraded signal appears once the collector has noticed (its health check or a
    // failed write); wait for it before the timed phase.
    let noticed = Instant::now();
    loop {
        let p = post(
            &client,
            &url,
            body_with_id(&template, &format!("{prefix}-probe")),
            &[],
        )
        .await;
        assert_eq!(p.status, 200, "{}", p.body);
        if p.degraded.as_deref().is_some_and(|d| d.contains(flag)) {
            break;
        }
        assert!(
            noticed.elapsed() < Duration::from_secs(10),
            "never flagged {flag}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut ids = vec![format!("{prefix}-probe")];
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < outage() {
        let id = format!("{prefix}-{n}");
        let p = post(&client, &url, body_with_id(&template, &id), &[]).await;
        assert_eq!(p.status, 200, "post {n} during the outage: {}", p.body);
        assert!(
            p.degraded.as_deref().is_some_and(|d| d.contains(flag)),
            "post {n} not flagged: {:?}",
            p.degraded
        );
        latencies.push(p.elapsed);
        ids.push(id);
        n += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    (ids, latencies)
}

async fn assert_all_stored(s3: &S3Server, ids: &[String], within: Duration) {
    let want: BTreeSet<String> = ids.iter().cloned().collect();
    let ok = eventually(within, || want.is_subset(&stored_report_ids(s3))).await;
    let missing: Vec<_> = want.difference(&stored_report_ids(s3)).cloned().collect();
    assert!(
        ok,
        "{} acknowledged reports missing from the object store: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn object_store_killed_ingest_goes_on_and_the_backlog_drains() {
    let mut s3 = S3Server::start();
    let c = collector(&s3, &[addr(shared_memcached())], &[]);
    s3.kill();
    let (ids, _) = post_through_outage(&c, "killed", "object-store").await;
    assert!(stored_report_ids(&s3).is_empty());
    let client = reqwest::Client::new();
    // The backlog's age counts from the first report the outage held back (the gauge is
    // refreshed every second), so alerts see it grow.
    let age = metric(
        &client,
        &c.url(),
        "stormscope_write_behind_backlog_oldest_seconds",
    )
    .await;
    assert!(
        age >= outage().as_secs_f64() - 3.0,
        "backlog age {age} s after a {:?} outage",
        outage()
    );
    let ready = client
        .get(format!("{}/readyz", c.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        ready.status().as_u16(),
        200,
        "an object-store outage does not make the collector unready"
    );
    s3.restart();
    assert_all_stored(&s3, &ids, Duration::from_secs(30)).await;
    let mut age = f64::NAN;
    for _ in 0..25 {
        age = metric(
            &client,
            &c.url(),
            "stormscope_write_behind_backlog_oldest_seconds",
        )
        .await;
        if age == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(age, 0.0, "the backlog's age once everything is uploaded");
    let p = post(&client, &c.url(), body_with_id(&template(), "after"), &[]).await;
    assert_eq!(
        (p.status, p.degraded),
        (200, None),
        "degraded mode ends after recovery"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn object_store_hung_ingest_goes_on_and_the_backlog_drains() {
    let mut s3 = S3Server::start();
    let c = collector(&s3, &[addr(shared_memcached())], &[]);
    s3.stop();
    let (ids, _) = post_through_outage(&c, "hung", "object-store").await;
    s3.resume();
    assert_all_stored(&s3, &ids, Duration::from_secs(40)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_killed_mid_outage_loses_nothing_it_acknowledged() {
    let mut s3 = S3Server::start();
    let mut c = collector(&s3, &[addr(shared_memcached())], &[]);
    s3.kill();
    let client = reqwest::Client::new();
    let template = template();
    let ids: Vec<String> = (0..40).map(|i| format!("crash-{i}")).collect();
    for id in &ids {
        assert_eq!(
            post(&client, &c.url(), body_with_id(&template, id), &[])
                .await
                .status,
            200
        );
    }
    c.kill(); // SIGKILL: no shutdown, no drain
    c.restart();
    s3.restart();
    assert_all_stored(&s3, &ids, Duration::from_secs(30)).await;
    assert!(metric(&client, &c.url(), "stormscope_spool_replayed_records_total").await >= 40.0);
}

async fn memcached_outage(hang: bool) {
    let s3 = shared_s3();
    let mut m = Memcached::start();
    let c = collector(s3, &[addr(&m)], &["--memcached-timeout", "50ms"]);
    if hang {
        m.stop();
    } else {
        m.kill();
    }
    let (_, latencies) =
        post_through_outage(&c, if hang { "mc-hung" } else { "mc-killed" }, "cache").await;
    // Were posts waiting on memcached, each would take at least the 50 ms timeout; the
    // breaker lets most skip it. The tail is bounded loosely: on a loaded 2-core machine a
    // debug build's fsync'd spool append alone can take over 100 ms.
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    assert!(
        p50 < Duration::from_millis(50) && p99 < Duration::from_secs(1),
        "p50 {p50:?}, p99 {p99:?} over {} posts while memcached is down",
        latencies.len()
    );
    if hang {
        m.resume();
    } else {
        m.restart();
    }
    let client = reqwest::Client::new();
    let template = template();
    let mut recovered = false;
    for _ in 0..50 {
        let p = post(&client, &c.url(), body_with_id(&template, "mc-after"), &[]).await;
        if p.degraded.is_none() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "the cache breaker closes by itself once memcached is back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memcached_killed_ingest_fails_fast_and_recovers() {
    memcached_outage(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn memcached_hung_ingest_fails_fast_and_recovers() {
    memcached_outage(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5mb_report_round_trips_through_memcached_in_chunks() {
    let servers = vec![addr(shared_memcached())];
    let c = collector(shared_s3(), &servers, &["--tenancy", "header"]);
    let mut report = template();
    report.id = "oversize".into();
    // Random text does not compress, so the stored value stays over 5 MB.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for i in 0..8 {
        let noise: String = (0..900_000)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                char::from(b'!' + (rng % 90) as u8)
            })
            .collect();
        let node = stormscope_shared::Node::new(format!("host;{}", 90_000 + i), "process")
            .with_latest("cmdline", Timestamp::now(), noise);
        report
            .topology_mut(stormscope_shared::TopologyKind::Process)
            .add_node(node);
    }
    let body = codec::encode(&report, Format::Msgpack, Compression::Gzip);
    assert!(body.len() > 5 << 20, "body is {} bytes", body.len());
    let tenant = format!("big-{}", Timestamp::now().unix_millis());
    let from = Timestamp::now().unix_millis();
    let client = reqwest::Client::new();
    let p = post(
        &client,
        &c.url(),
        body.clone(),
        &[("X-Scope-OrgID", &tenant)],
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let cache = reader(&servers);
    let keys = indexed_since(&cache, &tenant, from).await;
    assert_eq!(keys.len(), 1);
    let value = cache
        .get_many(&keys)
        .await
        .unwrap()
        .remove(0)
        .expect("the chunked value reassembles");
    let back = codec::decode(
        &value,
        Compression::Gzip,
        Format::Msgpack,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(back, report);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_tenancy_refuses_bad_tokens_and_keeps_tenants_apart() {
    let s3 = S3Server::start();
    let servers = vec![addr(shared_memcached())];
    let tokens = tempfile::NamedTempFile::new().unwrap();
    let suffix = Timestamp::now().unix_millis();
    std::fs::write(
        tokens.path(),
        format!("token-a acme-{suffix}\ntoken-b globex-{suffix}\n"),
    )
    .unwrap();
    let c = collector(
        &s3,
        &servers,
        &[
            "--tenancy",
            "token",
            "--tokens-file",
            tokens.path().to_str().unwrap(),
        ],
    );
    let client = reqwest::Client::new();
    let template = template();
    let from = Timestamp::now().unix_millis();
    for (auth, status) in [
        (None, 401),
        (Some("Scope-Probe token=wrong"), 401),
        (Some("Bearer token-a"), 401),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let p = post(
            &client,
            &c.url(),
            body_with_id(&template, "intruder"),
            &headers,
        )
        .await;
        assert_eq!(p.status, status, "{auth:?}");
        assert!(p.body.contains("error"), "JSON error body: {}", p.body);
    }
    for (token, id) in [("token-a", "a-1"), ("token-b", "b-1"), ("token-a", "a-2")] {
        let p = post(
            &client,
            &c.url(),
            body_with_id(&template, id),
            &[("Authorization", &format!("Scope-Probe token={token}"))],
        )
        .await;
        assert_eq!(p.status, 200, "{}", p.body);
    }
    let cache = reader(&servers);
    let to = Timestamp::now().unix_millis();
    let acme = TenantId::new(&format!("acme-{suffix}")).unwrap();
    let globex = TenantId::new(&format!("globex-{suffix}")).unwrap();
    let ids_of = |values: Vec<Option<bytes::Bytes>>| -> BTreeSet<String> {
        values
            .into_iter()
            .map(|v| {
                codec::decode_sniffed(&v.unwrap(), &Limits::default())
                    .unwrap()
                    .id
            })
            .collect()
    };
    let acme_ids = ids_of(
        cache
            .get_many(&cache.keys_between(&acme, from - 1000, to).await.unwrap())
            .await
            .unwrap(),
    );
    let globex_ids = ids_of(
        cache
            .get_many(&cache.keys_between(&globex, from - 1000, to).await.unwrap())
            .await
            .unwrap(),
    );
    assert_eq!(acme_ids, ["a-1", "a-2"].map(String::from).into());
    assert_eq!(globex_ids, ["b-1"].map(String::from).into());
    assert!(eventually(Duration::from_secs(5), || stored_reports(&s3).len() == 3).await);
    for (key, report) in stored_reports(&s3) {
        let owner = if report.id.starts_with("a-") {
            &acme
        } else {
            &globex
        };
        assert!(
            key.starts_with(&format!("reports/{}/", owner.escaped())),
            "{} stored under {key}",
            report.id
        );
        assert_ne!(report.id, "intruder");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_tenant_ids_cannot_leave_their_prefix() {
    let s3 = S3Server::start();
    let c = collector(&s3, &[addr(shared_memcached())], &["--tenancy", "header"]);
    let client = reqwest::Client::new();
    let template = template();
    for (i, tenant) in ["../x", "a/b", "..", "%2e%2e"].iter().enumerate() {
        let p = post(
            &client,
            &c.url(),
            body_with_id(&template, &format!("hostile-{i}")),
            &[("X-Scope-OrgID", tenant)],
        )
        .await;
        assert_eq!(p.status, 200, "{tenant}: {}", p.body);
    }
    assert!(eventually(Duration::from_secs(5), || stored_reports(&s3).len() == 4).await);
    let root = s3.data_dir().join(BUCKET);
    for path in walk(s3.data_dir()) {
        if path.extension().and_then(|e| e.to_str()) == Some("seg") {
            let rel = path
                .strip_prefix(&root)
                .expect("every segment is inside the bucket");
            let parts: Vec<_> = rel.components().collect();
            assert_eq!(
                parts.len(),
                5,
                "reports/<tenant>/<day>/<hour>/<segment>: {}",
                rel.display()
            );
            assert_eq!(parts[0].as_os_str(), "reports");
            let tenant_dir = parts[1].as_os_str().to_str().unwrap();
            assert!(
                !tenant_dir.contains('.') && !tenant_dir.is_empty(),
                "{tenant_dir}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_the_right_status_are_counted_and_harm_nothing() {
    let c = collector(
        shared_s3(),
        &[addr(shared_memcached())],
        &["--max-report-bytes", "8MiB"],
    );
    let client = reqwest::Client::new();
    let url = c.url();
    let good = fixture("scope-probe/hostA-01-full.msgpack.gz");
    let gzip = |plain: &[u8]| {
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(plain).unwrap();
        enc.finish().unwrap()
    };
    let mut deep = br#"{"Unknown":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', 10_000));
    deep.extend(std::iter::repeat_n(b']', 10_000));
    deep.push(b'}');
    let bomb = {
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1025 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    };
    // (what, body, Content-Type, Content-Encoding, status, reason)
    type Case<'a> = (&'a str, Vec<u8>, &'a str, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated gzip",
            good[..good.len() / 2].to_vec(),
            "application/msgpack",
            Some("gzip"),
            400,
            "gzip",
        ),
        (
            "gzip bomb",
            bomb,
            "application/msgpack",
            Some("gzip"),
            413,
            "decompressed_size",
        ),
        (
            "wrong types",
            br#"{"Window":"x"}"#.to_vec(),
            "application/json",
            None,
            400,
            "json",
        ),
        (
            "deep nesting",
            deep,
            "application/json",
            None,
            400,
            "nesting_depth",
        ),
        (
            "invalid utf-8",
            b"{\"ID\":\"\xff\"}".to_vec(),
            "application/json",
            None,
            400,
            "json",
        ),
        (
            "empty",
            Vec::new(),
            "application/msgpack",
            None,
            400,
            "empty",
        ),
        (
            "too large",
            vec![b' '; 9 << 20],
            "application/json",
            None,
            413,
            "compressed_size",
        ),
        (
            "content type",
            gzip(b"{}"),
            "text/plain",
            Some("gzip"),
            400,
            "content_type",
        ),
    ];
    for (what, body, content_type, encoding, status, reason) in cases {
        let before = metric(
            &client,
            &url,
            &format!("stormscope_ingest_rejected_total{{reason=\"{reason}\"}}"),
        )
        .await;
        let mut request = client
            .post(format!("{url}/api/report"))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(e) = encoding {
            request = request.header("Content-Encoding", e);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let error: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).expect("JSON error body");
        assert_eq!(error["reason"], reason, "{what}: {error}");
        let after = metric(
            &client,
            &url,
            &format!("stormscope_ingest_rejected_total{{reason=\"{reason}\"}}"),
        )
        .await;
        assert_eq!(after, before + 1.0, "{what} counted");
    }
    assert_eq!(
        client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        post(&client, &url, good, &[]).await.status,
        200,
        "still accepting after all that"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_spool_answers_503_and_accepts_again_once_drained() {
    let mut s3 = S3Server::start();
    let c = collector(
        &s3,
        &[addr(shared_memcached())],
        &["--spool-max-bytes", "64KiB"],
    );
    s3.kill();
    let client = reqwest::Client::new();
    let template = template();
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let id = format!("full-{i}");
        let p = post(&client, &c.url(), body_with_id(&template, &id), &[]).await;
        match p.status {
            200 => acked.push(id),
            503 => {
                refused = Some(p);
                break;
            }
            other => panic!("unexpected {other}: {}", p.body),
        }
    }
    let refused = refused.expect("a 64 KiB spool fills up");
    assert!(
        refused
            .degraded
            .as_deref()
            .is_some_and(|d| d.contains("spool")),
        "{:?}",
        refused.degraded
    );
    assert!(refused.body.contains("spool full"), "{}", refused.body);
    let response = client
        .post(format!("{}/api/report", c.url()))
        .header("Content-Type", "application/msgpack")
        .header("Content-Encoding", "gzip")
        .body(body_with_id(&template, "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("5")
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", c.url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
    s3.restart();
    assert_all_stored(&s3, &acked, Duration::from_secs(30)).await;
    let mut accepted = false;
    for _ in 0..50 {
        if post(
            &client,
            &c.url(),
            body_with_id(&template, "after-drain"),
            &[],
        )
        .await
        .status
            == 200
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(accepted, "the drained spool accepts again");
    assert_eq!(
        client
            .get(format!("{}/readyz", c.url()))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}
