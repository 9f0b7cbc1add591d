//! The memcached backend: consistent hashing over servers, pooled connections with per-call
//! timeouts, a circuit breaker per server, and values above the item size limit split into chunks.
//!
//! Failing fast is the point. Ingest writes to memcached on the request path, and a hung memcached
//! (SIGSTOP: the kernel accepts connections, nothing answers) must not hold requests. Every call is
//! bounded by [`MemcachedConfig::op_timeout`]; after [`MemcachedConfig::breaker_failures`]
//! consecutive failures a server's breaker opens and calls to it fail at once with
//! [`ErrorKind::CircuitOpen`], without touching the network. A background task, never a request,
//! then checks the server every [`MemcachedConfig::breaker_cooldown`] and closes the breaker when
//! it answers.
//!
//! Keys: memcached keys are at most 250 printable ASCII bytes. A key that is not (or that could
//! be mistaken for a chunk key or a hashed key) is stored under `h/<murmur3 x64 128 in hex>`
//! instead, transparently; see [`wire_key`].
//!
//! Counters written by [`Storage::increment`] are plain memcached numbers without the item
//! header (`incr` needs a bare decimal); `get` returns them as their decimal text, which is
//! how readers of the report index learn how many entries a bucket has.

mod breaker;
mod chunks;
mod pool;
mod ring;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_memcached::{AsciiProtocol, Client, Error as McError, Status};
use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};

use super::{ErrorKind, Result, Storage, StorageError};
use breaker::Breaker;
use chunks::{Decoded, Header};
use pool::Pool;
use ring::Ring;

const BACKEND: &str = "cache";
/// memcached's own limit on key length.
const MAX_KEY_LEN: usize = 250;
const HASHED_PREFIX: &str = "h/";
/// memcached reads a TTL above 30 days as an absolute Unix time.
const MAX_RELATIVE_TTL_SECS: u64 = 30 * 24 * 3600;
/// Keys per `get` command line, to stay well inside memcached's request size limits.
const GET_BATCH: usize = 100;

/// Settings of the memcached client.
#[derive(Debug, Clone)]
pub struct MemcachedConfig {
    /// Upper bound on one call to one server, including waiting for a pooled connection and
    /// connecting. A call that takes longer fails with `Unavailable` and counts against the
    /// server's breaker. Default 100 ms.
    pub op_timeout: Duration,
    /// Upper bound on opening one TCP connection (also within `op_timeout` for calls; on its own
    /// for the recovery probe). Default 100 ms.
    pub connect_timeout: Duration,
    /// Connections per server. Calls beyond it wait for a free connection, within `op_timeout`.
    /// Default 4.
    pub pool_size: usize,
    /// The servers' maximum item size (memcached's `-I`). Values are split into chunks of this
    /// size less 1 KiB, which leaves room for memcached's per-item overhead. Default 1 MiB.
    pub item_size_limit: usize,
    /// Consecutive failures (timeouts, refused or broken connections) that open a server's
    /// breaker. Default 3.
    pub breaker_failures: u32,
    /// How often an open breaker checks whether its server answers again. Default 1 s.
    pub breaker_cooldown: Duration,
}

impl Default for MemcachedConfig {
    fn default() -> Self {
        MemcachedConfig {
            op_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_millis(100),
            pool_size: 4,
            item_size_limit: 1024 * 1024,
            breaker_failures: 3,
            breaker_cooldown: Duration::from_secs(1),
        }
    }
}

/// A [`Storage`] over one or more memcached servers (`name()` is `cache`).
pub struct MemcachedStorage {
    servers: Vec<Arc<Server>>,
    ring: Ring,
    chunk_size: usize,
}

impl MemcachedStorage {
    /// `servers` are `host:port`. Connects lazily, on first use.
    pub fn new(servers: Vec<String>, config: MemcachedConfig) -> Self {
        let mut seen = HashSet::new();
        let addrs: Vec<String> = servers
            .into_iter()
            .filter(|s| seen.insert(s.clone()))
            .collect();
        MemcachedStorage {
            ring: Ring::new(&addrs),
            servers: addrs
                .into_iter()
                .map(|addr| {
                    breaker_gauge(&addr, false);
                    Arc::new(Server {
                        pool: Pool::new(&addr, config.pool_size),
                        breaker: Breaker::new(config.breaker_failures),
                        addr,
                        op_timeout: config.op_timeout,
                        connect_timeout: config.connect_timeout,
                        cooldown: config.breaker_cooldown,
                    })
                })
                .collect(),
            chunk_size: chunks::chunk_size(config.item_size_limit),
        }
    }

