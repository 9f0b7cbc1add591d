//! Token buckets: one to throttle a log line, and one per client address with a cap on how many
//! clients are tracked, so that a flood from many addresses costs bounded memory.
//!
//! Written here rather than taken from a crate: `governor`'s keyed limiter grows with every
//! key it sees until told to forget, and the cap on tracked clients is the part that matters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bucket of `capacity` tokens refilled at `per_second`.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub capacity: f64,
    pub per_second: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn full(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            tokens: rate.capacity,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.capacity);
        self.at = now;
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate.per_second,
            ))
        }
    }

    /// Whether the bucket has refilled completely: forgetting it changes nothing.
    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut probe = *self;
        probe.refill(rate, now);
        probe.tokens >= rate.capacity
    }
}

/// One bucket per client address, at most `max_clients` of them. When the map is full, buckets
/// that have refilled are forgotten (a new bucket is full too); if none has, clients not yet
/// tracked share one overflow bucket until some are, so a flood from many addresses is limited
/// as one client rather than growing the map.
#[derive(Debug)]
pub struct PerClient {
    rate: Rate,
    max_clients: usize,
    state: Mutex<Clients>,
}

#[derive(Debug)]
struct Clients {
    buckets: HashMap<IpAddr, TokenBucket>,
    overflow: TokenBucket,
}

impl PerClient {
    pub fn new(rate: Rate, max_clients: usize) -> Self {
        PerClient {
            rate,
            max_clients: max_clients.max(1),
            state: Mutex::new(Clients {
                buckets: HashMap::new(),
                overflow: TokenBucket::full(rate, Instant::now()),
            }),
        }
    }

    /// Takes a token for `client`, or says how long it must wait.
    pub fn take(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let rate = self.rate;
        let mut state = self.state.lock().expect("rate limit lock");
        let Clients { buckets, overflow } = &mut *state;
        if !buckets.contains_key(&client) && buckets.len() >= self.max_clients {
            buckets.retain(|_, bucket| !bucket.is_full(rate, now));
            if buckets.len() >= self.max_clients {
                return overflow.take(rate, now);
            }
        }
        buckets
            .entry(client)
            .or_insert_with(|| TokenBucket::full(rate, now))
            .take(rate, now)
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().unwrap().buckets.len()
    }
}

/// At most a few log lines in a burst and one every few seconds after: events clients send must
/// never flood the log. Says how many lines were held back since the last one let through.
#[derive(Debug)]
pub struct LogThrottle {
    rate: Rate,
    state: Mutex<(TokenBucket, u64)>,
}

impl LogThrottle {
    pub fn new(rate: Rate) -> Self {
        LogThrottle {
            rate,
            state: Mutex::new((TokenBucket::full(rate, Instant::now()), 0)),
        }
    }

    /// `Some(suppressed)` when a line may be logged now, with the number held back before it.
    pub fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock().expect("log throttle lock");
        let (bucket, suppressed) = &mut *state;
        match bucket.take(self.rate, Instant::now()) {
            Ok(()) => Some(std::mem::take(suppressed)),
            Err(_) => {
                *suppressed += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Rate = Rate {
        capacity: 3.0,
        per_second: 0.001,
    };

    #[test]
    fn a_client_gets_its_burst_then_waits() {
        let limiter = PerClient::new(SLOW, 10);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            limiter.take(a).unwrap();
        }
        let wait = limiter.take(a).unwrap_err();
        assert!(wait > Duration::from_secs(100), "{wait:?}");
        limiter.take(b).expect("another client has its own bucket");
    }

    #[test]
    fn tracked_clients_are_capped_and_the_rest_share_a_bucket() {
        let limiter = PerClient::new(SLOW, 4);
        for i in 0..4u8 {
            limiter.take([10, 0, 0, i].into()).unwrap();
        }
        // None has refilled, so new clients share the overflow bucket: three tokens in all.
        for i in 4..7u8 {
            limiter.take([10, 0, 0, i].into()).unwrap();
        }
        assert!(limiter.take([10, 0, 0, 99].into()).is_err());
        assert_eq!(limiter.tracked(), 4);
    }

    #[test]
    fn refilled_clients_are_forgotten_to_make_room() {
        let fast = Rate {
            capacity: 1.0,
            per_second: 1000.0,
        };
        let limiter = PerClient::new(fast, 2);
        limiter.take([10, 0, 0, 1].into()).unwrap();
        limiter.take([10, 0, 0, 2].into()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        limiter.take([10, 0, 0, 3].into()).unwrap();
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn the_log_throttle_counts_what_it_held_back() {
        let throttle = LogThrottle::new(Rate {
            capacity: 2.0,
            per_second: 0.001,
        });
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.state.lock().unwrap().1, 2);
    }
}
