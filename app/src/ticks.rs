//! One window read per tenant per websocket tick. Sockets tick on the wall clock's multiples
//! of their period, so every live socket of a tenant ticking at the same moment asks for the
//! same window: the first one reads it and the others wait for its answer, instead of each
//! reading the cache index and merging again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use stormscope_shared::tenancy::TenantId;
use tokio::sync::OnceCell;

/// Entries older than this are dropped when another tick comes: no socket ticks less often.
const FORGET_AFTER_MS: i64 = 120_000;

/// A tick's value, read once by whoever asks first.
type Cell<T> = Arc<OnceCell<Arc<T>>>;

/// The latest tick's value of each tenant.
pub struct SharedTicks<T> {
    latest: Mutex<HashMap<TenantId, (i64, Cell<T>)>>,
}

impl<T> Default for SharedTicks<T> {
    fn default() -> Self {
        SharedTicks {
            latest: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> SharedTicks<T> {
    /// The value of `tenant`'s tick at `tick_ms` (wall-clock ms): `read()` by the first caller,
    /// shared with every other caller for the same tick. A caller of an older tick than the
    /// latest reads for itself.
    pub async fn get_or_read<F, Fut>(&self, tenant: &TenantId, tick_ms: i64, read: F) -> Arc<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = {
            let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
            match latest.get(tenant) {
                Some((t, cell)) if *t == tick_ms => cell.clone(),
                Some((t, _)) if *t > tick_ms => Arc::new(OnceCell::new()),
                _ => {
                    latest.retain(|_, (t, _)| *t > tick_ms - FORGET_AFTER_MS);
                    let cell = Arc::new(OnceCell::new());
                    latest.insert(tenant.clone(), (tick_ms, cell.clone()));
                    cell
                }
            }
        };
        cell.get_or_init(|| async { Arc::new(read().await) })
            .await
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn one_read_per_tenant_and_tick() {
        let ticks = Arc::new(SharedTicks::<usize>::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let read_at = |tenant: TenantId, tick: i64| {
            let (ticks, reads) = (ticks.clone(), reads.clone());
            tokio::spawn(async move {
                ticks
                    .get_or_read(&tenant, tick, || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        reads.fetch_add(1, Ordering::SeqCst)
                    })
                    .await
            })
        };
        let same: Vec<_> = (0..8).map(|_| read_at(a.clone(), 1000)).collect();
        let mut values = Vec::new();
        for task in same {
            values.push(*task.await.unwrap());
        }
        assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
        assert_eq!(reads.load(Ordering::SeqCst), 1, "eight sockets, one read");
        read_at(b.clone(), 1000).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 2, "tenants never share");
        read_at(a.clone(), 2000).await.unwrap();
        read_at(a.clone(), 1000).await.unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 4, "a new tick reads anew");
    }
}