    /// True when no server's breaker is open.
    pub fn healthy(&self) -> bool {
        self.servers.iter().all(|server| !server.breaker.is_open())
    }

    /// The servers whose breaker is open: calls to them fail fast until they answer again.
    pub fn open_servers(&self) -> Vec<String> {
        self.servers
            .iter()
            .filter(|server| server.breaker.is_open())
            .map(|server| server.addr.clone())
            .collect()
    }

    fn server(&self, wire_key: &str) -> Result<&Arc<Server>> {
        self.ring
            .server_for(wire_key.as_bytes())
            .map(|index| &self.servers[index])
            .ok_or_else(|| {
                StorageError::new(
                    ErrorKind::Unavailable,
                    BACKEND,
                    "no memcached servers configured",
                )
            })
    }

    async fn set_item(&self, key: String, item: Bytes, ttl: i64) -> Result<()> {
        self.server(&key)?
            .call(move |client| {
                let (key, item) = (key.clone(), item.clone());
                async move { client.set(&key, &item[..], Some(ttl), None).await }.boxed()
            })
            .await
    }

    async fn get_item(&self, key: String) -> Result<Option<Bytes>> {
        self.server(&key)?
            .call(move |client| {
                let key = key.clone();
                async move {
                    let value = client.get(&key).await?;
                    Ok(value.and_then(|value| value.data).map(Bytes::from))
                }
                .boxed()
            })
            .await
    }

    async fn get_items(
        &self,
        server: &Arc<Server>,
        keys: Vec<String>,
    ) -> Result<HashMap<String, Bytes>> {
        server
            .call(move |client| {
                let keys = keys.clone();
                async move {
                    match client.get_multi(&keys).await {
                        Ok(values) => Ok(values
                            .into_iter()
                            .filter_map(|value| {
                                Some((String::from_utf8(value.key).ok()?, Bytes::from(value.data?)))
                            })
                            .collect()),
                        // The client's way of saying "all of them missed".
                        Err(McError::Protocol(Status::NotFound)) => Ok(HashMap::new()),
                        Err(e) => Err(e),
                    }
                }
                .boxed()
            })
            .await
    }

    /// The value behind a header item: inline, or read from its chunks. A missing chunk is a miss
    /// (evicted, or expired before its header).
    async fn resolve(&self, key: &str, wire: &str, item: Bytes) -> Result<Option<Bytes>> {
        match chunks::decode(item) {
            Ok(Decoded::Value(value)) => Ok(Some(value)),
            Ok(Decoded::Chunked(header)) => self.read_chunks(key, wire, header).await,
            Err(corrupt) => Err(StorageError::new(
                ErrorKind::Corrupt,
                BACKEND,
                format!("{key}: {}", corrupt.0),
            )),
        }
    }

    async fn read_chunks(&self, key: &str, wire: &str, header: Header) -> Result<Option<Bytes>> {
        let reads = (1..=header.chunks).map(|index| self.get_item(chunks::chunk_key(wire, index)));
        let mut parts = Vec::with_capacity(header.chunks as usize);
        for part in join_all(reads).await {
            match part? {
                Some(part) => parts.push(part),
                None => return Ok(None),
            }
        }
        chunks::assemble(&header, &parts)
            .map(Some)
            .map_err(|corrupt| {
                StorageError::new(ErrorKind::Corrupt, BACKEND, format!("{key}: {}", corrupt.0))
            })
    }
}

impl fmt::Debug for MemcachedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStorage")
            .field(
                "servers",
                &self.servers.iter().map(|s| &s.addr).collect::<Vec<_>>(),
            )
            .field("open", &self.open_servers())
            .field("chunk_size", &self.chunk_size)
            .finish()
    }
}

