//! The stack as a whole, with a scripted upstream and tokio's paused clock.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

use super::*;

/// A scripted upstream: answers in order, then succeeds; records the budgets it was given.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    budgets: Arc<Mutex<Vec<Duration>>>,
}

#[derive(Clone, Copy)]
enum Answer {
    Fail(tonic::Code),
    Hang,
    /// Gives up with this code when the budget runs out, as tonic's client does.
    GiveUp(tonic::Code),
}

impl Script {
    fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Self { answers: Arc::new(Mutex::new(answers.into_iter().collect())), ..Self::default() }
    }

    fn attempt(
        &self,
    ) -> impl Fn(Duration) -> std::pin::Pin<Box<dyn Future<Output = Result<&'static str, tonic::Status>> + Send>> {
        let this = self.clone();
        move |budget| {
            this.budgets.lock().unwrap().push(budget);
            let next = this.answers.lock().unwrap().pop_front();
            Box::pin(async move {
                match next {
                    None => Ok("ok"),
                    Some(Answer::Fail(code)) => Err(tonic::Status::new(code, "scripted")),
                    Some(Answer::Hang) => std::future::pending().await,
                    Some(Answer::GiveUp(code)) => {
                        tokio::time::sleep(budget).await;
                        Err(tonic::Status::new(code, "Timeout expired"))
                    }
                }
            })
        }
    }

    fn calls(&self) -> usize {
        self.budgets.lock().unwrap().len()
    }
}

fn policy() -> Policy {
    Policy { failure_threshold: 100, ..Policy::default() }
}

fn metric(line_start: &str) -> Option<f64> {
    platform::metrics::handle().render().lines().find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
}

#[test]
fn the_budget_is_the_attempt_timeout_or_what_the_deadline_leaves() {
    let now = Instant::now();
    let second = Duration::from_secs(1);
    assert_eq!(attempt_budget(second, None, now), Some(second));
    assert_eq!(attempt_budget(second, Some(now + 3 * second), now), Some(second));
    assert_eq!(attempt_budget(second, Some(now + second / 4), now), Some(second / 4));
    assert_eq!(attempt_budget(second, Some(now), now), None);
    assert_eq!(attempt_budget(second, Some(now), now + second), None);
}

