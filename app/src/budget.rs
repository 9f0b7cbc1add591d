//! One byte budget (`--memory-budget`) for every cache the app keeps, split into fixed shares
//! so that no cache can starve another: stored report bodies, merged history quanta, shared
//! renders, kept heads and live windows. Each cache reports the bytes it holds as
//! `stormscope_app_cache_bytes{cache=...}`; sizes are estimates of heap use (see
//! [`crate::size`]), close enough to bound memory, not exact to the byte.

/// The default budget: what the app's caches may hold for a busy deployment (100 probes of
/// 145 processes in one tenant, or many small tenants).
pub const DEFAULT_BUDGET: usize = 192 << 20;

/// The caches that share the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// Decoded reports of the windows read whole (history, and live windows the cache cannot
    /// answer alone), so moving such a window decodes only what is new.
    DecodedReports,
    /// Merged 3-second quanta of history windows.
    Quanta,
    /// Views rendered from live windows, shared between requests.
    Renders,
    /// Each tenant's latest heads, for the next render to take over.
    KeptHeads,
    /// Each tenant's live window, kept merged, with its reports as stored (compressed).
    LiveWindows,
}

impl Cache {
    pub const ALL: [Cache; 5] = [
        Cache::DecodedReports,
        Cache::Quanta,
        Cache::Renders,
        Cache::KeptHeads,
        Cache::LiveWindows,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cache::DecodedReports => "decoded_reports",
            Cache::Quanta => "quanta",
            Cache::Renders => "renders",
            Cache::KeptHeads => "kept_heads",
            Cache::LiveWindows => "live_windows",
        }
    }

    /// This cache's share of the budget, in percent. Live windows are what answers live
    /// queries, so they take the most; kept heads come next, as a render that takes them over
    /// costs a third of one that does not; shared renders help only requests for the very same
    /// version, and their heads are counted with the kept heads.
    fn percent(self) -> usize {
        match self {
            Cache::DecodedReports => 10,
            Cache::Quanta => 10,
            Cache::Renders => 10,
            Cache::KeptHeads => 20,
            Cache::LiveWindows => 50,
        }
    }

    /// Reports the bytes this cache holds now.
    pub fn record(self, bytes: usize) {
        metrics::gauge!("stormscope_app_cache_bytes", "cache" => self.name()).set(bytes as f64);
    }
}

/// The byte budget and each cache's share of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    total: usize,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::new(DEFAULT_BUDGET)
    }
}

impl MemoryBudget {
    pub fn new(total: usize) -> Self {
        MemoryBudget { total }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// The bytes `cache` may hold.
    pub fn share(&self, cache: Cache) -> usize {
        self.total / 100 * cache.percent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_never_exceed_the_budget() {
        assert_eq!(Cache::ALL.iter().map(|c| c.percent()).sum::<usize>(), 100);
        let budget = MemoryBudget::new(100 << 20);
        let total: usize = Cache::ALL.iter().map(|c| budget.share(*c)).sum();
        assert!(total <= budget.total());
        assert_eq!(budget.share(Cache::LiveWindows), 50 * ((100 << 20) / 100));
    }
}
