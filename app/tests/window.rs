//! Reading a tenant's window through a real collector, memcached and s3s-fs: live windows from
//! the cache, history and cache outages from the object store, and degraded answers that say
//! what they lack instead of failing.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stormscope_app::WindowReader;
use stormscope_app::decoded_cache::DecodedCache;
use stormscope_collector::{Collector, CollectorConfig};
use stormscope_integration::{Memcached, S3Server, shared_memcached};
use stormscope_shared::codec::{self, Compression};
use stormscope_shared::report_cache::ReportCache;
use stormscope_shared::storage::memcached::MemcachedConfig;
use stormscope_shared::storage::object::{ObjectStoreTimeouts, S3Options};
use stormscope_shared::storage::{Health, builder};
use stormscope_shared::tenancy::{Tenancy, TenantId};
use stormscope_shared::time::Timestamp;
use stormscope_shared::{Format, Limits, Report};

const BUCKET: &str = "window";

fn s3_options(s3: &S3Server) -> S3Options {
    S3Options(s3.settings())
}

struct Setup {
    url: String,
    reader: WindowReader,
    _spool: tempfile::TempDir,
}

/// An in-process collector and a reader over the same memcached and S3 server.
async fn setup(s3: &S3Server, memcached: &str, cache_ttl: Duration) -> Setup {
    s3.create_bucket(BUCKET);
    let spool = tempfile::tempdir().unwrap();
    let mut config = CollectorConfig::local(spool.path().to_owned(), &format!("s3://{BUCKET}"));
    config.s3_options = s3_options(s3);
    config.object_store_timeouts = ObjectStoreTimeouts {
        request: Duration::from_secs(2),
        connect: Duration::from_secs(1),
    };
    config.memcached = vec![memcached.to_owned()];
    config.flush_interval = Duration::from_millis(500);
    config.tenancy = Tenancy::Header("x-scope-orgid".into());
    let collector = Collector::start(config).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(collector.run(listener, 1, std::future::pending()));
    let health = Health::new();
    let timeouts = ObjectStoreTimeouts {
        request: Duration::from_secs(2),
        connect: Duration::from_secs(1),
    };
    let reader = WindowReader {
        cache: ReportCache::new(
            builder::cache(
                &[memcached.to_owned()],
                MemcachedConfig::default(),
                0,
                &health,
            ),
            Duration::from_secs(300),
        ),
        object_store: builder::object_store(
            &format!("s3://{BUCKET}"),
            timeouts,
            &s3_options(s3),
            &health,
        )
        .unwrap(),
        decoded: DecodedCache::new(1 << 30),
        cache_ttl,
        max_flush_lag: Duration::from_secs(60),
        limits: Limits::default(),
        shared_cache: true,
    };
    Setup {
        url,
        reader,
        _spool: spool,
    }
}

/// [`setup`] on the test binary's shared memcached, with the default cache TTL.
async fn setup_shared(s3: &S3Server) -> Setup {
    let memcached = shared_memcached().addr().to_string();
    setup(s3, &memcached, Duration::from_secs(300)).await
}

fn fixture() -> Report {
    let dir = std::env::var_os("STORMSCOPE_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata"));
    let body = std::fs::read(dir.join("scope-probe/hostB-01-full.msgpack.gz")).unwrap();
    codec::decode_sniffed(&body, &Limits::default()).unwrap()
}

