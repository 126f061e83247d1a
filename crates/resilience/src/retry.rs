//! When to try again, and how long to wait first: the [`tower::retry::Policy`]
//! the stack's `Retry` layer runs with.
//!
//! tower's own `ExponentialBackoff` is not used: it always waits at least the
//! base delay plus some jitter, and every backoff made from one maker replays
//! the same random sequence, so concurrent callers would retry in lockstep —
//! what jitter is meant to prevent. Full jitter (a uniformly random wait below
//! an exponentially growing ceiling) with a fresh random state per call
//! spreads them out.

use std::time::Duration;

use tokio::time::Instant;
use tower::util::rng::{HasherRng, Rng};

use crate::{CallError, Idempotency, Policy, Retryable};

/// The least time left before the deadline for a retry to be made.
const MIN_ATTEMPT: Duration = Duration::from_millis(1);

#[derive(Clone)]
pub(crate) struct RetryPolicy {
    upstream: &'static str,
    idempotency: Idempotency,
    retries_left: u32,
    /// The next retry's number, from 0: its ceiling is `base * 2^n`.
    retry: u32,
    base: Duration,
    max: Duration,
    deadline: Option<Instant>,
    rng: HasherRng,
}

impl RetryPolicy {
    pub(crate) fn new(
        upstream: &'static str,
        policy: &Policy,
        idempotency: Idempotency,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            upstream,
            idempotency,
            retries_left: policy.max_retries,
            retry: 0,
            base: policy.backoff_base,
            max: policy.backoff_max.max(policy.backoff_base),
            deadline,
            rng: HasherRng::new(),
        }
    }

    /// The wait before retrying after `err`, or `None` to give up: the call
    /// is not idempotent, the error is not retryable, retries are used up,
    /// or the wait would end past the deadline.
    fn next_delay<E: Retryable>(&mut self, err: &CallError<E>) -> Option<Duration> {
        if self.idempotency != Idempotency::Idempotent || self.retries_left == 0 || !retryable(err) {
            return None;
        }
        let delay = full_jitter(self.base, self.max, self.retry, self.rng.next_f64());
        // An attempt needs some time to be worth making: a wait that ends
        // within a millisecond of the deadline (tokio's timer resolution)
        // would start one that can only time out, and report a timeout
        // instead of the upstream's own error.
        if self.deadline.is_some_and(|d| Instant::now() + delay + MIN_ATTEMPT >= d) {
            return None;
        }
        self.retries_left -= 1;
        self.retry += 1;
        Some(delay)
    }
}

/// Upstream errors say for themselves. Timeouts are not retried: the slow
/// upstream would get more load, and the budget rarely allows a second
/// attempt anyway. A refusal by the breaker or the bulkhead never is.
fn retryable<E: Retryable>(err: &CallError<E>) -> bool {
    match err {
        CallError::Upstream(e) => e.is_retryable(),
        CallError::Timeout { .. } | CallError::Open { .. } | CallError::Overloaded { .. } => false,
    }
}

/// A wait uniformly spread over `[0, min(max, base * 2^retry))`, for `unit` in `[0, 1)`.
fn full_jitter(base: Duration, max: Duration, retry: u32, unit: f64) -> Duration {
    let ceiling = base.checked_mul(2u32.saturating_pow(retry)).unwrap_or(max).min(max);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

impl<T, E: Retryable> tower::retry::Policy<(), T, CallError<E>> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _: &mut (), result: &mut Result<T, CallError<E>>) -> Option<Self::Future> {
        let delay = self.next_delay(result.as_ref().err()?)?;
        metrics::counter!("upstream_retries_total", "upstream" => self.upstream).increment(1);
        tracing::debug!(upstream = self.upstream, ?delay, "retrying");
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, _: &()) -> Option<()> {
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Err(bool);
    impl Retryable for Err {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }

    fn policy(retries: u32) -> Policy {
        Policy { max_retries: retries, ..Policy::default() }
    }

    const TRANSIENT: CallError<Err> = CallError::Upstream(Err(true));

    #[tokio::test(start_paused = true)]
    async fn retries_only_retryable_errors_of_idempotent_calls_a_bounded_number_of_times() {
        let mut p = RetryPolicy::new("t", &policy(2), Idempotency::Idempotent, None);
        assert!(p.next_delay(&CallError::Upstream(Err(false))).is_none(), "not retryable");
        assert!(p.next_delay(&CallError::<Err>::Timeout { upstream: "t", after: Duration::ZERO }).is_none());
        assert!(p.next_delay(&CallError::<Err>::Open { upstream: "t" }).is_none());
        assert!(p.next_delay(&CallError::<Err>::Overloaded { upstream: "t" }).is_none());
        assert!(p.next_delay(&TRANSIENT).is_some());
        assert!(p.next_delay(&TRANSIENT).is_some());
        assert!(p.next_delay(&TRANSIENT).is_none(), "two retries, then no more");

        let mut p = RetryPolicy::new("t", &policy(2), Idempotency::NonIdempotent, None);
        assert!(p.next_delay(&TRANSIENT).is_none(), "a non-idempotent call is never retried");
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_whose_wait_would_outlast_the_deadline() {
        let p =
            Policy { backoff_base: Duration::from_millis(100), backoff_max: Duration::from_millis(100), ..policy(5) };
        let mut past = RetryPolicy::new("t", &p, Idempotency::Idempotent, Some(Instant::now()));
        assert!(past.next_delay(&TRANSIENT).is_none());
        let mut roomy =
            RetryPolicy::new("t", &p, Idempotency::Idempotent, Some(Instant::now() + Duration::from_millis(101)));
        assert!(roomy.next_delay(&TRANSIENT).is_some(), "any wait below 100 ms fits");
    }

    #[test]
    fn backoff_ceiling_doubles_up_to_the_maximum_and_the_wait_is_spread_below_it() {
        let (base, max) = (Duration::from_millis(50), Duration::from_secs(1));
        let ceiling = |retry| full_jitter(base, max, retry, 1.0);
        assert_eq!(ceiling(0), Duration::from_millis(50));
        assert_eq!(ceiling(1), Duration::from_millis(100));
        assert_eq!(ceiling(4), Duration::from_millis(800));
        assert_eq!(ceiling(5), max);
        assert_eq!(ceiling(40), max, "no overflow");
        assert_eq!(full_jitter(base, max, 3, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(base, max, 3, 0.5), Duration::from_millis(200));

        let mut rng = HasherRng::new();
        let waits: Vec<_> = (0..50).map(|_| full_jitter(base, max, 2, rng.next_f64())).collect();
        assert!(waits.iter().all(|w| *w < Duration::from_millis(200)));
        assert!(waits.windows(2).any(|w| w[0] != w[1]), "waits are random: {waits:?}");
    }
}
