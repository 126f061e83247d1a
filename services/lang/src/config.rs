//! Configuration. Beyond the common variables ([`platform::CommonConfig`])
//! and token verification's (`AUTH_JWKS_URL` and the others of
//! [`authn::config`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LANG_MAX_BODY_BYTES` | `16384` | largest request body accepted (413 beyond) |
//! | `LANG_AUDIT_RETENTION_DAYS` | `365` | audit records older than this are deleted (hourly) |
//! | `SERVICE_ALLOWED_CLIENTS` | `gateway` | service clients that may read `/lang/v1/stats` |
//!
//! Translation changes go out as events through the outbox
//! ([`events::relay::Config`]: `NATS_URL`, `OUTBOX_*`, `EVENTS_STREAM_MAX_AGE_SECS`).
//!
//! Translation and preference writes take an `Idempotency-Key`
//! ([`idempotency::Config`]: `IDEMPOTENCY_RETENTION_SECS`, `IDEMPOTENCY_MAX_WAIT_MS`).

use platform::{CommonConfig, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub max_body_bytes: usize,
    pub authn: authn::Config,
    pub allowed_clients: Vec<String>,
    /// How long audit records are kept (`LANG_AUDIT_RETENTION_DAYS`).
    pub audit_retention: std::time::Duration,
    /// Idempotency keys on writes (`IDEMPOTENCY_*`).
    pub idempotency: idempotency::Config,
    /// The outbox relay (`NATS_URL`, `OUTBOX_*`): lang publishes `translation.changed`.
    pub events: events::relay::Config,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::for_service(env, "lang")?,
            max_body_bytes: env.nonzero("LANG_MAX_BODY_BYTES", |e, n| e.parse(n, 16 * 1024))?,
            authn: authn::Config::from_env(env)?,
            allowed_clients: authn::config::allowed_clients_from_env(env, &["gateway"])?,
            audit_retention: env.retention_days("LANG_AUDIT_RETENTION_DAYS", 365)?,
            idempotency: idempotency::Config::from_env(env)?,
            events: events::relay::Config::from_env(env, "lang")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert_eq!((c.common.port, c.common.database.url.database.as_str()), (catalog::port("lang"), "lang_db"));
        assert_eq!(c.allowed_clients, ["gateway"]);
        let err = Config::from_env(&Env::from_pairs([("LANG_MAX_BODY_BYTES", "16k")])).unwrap_err().to_string();
        assert!(err.contains("LANG_MAX_BODY_BYTES"), "{err}");
        let err = Config::from_env(&Env::from_pairs([("AUTH_JWKS_URL", "auth")])).unwrap_err().to_string();
        assert!(err.contains("AUTH_JWKS_URL"), "{err}");
    }
}
