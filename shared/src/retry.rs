//! Retry as a value: how many attempts, how long between them, how much jitter. Call sites
//! hand it an operation; none of them writes its own loop.

use std::future::Future;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Delay before the second attempt; each later delay doubles, up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// Attempts in all, the first included. 0 means retry until success.
    pub attempts: u32,
    /// Fraction of each delay drawn at random (0.0 to 1.0) so that many clients recovering at
    /// once do not retry in lockstep.
    pub jitter: f64,
}

impl Retry {
    pub const NONE: Retry = Retry {
        base: Duration::ZERO,
        max: Duration::ZERO,
        attempts: 1,
        jitter: 0.0,
    };

    /// The delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max);
        let jitter = capped.mul_f64(self.jitter.clamp(0.0, 1.0) * fastrand::f64());
        capped.saturating_sub(jitter)
    }

    /// Runs `op` until it succeeds, `retryable` says an error is final, or attempts run out.
    pub async fn run<T, E, F, Fut>(&self, mut op: F, retryable: impl Fn(&E) -> bool) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if !retryable(&e) || (self.attempts != 0 && attempt >= self.attempts) => {
                    return Err(e);
                }
                Err(_) => tokio::time::sleep(self.delay(attempt)).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_only_shortens() {
        let r = Retry {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            attempts: 0,
            jitter: 0.0,
        };
        let delays: Vec<u128> = (1..=6).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
        let jittery = Retry { jitter: 0.5, ..r };
        for a in 1..=6 {
            let d = jittery.delay(a);
            assert!(d <= r.delay(a) && d >= r.delay(a) / 2, "attempt {a}: {d:?}");
        }
    }

    #[tokio::test]
    async fn run_stops_at_the_attempt_limit_or_a_final_error() {
        let r = Retry {
            base: Duration::from_millis(1),
            max: Duration::from_millis(1),
            attempts: 3,
            jitter: 0.0,
        };
        let mut calls = 0;
        let out: Result<(), &str> = r
            .run(
                || {
                    calls += 1;
                    async { Err("transient") }
                },
                |_| true,
            )
            .await;
        assert_eq!((out, calls), (Err("transient"), 3));
        let mut calls = 0;
        let out: Result<(), &str> = r
            .run(
                || {
                    calls += 1;
                    async { Err("final") }
                },
                |_| false,
            )
            .await;
        assert_eq!((out, calls), (Err("final"), 1));
        let mut calls = 0;
        let out = r
            .run(
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n < 2 { Err("x") } else { Ok(n) } }
                },
                |_| true,
            )
            .await;
        assert_eq!(out, Ok(2));
    }
}
