//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LANG_URL` | lang on loopback at its port (services.toml) | the lang service |
//! | `AUTH_URL` | auth on loopback at its port | the auth service: its JWKS, unless `AUTH_JWKS_URL` is set |
//! | `LANG_TIMEOUT_MS`, `LANG_RETRIES`, `LANG_BREAKER_FAILURES`, `LANG_BREAKER_COOLDOWN_MS`, `LANG_MAX_CONCURRENCY` | the resilience defaults | deadline per attempt, retries, breaker and bulkhead for calls to lang |
//! | `AUTH_JWKS_URL` | `$AUTH_URL/auth/.well-known/jwks.json` | where access tokens' keys are fetched (other `AUTH_*` token variables: [`authn::Config`]) |
//! | `NATS_URL` | `nats://127.0.0.1:4222` | the event broker (a cluster's nodes comma-separated): the user projection's consumers, the cache's eviction on `translation.changed`, gateway's answers in account deletions |
//! | `OUTBOX_*`, `EVENTS_STREAM_*` | | gateway's own events (its part in account deletions): [`events::relay::Config`] |
//! | `GATEWAY_CACHE_TTL_MS` | `30000` | how long a greeting from lang is reused; `0` disables the cache |
//! | `GATEWAY_CACHE_MAX_ENTRIES` | `10000` | greetings kept at most (least recently used go first) |
//! | `GATEWAY_METRICS_QUEUE` | `10000` | request records waiting to be written; beyond it they are dropped and counted |
//! | `GATEWAY_METRICS_BATCH` | `500` | records written per `INSERT` at most |
//! | `GATEWAY_METRICS_FLUSH_MS` | `1000` | longest a record waits before it is written |
//! | `GATEWAY_METRICS_RETENTION_DAYS` | `7` | records older than this are deleted (hourly); also the longest `Metrics` window |
//! | `GATEWAY_WATCH_INTERVAL_SECS` | `5` | how often `WatchOverview` sends a new overview |
//! | `GATEWAY_MAX_WATCHERS` | `1000` | `WatchOverview` streams one process keeps open; more are refused (`RESOURCE_EXHAUSTED`) |

use std::time::Duration;

use platform::{CommonConfig, ConfigError, Env};
use resilience::Policy;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub lang_url: url::Url,
    pub auth_url: url::Url,
    pub lang_policy: Policy,
    /// Verifying callers' access tokens.
    pub authn: authn::Config,
    /// The event broker (`NATS_URL`: the user projection, cache eviction)
    /// and gateway's own events' relay.
    pub events: events::relay::Config,
    pub cache: CacheConfig,
    pub recorder: RecorderConfig,
    /// How often `WatchOverview` sends an overview.
    pub watch_interval: Duration,
    /// `WatchOverview` streams open at most.
    pub max_watchers: usize,
}

/// The short-lived cache of lang's greetings.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Zero disables caching.
    pub ttl: Duration,
    pub max_entries: u64,
}

/// How served requests are written to `gateway_db`.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub queue: usize,
    pub batch: usize,
    pub flush_interval: Duration,
    pub retention: Duration,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self { queue: 10_000, batch: 500, flush_interval: Duration::from_secs(1), retention: days(7) }
    }
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 24 * 3600)
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let auth_url = env.url("AUTH_URL", &catalog::local_url("auth"))?;
        let mut authn = authn::Config::from_env(env)?;
        // Deployments name their peers (`AUTH_URL`); the keys live there too.
        if env.raw("AUTH_JWKS_URL").is_none_or(|v| v.trim().is_empty()) {
            authn.jwks_url = join(&auth_url, "/auth/.well-known/jwks.json");
        }
        let defaults = RecorderConfig::default();
        Ok(Self {
            common: CommonConfig::for_service(env, "gateway")?,
            lang_url: env.url("LANG_URL", &catalog::local_url("lang"))?,
            auth_url,
            lang_policy: Policy::from_env(env, "LANG", Policy::default())?,
            authn,
            events: events::relay::Config::from_env(env, "gateway")?,
            cache: CacheConfig {
                ttl: env.millis("GATEWAY_CACHE_TTL_MS", Duration::from_secs(30))?,
                max_entries: env.nonzero("GATEWAY_CACHE_MAX_ENTRIES", |e, n| e.parse(n, 10_000))?,
            },
            recorder: RecorderConfig {
                queue: env.nonzero("GATEWAY_METRICS_QUEUE", |e, n| e.parse(n, defaults.queue))?,
                batch: env.nonzero("GATEWAY_METRICS_BATCH", |e, n| e.parse(n, defaults.batch))?,
                flush_interval: env.nonzero("GATEWAY_METRICS_FLUSH_MS", |e, n| e.millis(n, defaults.flush_interval))?,
                retention: days(env.nonzero("GATEWAY_METRICS_RETENTION_DAYS", |e, n| e.parse(n, 7))?),
            },
            watch_interval: env.nonzero("GATEWAY_WATCH_INTERVAL_SECS", |e, n| e.secs(n, Duration::from_secs(5)))?,
            max_watchers: env.nonzero("GATEWAY_MAX_WATCHERS", |e, n| e.parse(n, 1000usize))?,
        })
    }
}

/// `base` with `path` appended to its own path, so a base URL with a path
/// prefix (behind a proxy) keeps it.
pub fn join(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_local_use() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert_eq!((c.common.port, c.common.database.url.database.as_str()), (catalog::port("gateway"), "gateway_db"));
        assert_eq!(c.lang_url.as_str(), format!("{}/", catalog::local_url("lang")));
        assert_eq!(c.authn.jwks_url.as_str(), format!("{}/auth/.well-known/jwks.json", catalog::local_url("auth")));
        assert_eq!(c.cache.ttl, Duration::from_secs(30));
        assert_eq!(c.recorder.retention, days(7));
    }

    #[test]
    fn the_jwks_follows_auth_url_unless_set() {
        let c = Config::from_env(&Env::from_pairs([("AUTH_URL", "http://auth.internal:9000/prefix/")])).unwrap();
        assert_eq!(c.authn.jwks_url.as_str(), "http://auth.internal:9000/prefix/auth/.well-known/jwks.json");
        let c = Config::from_env(&Env::from_pairs([
            ("AUTH_URL", "http://auth.internal:9000"),
            ("AUTH_JWKS_URL", "http://keys.internal/jwks.json"),
        ]))
        .unwrap();
        assert_eq!(c.authn.jwks_url.as_str(), "http://keys.internal/jwks.json");
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("LANG_URL", "lang:3000"),
            ("AUTH_URL", "ftp://auth"),
            ("LANG_TIMEOUT_MS", "1s"),
            ("LANG_RETRIES", "-1"),
            ("GATEWAY_CACHE_TTL_MS", "soon"),
            ("GATEWAY_METRICS_BATCH", "0"),
            ("GATEWAY_METRICS_RETENTION_DAYS", "0"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