#[tokio::test(start_paused = true)]
async fn attempts_receive_the_inbound_deadline_when_it_is_nearer() {
    let up = Upstream::new("t_budget", policy());
    let script = Script::default();
    let deadline = Instant::now() + Duration::from_millis(300);
    let r = platform::deadline::scope(deadline, up.call(Idempotency::Idempotent, script.attempt())).await;
    assert_eq!(r.unwrap(), "ok");
    assert_eq!(*script.budgets.lock().unwrap(), [Duration::from_millis(300)]);

    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert_eq!(r.unwrap(), "ok");
    assert_eq!(script.budgets.lock().unwrap()[1], Duration::from_secs(2), "no deadline: the attempt timeout");
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_fails_without_calling() {
    let up = Upstream::new("t_spent", policy());
    let script = Script::default();
    let r = platform::deadline::scope(Instant::now(), up.call(Idempotency::Idempotent, script.attempt())).await;
    assert!(matches!(r, Err(CallError::Timeout { after: Duration::ZERO, .. })), "{r:?}");
    assert_eq!(r.unwrap_err().to_string(), "t_spent not called: the request's deadline had passed");
    assert_eq!(script.calls(), 0);
    assert_eq!(metric(r#"upstream_calls_total{upstream="t_spent",outcome="timeout"}"#), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_attempt_is_cut_at_its_budget_and_not_retried() {
    let up = Upstream::new("t_hang", Policy { attempt_timeout: Duration::from_millis(250), ..policy() });
    let script = Script::new([Answer::Hang]);
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(r, Err(CallError::Timeout { after, .. }) if after == Duration::from_millis(250)), "{r:?}");
    assert_eq!(r.unwrap_err().to_string(), "t_hang did not answer within 250 ms");
    assert_eq!(script.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_client_keeping_to_its_budget_times_out_too() {
    let up = Upstream::new("t_give_up", Policy { attempt_timeout: Duration::from_millis(250), ..policy() });
    let script = Script::new([Answer::GiveUp(tonic::Code::Cancelled)]);
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(r, Err(CallError::Timeout { after, .. }) if after == Duration::from_millis(250)), "{r:?}");

    // Before the budget is spent, CANCELLED is the upstream's own answer.
    let script = Script::new([Answer::Fail(tonic::Code::Cancelled)]);
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(&r, Err(CallError::Upstream(s)) if s.code() == tonic::Code::Cancelled), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_of_idempotent_calls_are_retried() {
    let up = Upstream::new("t_retry", policy());
    let script = Script::new([Answer::Fail(tonic::Code::Unavailable), Answer::Fail(tonic::Code::Aborted)]);
    assert_eq!(up.call(Idempotency::Idempotent, script.attempt()).await.unwrap(), "ok");
    assert_eq!(script.calls(), 3);
    assert_eq!(metric(r#"upstream_retries_total{upstream="t_retry"}"#), Some(2.0));
    assert_eq!(metric(r#"upstream_calls_total{upstream="t_retry",outcome="ok"}"#), Some(1.0));

    let script = Script::new([Answer::Fail(tonic::Code::Unavailable); 3]);
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(&r, Err(CallError::Upstream(s)) if s.code() == tonic::Code::Unavailable), "{r:?}");
    assert_eq!(script.calls(), 3, "two retries at most");
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_calls_and_answers_are_not_retried() {
    let up = Upstream::new("t_no_retry", policy());
    let script = Script::new([Answer::Fail(tonic::Code::Unavailable)]);
    let r = up.call(Idempotency::NonIdempotent, script.attempt()).await;
    assert!(matches!(r, Err(CallError::Upstream(_))), "{r:?}");
    assert_eq!(script.calls(), 1);

    let script = Script::new([Answer::Fail(tonic::Code::InvalidArgument)]);
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(&r, Err(CallError::Upstream(s)) if s.code() == tonic::Code::InvalidArgument), "{r:?}");
    assert_eq!(script.calls(), 1);
    assert_eq!(metric(r#"upstream_retries_total{upstream="t_no_retry"}"#), None);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline() {
    let every_100ms = Duration::from_millis(100);
    let up = Upstream::new(
        "t_retry_deadline",
        Policy { max_retries: 1000, backoff_base: every_100ms, backoff_max: every_100ms, ..policy() },
    );
    let script = Script::new([Answer::Fail(tonic::Code::Unavailable); 1001]);
    let start = Instant::now();
    let deadline = start + Duration::from_millis(500);
    let r = platform::deadline::scope(deadline, up.call(Idempotency::Idempotent, script.attempt())).await;
    assert!(matches!(r, Err(CallError::Upstream(_))), "{r:?}");
    assert!(Instant::now() < deadline, "gave up before the deadline rather than after");
    assert!(script.calls() < 1001, "the deadline, not the retry count, ended it");
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_fails_fast_and_recovers_after_the_cool_down() {
    let cool_down = Duration::from_secs(5);
    let up = Upstream::new("t_breaker", Policy { failure_threshold: 3, max_retries: 0, cool_down, ..policy() });
    let failing = Script::new([Answer::Fail(tonic::Code::Unavailable); 3]);
    for _ in 0..3 {
        assert!(matches!(up.call(Idempotency::Idempotent, failing.attempt()).await, Err(CallError::Upstream(_))));
    }
    assert_eq!(up.breaker_state(), BreakerState::Open);
    assert_eq!(metric(r#"upstream_breaker_state{upstream="t_breaker"}"#), Some(2.0));

    let r = up.call(Idempotency::Idempotent, failing.attempt()).await;
    assert!(matches!(r, Err(CallError::Open { .. })), "{r:?}");
    assert_eq!(r.unwrap_err().to_string(), "t_breaker unavailable (circuit open)");
    assert_eq!(failing.calls(), 3, "refused without calling");
    assert_eq!(metric(r#"upstream_breaker_rejections_total{upstream="t_breaker"}"#), Some(1.0));
    assert_eq!(metric(r#"upstream_calls_total{upstream="t_breaker",outcome="open"}"#), Some(1.0));

    tokio::time::advance(cool_down).await;
    assert_eq!(up.call(Idempotency::Idempotent, failing.attempt()).await.unwrap(), "ok", "the probe");
    assert_eq!(up.breaker_state(), BreakerState::Closed);
    assert_eq!(metric(r#"upstream_breaker_state{upstream="t_breaker"}"#), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn timeouts_from_the_clients_own_short_deadline_do_not_open_the_breaker() {
    let up = Upstream::new("t_short_deadline", Policy { failure_threshold: 2, ..policy() });
    let script = Script::new([Answer::Hang; 5]);
    for _ in 0..5 {
        let deadline = Instant::now() + Duration::from_millis(1);
        let r = platform::deadline::scope(deadline, up.call(Idempotency::Idempotent, script.attempt())).await;
        assert!(matches!(r, Err(CallError::Timeout { .. })), "{r:?}");
    }
    assert_eq!(up.breaker_state(), BreakerState::Closed, "the upstream was not to blame");
    assert_eq!(script.calls(), 5);

    // The same hang within the upstream's own full budget is its failure.
    let script = Script::new([Answer::Hang; 2]);
    for _ in 0..2 {
        let r = up.call(Idempotency::Idempotent, script.attempt()).await;
        assert!(matches!(r, Err(CallError::Timeout { .. })), "{r:?}");
    }
    assert_eq!(up.breaker_state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn answers_that_are_not_failures_keep_the_breaker_closed() {
    let up = Upstream::new("t_answers", Policy { failure_threshold: 2, ..policy() });
    let script = Script::new([Answer::Fail(tonic::Code::NotFound); 5]);
    for _ in 0..5 {
        let _ = up.call(Idempotency::Idempotent, script.attempt()).await;
    }
    assert_eq!(up.breaker_state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_bulkhead_sheds_calls_over_the_limit_at_once() {
    let up = Upstream::new("t_bulkhead", Policy { max_concurrency: 2, ..policy() });
    let entered = Arc::new(AtomicU32::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let slow = {
        let (entered, release) = (entered.clone(), release.clone());
        move |_| {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                entered.fetch_add(1, Ordering::SeqCst);
                release.notified().await;
                Ok::<_, tonic::Status>("slow")
            }
        }
    };
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (up, slow) = (up.clone(), slow.clone());
            tokio::spawn(async move { up.call(Idempotency::Idempotent, slow).await })
        })
        .collect();
    while entered.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }

    let script = Script::default();
    let r = up.call(Idempotency::Idempotent, script.attempt()).await;
    assert!(matches!(r, Err(CallError::Overloaded { .. })), "{r:?}");
    assert_eq!(r.unwrap_err().to_string(), "t_bulkhead overloaded (too many calls in flight)");
    assert_eq!(script.calls(), 0);
    assert_eq!(metric(r#"upstream_shed_total{upstream="t_bulkhead"}"#), Some(1.0));
    assert_eq!(up.breaker_state(), BreakerState::Closed, "shedding is not the upstream's failure");

    release.notify_waiters();
    for h in held {
        assert_eq!(h.await.unwrap().unwrap(), "slow");
    }
    assert_eq!(up.call(Idempotency::Idempotent, script.attempt()).await.unwrap(), "ok", "room again");
}
