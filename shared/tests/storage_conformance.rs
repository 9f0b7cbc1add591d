//! One behaviour, every backend: the same checks run against the in-process store, the object
//! store in memory, on a local directory and on a real S3 server (s3s-fs), and memcached.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use stormscope_integration::{shared_memcached, shared_s3};
use stormscope_shared::storage::memcached::{MemcachedConfig, MemcachedStorage};
use stormscope_shared::storage::memory::MemoryStorage;
use stormscope_shared::storage::object::{ObjectStorage, ObjectStoreTimeouts};
use stormscope_shared::storage::{ErrorKind, Storage};

struct Backend {
    name: &'static str,
    storage: Arc<dyn Storage>,
    lists: bool,
    counts: bool,
}

fn backends(dir: &std::path::Path) -> Vec<Backend> {
    let s3 = shared_s3();
    s3.create_bucket("conformance");
    let endpoint = s3.endpoint_url();
    let s3_options = [
        ("aws_endpoint", endpoint.as_str()),
        ("aws_access_key_id", s3.access_key()),
        ("aws_secret_access_key", s3.secret_key()),
        ("aws_region", s3.region()),
        ("aws_allow_http", "true"),
    ];
    let timeouts = ObjectStoreTimeouts::default();
    let object = |url: &str| -> Arc<dyn Storage> {
        Arc::new(ObjectStorage::from_url_with(url, timeouts, &s3_options).unwrap())
    };
    vec![
        Backend {
            name: "in-process",
            storage: Arc::new(MemoryStorage::new("cache", 64 << 20)),
            lists: true,
            counts: true,
        },
        Backend {
            name: "object memory://",
            storage: object("memory://"),
            lists: true,
            counts: false,
        },
        Backend {
            name: "object file://",
            storage: object(&format!("file://{}", dir.display())),
            lists: true,
            counts: false,
        },
        Backend {
            name: "object s3:// (s3s-fs)",
            storage: object("s3://conformance/prefix"),
            lists: true,
            counts: false,
        },
        Backend {
            name: "memcached",
            storage: Arc::new(MemcachedStorage::new(
                vec![shared_memcached().addr().to_string()],
                MemcachedConfig::default(),
            )),
            lists: false,
            counts: true,
        },
    ]
}

fn unique(name: &str) -> String {
    format!("conf/{}/{name}", std::process::id())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_backend_behaves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for b in backends(dir.path()) {
        let s = &b.storage;
        let what = b.name;
        let slug: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let key = unique(&format!(
            "{slug}/reports/%2E%2E%2Fx/2026-11-26/13/1-c-1.seg"
        ));
        assert_eq!(s.get(&key).await.unwrap(), None, "{what}: missing key");
        let value = Bytes::from((0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
        s.put(&key, value.clone(), Some(Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(
            s.get(&key).await.unwrap(),
            Some(value.clone()),
            "{what}: round trip of every byte value"
        );
        s.put(&key, Bytes::from_static(b"second"), None)
            .await
            .unwrap();
        assert_eq!(
            s.get(&key).await.unwrap().as_deref(),
            Some(&b"second"[..]),
            "{what}: overwrite"
        );

        let other = format!("{key}.other");
        s.put(&other, Bytes::from_static(b"other"), None)
            .await
            .unwrap();
        let missing = format!("{key}.missing");
        let many = s
            .get_many(&[other.clone(), missing.clone(), key.clone()])
            .await
            .unwrap();
        assert_eq!(
            many,
            vec![
                Some(Bytes::from_static(b"other")),
                None,
                Some(Bytes::from_static(b"second"))
            ],
            "{what}: get_many order"
        );

        let listed = s.list(&unique(&slug)).await;
        if b.lists {
            let listed = listed.unwrap();
            assert_eq!(
                listed,
                {
                    let mut k = vec![key.clone(), other.clone()];
                    k.sort();
                    k
                },
                "{what}: list under a prefix, sorted"
            );
        } else {
            assert_eq!(
                listed.unwrap_err().kind,
                ErrorKind::Unsupported,
                "{what}: list"
            );
        }

        s.delete(&key).await.unwrap();
        assert_eq!(s.get(&key).await.unwrap(), None, "{what}: deleted");
        s.delete(&missing).await.unwrap();

        let counter = format!("{key}.count");
        let counted = s.increment(&counter, Some(Duration::from_secs(60))).await;
        if b.counts {
            assert_eq!(counted.unwrap(), 1, "{what}: first increment");
            assert_eq!(
                s.increment(&counter, None).await.unwrap(),
                2,
                "{what}: second increment"
            );
            let read = s.get(&counter).await.unwrap().unwrap();
            assert_eq!(
                std::str::from_utf8(&read).unwrap().trim(),
                "2",
                "{what}: a counter reads as its decimal"
            );
        } else {
            assert_eq!(
                counted.unwrap_err().kind,
                ErrorKind::Unsupported,
                "{what}: increment"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_backends_fail_as_unavailable() {
    let dead = "127.0.0.1:9".to_owned();
    let memcached = MemcachedStorage::new(vec![dead.clone()], MemcachedConfig::default());
    assert!(memcached.get("k").await.unwrap_err().is_transient());
    let timeouts = ObjectStoreTimeouts {
        request: Duration::from_secs(2),
        connect: Duration::from_secs(1),
    };
    let options = [
        ("aws_endpoint", "http://127.0.0.1:9"),
        ("aws_access_key_id", "k"),
        ("aws_secret_access_key", "s"),
        ("aws_region", "us-east-1"),
        ("aws_allow_http", "true"),
    ];
    let s3 = ObjectStorage::from_url_with("s3://nowhere", timeouts, &options).unwrap();
    let err = s3
        .put("k", Bytes::from_static(b"v"), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
}
