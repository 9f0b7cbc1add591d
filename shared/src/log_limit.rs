//! Warnings said once per cause per minute. An outage or one bad object seen by every query
//! and every websocket tick would otherwise write the same line hundreds of times a second:
//! the log would hide everything else and cost more than the queries. What is not said is
//! counted, in the next line said for that cause and in `stormscope_log_suppressed_total{site}`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often one cause is said at most.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// Causes remembered at once; past it the table starts over, which at worst says a cause
/// once more than needed.
const MAX_CAUSES: usize = 4096;

struct Said {
    at: Instant,
    suppressed: u64,
}

static SAID: LazyLock<Mutex<HashMap<(&'static str, String), Said>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether the warning of `site` (a fixed name for the place in the code) about `cause` (what
/// it is about: a segment's name, a server) is to be said now. `Some(n)`: say it, adding that
/// `n` were not said since the last time; `None`: it was said less than [`INTERVAL`] ago, and
/// this one is counted instead.
pub fn allow(site: &'static str, cause: &str) -> Option<u64> {
    allow_at(site, cause, Instant::now())
}

fn allow_at(site: &'static str, cause: &str, now: Instant) -> Option<u64> {
    let mut said = SAID.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (site, cause.to_owned());
    match said.get_mut(&key) {
        Some(entry) if now.duration_since(entry.at) < INTERVAL => {
            entry.suppressed += 1;
            metrics::counter!("stormscope_log_suppressed_total", "site" => site).increment(1);
            None
        }
        Some(entry) => {
            let suppressed = std::mem::take(&mut entry.suppressed);
            entry.at = now;
            Some(suppressed)
        }
        None => {
            if said.len() >= MAX_CAUSES {
                said.clear();
            }
            said.insert(
                key,
                Said {
                    at: now,
                    suppressed: 0,
                },
            );
            Some(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_cause_per_interval_and_the_rest_counted() {
        let t0 = Instant::now();
        let site = "test_once_per_cause";
        assert_eq!(allow_at(site, "a", t0), Some(0));
        for _ in 0..99 {
            assert_eq!(allow_at(site, "a", t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(allow_at(site, "b", t0), Some(0), "another cause is said");
        assert_eq!(
            allow_at(site, "a", t0 + INTERVAL + Duration::from_secs(1)),
            Some(99),
            "a minute later, with what was not said"
        );
    }
}
