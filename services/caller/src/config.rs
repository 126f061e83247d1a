//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CALLER_ALLOWED_NETWORKS` | empty | comma-separated CIDRs reachable although not public, e.g. `127.0.0.0/8,::1/128` for local development; cloud metadata addresses stay refused |
//! | `CALLER_CONNECT_TIMEOUT_MS` | `2000` | TCP/TLS connect timeout |
//! | `CALLER_REQUEST_TIMEOUT_MS` | `10000` | total time for one call, redirects and body included |
//! | `CALLER_MAX_BODY_BYTES` | `1048576` | response bytes read before the call is cut short |
//! | `CALLER_RETENTION_DAYS` | `30` | call records older than this are deleted (hourly) |
//! | `SERVICE_ALLOWED_CLIENTS` | `greeter` | the services whose service tokens may call caller; nothing else can |
//!
//! Service tokens are verified with auth's keys (`AUTH_JWKS_URL` and the
//! other variables of [`authn::config`]).

use std::time::Duration;

use ipnet::IpNet;
use platform::{CommonConfig, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub fetch: FetchConfig,
    pub authn: authn::Config,
    pub allowed_clients: Vec<String>,
    /// How long call records are kept (`CALLER_RETENTION_DAYS`).
    pub retention: Duration,
    /// The outbox relay (`NATS_URL`, `OUTBOX_*`): caller publishes `call.completed`.
    pub events: events::relay::Config,
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub allowed_networks: Vec<IpNet>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allowed_networks: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = FetchConfig::default();
        Ok(Self {
            common: CommonConfig::for_service(env, "caller")?,
            fetch: FetchConfig {
                allowed_networks: env.list("CALLER_ALLOWED_NETWORKS")?,
                connect_timeout: env.nonzero("CALLER_CONNECT_TIMEOUT_MS", |e, n| e.millis(n, d.connect_timeout))?,
                request_timeout: env.nonzero("CALLER_REQUEST_TIMEOUT_MS", |e, n| e.millis(n, d.request_timeout))?,
                max_body_bytes: env.nonzero("CALLER_MAX_BODY_BYTES", |e, n| e.parse(n, d.max_body_bytes))?,
            },
            authn: authn::Config::from_env(env)?,
            allowed_clients: authn::config::allowed_clients_from_env(env, &["greeter"])?,
            retention: env.retention_days("CALLER_RETENTION_DAYS", 30)?,
            events: events::relay::Config::from_env(env, "caller")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_networks_parse_and_errors_name_the_variable() {
        let env = Env::from_pairs([("CALLER_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")]);
        assert_eq!(Config::from_env(&env).unwrap().fetch.allowed_networks.len(), 2);
        let env = Env::from_pairs([("CALLER_ALLOWED_NETWORKS", "localhost")]);
        let err = Config::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("CALLER_ALLOWED_NETWORKS"), "{err}");
    }

    #[test]
    fn limits_and_timeouts_must_be_positive() {
        for name in ["CALLER_CONNECT_TIMEOUT_MS", "CALLER_REQUEST_TIMEOUT_MS", "CALLER_MAX_BODY_BYTES"] {
            let err = Config::from_env(&Env::from_pairs([(name, "0")])).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("greater than zero"), "{err}");
        }
    }
}
