//! A bounded pool of connections to one memcached server.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use async_memcached::{Client, Error};
use tokio::sync::{Semaphore, SemaphorePermit};

pub(crate) struct Pool {
    dsn: String,
    idle: Mutex<Vec<Client>>,
    /// Bounds open connections, not just idle ones: a burst queues (within the caller's
    /// timeout) instead of opening a connection per request.
    permits: Semaphore,
    size: usize,
}

impl Pool {
    pub(crate) fn new(addr: &str, size: usize) -> Self {
        let size = size.max(1);
        // The client parses its DSN as a URL; a bare "127.0.0.1:11211" has no valid scheme.
        let dsn = if addr.contains("://") {
            addr.to_owned()
        } else {
            format!("tcp://{addr}")
        };
        Pool {
            dsn,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            size,
        }
    }

    /// Waits for a free slot, then reuses an idle connection or opens one.
    pub(crate) async fn checkout(&self, connect_timeout: Duration) -> Result<Conn<'_>, Error> {
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the pool never closes its semaphore");
        let idle = self.idle.lock().expect("pool lock poisoned").pop();
        let (client, reused) = match idle {
            Some(client) => (client, true),
            None => (self.connect(connect_timeout).await?, false),
        };
        Ok(Conn {
            pool: self,
            client: Some(client),
            reused,
            _permit: permit,
        })
    }

    /// A new connection outside the pool's accounting, for the breaker's recovery probe.
    pub(crate) async fn connect(&self, connect_timeout: Duration) -> Result<Client, Error> {
        match tokio::time::timeout(connect_timeout, Client::new(&self.dsn)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Connect(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect timed out after {connect_timeout:?}"),
            ))),
        }
    }

    pub(crate) fn put_back(&self, client: Client) {
        // The client closes its connection after any incomplete operation (error, timeout,
        // cancellation); such a client can only fail again.
        if client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("pool lock poisoned");
        if idle.len() < self.size {
            idle.push(client);
        }
    }

    /// Drops every idle connection: after one failed, the others were opened to the same server
    /// and are likely dead too (a restarted memcached forgets its connections).
    pub(crate) fn clear(&self) {
        self.idle.lock().expect("pool lock poisoned").clear();
    }
}

/// A checked-out connection; goes back to the pool on drop unless it broke.
pub(crate) struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
    reused: bool,
    _permit: SemaphorePermit<'a>,
}

impl Conn<'_> {
    pub(crate) fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }

    /// Whether this connection came from the idle list (and so may have gone stale there).
    pub(crate) fn reused(&self) -> bool {
        self.reused
    }

    /// Replaces the connection with a fresh one, keeping the slot.
    pub(crate) async fn reconnect(&mut self, connect_timeout: Duration) -> Result<(), Error> {
        self.client = None;
        self.client = Some(self.pool.connect(connect_timeout).await?);
        self.reused = false;
        Ok(())
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            self.pool.put_back(client);
        }
    }
}
