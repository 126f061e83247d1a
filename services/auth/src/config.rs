//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUTH_SIGNING_KEY_FILE` | empty | path of the Ed25519 private key (PKCS#8 PEM, `openssl genpkey -algorithm ed25519`) that signs access tokens |
//! | `AUTH_SIGNING_KEY` | empty | the same key as a PEM value; set at most one of the two. With neither, a key is generated at start (tokens die with the process; local use only) |
//! | `AUTH_ISSUER` | `auth` | `iss` of issued tokens; verifiers read the same variable |
//! | `AUTH_AUDIENCE` | `platform` | `aud` of issued tokens; likewise |
//! | `AUTH_LEEWAY_SECS` | `30` | clock skew tolerated on `exp` when verifying |
//! | `AUTH_ACCESS_TTL_SECS` | `900` | access token lifetime |
//! | `AUTH_REFRESH_TTL_SECS` | `2592000` | refresh token lifetime (30 days), renewed on each rotation |
//! | `AUTH_BCRYPT_COST` | `10` | bcrypt work factor, 4–31; existing hashes are upgraded at the next login |
//! | `AUTH_HASH_CONCURRENCY` | CPU count | password hashes computed at once; more wait their turn without blocking other requests |
//! | `AUTH_LOGIN_MAX_FAILURES` | `5` | failed logins per account per window before login is refused with 429 |
//! | `AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS` | `20` | failed logins per client address per window |
//! | `AUTH_LOGIN_WINDOW_SECS` | `900` | the throttling window |
//! | `AUTH_TRUSTED_PROXIES` | empty | comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed; otherwise the client address is the TCP peer |
//! | `AUTH_MAX_BODY_BYTES` | `16384` | largest request body accepted (413 beyond) |

use std::{fmt, num::NonZeroUsize, path::PathBuf, time::Duration};

use authn::Expected;
use ipnet::IpNet;
use platform::{CommonConfig, ConfigError, Env};

pub const DEFAULT_PORT: u16 = 8090;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub tokens: TokenConfig,
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
    pub trusted_proxies: Vec<IpNet>,
    pub max_body_bytes: usize,
}

/// Where the signing key comes from.
#[derive(Clone)]
pub enum KeySource {
    File(PathBuf),
    Pem(String),
    Ephemeral,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Pem(_) => f.write_str("Pem(<redacted>)"),
            Self::Ephemeral => f.write_str("Ephemeral"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub key: KeySource,
    pub expected: Expected,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub bcrypt_cost: u32,
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub max_per_account: u32,
    pub max_per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { max_per_account: 5, max_per_address: 20, window: Duration::from_secs(900) }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = ThrottleConfig::default();
        Ok(Self {
            common: CommonConfig::from_env(env, "auth", DEFAULT_PORT)?,
            tokens: TokenConfig {
                key: key_source(env)?,
                expected: authn::config::expected_from_env(env)?,
                access_ttl: env.nonzero("AUTH_ACCESS_TTL_SECS", |e, n| e.secs(n, Duration::from_secs(15 * 60)))?,
                refresh_ttl: env
                    .nonzero("AUTH_REFRESH_TTL_SECS", |e, n| e.secs(n, Duration::from_secs(30 * 24 * 3600)))?,
            },
            passwords: PasswordConfig {
                bcrypt_cost: bcrypt_cost(env)?,
                concurrency: env.parse::<NonZeroUsize>("AUTH_HASH_CONCURRENCY", default_concurrency())?.get(),
            },
            throttle: ThrottleConfig {
                max_per_account: env.nonzero("AUTH_LOGIN_MAX_FAILURES", |e, n| e.parse(n, d.max_per_account))?,
                max_per_address: env
                    .nonzero("AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS", |e, n| e.parse(n, d.max_per_address))?,
                window: env.nonzero("AUTH_LOGIN_WINDOW_SECS", |e, n| e.secs(n, d.window))?,
            },
            trusted_proxies: env.list("AUTH_TRUSTED_PROXIES")?,
            max_body_bytes: env.parse("AUTH_MAX_BODY_BYTES", 16 * 1024)?,
        })
    }
}

fn default_concurrency() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

fn key_source(env: &Env) -> Result<KeySource, ConfigError> {
    let file = env.raw("AUTH_SIGNING_KEY_FILE").map(str::trim).filter(|s| !s.is_empty());
    let pem = env.raw("AUTH_SIGNING_KEY").filter(|s| !s.trim().is_empty());
    match (file, pem) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            name: "AUTH_SIGNING_KEY".into(),
            value: "<redacted>".into(),
            reason: "set AUTH_SIGNING_KEY_FILE or AUTH_SIGNING_KEY, not both".into(),
        }),
        (Some(path), None) => Ok(KeySource::File(path.into())),
        (None, Some(pem)) => Ok(KeySource::Pem(pem.to_owned())),
        (None, None) => Ok(KeySource::Ephemeral),
    }
}

fn bcrypt_cost(env: &Env) -> Result<u32, ConfigError> {
    let cost = env.parse("AUTH_BCRYPT_COST", 10u32)?;
    if !(4..=31).contains(&cost) {
        return Err(ConfigError::Invalid {
            name: "AUTH_BCRYPT_COST".into(),
            value: cost.to_string(),
            reason: "bcrypt's cost is between 4 and 31".into(),
        });
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_local_use() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert_eq!(c.common.port, 8090);
        assert_eq!(c.common.database.url.database, "auth_db");
        assert_eq!(c.passwords.bcrypt_cost, 10);
        assert_eq!(c.tokens.access_ttl, Duration::from_secs(900));
        assert!(matches!(c.tokens.key, KeySource::Ephemeral));
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn errors_name_the_variable_and_never_echo_a_key() {
        for (name, value) in [
            ("AUTH_BCRYPT_COST", "3"),
            ("AUTH_BCRYPT_COST", "ten"),
            ("AUTH_ACCESS_TTL_SECS", "0"),
            ("AUTH_LOGIN_MAX_FAILURES", "0"),
            ("AUTH_HASH_CONCURRENCY", "0"),
            ("AUTH_TRUSTED_PROXIES", "proxy"),
        ] {
            let err = Config::from_env(&Env::from_pairs([(name, value)])).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
        let env = Env::from_pairs([("AUTH_SIGNING_KEY_FILE", "/k.pem"), ("AUTH_SIGNING_KEY", "SECRET-PEM")]);
        let err = Config::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("AUTH_SIGNING_KEY") && !err.contains("SECRET-PEM"), "{err}");
        let c = Config::from_env(&Env::from_pairs([("AUTH_SIGNING_KEY", "SECRET-PEM")])).unwrap();
        assert!(!format!("{c:?}").contains("SECRET-PEM"));
    }
}
