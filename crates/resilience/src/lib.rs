//! One resilience stack for every service-to-service call.
//!
//! An [`Upstream`] is made once per dependency and shared by every request.
//! [`Upstream::call`] runs the caller's attempt through, outermost first:
//!
//! 1. **Deadline budget** — the inbound request's deadline
//!    ([`platform::deadline`]) bounds everything below: with none left the
//!    upstream is not called at all ([`CallError::Timeout`]).
//! 2. **Bulkhead** — `tower::load_shed` over `tower::limit::ConcurrencyLimit`
//!    on a semaphore shared by all calls: at most `max_concurrency` calls in
//!    flight, the rest fail at once ([`CallError::Overloaded`]) instead of
//!    queueing behind a slow dependency.
//! 3. **Retries** — `tower::retry` with a policy that retries only
//!    idempotent calls, only on [`Retryable`] failures, at most `max_retries`
//!    times, after an exponentially growing, fully jittered wait that must
//!    end before the deadline.
//! 4. **Circuit breaker** — per attempt; a hand-written consecutive-failures
//!    breaker (see [`BreakerState`]) refuses attempts while open
//!    ([`CallError::Open`]) without touching the upstream.
//! 5. **Attempt timeout** — `tower::timeout` with the attempt's budget: the
//!    smaller of `attempt_timeout` and what the deadline leaves. The attempt
//!    receives the same budget to pass on (`grpc-timeout`, an HTTP client
//!    timeout) so the upstream gives up when the caller does.
//!
//! Metrics (`metrics` crate, rendered by platform's `/metrics`):
//! `upstream_calls_total{upstream,outcome}` (outcome `ok`, `error`,
//! `timeout`, `shed`, `open`), `upstream_retries_total{upstream}`,
//! `upstream_shed_total{upstream}`, `upstream_breaker_rejections_total{upstream}`
//! and the `upstream_breaker_state{upstream}` gauge (0 closed, 1 half-open,
//! 2 open).

mod breaker;
mod policy;
mod retry;
mod retryable;

use std::{convert::Infallible, sync::Arc, time::Duration};

use tokio::{sync::Semaphore, time::Instant};
use tower::{ServiceExt, limit::ConcurrencyLimit, load_shed::LoadShed, retry::Retry, service_fn, timeout::Timeout};

pub use breaker::BreakerState;
pub use policy::{Idempotency, Policy};
pub use retryable::Retryable;

use crate::{
    breaker::{Breaker, Verdict},
    retry::RetryPolicy,
};

/// Why a call did not return the upstream's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker is open: the upstream was not called.
    #[error("{upstream} unavailable (circuit open)")]
    Open { upstream: &'static str },
    /// Too many calls to this upstream are in flight: the upstream was not called.
    #[error("{upstream} overloaded (too many calls in flight)")]
    Overloaded { upstream: &'static str },
    /// The last attempt got no answer within `after`, its budget; zero when
    /// the inbound deadline had already passed and no attempt was made.
    #[error("{}", timeout_message(upstream, after))]
    Timeout { upstream: &'static str, after: Duration },
    /// The upstream's own error, from the last attempt.
    #[error("{0}")]
    Upstream(E),
}

fn timeout_message(upstream: &str, after: &Duration) -> String {
    if after.is_zero() {
        format!("{upstream} not called: the request's deadline had passed")
    } else {
        format!("{upstream} did not answer within {} ms", after.as_millis())
    }
}

impl<E> CallError<E> {
    /// The `outcome` label of `upstream_calls_total`.
    fn outcome(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Overloaded { .. } => "shed",
            Self::Timeout { .. } => "timeout",
            Self::Upstream(_) => "error",
        }
    }
}

/// One dependency, its policy and the state shared by every call to it
/// (breaker, bulkhead). Cloning is cheap and shares that state.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    policy: Policy,
    breaker: Breaker,
    bulkhead: Arc<Semaphore>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.inner.name)
            .field("policy", &self.inner.policy)
            .field("breaker", &self.breaker_state())
            .finish()
    }
}

impl Upstream {
    /// `name` labels the metrics and logs. A zero `failure_threshold` or
    /// `max_concurrency` is taken as 1.
    pub fn new(name: &'static str, policy: Policy) -> Self {
        // Install the recorder now, so that the breaker's first gauge value is kept.
        platform::metrics::handle();
        describe_metrics();
        let permits = policy.max_concurrency.clamp(1, Semaphore::MAX_PERMITS);
        let breaker = Breaker::new(name, policy.failure_threshold, policy.cool_down);
        Self { inner: Arc::new(Inner { name, policy, breaker, bulkhead: Arc::new(Semaphore::new(permits)) }) }
    }

