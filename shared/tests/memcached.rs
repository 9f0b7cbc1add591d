//! The memcached backend against real memcached processes, including hung (SIGSTOP) and killed
//! servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_memcached::AsciiProtocol;
use bytes::Bytes;
use stormscope_integration::{Memcached, shared_memcached};
use stormscope_shared::storage::memcached::{MemcachedConfig, MemcachedStorage};
use stormscope_shared::storage::{ErrorKind, Storage};

/// Generous timeouts for tests that are about behaviour, not outages: the CI machine has two cores
/// and may be compiling while these run.
fn relaxed() -> MemcachedConfig {
    MemcachedConfig {
        op_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        ..MemcachedConfig::default()
    }
}

/// Production timeouts, with a short cooldown so that recovery shows within the test.
fn outage() -> MemcachedConfig {
    MemcachedConfig {
        breaker_cooldown: Duration::from_millis(200),
        ..MemcachedConfig::default()
    }
}

fn storage(servers: &[&Memcached], config: MemcachedConfig) -> MemcachedStorage {
    MemcachedStorage::new(
        servers.iter().map(|m| m.addr().to_string()).collect(),
        config,
    )
}

/// Keys unique to this test process and call, since tests share one memcached.
fn unique(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "test/{}/{name}/{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Incompressible and position-dependent, so a misplaced or repeated chunk changes the value.
fn big_value(len: usize) -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

async fn raw_client(server: &Memcached) -> async_memcached::Client {
    async_memcached::Client::new(format!("tcp://{}", server.addr()))
        .await
        .expect("connect")
}

async fn wait_until_healthy(cache: &MemcachedStorage, within: Duration) -> Duration {
    let start = Instant::now();
    while !cache.healthy() {
        assert!(
            start.elapsed() < within,
            "breaker still open after {within:?}: {:?}",
            cache.open_servers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn round_trip_miss_overwrite_delete() {
    let cache = storage(&[shared_memcached()], relaxed());
    assert_eq!(cache.name(), "cache");
    let key = unique("round-trip");

    assert_eq!(cache.get(&key).await.unwrap(), None);
    cache
        .put(&key, Bytes::from_static(b"first"), None)
        .await
        .unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
    cache
        .put(
            &key,
            Bytes::from_static(b"second"),
            Some(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(
        cache.get(&key).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );
    cache.put(&key, Bytes::new(), None).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some(&b""[..]));

    cache.delete(&key).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap(), None);
    cache
        .delete(&key)
        .await
        .expect("deleting a missing key is not an error");

    let err = cache.list("test/").await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(cache.healthy());
}

#[tokio::test]
async fn ttl_expires_values() {
    let cache = storage(&[shared_memcached()], relaxed());
    let key = unique("ttl");
    cache
        .put(
            &key,
            Bytes::from_static(b"short-lived"),
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert!(cache.get(&key).await.unwrap().is_some());
    // memcached's clock ticks in whole seconds, so a 1 s TTL ends within 2 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(cache.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn five_megabytes_are_chunked_and_reassembled() {
    let server = shared_memcached();
    let cache = storage(&[server], relaxed());
    let key = unique("big");
    let value = big_value(5 * 1024 * 1024);

    cache
        .put(&key, value.clone(), Some(Duration::from_secs(300)))
        .await
        .unwrap();
    let read = cache.get(&key).await.unwrap().expect("a hit");
    assert!(
        read == value,
        "5 MB value came back different ({} bytes)",
        read.len()
    );

    // Really split: the key holds only a header, and six chunks (5 MiB / (1 MiB - 1 KiB)) exist.
    let mut raw = server.client();
    assert_eq!(raw.get(&key).unwrap().expect("header item").len(), 21);
    for index in 1..=6 {
        let chunk = raw
            .get(&format!("{key}#{index}"))
            .unwrap()
            .expect("chunk item");
        assert!(
            chunk.len() < 1024 * 1024,
            "chunk {index} is {} bytes",
            chunk.len()
        );
    }
    assert_eq!(raw.get(&format!("{key}#7")).unwrap(), None);

    let many = cache.get_many(std::slice::from_ref(&key)).await.unwrap();
    assert!(many[0].as_ref() == Some(&value));
}

#[tokio::test]
async fn foreign_and_torn_values_are_corrupt_and_lost_chunks_are_misses() {
    let server = shared_memcached();
    let cache = storage(&[server], relaxed());
    let mut raw = server.client();

    let foreign = unique("foreign");
    raw.set(&foreign, b"written by someone else").unwrap();
    assert_eq!(
        cache.get(&foreign).await.unwrap_err().kind,
        ErrorKind::Corrupt
    );
    assert_eq!(
        cache.get_many(&[foreign]).await.unwrap(),
        [None],
        "get_many treats it as a miss"
    );

    let torn = unique("torn");
    let value = big_value(3 * 1024 * 1024);
    cache.put(&torn, value.clone(), None).await.unwrap();
    let chunk = raw.get(&format!("{torn}#2")).unwrap().expect("chunk 2");
    raw.set(&format!("{torn}#2"), &vec![0u8; chunk.len()])
        .unwrap();
    let err = cache.get(&torn).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.contains("CRC"), "{err}");

    let evicted = unique("evicted");
    cache.put(&evicted, value, None).await.unwrap();
    raw_client(server)
        .await
        .delete(format!("{evicted}#3"))
        .await
        .unwrap();
    assert_eq!(cache.get(&evicted).await.unwrap(), None);
}

#[tokio::test]
async fn keys_memcached_cannot_take_still_work() {
    let server = shared_memcached();
    let cache = storage(&[server], relaxed());
    let prefix = unique("keys");
    let long_a = format!("{prefix}/{}a", "x".repeat(300));
    let long_b = format!("{prefix}/{}b", "x".repeat(300));
    let keys = [
        long_a.clone(),
        long_b.clone(),
        format!("{prefix}/with space"),
        format!("{prefix}/line\r\nbreak"),
        format!("{prefix}/caf\u{e9}"),
        format!("{prefix}/h#1"),
    ];
    for (i, key) in keys.iter().enumerate() {
        cache
            .put(key, Bytes::from(format!("value {i}")), None)
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            cache.get(key).await.unwrap(),
            Some(Bytes::from(format!("value {i}"))),
            "{key:?}"
        );
    }
    let many = cache.get_many(&keys).await.unwrap();
    assert!(
        many.iter()
            .enumerate()
            .all(|(i, v)| v == &Some(Bytes::from(format!("value {i}"))))
    );

    // A key containing '#' must not collide with the chunks of another key.
    let base = format!("{prefix}/h");
    let value = big_value(2 * 1024 * 1024);
    cache.put(&base, value.clone(), None).await.unwrap();
    assert_eq!(
        cache
            .get(&format!("{prefix}/h#1"))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"value 5"[..])
    );
    assert!(cache.get(&base).await.unwrap() == Some(value));
}

#[tokio::test]
async fn get_many_keeps_order_misses_and_duplicates() {
    let cache = storage(&[shared_memcached()], relaxed());
    let keys: Vec<String> = (0..250).map(|i| unique(&format!("many-{i}"))).collect();
    for key in keys.iter().step_by(2) {
        cache
            .put(key, Bytes::from(key.clone()), None)
            .await
            .unwrap();
    }
    let mut asked = keys.clone();
    asked.push(keys[0].clone());
    let got = cache.get_many(&asked).await.unwrap();
    assert_eq!(got.len(), asked.len());
    for (i, (key, value)) in asked.iter().zip(&got).enumerate() {
        let expected = (i % 250 % 2 == 0).then(|| Bytes::from(key.clone()));
        assert_eq!(value, &expected, "position {i}");
    }
    assert!(cache.get_many(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_spread_over_two_servers() {
    let (a, b) = (Memcached::start(), Memcached::start());
    let cache = storage(&[&a, &b], relaxed());
    let keys: Vec<String> = (0..200).map(|i| format!("spread/{i}")).collect();
    for key in &keys {
        cache
            .put(key, Bytes::from(key.clone()), None)
            .await
            .unwrap();
    }
    let (mut raw_a, mut raw_b) = (a.client(), b.client());
    let mut on_a = 0;
    for key in &keys {
        let (in_a, in_b) = (
            raw_a.get(key).unwrap().is_some(),
            raw_b.get(key).unwrap().is_some(),
        );
        assert!(in_a != in_b, "{key} should be on exactly one server");
        on_a += usize::from(in_a);
    }
    assert!(
        (50..=150).contains(&on_a),
        "{on_a} of 200 keys on the first server"
    );

    let got = cache.get_many(&keys).await.unwrap();
    assert!(
        keys.iter()
            .zip(&got)
            .all(|(k, v)| v.as_deref() == Some(k.as_bytes()))
    );
}

#[tokio::test]
async fn hung_server_fails_fast_once_the_breaker_opens_and_recovers_on_resume() {
    let mut server = Memcached::start();
    let config = outage();
    let cache = storage(&[&server], config.clone());
    cache
        .put("hung/kept", Bytes::from_static(b"survives"), None)
        .await
        .unwrap();

    server.stop();
    for call in 0..config.breaker_failures {
        let start = Instant::now();
        let err = cache.get("hung/kept").await.unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind, ErrorKind::Unavailable, "call {call}: {err}");
        assert!(
            took >= config.op_timeout - Duration::from_millis(5)
                && took < config.op_timeout + Duration::from_millis(300),
            "call {call} took {took:?}, expected about {:?}",
            config.op_timeout
        );
    }
    assert!(!cache.healthy());
    assert_eq!(cache.open_servers(), [server.addr().to_string()]);

    for call in 0..100 {
        let start = Instant::now();
        let err = match call % 3 {
            0 => cache.get("hung/kept").await.unwrap_err(),
            1 => cache
                .put("hung/new", Bytes::from_static(b"x"), None)
                .await
                .unwrap_err(),
            _ => cache.increment("hung/counter", None).await.unwrap_err(),
        };
        let took = start.elapsed();
        assert_eq!(err.kind, ErrorKind::CircuitOpen, "call {call}: {err}");
        assert!(
            took < Duration::from_millis(20),
            "call {call} waited {took:?} with the breaker open"
        );
    }
    // get_many fails as fast: a miss would claim the key is not stored.
    let start = Instant::now();
    let err = cache.get_many(&["hung/kept".to_owned()]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::CircuitOpen, "{err}");
    assert!(start.elapsed() < Duration::from_millis(20));

    server.resume();
    let took = wait_until_healthy(&cache, Duration::from_secs(5)).await;
    eprintln!("breaker closed {took:?} after resume");
    assert_eq!(
        cache.get("hung/kept").await.unwrap().as_deref(),
        Some(&b"survives"[..])
    );
    cache
        .put("hung/new", Bytes::from_static(b"y"), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn killed_server_fails_fast_and_recovers_after_restart() {
    let mut server = Memcached::start();
    let cache = storage(&[&server], outage());
    cache
        .put("killed/before", Bytes::from_static(b"lost"), None)
        .await
        .unwrap();

    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        assert_eq!(
            cache.get("killed/before").await.unwrap_err().kind,
            ErrorKind::Unavailable
        );
        // Refused connections fail at once; no timeout is involved.
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "took {:?}",
            start.elapsed()
        );
    }
    assert_eq!(
        cache
            .put("killed/x", Bytes::new(), None)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::CircuitOpen
    );
    assert!(!cache.healthy());

    server.restart();
    wait_until_healthy(&cache, Duration::from_secs(5)).await;
    // A restarted memcached is empty.
    assert_eq!(cache.get("killed/before").await.unwrap(), None);
    cache
        .put("killed/after", Bytes::from_static(b"back"), None)
        .await
        .unwrap();
    assert_eq!(
        cache.get("killed/after").await.unwrap().as_deref(),
        Some(&b"back"[..])
    );
}

#[tokio::test]
async fn one_hung_server_of_two_fails_get_many_fast_and_spares_the_other() {
    let (a, mut b) = (Memcached::start(), Memcached::start());
    let cache = storage(&[&a, &b], outage());
    let keys: Vec<String> = (0..60).map(|i| format!("half/{i}")).collect();
    for key in &keys {
        cache
            .put(key, Bytes::from(key.clone()), None)
            .await
            .unwrap();
    }
    let mut raw_a = a.client();
    let on_a: Vec<&String> = keys
        .iter()
        .filter(|k| raw_a.get(k).unwrap().is_some())
        .collect();
    assert!(!on_a.is_empty() && on_a.len() < keys.len());

    b.stop();
    // A miss would claim b's keys are not stored, so get_many over both fails; three failures
    // open b's breaker, after which it fails at once.
    for round in 0..4 {
        let start = Instant::now();
        assert!(cache.get_many(&keys).await.is_err(), "round {round}");
        if round == 3 {
            assert!(
                start.elapsed() < Duration::from_millis(20),
                "open breaker still waited {:?}",
                start.elapsed()
            );
        }
    }
    // Keys on the healthy server alone are still served.
    let only_a: Vec<String> = on_a.into_iter().cloned().collect();
    let got = cache.get_many(&only_a).await.unwrap();
    assert!(
        only_a
            .iter()
            .zip(&got)
            .all(|(k, v)| v.as_deref() == Some(k.as_bytes()))
    );
    assert_eq!(cache.open_servers(), [b.addr().to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn increment_is_atomic_under_concurrency() {
    let cache = Arc::new(storage(&[shared_memcached()], relaxed()));
    let key = unique("counter");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (cache, key) = (Arc::clone(&cache), key.clone());
            tokio::spawn(async move {
                cache
                    .increment(&key, Some(Duration::from_secs(60)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=50).collect::<Vec<u64>>(),
        "every caller got a distinct count"
    );
    assert_eq!(cache.increment(&key, None).await.unwrap(), 51);
    let read = cache.get(&key).await.unwrap().expect("counter readable");
    assert_eq!(
        std::str::from_utf8(&read).unwrap().trim(),
        "51",
        "index readers get a counter as its decimal"
    );
}