#[async_trait]
impl Storage for MemcachedStorage {
    fn name(&self) -> &'static str {
        BACKEND
    }

    /// Chunks are written before the header that points to them, so a reader never finds a
    /// header whose chunks are not there yet.
    async fn put(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<()> {
        let wire = wire_key(key).into_owned();
        let ttl = ttl_secs(ttl);
        let split = chunks::split(&value, self.chunk_size).ok_or_else(|| {
            StorageError::new(
                ErrorKind::Rejected,
                BACKEND,
                format!(
                    "{key}: {} bytes need more than {} chunks",
                    value.len(),
                    chunks::MAX_CHUNKS
                ),
            )
        })?;
        let writes = (1..)
            .zip(split.chunks)
            .map(|(index, chunk)| self.set_item(chunks::chunk_key(&wire, index), chunk, ttl));
        for written in join_all(writes).await {
            written?;
        }
        self.set_item(wire, split.head, ttl).await
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let wire = wire_key(key);
        match self.get_item(wire.to_string()).await? {
            Some(item) => self.resolve(key, &wire, item).await,
            None => Ok(None),
        }
    }

    /// One `get` per server (in batches), all servers in parallel, then the chunks of chunked
    /// values.
    ///
    /// A server that fails fails the call, as `get` does: a miss must mean "not stored", because
    /// readers of the report index take a missing bucket counter as "no reports" and only fall
    /// back to the object store on an error. Corrupt values are misses, logged at WARN.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let wire: Vec<Cow<'_, str>> = keys.iter().map(|key| wire_key(key)).collect();
        let mut by_server: HashMap<usize, Vec<String>> = HashMap::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for key in wire
            .iter()
            .map(AsRef::as_ref)
            .filter(|&key| seen.insert(key))
        {
            let Some(server) = self.ring.server_for(key.as_bytes()) else {
                return Err(StorageError::new(
                    ErrorKind::Unavailable,
                    BACKEND,
                    "no memcached servers configured",
                ));
            };
            by_server.entry(server).or_default().push(key.to_string());
        }
        let reads = by_server.iter().flat_map(|(&server, keys)| {
            keys.chunks(GET_BATCH)
                .map(move |batch| self.get_items(&self.servers[server], batch.to_vec()))
        });
        let mut found = HashMap::new();
        for read in join_all(reads).await {
            found.extend(read?);
        }
        let values = keys.iter().zip(&wire).map(|(key, wire)| {
            let item = found.get(wire.as_ref()).cloned();
            async move {
                match self.resolve(key, wire, item?).await {
                    Ok(value) => value,
                    Err(error) if error.kind == ErrorKind::Corrupt => {
                        if let Some(suppressed) = crate::log_limit::allow("corrupt_memcached_value", key) {
                            tracing::warn!(%error, suppressed, "corrupt memcached value treated as a miss (said once a minute per key)");
                        }
                        None
                    }
                    Err(error) => {
                        tracing::debug!(%error, "memcached get_many: chunk read failed, a miss");
                        None
                    }
                }
            }
        });
        Ok(join_all(values).await)
    }

    /// Deletes the header only; its chunks become unreachable and expire with their TTL (or are
    /// evicted, for values stored without one).
    async fn delete(&self, key: &str) -> Result<()> {
        let wire = wire_key(key).into_owned();
        self.server(&wire)?
            .call(move |client| {
                let key = wire.clone();
                async move {
                    match client.delete(&key).await {
                        Err(McError::Protocol(Status::NotFound)) => Ok(()),
                        other => other,
                    }
                }
                .boxed()
            })
            .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Err(StorageError::new(
            ErrorKind::Unsupported,
            BACKEND,
            format!("memcached cannot list keys (prefix {prefix:?})"),
        ))
    }

    /// `incr`; on a miss, `add` 0 with the TTL and `incr` again. When another client's `add`
    /// wins the race, ours is refused and our `incr` counts on top of theirs.
    async fn increment(&self, key: &str, ttl: Option<Duration>) -> Result<u64> {
        let wire = wire_key(key).into_owned();
        let ttl = ttl_secs(ttl);
        self.server(&wire)?
            .call(move |client| {
                let key = wire.clone();
                async move {
                    match client.increment(&key, 1).await {
                        Err(McError::Protocol(Status::NotFound)) => {
                            match client.add(&key, "0", Some(ttl), None).await {
                                Ok(()) | Err(McError::Protocol(Status::NotStored)) => {}
                                Err(e) => return Err(e),
                            }
                            client.increment(&key, 1).await
                        }
                        other => other,
                    }
                }
                .boxed()
            })
            .await
    }
}

