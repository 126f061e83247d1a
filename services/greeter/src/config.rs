//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CALLER_URL` | caller on loopback at its port (services.toml) | the caller service |
//! | `CALLER_TIMEOUT_MS` | `3000` | deadline for each attempt at calling caller (a client's shorter deadline wins) |
//! | `CALLER_RETRIES` | `2` | further attempts after transient failures (`UNAVAILABLE`, …), with jittered exponential backoff |
//! | `CALLER_BREAKER_FAILURES` | `5` | consecutive failures that open the circuit breaker: caller is then not called |
//! | `CALLER_BREAKER_COOLDOWN_MS` | `5000` | how long the open breaker waits before letting one probe call through |
//! | `CALLER_MAX_CONCURRENCY` | `32` | calls to caller in flight at once; more are refused at once |
//! | `GREETER_DEFAULT_URL` | `https://example.com/` | URL checked when a request names none |
//! | `GREETER_RETENTION_DAYS` | `90` | greetings older than this are deleted (hourly) |
//! | `GREETER_WATCH_HEARTBEAT_SECS` | `15` | a watch silent this long gets a heartbeat |
//! | `GREETER_WATCH_BUFFER` | `32` | greetings a watch may hold unread before it is dropped (`RESOURCE_EXHAUSTED`) |
//! | `GREETER_MAX_WATCHERS` | `1000` | watches one process keeps open; more are refused (`RESOURCE_EXHAUSTED`) |
//! | `SERVICE_CLIENT_ID`, `SERVICE_CLIENT_SECRET_FILE` / `SERVICE_CLIENT_SECRET`, `AUTH_TOKEN_URL` | `greeter`, empty, auth's on loopback | greeter's service identity: caller accepts calls only with its token ([`authn::config::ClientConfig`]) |
//!
//! Each greeting's event goes out through the outbox ([`events::relay::Config`]:
//! `NATS_URL`, `OUTBOX_BATCH`, `OUTBOX_RETENTION_SECS`, `EVENTS_STREAM_MAX_AGE_SECS`).
//!
//! `Greet` takes an `idempotency-key` ([`idempotency::Config`]:
//! `IDEMPOTENCY_RETENTION_SECS`, `IDEMPOTENCY_MAX_WAIT_MS`).
//!
//! Callers' tokens are verified with auth's keys (`AUTH_JWKS_URL` and the
//! other variables of [`authn::config`]).
//!
//! Whatever happens to the call, the greeting succeeds and says why in
//! `external_error`.

use std::time::Duration;

use platform::{CommonConfig, ConfigError, Env};
use resilience::Policy;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub caller_url: url::Url,
    /// Resilience for calls to caller (`CALLER_*` variables).
    pub caller: Policy,
    pub default_url: url::Url,
    pub authn: authn::Config,
    /// How long greetings are kept (`GREETER_RETENTION_DAYS`).
    pub retention: Duration,
    /// greeter's own identity, for caller.
    pub identity: Option<authn::config::ClientConfig>,
    /// Bounds of `WatchGreetings` (`GREETER_WATCH_*`, `GREETER_MAX_WATCHERS`).
    pub watch: crate::watch::WatchConfig,
    /// Idempotency keys on `Greet` (`IDEMPOTENCY_*`).
    pub idempotency: idempotency::Config,
    /// The outbox relay (`NATS_URL`, `OUTBOX_*`): greeter publishes `greeting.created`.
    pub events: events::relay::Config,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let caller_defaults = Policy { attempt_timeout: Duration::from_secs(3), ..Policy::default() };
        Ok(Self {
            common: CommonConfig::for_service(env, "greeter")?,
            caller_url: env.url("CALLER_URL", &catalog::local_url("caller"))?,
            caller: Policy::from_env(env, "CALLER", caller_defaults)?,
            default_url: env.url("GREETER_DEFAULT_URL", "https://example.com/")?,
            authn: authn::Config::from_env(env)?,
            retention: env.retention_days("GREETER_RETENTION_DAYS", 90)?,
            identity: authn::config::ClientConfig::from_env(env, "greeter")?,
            idempotency: idempotency::Config::from_env(env)?,
            events: events::relay::Config::from_env(env, "greeter")?,
            watch: crate::watch::WatchConfig {
                heartbeat: env.nonzero("GREETER_WATCH_HEARTBEAT_SECS", |e, n| e.secs(n, Duration::from_secs(15)))?,
                buffer: env.nonzero("GREETER_WATCH_BUFFER", |e, n| e.parse(n, 32usize))?,
                max_watchers: env.nonzero("GREETER_MAX_WATCHERS", |e, n| e.parse(n, 1000usize))?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("CALLER_URL", "caller:8081"),
            ("CALLER_TIMEOUT_MS", "3s"),
            ("CALLER_MAX_CONCURRENCY", "0"),
            ("GREETER_WATCH_BUFFER", "0"),
            ("GREETER_MAX_WATCHERS", "many"),
            ("GREETER_WATCH_HEARTBEAT_SECS", "0"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn caller_timeout_keeps_its_meaning() {
        assert_eq!(Config::from_env(&Env::default()).unwrap().caller.attempt_timeout, Duration::from_secs(3));
        let env = Env::from_pairs([("CALLER_TIMEOUT_MS", "750"), ("CALLER_RETRIES", "0")]);
        let caller = Config::from_env(&env).unwrap().caller;
        assert_eq!((caller.attempt_timeout, caller.max_retries), (Duration::from_millis(750), 0));
    }
}