    pub fn name(&self) -> &'static str {
        self.inner.name
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Runs `attempt` under the stack (see the crate documentation). Each
    /// attempt receives the time it may take — the smaller of
    /// `attempt_timeout` and the inbound deadline's remaining budget — to
    /// pass on as `grpc-timeout` or a request timeout; it is also cut off
    /// after that time.
    pub async fn call<T, E, F, Fut>(&self, idempotency: Idempotency, attempt: F) -> Result<T, CallError<E>>
    where
        F: Fn(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Retryable,
    {
        let name = self.inner.name;
        let deadline = platform::deadline::current();
        let result = if deadline.is_some_and(|d| d <= Instant::now()) {
            Err(CallError::Timeout { upstream: name, after: Duration::ZERO })
        } else {
            self.run(idempotency, deadline, &attempt).await
        };
        let outcome = result.as_ref().map_or_else(CallError::outcome, |_| "ok");
        metrics::counter!("upstream_calls_total", "upstream" => name, "outcome" => outcome).increment(1);
        result
    }

    /// Bulkhead, then retries around single attempts.
    async fn run<T, E, F, Fut>(
        &self,
        idempotency: Idempotency,
        deadline: Option<Instant>,
        attempt: &F,
    ) -> Result<T, CallError<E>>
    where
        F: Fn(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Retryable,
    {
        let name = self.inner.name;
        let once = service_fn(move |()| self.attempt(deadline, attempt));
        let retrying = Retry::new(RetryPolicy::new(name, &self.inner.policy, idempotency, deadline), once);
        // The stack's errors travel as the response, so that load_shed's
        // boxed error can only be its own refusal.
        let call = service_fn(move |()| {
            let answer = retrying.clone().oneshot(());
            async move { Ok::<_, Infallible>(answer.await) }
        });
        let bulkhead = LoadShed::new(ConcurrencyLimit::with_semaphore(call, self.inner.bulkhead.clone()));
        match bulkhead.oneshot(()).await {
            Ok(answer) => answer,
            Err(_overloaded) => {
                metrics::counter!("upstream_shed_total", "upstream" => name).increment(1);
                Err(CallError::Overloaded { upstream: name })
            }
        }
    }

    /// One attempt: admitted by the breaker, cut off after its budget, and
    /// its outcome reported back to the breaker.
    async fn attempt<T, E, F, Fut>(&self, deadline: Option<Instant>, attempt: &F) -> Result<T, CallError<E>>
    where
        F: Fn(Duration) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Retryable,
    {
        let name = self.inner.name;
        let Some(budget) = attempt_budget(self.inner.policy.attempt_timeout, deadline, Instant::now()) else {
            return Err(CallError::Timeout { upstream: name, after: Duration::ZERO });
        };
        let Some(permit) = self.inner.breaker.admit() else {
            metrics::counter!("upstream_breaker_rejections_total", "upstream" => name).increment(1);
            return Err(CallError::Open { upstream: name });
        };
        let started = Instant::now();
        let timed = Timeout::new(
            service_fn(|budget| {
                let answer = attempt(budget);
                async move { Ok::<_, Infallible>(answer.await) }
            }),
            budget,
        );
        let result = match timed.oneshot(budget).await {
            Ok(Ok(answer)) => Ok(answer),
            // The attempt's client kept to the budget it was given (and its timer won the race).
            Ok(Err(e)) if e.is_timeout() && started.elapsed() >= budget => {
                Err(CallError::Timeout { upstream: name, after: budget })
            }
            Ok(Err(e)) => Err(CallError::Upstream(e)),
            Err(_elapsed) => Err(CallError::Timeout { upstream: name, after: budget }),
        };
        // A budget the client's own deadline cut short says nothing about the
        // upstream: blaming it would let any caller sending a tiny deadline
        // open the breaker for everyone. The permit is released unsettled.
        let cut_short = budget < self.inner.policy.attempt_timeout;
        match &result {
            Err(CallError::Timeout { .. }) if cut_short => drop(permit),
            Ok(_) => permit.record(Verdict::Success),
            Err(CallError::Upstream(e)) if !e.is_failure() => permit.record(Verdict::Success),
            Err(_) => permit.record(Verdict::Failure),
        }
        result
    }
}

/// What one attempt starting at `now` may take: `attempt_timeout`, or less
/// when the deadline is nearer; `None` once the deadline has passed.
fn attempt_budget(attempt_timeout: Duration, deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    let Some(deadline) = deadline else { return Some(attempt_timeout) };
    let left = deadline.saturating_duration_since(now);
    (!left.is_zero()).then(|| left.min(attempt_timeout))
}

fn describe_metrics() {
    metrics::describe_counter!(
        "upstream_calls_total",
        "Calls to an upstream, by outcome (ok, error, timeout, shed, open)."
    );
    metrics::describe_counter!("upstream_retries_total", "Retries of calls to an upstream.");
    metrics::describe_counter!("upstream_shed_total", "Calls refused because too many were in flight to the upstream.");
    metrics::describe_counter!(
        "upstream_breaker_rejections_total",
        "Attempts refused by the upstream's open circuit breaker."
    );
    metrics::describe_gauge!("upstream_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.");
}

#[cfg(test)]
mod tests;
