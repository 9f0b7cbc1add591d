//! The `stormscope` binary as a server process, for black-box tests that kill it.

use std::ffi::OsString;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::process::ServerProcess;
use crate::s3::S3Server;

/// The binary under test: `$STORMSCOPE_BIN`, else the workspace's debug build (scripts/test.sh
/// builds it before the tests run).
pub fn stormscope_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("STORMSCOPE_BIN") {
        return PathBuf::from(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration/ has a parent");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let bin = target.join("debug/stormscope");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --bin stormscope` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Environment that points the AWS SDK conventions at a test S3 server.
pub fn s3_env(s3: &S3Server) -> Vec<(OsString, OsString)> {
    [
        ("AWS_ENDPOINT_URL", s3.endpoint_url()),
        ("AWS_ACCESS_KEY_ID", s3.access_key().to_owned()),
        ("AWS_SECRET_ACCESS_KEY", s3.secret_key().to_owned()),
        ("AWS_REGION", s3.region().to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect()
}

/// A `stormscope collector` process with its own spool directory, which survives restarts.
pub struct CollectorProcess {
    process: ServerProcess,
    spool: TempDir,
}

impl CollectorProcess {
    /// Starts a collector on a free port with `args` added to `--listen` and `--spool-dir`.
    pub fn start(env: Vec<(OsString, OsString)>, args: Vec<String>) -> Self {
        let spool = tempfile::Builder::new()
            .prefix("stormscope-spool-")
            .tempdir()
            .expect("spool dir");
        let spool_dir = spool.path().to_owned();
        let process = ServerProcess::start_with_env(stormscope_bin(), env, move |port| {
            let mut all: Vec<OsString> = vec![
                "collector".into(),
                "--listen".into(),
                format!("127.0.0.1:{port}").into(),
                "--spool-dir".into(),
                spool_dir.clone().into(),
                "--workers".into(),
                "2".into(),
            ];
            all.extend(args.iter().map(OsString::from));
            all
        });
        CollectorProcess { process, spool }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.process.addr())
    }

    pub fn spool_dir(&self) -> &Path {
        self.spool.path()
    }
}

impl Deref for CollectorProcess {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        &self.process
    }
}

impl DerefMut for CollectorProcess {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}

/// Starts `stormscope app` on a free port, reading bucket `bucket` of `s3` and the cache at
/// `memcached`, with `args` added (each test adds the deadlines and tenancy it needs).
pub fn app_process(s3: &S3Server, bucket: &str, memcached: &str, args: &[&str]) -> ServerProcess {
    let object_store = format!("s3://{bucket}");
    let mut fixed: Vec<OsString> = vec![
        "--object-store".into(),
        object_store.into(),
        "--memcached".into(),
        memcached.into(),
    ];
    fixed.extend(args.iter().map(OsString::from));
    ServerProcess::start_with_env(stormscope_bin(), s3_env(s3), move |port| {
        let mut all: Vec<OsString> = vec![
            "app".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}").into(),
        ];
        all.extend(fixed.iter().cloned());
        all
    })
}
