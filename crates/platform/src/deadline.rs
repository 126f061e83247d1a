//! The inbound request's deadline, known to everything the handler awaits.
//!
//! `platform_rpc::timeout::GrpcTimeoutLayer` (and the Connect adapter) runs each request with a `grpc-timeout`
//! (or Connect `connect-timeout-ms`) inside [`scope`], so outbound calls made
//! while serving it can ask for the [`remaining`] budget and never wait longer
//! than the client will. The deadline lives in a task-local: it follows the
//! handler's future, not the thread, and is absent outside a scope (work
//! that is `tokio::spawn`ed starts without one).

use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the request being served, if it has one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the current deadline (zero once it has passed), or
/// `None` when the request has no deadline.
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `fut` with `deadline` as its deadline. Scopes nest but never extend:
/// inside an existing scope the earlier of the two deadlines applies.
/// A handler may narrow its budget for a sub-call this way, keeping time back
/// for its own work.
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    DEADLINE.scope(effective(deadline), fut).await
}

/// The current deadline moved earlier by a reserve — `1/divisor` of the
/// time left, at most `max` — that a handler keeps back for its own work
/// after a sub-call (storing, answering a fallback); pass it to [`scope`].
/// `None` when the request has no deadline.
pub fn reserving(divisor: u32, max: Duration) -> Option<Instant> {
    let deadline = current()?;
    let left = deadline.saturating_duration_since(Instant::now());
    Some(deadline - (left / divisor).min(max))
}

/// Like [`scope`] for synchronous code, such as a tower service's `call`.
pub fn sync_scope<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    DEADLINE.sync_scope(effective(deadline), f)
}

fn effective(deadline: Instant) -> Instant {
    current().map_or(deadline, |outer| outer.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_inside_a_scope_only() {
        assert_eq!(remaining(), None);
        let deadline = Instant::now() + Duration::from_millis(500);
        scope(deadline, async {
            assert_eq!(remaining(), Some(Duration::from_millis(500)));
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(remaining(), Some(Duration::from_millis(300)));
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(remaining(), Some(Duration::ZERO), "a passed deadline leaves nothing, not an error");
        })
        .await;
        assert_eq!(remaining(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn nested_scopes_only_narrow() {
        let now = Instant::now();
        scope(now + Duration::from_secs(1), async {
            scope(now + Duration::from_secs(5), async {
                assert_eq!(remaining(), Some(Duration::from_secs(1)), "an inner scope cannot extend");
            })
            .await;
            scope(now + Duration::from_millis(100), async {
                assert_eq!(remaining(), Some(Duration::from_millis(100)));
            })
            .await;
            assert_eq!(remaining(), Some(Duration::from_secs(1)), "the outer deadline is back");
        })
        .await;
        let inner = sync_scope(now + Duration::from_secs(2), remaining);
        assert_eq!(inner, Some(Duration::from_secs(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn reserving_keeps_a_capped_share_of_what_is_left() {
        assert_eq!(reserving(4, Duration::from_millis(500)), None);
        let now = Instant::now();
        let early = scope(now + Duration::from_secs(1), async { reserving(4, Duration::from_millis(500)) }).await;
        assert_eq!(early, Some(now + Duration::from_millis(750)), "a quarter of 1 s");
        let capped = scope(now + Duration::from_secs(10), async { reserving(4, Duration::from_millis(500)) }).await;
        assert_eq!(capped, Some(now + Duration::from_millis(9500)), "at most the cap");
    }

    #[tokio::test]
    async fn spawned_tasks_start_without_a_deadline() {
        let seen = scope(Instant::now() + Duration::from_secs(1), async { tokio::spawn(async { remaining() }).await })
            .await
            .unwrap();
        assert_eq!(seen, None);
    }
}
