//! How one upstream is called: time per attempt, retries, breaker, bulkhead.

use std::time::Duration;

use platform::{ConfigError, Env};

/// The resilience settings for one upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Longest one attempt may take; the inbound deadline may leave less.
    pub attempt_timeout: Duration,
    /// Further attempts after the first (idempotent calls, retryable failures).
    pub max_retries: u32,
    /// First backoff ceiling; it doubles per retry up to `backoff_max`, and
    /// the actual wait is uniformly random below it ("full jitter").
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before letting one probe through.
    pub cool_down: Duration,
    /// Calls in flight at once; more are refused at once as overloaded.
    pub max_concurrency: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(2),
            max_retries: 2,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            failure_threshold: 5,
            cool_down: Duration::from_secs(5),
            max_concurrency: 32,
        }
    }
}

impl Policy {
    /// `defaults` overridden by `<PREFIX>_TIMEOUT_MS`, `<PREFIX>_RETRIES`,
    /// `<PREFIX>_BREAKER_FAILURES`, `<PREFIX>_BREAKER_COOLDOWN_MS` and
    /// `<PREFIX>_MAX_CONCURRENCY`. Values that would disable a safeguard
    /// (a zero timeout, threshold or concurrency) are refused, naming the variable.
    pub fn from_env(env: &Env, prefix: &str, defaults: Policy) -> Result<Policy, ConfigError> {
        let var = |suffix: &str| format!("{prefix}_{suffix}");
        let policy = Policy {
            attempt_timeout: env.nonzero(&var("TIMEOUT_MS"), |e, n| e.millis(n, defaults.attempt_timeout))?,
            max_retries: env.parse(&var("RETRIES"), defaults.max_retries)?,
            failure_threshold: env.nonzero(&var("BREAKER_FAILURES"), |e, n| e.parse(n, defaults.failure_threshold))?,
            cool_down: env.millis(&var("BREAKER_COOLDOWN_MS"), defaults.cool_down)?,
            max_concurrency: env.nonzero(&var("MAX_CONCURRENCY"), |e, n| e.parse(n, defaults.max_concurrency))?,
            ..defaults
        };
        Ok(policy)
    }
}

/// Whether a call may safely be made twice. Only idempotent calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    Idempotent,
    NonIdempotent,
}

impl Idempotency {
    /// The HTTP rule: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent.
    pub fn of_http_method(method: &str) -> Self {
        match method.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE" => Self::Idempotent,
            _ => Self::NonIdempotent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kept_unless_set() {
        assert_eq!(Policy::from_env(&Env::default(), "LANG", Policy::default()).unwrap(), Policy::default());
        let env = Env::from_pairs([
            ("LANG_TIMEOUT_MS", "250"),
            ("LANG_RETRIES", "0"),
            ("LANG_BREAKER_FAILURES", "3"),
            ("LANG_BREAKER_COOLDOWN_MS", "1500"),
            ("LANG_MAX_CONCURRENCY", "4"),
            ("AUTH_TIMEOUT_MS", "9"),
        ]);
        let p = Policy::from_env(&env, "LANG", Policy::default()).unwrap();
        assert_eq!(
            p,
            Policy {
                attempt_timeout: Duration::from_millis(250),
                max_retries: 0,
                failure_threshold: 3,
                cool_down: Duration::from_millis(1500),
                max_concurrency: 4,
                ..Policy::default()
            }
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("X_TIMEOUT_MS", "2s"),
            ("X_TIMEOUT_MS", "0"),
            ("X_RETRIES", "-1"),
            ("X_BREAKER_FAILURES", "0"),
            ("X_BREAKER_COOLDOWN_MS", "soon"),
            ("X_MAX_CONCURRENCY", "0"),
        ] {
            let err = Policy::from_env(&Env::from_pairs([(name, value)]), "X", Policy::default()).unwrap_err();
            let err = err.to_string();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
    }

    #[test]
    fn http_methods() {
        assert_eq!(Idempotency::of_http_method("GET"), Idempotency::Idempotent);
        assert_eq!(Idempotency::of_http_method("delete"), Idempotency::Idempotent);
        assert_eq!(Idempotency::of_http_method("POST"), Idempotency::NonIdempotent);
        assert_eq!(Idempotency::of_http_method("PATCH"), Idempotency::NonIdempotent);
    }
}
