//! A consecutive-failures circuit breaker (tower has none).
//!
//! - **Closed**: every attempt goes through; `threshold` failures in a row
//!   open it, any success resets the count.
//! - **Open**: attempts are refused without touching the upstream until
//!   `cool_down` has passed; the next attempt then becomes the probe.
//! - **Half-open**: exactly one probe is in flight, others are refused. The
//!   probe's success closes the breaker, its failure re-opens it for another
//!   cool-down, and a probe abandoned without an answer (its caller gave up)
//!   lets the next attempt probe instead.
//!
//! Outcomes of attempts let through before the breaker opened do not move
//! an open or half-open breaker: only the probe decides.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

/// What the breaker lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    /// The value of the `upstream_breaker_state` gauge.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl State {
    fn public(self) -> BreakerState {
        match self {
            Self::Closed { .. } => BreakerState::Closed,
            Self::Open { .. } => BreakerState::Open,
            Self::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// How an attempt ended, as far as the upstream's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    Failure,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    upstream: &'static str,
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(upstream: &'static str, threshold: u32, cool_down: Duration) -> Self {
        metrics::gauge!("upstream_breaker_state", "upstream" => upstream).set(BreakerState::Closed.gauge());
        Self { upstream, threshold: threshold.max(1), cool_down, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.lock().public()
    }

    /// A permit for one attempt, or `None` when the breaker refuses it.
    pub(crate) fn admit(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if Instant::now() >= until => {
                self.set(&mut state, State::HalfOpen { probing: true });
                true
            }
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } | State::HalfOpen { probing: true } => return None,
        };
        Some(Permit { breaker: self, probe, settled: false })
    }

    fn settle(&self, probe: bool, verdict: Option<Verdict>) {
        let mut state = self.lock();
        let next = match (*state, verdict) {
            (State::Closed { .. }, Some(Verdict::Success)) => State::Closed { failures: 0 },
            (State::Closed { failures }, Some(Verdict::Failure)) if failures + 1 >= self.threshold => self.opened(),
            (State::Closed { failures }, Some(Verdict::Failure)) => State::Closed { failures: failures + 1 },
            (State::HalfOpen { .. }, Some(Verdict::Success)) if probe => State::Closed { failures: 0 },
            (State::HalfOpen { .. }, Some(Verdict::Failure)) if probe => self.opened(),
            (State::HalfOpen { .. }, None) if probe => State::HalfOpen { probing: false },
            (current, _) => current,
        };
        self.set(&mut state, next);
    }

    fn opened(&self) -> State {
        State::Open { until: Instant::now() + self.cool_down }
    }

    /// Moves to `next`, publishing and logging changes of the public state.
    fn set(&self, state: &mut State, next: State) {
        let (from, to) = (state.public(), next.public());
        *state = next;
        if from != to {
            metrics::gauge!("upstream_breaker_state", "upstream" => self.upstream).set(to.gauge());
            match to {
                BreakerState::Open => {
                    tracing::warn!(upstream = self.upstream, cool_down = ?self.cool_down, "circuit opened")
                }
                BreakerState::HalfOpen => tracing::info!(upstream = self.upstream, "circuit half-open; probing"),
                BreakerState::Closed => tracing::info!(upstream = self.upstream, "circuit closed"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, valid even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One admitted attempt. [`Permit::record`] reports how it went; dropping
/// it unrecorded (the attempt was abandoned) frees a half-open probe slot.
#[must_use]
pub(crate) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Permit<'_> {
    pub(crate) fn record(mut self, verdict: Verdict) {
        self.settled = true;
        self.breaker.settle(self.probe, Some(verdict));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.settle(self.probe, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL_DOWN: Duration = Duration::from_secs(5);

    fn fail(b: &Breaker) {
        b.admit().expect("admitted").record(Verdict::Failure);
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = Breaker::new("t-consecutive", 3, COOL_DOWN);
        fail(&b);
        fail(&b);
        b.admit().unwrap().record(Verdict::Success);
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed, "a success resets the count");
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.admit().is_none(), "open refuses");
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_after_cool_down_lets_one_probe_through() {
        let b = Breaker::new("t-probe", 1, COOL_DOWN);
        fail(&b);
        tokio::time::advance(COOL_DOWN - Duration::from_millis(1)).await;
        assert!(b.admit().is_none(), "still cooling down");
        tokio::time::advance(Duration::from_millis(1)).await;
        let probe = b.admit().expect("the probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.admit().is_none(), "one probe at a time");
        probe.record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_for_another_cool_down() {
        let b = Breaker::new("t-reopen", 2, COOL_DOWN);
        fail(&b);
        fail(&b);
        tokio::time::advance(COOL_DOWN).await;
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open, "one failed probe is enough");
        tokio::time::advance(COOL_DOWN - Duration::from_millis(1)).await;
        assert!(b.admit().is_none(), "the cool-down starts again");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_frees_the_slot() {
        let b = Breaker::new("t-abandon", 1, COOL_DOWN);
        fail(&b);
        tokio::time::advance(COOL_DOWN).await;
        drop(b.admit().expect("the probe"));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        b.admit().expect("another probe").record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn stragglers_do_not_decide_for_the_probe() {
        let b = Breaker::new("t-stragglers", 1, COOL_DOWN);
        let early_ok = b.admit().unwrap();
        let early_err = b.admit().unwrap();
        fail(&b);
        early_ok.record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::Open, "a success admitted before opening does not close");
        tokio::time::advance(COOL_DOWN).await;
        let probe = b.admit().unwrap();
        early_err.record(Verdict::Failure);
        assert_eq!(b.state(), BreakerState::HalfOpen, "nor does an old failure re-open");
        probe.record(Verdict::Success);
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
