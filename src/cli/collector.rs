use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use stormscope_collector::{Collector, CollectorConfig};
use stormscope_shared::Limits;
use stormscope_shared::keys::sanitize_collector_id;
use stormscope_shared::storage::memcached::MemcachedConfig;
use stormscope_shared::storage::object::ObjectStoreTimeouts;
use stormscope_shared::tenancy::{Tenancy, TokenSet};

use super::common::{bytes, duration, init_logging, serve, shutdown_signal, warn_header_tenancy};
use super::tokens;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TenancyMode {
    /// Every report belongs to one tenant.
    Single,
    /// The tenant is the value of --tenant-header, set by an authenticating proxy.
    Header,
    /// Probes send `Authorization: Scope-Probe token=T`; --tokens-file maps tokens to tenants.
    Token,
}

/// Flags shared by every service that stores reports.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// memcached servers, comma-separated (consistent hashing across them); empty = in-process cache.
    #[arg(
        long,
        env = "STORMSCOPE_MEMCACHED",
        value_delimiter = ',',
        default_value = ""
    )]
    pub memcached: Vec<String>,
    /// Deadline of one memcached call; past it the call fails and counts towards the circuit breaker.
    #[arg(long, env = "STORMSCOPE_MEMCACHED_TIMEOUT", value_parser = duration, default_value = "50ms")]
    pub memcached_timeout: Duration,
    /// memcached's maximum item size (its -I); larger reports are chunked.
    #[arg(long, env = "STORMSCOPE_MEMCACHED_ITEM_SIZE", value_parser = bytes, default_value = "1MiB")]
    pub memcached_item_size: u64,
    /// How long reports and their index stay in the cache; older history comes from the object store.
    #[arg(long, env = "STORMSCOPE_CACHE_TTL", value_parser = duration, default_value = "5m")]
    pub cache_ttl: Duration,
    /// Object store: s3://bucket[/prefix], gs://..., az://..., file:///dir or memory://. S3 credentials and endpoint come from AWS_* variables.
    #[arg(long, env = "STORMSCOPE_OBJECT_STORE")]
    pub object_store: String,
    /// Deadline of one object-store request.
    #[arg(long, env = "STORMSCOPE_OBJECT_STORE_TIMEOUT", value_parser = duration, default_value = "10s")]
    pub object_store_timeout: Duration,
    /// How a request's tenant is found.
    #[arg(long, env = "STORMSCOPE_TENANCY", value_enum, default_value = "single")]
    pub tenancy: TenancyMode,
    /// The header naming the tenant with --tenancy header.
    #[arg(
        long,
        env = "STORMSCOPE_TENANT_HEADER",
        default_value = "X-Scope-OrgID"
    )]
    pub tenant_header: String,
    /// With --tenancy token: a file of `TOKEN TENANT` lines. It is read again on SIGHUP and
    /// when its contents change; a version that does not parse (or lists a token twice)
    /// leaves the tokens in force.
    #[arg(long, env = "STORMSCOPE_TOKENS_FILE")]
    pub tokens_file: Option<PathBuf>,
    /// How often the tokens file is checked for changes.
    #[arg(long, env = "STORMSCOPE_TOKENS_CHECK_INTERVAL", value_parser = duration, default_value = "5s")]
    pub tokens_check_interval: Duration,
}

/// A tokens file to keep reloaded into the token set the tenancy reads.
pub struct Reload {
    pub path: PathBuf,
    pub set: TokenSet,
    pub check: Duration,
}

impl Reload {
    /// Starts reloading in the background; call inside the runtime.
    pub fn spawn(self) {
        tokio::spawn(tokens::keep_reloaded(self.path, self.set, self.check));
    }
}

impl StorageArgs {
    /// The tenancy, with the tokens of `tokens_file` (else `--tokens-file`) in token mode,
    /// and what keeps them reloaded.
    pub fn tenancy(&self, tokens_file: Option<&Path>) -> anyhow::Result<(Tenancy, Option<Reload>)> {
        Ok(match self.tenancy {
            TenancyMode::Single => (Tenancy::Single, None),
            TenancyMode::Header => (
                Tenancy::Header(self.tenant_header.to_ascii_lowercase()),
                None,
            ),
            TenancyMode::Token => {
                let path = tokens_file
                    .or(self.tokens_file.as_deref())
                    .context("--tenancy token needs --tokens-file")?;
                let set = TokenSet::from(tokens::load(path)?);
                let reload = Reload {
                    path: path.to_owned(),
                    set: set.clone(),
                    check: self.tokens_check_interval,
                };
                (Tenancy::Token(set), Some(reload))
            }
        })
    }