/// `stormscope_memcached_breaker_open{server}`: 1 while calls to `server` fail fast. Set for
/// every server at start, so that the series exists before the first outage.
fn breaker_gauge(server: &str, open: bool) {
    metrics::gauge!("stormscope_memcached_breaker_open", "server" => server.to_owned())
        .set(if open { 1.0 } else { 0.0 });
}

/// One server: its connections, its breaker and its timeouts.
struct Server {
    addr: String,
    pool: Pool,
    breaker: Breaker,
    op_timeout: Duration,
    connect_timeout: Duration,
    cooldown: Duration,
}

impl Server {
    /// Runs `op` on a pooled connection within the call timeout, with breaker accounting.
    ///
    /// `op` may run twice: when a connection taken from the idle list turns out to be dead (the
    /// server restarted or dropped it while idle), once more on a fresh one. Only I/O errors on
    /// reused connections are retried, where the request most likely never reached the server.
    async fn call<T, F>(self: &Arc<Self>, op: F) -> Result<T>
    where
        F: for<'c> Fn(&'c mut Client) -> BoxFuture<'c, std::result::Result<T, McError>> + Sync,
    {
        if self.breaker.is_open() {
            // Normally already running; restarts a probe whose runtime went away.
            self.ensure_probe();
            return Err(StorageError::new(
                ErrorKind::CircuitOpen,
                BACKEND,
                format!("{}: circuit open, not trying", self.addr),
            ));
        }
        let result = match tokio::time::timeout(self.op_timeout, self.attempt(&op)).await {
            Ok(result) => result.map_err(|error| self.classify(error)),
            Err(_) => Err(StorageError::new(
                ErrorKind::Unavailable,
                BACKEND,
                format!("{}: no answer within {:?}", self.addr, self.op_timeout),
            )),
        };
        match &result {
            Err(error) if error.kind == ErrorKind::Unavailable => self.failed(error),
            _ => self.breaker.record_success(),
        }
        result
    }

    async fn attempt<T, F>(&self, op: &F) -> std::result::Result<T, McError>
    where
        F: for<'c> Fn(&'c mut Client) -> BoxFuture<'c, std::result::Result<T, McError>>,
    {
        let mut conn = self.pool.checkout(self.connect_timeout).await?;
        match op(conn.client()).await {
            Err(McError::Io(_) | McError::ConnectionClosed) if conn.reused() => {
                conn.reconnect(self.connect_timeout).await?;
                op(conn.client()).await
            }
            result => result,
        }
    }

    fn classify(&self, error: McError) -> StorageError {
        let kind = match error {
            McError::Connect(_) | McError::Io(_) | McError::ConnectionClosed => {
                ErrorKind::Unavailable
            }
            McError::Protocol(_) | McError::ParseError(_) => ErrorKind::Rejected,
        };
        StorageError::new(kind, BACKEND, format!("{}: {error}", self.addr))
    }

    fn failed(self: &Arc<Self>, error: &StorageError) {
        // Idle connections to a server that just failed are likely dead as well.
        self.pool.clear();
        if self.breaker.record_failure() {
            breaker_gauge(&self.addr, true);
            tracing::warn!(
                server = %self.addr,
                %error,
                "memcached circuit opened: calls to this server fail fast until it answers again"
            );
            self.ensure_probe();
        }
    }

    /// Makes sure one background task is checking the server. Requests never wait for it.
    fn ensure_probe(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.breaker.try_start_probe() {
            return;
        }
        // Held by the task, so the flag is reset however the task ends (including its runtime
        // shutting down before it ever ran); the next rejected call then starts another.
        let guard = ProbeGuard(Arc::downgrade(self));
        runtime.spawn(async move {
            let guard = guard;
            loop {
                let Some(cooldown) = guard.0.upgrade().map(|server| server.cooldown) else {
                    return;
                };
                tokio::time::sleep(cooldown).await;
                // A weak reference, so that dropping the storage ends the task.
                let Some(server) = guard.0.upgrade() else {
                    return;
                };
                if server.probe().await {
                    server.breaker.close();
                    breaker_gauge(&server.addr, false);
                    tracing::info!(server = %server.addr, "memcached answers again: circuit closed");
                    return;
                }
            }
        });
    }

    async fn probe(&self) -> bool {
        let check = async {
            let mut client = self.pool.connect(self.connect_timeout).await?;
            client.version().await?;
            Ok::<_, McError>(client)
        };
        match tokio::time::timeout(self.connect_timeout + self.op_timeout, check).await {
            Ok(Ok(client)) => {
                // Connections from before the outage may be dead (after a restart, they are).
                self.pool.clear();
                self.pool.put_back(client);
                true
            }
            Ok(Err(error)) => {
                tracing::debug!(server = %self.addr, %error, "memcached still down");
                false
            }
            Err(_) => {
                tracing::debug!(server = %self.addr, "memcached still not answering");
                false
            }
        }
    }
}

