//! The object-store backend: S3 and S3-compatible servers, GCS, Azure, a local directory or
//! memory, all through the `object_store` crate and chosen by URL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use super::{ErrorKind, Result, Storage, StorageError};

const NAME: &str = "object-store";

pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// The URL it was built from, credentials never included (they come from the environment).
    url: String,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("url", &self.url)
            .finish()
    }
}

/// S3 settings given in configuration rather than the environment (`aws_endpoint`,
/// `aws_access_key_id`, `aws_secret_access_key`, ...). `Debug` shows only the setting names:
/// values can be credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Options(pub Vec<(String, String)>);

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=<redacted>")))
            .finish()
    }
}

impl S3Options {
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// Bounds on each request. Retries are ours (the write-behind's [`crate::retry::Retry`]), so
/// the client's own are off: a hung server must fail a request, not stall it for minutes.
#[derive(Clone, Copy, Debug)]
pub struct ObjectStoreTimeouts {
    pub request: Duration,
    pub connect: Duration,
}

impl Default for ObjectStoreTimeouts {
    fn default() -> Self {
        ObjectStoreTimeouts {
            request: Duration::from_secs(10),
            connect: Duration::from_secs(2),
        }
    }
}

impl ObjectStorage {
    /// `s3://bucket[/prefix]`, `gs://bucket[/prefix]`, `az://container[/prefix]`, `file:///dir`
    /// or `memory://`. Cloud credentials and endpoints come from the standard environment
    /// variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...).
    pub fn from_url(url: &str, timeouts: ObjectStoreTimeouts) -> Result<Self> {
        Self::from_url_with(url, timeouts, &[])
    }

    /// As [`ObjectStorage::from_url`], with S3 settings (`aws_endpoint`, `aws_access_key_id`,
    /// ...) given here taking precedence over the environment. Tests use it to point at their
    /// own server without touching the process environment.
    pub fn from_url_with(
        url: &str,
        timeouts: ObjectStoreTimeouts,
        s3_options: &[(&str, &str)],
    ) -> Result<Self> {
        let invalid = |msg: String| StorageError::new(ErrorKind::Rejected, NAME, msg);
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid(format!("{url:?} is not a URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let client = ClientOptions::new()
            .with_timeout(timeouts.request)
            .with_connect_timeout(timeouts.connect)
            .with_allow_http(
                std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true" || v == "1"),
            );
        let retry = RetryConfig {
            max_retries: 0,
            retry_timeout: timeouts.request,
            ..RetryConfig::default()
        };
        let base = format!("{scheme}://{bucket}");
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" | "s3a" => {
                // Client options first: the AWS_* settings applied after them (AWS_ALLOW_HTTP,
                // proxies) then refine the timeouts' options instead of being replaced by them.
                let builder = object_store::aws::AmazonS3Builder::new()
                    .with_client_options(client)
                    .with_retry(retry);
                let env: Vec<(String, String)> = std::env::vars()
                    .filter(|(k, _)| k.starts_with("AWS_"))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                let settings = env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str(), false))
                    .chain(s3_options.iter().map(|(k, v)| (*k, *v, true)));
                let mut builder = builder;
                for (key, value, explicit) in settings {
                    match key.parse() {
                        Ok(key) => builder = builder.with_config(key, value),
                        Err(e) if explicit => return Err(invalid(format!("S3 option {key}: {e}"))),
                        // Unrelated AWS_* variables (AWS_PROFILE, ...) are not ours to judge.
                        Err(_) => {}
                    }
                }
                Arc::new(
                    builder
                        .with_url(&base)
                        .build()
                        .map_err(|e| invalid(e.to_string()))?,
                )
            }
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(&base)
                    .with_client_options(client)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "az" | "azure" | "abfs" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(&base)
                    .with_client_options(client)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            "file" => {
                let dir = format!("/{}", rest.trim_start_matches('/'));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| invalid(format!("creating {dir}: {e}")))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| invalid(e.to_string()))?;
                return Ok(ObjectStorage {
                    store: Arc::new(fs),
                    url: url.to_owned(),
                });
            }
            "memory" => Arc::new(object_store::memory::InMemory::new()),
            other => {
                return Err(invalid(format!(
                    "unsupported object store scheme {other:?}"
                )));
            }
        };
        let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
            store
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                store,
                prefix.trim_matches('/'),
            ))
        };
        Ok(ObjectStorage {
            store,
            url: url.to_owned(),
        })
    }
}

fn path(key: &str) -> Result<Path> {
    Path::parse(key).map_err(|e| {
        StorageError::new(
            ErrorKind::Rejected,
            NAME,
            format!("invalid key {key:?}: {e}"),
        )
    })
}

fn classify(e: object_store::Error) -> StorageError {
    use object_store::Error as E;
    let kind = match &e {
        E::NotSupported { .. } | E::NotImplemented { .. } => ErrorKind::Unsupported,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } | E::InvalidPath { .. } => {
            ErrorKind::Rejected
        }
        _ => ErrorKind::Unavailable,
    };
    StorageError::new(kind, NAME, e)
}

#[async_trait]
impl Storage for ObjectStorage {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Object stores keep no TTL; retention is the bucket's lifecycle policy.
    async fn put(&self, key: &str, value: Bytes, _ttl: Option<Duration>) -> Result<()> {
        self.store
            .put(&path(key)?, PutPayload::from(value))
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self.store.get(&path(key)?).await {
            Ok(found) => found.bytes().await.map(Some).map_err(classify),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let fetches = keys.iter().map(|k| self.get(k));
        futures::future::try_join_all(fetches).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = path(prefix.trim_end_matches('/'))?;
        let mut keys: Vec<String> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(classify)?;
        keys.sort();
        Ok(keys)
    }

    async fn increment(&self, key: &str, _ttl: Option<Duration>) -> Result<u64> {
        Err(StorageError::new(
            ErrorKind::Unsupported,
            NAME,
            format!("no atomic counters ({key})"),
        ))
    }
}
