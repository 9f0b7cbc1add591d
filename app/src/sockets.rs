//! How many topology websockets are open, per tenant and in all, and the caps on both: each
//! socket renders its view every tick for as long as it lives, so their number is the app's
//! load, and one tenant must not be able to take all of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use stormscope_shared::tenancy::TenantId;

/// The caps (`--max-websockets`, `--max-websockets-per-tenant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketCaps {
    pub global: usize,
    pub per_tenant: usize,
}

impl Default for SocketCaps {
    fn default() -> Self {
        SocketCaps {
            global: 1024,
            per_tenant: 64,
        }
    }
}

/// Which cap a socket ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Tenant(usize),
    Global(usize),
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_tenant: HashMap<TenantId, usize>,
}

#[derive(Debug)]
pub struct Sockets {
    caps: SocketCaps,
    open: Mutex<Open>,
}

impl Sockets {
    pub fn new(caps: SocketCaps) -> Arc<Sockets> {
        Arc::new(Sockets {
            caps,
            open: Mutex::new(Open::default()),
        })
    }

    /// Counts one more socket for `tenant`, or says which cap it would cross. The permit
    /// counts it out again when dropped.
    pub fn open(self: &Arc<Self>, tenant: &TenantId) -> Result<SocketPermit, Refused> {
        let mut open = self.lock();
        if open.total >= self.caps.global {
            return Err(Refused::Global(self.caps.global));
        }
        let mine = open.by_tenant.get(tenant).copied().unwrap_or(0);
        if mine >= self.caps.per_tenant {
            return Err(Refused::Tenant(self.caps.per_tenant));
        }
        open.total += 1;
        open.by_tenant.insert(tenant.clone(), mine + 1);
        metrics::gauge!("stormscope_app_websockets_open").increment(1.0);
        Ok(SocketPermit {
            sockets: self.clone(),
            tenant: tenant.clone(),
        })
    }

    /// Sockets open now, in all.
    pub fn total(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // Counts only: a panic elsewhere while holding the lock cannot leave them torn.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open socket, counted in its tenant's and the global number (and in
/// `stormscope_app_websockets_open`) while it lives: a loop that outlived its client would keep
/// rendering for no one, and the gauge is where that would show.
#[derive(Debug)]
pub struct SocketPermit {
    sockets: Arc<Sockets>,
    tenant: TenantId,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut open = self.sockets.lock();
        open.total -= 1;
        if let Some(n) = open.by_tenant.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                open.by_tenant.remove(&self.tenant);
            }
        }
        metrics::gauge!("stormscope_app_websockets_open").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_tenant_and_in_all_and_permits_give_back() {
        let sockets = Sockets::new(SocketCaps {
            global: 3,
            per_tenant: 2,
        });
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let a1 = sockets.open(&a).unwrap();
        let _a2 = sockets.open(&a).unwrap();
        assert_eq!(sockets.open(&a).unwrap_err(), Refused::Tenant(2));
        let _b1 = sockets.open(&b).unwrap();
        assert_eq!(sockets.open(&b).unwrap_err(), Refused::Global(3));
        drop(a1);
        assert_eq!(sockets.total(), 2);
        let _a3 = sockets.open(&a).unwrap();
        assert_eq!(sockets.total(), 3);
    }
}