struct ProbeGuard(Weak<Server>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        if let Some(server) = self.0.upgrade() {
            server.breaker.end_probe();
        }
    }
}

/// The key stored in memcached for `key`: `key` itself when memcached accepts it as is, else
/// `h/` and the 128-bit murmur3 of it in hex.
///
/// Hashed: keys over 245 bytes (room for a chunk suffix `#4096`), empty keys, keys with bytes
/// outside printable ASCII (memcached's text protocol splits on whitespace, and the client's
/// response parser rejects bytes above 0x7e), keys with `#` (which could collide with a chunk key)
/// and keys starting with `h/` (which could collide with a hashed key).
fn wire_key(key: &str) -> Cow<'_, str> {
    let verbatim = !key.is_empty()
        && key.len() <= MAX_KEY_LEN - chunks::MAX_SUFFIX_LEN
        && !key.starts_with(HASHED_PREFIX)
        && key.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    if verbatim {
        Cow::Borrowed(key)
    } else {
        let hash = murmur3::murmur3_x64_128(&mut key.as_bytes(), 0)
            .expect("reading from a slice cannot fail");
        Cow::Owned(format!("{HASHED_PREFIX}{hash:032x}"))
    }
}

/// memcached's TTL field: 0 is "never expires", so `None` maps to 0 and any `Some` to at least 1 s.
fn ttl_secs(ttl: Option<Duration>) -> i64 {
    match ttl {
        None => 0,
        Some(ttl) => {
            let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
            i64::try_from(secs.clamp(1, MAX_RELATIVE_TTL_SECS)).expect("30 days fits in i64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_are_stored_as_they_are() {
        let key = "reports/tenant-a/2024-01-01/10/1704103200000-c1-7.msgpack.gz";
        assert_eq!(wire_key(key), key);
    }

    #[test]
    fn keys_memcached_cannot_take_are_hashed() {
        let long = "k".repeat(300);
        for key in [
            long.as_str(),
            "with space",
            "tab\there",
            "new\nline",
            "caf\u{e9}",
            "",
            "a#1",
            "h/abc",
        ] {
            let wire = wire_key(key);
            assert!(
                wire.starts_with("h/") && wire.len() == 34,
                "{key:?} -> {wire}"
            );
            assert!(wire.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    #[test]
    fn hashed_keys_are_stable_and_distinct() {
        let a = format!("{}a", "x".repeat(300));
        let b = format!("{}b", "x".repeat(300));
        assert_eq!(wire_key(&a), wire_key(&a));
        assert_ne!(wire_key(&a), wire_key(&b));
    }

    #[test]
    fn longest_verbatim_key_leaves_room_for_a_chunk_suffix() {
        let key = "k".repeat(MAX_KEY_LEN - chunks::MAX_SUFFIX_LEN);
        assert_eq!(wire_key(&key), key.as_str());
        let chunk = chunks::chunk_key(&key, chunks::MAX_CHUNKS);
        assert!(chunk.len() <= MAX_KEY_LEN);
        assert!(wire_key(&format!("{key}k")).starts_with("h/"));
    }

    #[test]
    fn ttls_map_to_memcached_seconds() {
        assert_eq!(ttl_secs(None), 0);
        assert_eq!(ttl_secs(Some(Duration::ZERO)), 1);
        assert_eq!(ttl_secs(Some(Duration::from_millis(1500))), 2);
        assert_eq!(ttl_secs(Some(Duration::from_secs(3600))), 3600);
        assert_eq!(
            ttl_secs(Some(Duration::from_secs(365 * 24 * 3600))),
            30 * 24 * 3600
        );
    }
}
