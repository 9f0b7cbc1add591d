use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;

use crate::process::ServerProcess;

const ACCESS_KEY: &str = "stormscope-test";
const SECRET_KEY: &str = "stormscope-test-secret";
const REGION: &str = "us-east-1";

/// An s3s-fs server owned by the test, storing into a fresh temp dir.
///
/// s3s-fs verifies SigV4 signatures against [`access_key`](Self::access_key) /
/// [`secret_key`](Self::secret_key) and rejects unsigned requests. It keeps each bucket as a
/// directory under [`data_dir`](Self::data_dir) and each object as a file in it, so data survives
/// `kill()` + `restart()`.
///
/// Derefs to [`ServerProcess`] for `addr()`, `stop()`, `resume()`, `kill()` and `restart()`.
#[derive(Debug)]
pub struct S3Server {
    // Declared before the data dir so the server is killed before its files are removed.
    process: ServerProcess,
    data_dir: TempDir,
}

impl S3Server {
    pub fn start() -> Self {
        let data_dir = tempfile::Builder::new()
            .prefix("stormscope-s3-")
            .tempdir()
            .expect("create a temp dir for s3s-fs data");
        let root = data_dir.path().to_owned();
        let process = ServerProcess::start("s3s-fs", move |port| {
            vec![
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string().into(),
                "--access-key".into(),
                ACCESS_KEY.into(),
                "--secret-key".into(),
                SECRET_KEY.into(),
                root.clone().into(),
            ]
        });
        S3Server { process, data_dir }
    }

    /// Path-style endpoint, e.g. `http://127.0.0.1:PORT` (s3s-fs is started without `--domain`, so
    /// virtual-hosted-style bucket addressing is not available).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The settings an S3 client needs for this server, by `object_store`'s names
    /// (`aws_endpoint`, `aws_access_key_id`, ...), for clients configured in-process.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint_url()),
            ("aws_access_key_id", ACCESS_KEY.to_owned()),
            ("aws_secret_access_key", SECRET_KEY.to_owned()),
            ("aws_region", self.region().to_owned()),
            ("aws_allow_http", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn access_key(&self) -> &'static str {
        ACCESS_KEY
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    /// s3s-fs does not check the region, but SigV4 clients need one to sign with.
    pub fn region(&self) -> &'static str {
        REGION
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Creates a bucket directly on disk, which s3s-fs treats exactly like a CreateBucket, without
    /// the harness needing a SigV4 client. Creating an existing bucket is not an error, so tests on
    /// the shared server can all create the bucket they use.
    ///
    /// # Panics
    ///
    /// If `name` is not a bucket name s3s-fs would accept (it would silently ignore the directory).
    pub fn create_bucket(&self, name: &str) -> PathBuf {
        assert!(
            is_valid_bucket_name(name),
            "invalid S3 bucket name {name:?}"
        );
        let path = self.data_dir.path().join(name);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("create bucket directory {}: {e}", path.display()));
        path
    }

    /// Where s3s-fs keeps the object `key` of `bucket`, for asserting on stored bytes directly.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.data_dir.path().join(bucket).join(key)
    }
}

impl Deref for S3Server {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl DerefMut for S3Server {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// One s3s-fs per test binary, for tests that only need a working object store.
///
/// Never stop or kill it (the `&'static` handle makes that impossible); use distinct buckets or key
/// prefixes per test, since tests run in parallel against it.
pub fn shared_s3() -> &'static S3Server {
    static SHARED: OnceLock<S3Server> = OnceLock::new();
    SHARED.get_or_init(S3Server::start)
}

/// The subset of S3's naming rules that s3s-fs enforces when it lists buckets.
fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..64).contains(&name.len())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && !name.contains("..")
        && name.parse::<std::net::IpAddr>().is_err()
        && !name.starts_with("xn--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "stormscope-reports", "a.b-c.1", &"a".repeat(63)] {
            assert!(is_valid_bucket_name(ok), "{ok:?} should be valid");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Upper",
            "-leading",
            "trailing-",
            "a..b",
            "10.0.0.1",
            "xn--abc",
            "../etc",
            "a/b",
        ] {
            assert!(!is_valid_bucket_name(bad), "{bad:?} should be invalid");
        }
    }
}