    pub fn memcached_servers(&self) -> Vec<String> {
        self.memcached
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn memcached_config(&self) -> MemcachedConfig {
        MemcachedConfig {
            op_timeout: self.memcached_timeout,
            item_size_limit: self.memcached_item_size as usize,
            ..MemcachedConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct CollectorArgs {
    /// Address to serve probes on.
    #[arg(long, env = "STORMSCOPE_LISTEN", default_value = "0.0.0.0:4041")]
    listen: String,
    #[command(flatten)]
    storage: StorageArgs,
    /// The spool directory: reports are fsync'd here before a probe gets its 200. Must survive restarts.
    #[arg(
        long,
        env = "STORMSCOPE_SPOOL_DIR",
        default_value = "/var/lib/stormscope/spool"
    )]
    spool_dir: PathBuf,
    /// Spool size at which ingest answers 503 + Retry-After (only reached when the object store is down for long).
    #[arg(long, env = "STORMSCOPE_SPOOL_MAX_BYTES", value_parser = bytes, default_value = "1GiB")]
    spool_max_bytes: u64,
    /// One object-store segment per tenant per flush interval.
    #[arg(long, env = "STORMSCOPE_FLUSH_INTERVAL", value_parser = duration, default_value = "15s")]
    flush_interval: Duration,
    /// A tenant's flush interval is split into several segments past this size, which bounds
    /// the memory an upload needs.
    #[arg(long, env = "STORMSCOPE_SEGMENT_MAX_BYTES", value_parser = bytes, default_value = "2MiB")]
    segment_max_bytes: u64,
    /// Segment uploads in flight while draining a backlog.
    #[arg(long, env = "STORMSCOPE_UPLOAD_CONCURRENCY", default_value_t = 2)]
    upload_concurrency: usize,
    /// Names this collector in object keys (default: the host name).
    #[arg(long, env = "STORMSCOPE_COLLECTOR_ID")]
    collector_id: Option<String>,
    /// Largest report body accepted as sent.
    #[arg(long, env = "STORMSCOPE_MAX_REPORT_BYTES", value_parser = bytes, default_value = "16MiB")]
    max_report_bytes: u64,
    /// Largest report after gzip inflation.
    #[arg(long, env = "STORMSCOPE_MAX_DECOMPRESSED_BYTES", value_parser = bytes, default_value = "128MiB")]
    max_decompressed_bytes: u64,
    /// How long a probe may take to send a report's body; a slower one gets 408.
    #[arg(long, env = "STORMSCOPE_BODY_READ_TIMEOUT", value_parser = duration, default_value = "30s")]
    body_read_timeout: Duration,
    /// Topologies with more nodes than this (per host in the report) are dropped, as Scope's --app.max-topology-nodes.
    #[arg(long, env = "STORMSCOPE_MAX_TOPOLOGY_NODES", default_value_t = 10_000)]
    max_topology_nodes: usize,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "STORMSCOPE_WORKERS")]
    workers: Option<usize>,
    /// Log level (RUST_LOG overrides).
    #[arg(long, env = "STORMSCOPE_LOG_LEVEL", default_value = "info")]
    log_level: String,
}

impl CollectorArgs {
    fn config(&self) -> anyhow::Result<(CollectorConfig, Option<Reload>)> {
        let id = self.collector_id.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap_or_default()
                .trim()
                .to_owned()
        });
        let mut config = CollectorConfig::local(self.spool_dir.clone(), &self.storage.object_store);
        config.collector_id = sanitize_collector_id(&id);
        config.object_store_timeouts = ObjectStoreTimeouts {
            request: self.storage.object_store_timeout,
            ..ObjectStoreTimeouts::default()
        };
        config.memcached = self.storage.memcached_servers();
        config.memcached_config = self.storage.memcached_config();
        config.cache_ttl = self.storage.cache_ttl;
        config.spool_max_bytes = self.spool_max_bytes;
        config.flush_interval = self.flush_interval;
        config.segment_max_bytes = self.segment_max_bytes as usize;
        config.upload_concurrency = self.upload_concurrency.max(1);
        let (tenancy, reload) = self.storage.tenancy(None)?;
        config.tenancy = tenancy;
        config.body_read_timeout = self.body_read_timeout;
        config.limits = Limits {
            max_compressed_bytes: self.max_report_bytes as usize,
            max_decompressed_bytes: self.max_decompressed_bytes as usize,
            ..Limits::default()
        };
        config.max_topology_nodes = self.max_topology_nodes;
        Ok((config, reload))
    }
}

pub fn run(args: CollectorArgs) -> anyhow::Result<()> {
    init_logging(&args.log_level);
    ignore_file_size_signal();
    let (config, reload) = args.config()?;
    let listen = args.listen.clone();
    serve(&args.listen, args.workers, |listener, workers| async move {
        warn_header_tenancy(&config.tenancy, &listener);
        if let Some(reload) = reload {
            reload.spawn();
        }
        let collector = Collector::start(config).await?;
        tracing::info!(%listen, "collector serving");
        collector.run(listener, workers, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

/// A spool write past the process's file-size limit (RLIMIT_FSIZE) then fails with EFBIG,
/// which the spool handles as it handles a full disk, instead of SIGXFSZ killing the process.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN has no handler to run and no other
    // effect; it is done before any other thread starts.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