async fn post(url: &str, tenant: &str, id: &str) {
    let mut report = fixture();
    report.id = id.to_owned();
    let response = reqwest::Client::new()
        .post(format!("{url}/api/report"))
        .header("Content-Type", "application/msgpack")
        .header("Content-Encoding", "gzip")
        .header("X-Scope-OrgID", tenant)
        .body(codec::encode(&report, Format::Msgpack, Compression::Gzip))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

fn ids(window: &stormscope_app::Window) -> Vec<String> {
    window.reports.iter().map(|(_, r)| r.id.clone()).collect()
}

fn tenant(name: &str) -> (String, TenantId) {
    let raw = format!("{name}-{}", Timestamp::now().unix_millis());
    let id = TenantId::new(&raw).unwrap();
    (raw, id)
}

/// Polls until the object store holds `n` of the tenant's reports (a history read finds them).
async fn until_stored(reader: &WindowReader, tenant: &TenantId, n: usize) {
    let history = WindowReader {
        cache_ttl: Duration::ZERO,
        ..reader_clone(reader)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w = history
            .read(
                tenant,
                Timestamp::now().unix_millis(),
                Duration::from_secs(60),
            )
            .await;
        if w.reports.len() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "segments never reached the object store: {:?}",
            w.degraded
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn reader_clone(r: &WindowReader) -> WindowReader {
    WindowReader {
        cache: r.cache.clone(),
        object_store: Arc::clone(&r.object_store),
        decoded: DecodedCache::new(1 << 30),
        cache_ttl: r.cache_ttl,
        max_flush_lag: r.max_flush_lag,
        limits: r.limits.clone(),
        shared_cache: r.shared_cache,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn live_windows_come_from_the_cache_and_history_from_the_object_store_per_tenant() {
    let s3 = S3Server::start();
    let s = setup_shared(&s3).await;
    let ((a_raw, a), (b_raw, b)) = (tenant("a"), tenant("b"));
    for id in ["a1", "a2", "a3"] {
        post(&s.url, &a_raw, id).await;
    }
    post(&s.url, &b_raw, "b1").await;
    let now = Timestamp::now().unix_millis();
    let live = s.reader.read(&a, now, Duration::from_secs(15)).await;
    assert_eq!(
        ids(&live),
        vec!["a1", "a2", "a3"],
        "posted reports are visible at once, oldest first"
    );
    assert!(!live.degraded.is_degraded(), "{:?}", live.degraded);
    assert_eq!(
        ids(&s.reader.read(&b, now, Duration::from_secs(15)).await),
        vec!["b1"],
        "tenants never mix"
    );
    assert!(
        s.reader
            .read(&a, now - 60_000, Duration::from_secs(15))
            .await
            .reports
            .is_empty(),
        "an earlier window is empty"
    );

    until_stored(&s.reader, &a, 3).await;
    let history = WindowReader {
        cache_ttl: Duration::ZERO,
        ..reader_clone(&s.reader)
    };
    let old = history
        .read(&a, Timestamp::now().unix_millis(), Duration::from_secs(60))
        .await;
    assert_eq!(
        ids(&old),
        vec!["a1", "a2", "a3"],
        "history comes from the object store"
    );
    assert!(!old.degraded.is_degraded());
    assert_eq!(
        ids(&history
            .read(&b, Timestamp::now().unix_millis(), Duration::from_secs(60))
            .await),
        vec!["b1"]
    );
    let private = WindowReader {
        shared_cache: false,
        ..reader_clone(&s.reader)
    };
    let live = private
        .read(&a, Timestamp::now().unix_millis(), Duration::from_secs(60))
        .await;
    assert_eq!(
        ids(&live),
        vec!["a1", "a2", "a3"],
        "without a shared cache, live windows come from the object store"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_memcached_down_reads_come_from_the_object_store_flagged() {
    let s3 = S3Server::start();
    let mut memcached = Memcached::start();
    let s = setup(&s3, &memcached.addr().to_string(), Duration::from_secs(300)).await;
    let (raw, t) = tenant("mc-down");
    for id in ["m1", "m2"] {
        post(&s.url, &raw, id).await;
    }
    until_stored(&s.reader, &t, 2).await;
    memcached.kill();
    let fresh = reader_clone(&s.reader);
    let w = fresh
        .read(&t, Timestamp::now().unix_millis(), Duration::from_secs(15))
        .await;
    assert_eq!(ids(&w), vec!["m1", "m2"], "{:?}", w.degraded);
    assert!(w.degraded.sources.contains(&"cache"), "{:?}", w.degraded);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_object_store_down_live_reads_are_whole_and_a_lost_report_is_counted() {
    let mut s3 = S3Server::start();
    let s = setup_shared(&s3).await;
    s3.stop();
    let (raw, t) = tenant("s3-down");
    for id in ["s1", "s2", "s3"] {
        post(&s.url, &raw, id).await;
    }
    let now = Timestamp::now().unix_millis();
    let fresh = reader_clone(&s.reader);
    let w = fresh.read(&t, now, Duration::from_secs(15)).await;
    assert_eq!(ids(&w), vec!["s1", "s2", "s3"]);
    assert!(
        !w.degraded.is_degraded(),
        "nothing was missing, so nothing is flagged: {:?}",
        w.degraded
    );
    // Lose one value from the cache: the object store cannot make up for it while it is down.
    let lost = w.reports[1].0.clone();
    s.reader.cache.storage().delete(&lost).await.unwrap();
    let w = reader_clone(&s.reader)
        .read(&t, now, Duration::from_secs(15))
        .await;
    assert_eq!(ids(&w), vec!["s1", "s3"]);
    assert_eq!(w.degraded.missing_reports, 1);
    assert!(
        w.degraded.sources.contains(&"object-store"),
        "{:?}",
        w.degraded
    );
    s3.resume();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_window_decodes_at_once_and_an_undecodable_report_is_counted_missing() {
    let s3 = S3Server::start();
    let s = setup_shared(&s3).await;
    let (_, t) = tenant("many");
    // More reports than are decoded on the async worker, as a tenant's first query finds them,
    // and one whose stored body is not a report.
    let now = Timestamp::now().unix_millis();
    let mut expected = Vec::new();
    for i in 0..24 {
        let key = stormscope_shared::keys::report_key(&t, now - 10_000 + i * 100, "test", 0, None);
        let body = if i == 7 {
            bytes::Bytes::from_static(b"\x1f\x8b not a report")
        } else {
            let mut report = fixture();
            report.id = format!("r{i:02}");
            expected.push(report.id.clone());
            codec::encode(&report, Format::Msgpack, Compression::Gzip).into()
        };
        s.reader
            .cache
            .put(&t, &key, now - 10_000 + i * 100, body)
            .await
            .unwrap();
    }
    let fresh = reader_clone(&s.reader);
    let w = fresh.read(&t, now, Duration::from_secs(15)).await;
    assert_eq!(
        ids(&w),
        expected,
        "every report but the broken one, oldest first"
    );
    assert_eq!(w.degraded.missing_reports, 1, "{:?}", w.degraded);
    // Decoded once: the next read finds them all in the decoded cache.
    let again = fresh.read(&t, now, Duration::from_secs(15)).await;
    assert_eq!(ids(&again), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_window_of_hundreds_of_reports_comes_whole_and_only_what_is_not_held() {
    let s3 = S3Server::start();
    let s = setup_shared(&s3).await;
    let (_, t) = tenant("stored");
    // A first query's window: more bodies than the cache is asked for in one call.
    let now = Timestamp::now().unix_millis();
    let mut keys = Vec::new();
    for i in 0..150 {
        let at = now - 12_000 + i * 50;
        let key = stormscope_shared::keys::report_key(&t, at, "test", i as u64, None);
        let body = bytes::Bytes::from(format!("body {i}"));
        s.reader.cache.put(&t, &key, at, body).await.unwrap();
        keys.push(key);
    }
    let none = std::collections::HashSet::new();
    let stored = s
        .reader
        .read_stored(&t, now, Duration::from_secs(15), &none, false)
        .await
        .expect("the cache answers the whole window");
    assert_eq!(stored.keys, keys, "every key, oldest first");
    let fresh: Vec<(String, String)> = stored
        .fresh
        .iter()
        .map(|(k, b)| (k.clone(), String::from_utf8(b.to_vec()).unwrap()))
        .collect();
    let expected: Vec<(String, String)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), format!("body {i}")))
        .collect();
    assert_eq!(fresh, expected, "each key with its own body");
    // A later query holds most of them: only the rest are fetched.
    let held: std::collections::HashSet<String> = keys[..100].iter().cloned().collect();
    let later = s
        .reader
        .read_stored(&t, now, Duration::from_secs(15), &held, false)
        .await
        .unwrap();
    assert_eq!(later.keys, keys);
    let fetched: Vec<&String> = later.fresh.iter().map(|(k, _)| k).collect();
    assert_eq!(fetched, keys[100..].iter().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_answer_fetches_only_each_probes_newest_full_report_and_what_came_after() {
    use stormscope_shared::report_kind::{ReportKind, ReportTag};
    let s3 = S3Server::start();
    let s = setup_shared(&s3).await;
    let (_, t) = tenant("first-fetch");
    let now = Timestamp::now().unix_millis();
    // 40 probes, each publishing every 3 s: a full report, then two deltas.
    let mut keys = Vec::new();
    for tick in 0..5i64 {
        for probe in 0..40i64 {
            let at = now - 14_500 + tick * 3000 + probe * 10;
            let kind = if (tick + probe) % 3 == 0 {
                ReportKind::Full
            } else {
                ReportKind::Delta
            };
            let tag = ReportTag::new(&format!("probe-{probe}"), kind);
            let key =
                stormscope_shared::keys::report_key(&t, at, "test", keys.len() as u64, Some(&tag));
            s.reader
                .cache
                .put(&t, &key, at, bytes::Bytes::from(key.clone()))
                .await
                .unwrap();
            keys.push(key);
        }
    }
    let none = std::collections::HashSet::new();
    let first = s
        .reader
        .read_stored(&t, now, Duration::from_secs(15), &none, true)
        .await
        .unwrap();
    assert_eq!(first.keys, keys, "the whole window's keys, oldest first");
    let chosen: Vec<String> = stormscope_app::first_answer::chosen(&keys)
        .unwrap()
        .into_iter()
        .map(|at| keys[at].clone())
        .collect();
    // A third of the probes end on a full report, the rest on a delta after one.
    assert_eq!(chosen.len(), 40 + 27, "{chosen:?}");
    let fetched: Vec<String> = first.fresh.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(fetched, chosen);
    assert!(first.fresh.iter().all(|(k, b)| b.as_ref() == k.as_bytes()));
}
