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
//! | `AUTH_SIGNUP_MAX_PER_ADDRESS` | `10` | sign-ups per client address per window before 429 |
//! | `AUTH_LOGIN_WINDOW_SECS` | `900` | the throttling window |
//! | `AUTH_TRUSTED_PROXIES` | empty | comma-separated CIDRs of proxies whose `X-Forwarded-For` is believed; otherwise the client address is the TCP peer |
//! | `AUTH_MAX_BODY_BYTES` | `16384` | largest request body accepted (413 beyond) |
//! | `AUTH_CLIENTS_FILE` / `AUTH_CLIENTS` | empty | the platform's service clients, as a path or a value: entries `<client id>:<hex SHA-256 of its secret>` separated by commas or newlines (`#` starts a comment line) |
//! | `AUTH_SERVICE_TOKEN_TTL_SECS` | `300` | lifetime of a service token (client-credentials grant) |
//! | `SERVICE_ALLOWED_CLIENTS` | `gateway` | clients whose service tokens may read `/auth/stats` |
//! | `AUTH_SESSION_RETENTION_DAYS` | `7` | sessions are deleted this long after they expired |
//! | `AUTH_AUDIT_RETENTION_DAYS` | `365` | audit records older than this are deleted |
//! | `AUTH_COOKIE_ORIGINS` | empty | comma-separated origins (`http(s)://host[:port]`) whose pages may keep the refresh token in an HttpOnly cookie (`Session-Mode: cookie`); empty refuses cookie mode |
//! | `AUTH_KEY_REFRESH_SECS` | `30` | how often the published keys are re-read from `auth_db` (keys other replicas or a rotation added) |
//!
//! Events go out through the outbox ([`events::relay::Config`]: `NATS_URL`,
//! `OUTBOX_BATCH`, `OUTBOX_RETENTION_SECS`, `EVENTS_STREAM_MAX_AGE_SECS`).
//!
//! Sign-up, password change and role changes take an `Idempotency-Key`
//! ([`idempotency::Config`]: `IDEMPOTENCY_RETENTION_SECS`, `IDEMPOTENCY_MAX_WAIT_MS`).

use std::{collections::BTreeMap, fmt, num::NonZeroUsize, path::PathBuf, time::Duration};

use authn::Expected;
use ipnet::IpNet;
use platform::{CommonConfig, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub tokens: TokenConfig,
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed to use cookie sessions (`AUTH_COOKIE_ORIGINS`).
    pub cookie_origins: Vec<crate::cookies::Origin>,
    pub max_body_bytes: usize,
    pub clients: Clients,
    pub allowed_clients: Vec<String>,
    /// How long expired or revoked sessions are kept (`AUTH_SESSION_RETENTION_DAYS`).
    pub session_retention: Duration,
    /// How long audit records are kept (`AUTH_AUDIT_RETENTION_DAYS`).
    pub audit_retention: Duration,
    /// Idempotency keys on sign-up, password change and role changes (`IDEMPOTENCY_*`).
    pub idempotency: idempotency::Config,
    /// The outbox relay (`NATS_URL`, `OUTBOX_*`): auth publishes `user.registered`.
    pub events: events::relay::Config,
    /// Account deletions (`DELETION_*`): [`crate::deletion::Config`].
    pub deletion: crate::deletion::Config,
    /// How long revoked sessions and deleted accounts are remembered
    /// (`AUTH_REVOCATION_RETAIN_SECS`): [`authn::Revocations`].
    pub revocation_retain: Duration,
}

/// The service clients auth issues service tokens to, by client id, each
/// with the SHA-256 of its secret (secrets themselves are never configured
/// here, so this setting is no credential).
#[derive(Debug, Clone, Default)]
pub struct Clients(pub BTreeMap<String, [u8; 32]>);

impl Clients {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut clients = BTreeMap::new();
        for entry in text.lines().filter(|l| !l.trim_start().starts_with('#')).flat_map(|l| l.split(',')) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (id, hex) = entry.split_once(':').ok_or("each entry is <client id>:<hex SHA-256 of the secret>")?;
            let (id, hex) = (id.trim(), hex.trim());
            let valid_id = !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_id {
                return Err(format!("client id {id:?} must be 1–64 characters of a-z, 0-9 and '-'"));
            }
            let hash = decode_sha256(hex).ok_or_else(|| format!("client {id}: the hash must be 64 hex digits"))?;
            if clients.insert(id.to_owned(), hash).is_some() {
                return Err(format!("client {id} is listed twice"));
            }
        }
        Ok(Self(clients))
    }
}

fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
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
    pub service_ttl: Duration,
    pub key_refresh: Duration,
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
    pub max_signups_per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self { max_per_account: 5, max_per_address: 20, max_signups_per_address: 10, window: Duration::from_secs(900) }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = ThrottleConfig::default();
        Ok(Self {
            common: CommonConfig::for_service(env, "auth")?,
            tokens: TokenConfig {
                key: key_source(env)?,
                expected: authn::config::expected_from_env(env)?,
                access_ttl: env.nonzero("AUTH_ACCESS_TTL_SECS", |e, n| e.secs(n, Duration::from_secs(15 * 60)))?,
                refresh_ttl: env
                    .nonzero("AUTH_REFRESH_TTL_SECS", |e, n| e.secs(n, Duration::from_secs(30 * 24 * 3600)))?,
                service_ttl: env.nonzero("AUTH_SERVICE_TOKEN_TTL_SECS", |e, n| e.secs(n, Duration::from_secs(300)))?,
                key_refresh: env.nonzero("AUTH_KEY_REFRESH_SECS", |e, n| e.secs(n, Duration::from_secs(30)))?,
            },
            passwords: PasswordConfig {
                bcrypt_cost: bcrypt_cost(env)?,
                concurrency: env.parse::<NonZeroUsize>("AUTH_HASH_CONCURRENCY", default_concurrency())?.get(),
            },
            throttle: ThrottleConfig {
                max_per_account: env.nonzero("AUTH_LOGIN_MAX_FAILURES", |e, n| e.parse(n, d.max_per_account))?,
                max_per_address: env
                    .nonzero("AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS", |e, n| e.parse(n, d.max_per_address))?,
                max_signups_per_address: env
                    .nonzero("AUTH_SIGNUP_MAX_PER_ADDRESS", |e, n| e.parse(n, d.max_signups_per_address))?,
                window: env.nonzero("AUTH_LOGIN_WINDOW_SECS", |e, n| e.secs(n, d.window))?,
            },
            trusted_proxies: env.list("AUTH_TRUSTED_PROXIES")?,
            cookie_origins: env.list("AUTH_COOKIE_ORIGINS")?,
            max_body_bytes: env.nonzero("AUTH_MAX_BODY_BYTES", |e, n| e.parse(n, 16 * 1024))?,
            clients: clients(env)?,
            allowed_clients: authn::config::allowed_clients_from_env(env, &["gateway"])?,
            session_retention: env.retention_days("AUTH_SESSION_RETENTION_DAYS", 7)?,
            audit_retention: env.retention_days("AUTH_AUDIT_RETENTION_DAYS", 365)?,
            idempotency: idempotency::Config::from_env(env)?,
            events: events::relay::Config::from_env(env, "auth")?,
            deletion: crate::deletion::Config::from_env(env)?,
            revocation_retain: authn::config::revocation_retain(env)?,
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

fn clients(env: &Env) -> Result<Clients, ConfigError> {
    let file = env.raw("AUTH_CLIENTS_FILE").map(str::trim).filter(|s| !s.is_empty());
    let (name, text) = match (file, env.raw("AUTH_CLIENTS").filter(|s| !s.trim().is_empty())) {
        (Some(_), Some(_)) => return Err(invalid("AUTH_CLIENTS", "set AUTH_CLIENTS_FILE or AUTH_CLIENTS, not both")),
        (Some(path), None) => (
            "AUTH_CLIENTS_FILE",
            std::fs::read_to_string(path)
                .map_err(|e| invalid("AUTH_CLIENTS_FILE", format!("cannot read {path}: {e}")))?,
        ),
        (None, Some(value)) => ("AUTH_CLIENTS", value.to_owned()),
        (None, None) => return Ok(Clients::default()),
    };
    Clients::parse(&text).map_err(|reason| invalid(name, reason))
}

fn invalid(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { name: name.into(), value: "<not shown>".into(), reason: reason.into() }
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
        assert_eq!(c.common.port, catalog::port("auth"));
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
            ("AUTH_MAX_BODY_BYTES", "0"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
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

    #[test]
    fn clients_are_ids_with_secret_hashes() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let c =
            Clients::parse(&format!("# the platform's services\ngreeter:{hash}, gateway:{}\n\n", hash.to_uppercase()))
                .unwrap();
        assert_eq!(c.0.keys().collect::<Vec<_>>(), ["gateway", "greeter"]);
        assert_eq!(c.0["greeter"][0], 0x9f);
        for bad in ["greeter", "greeter:abc", &format!("Greeter:{hash}"), &format!("a:{hash},a:{hash}")] {
            assert!(Clients::parse(bad).is_err(), "{bad}");
        }
        let err = Config::from_env(&Env::from_pairs([("AUTH_CLIENTS", "greeter:nothex")])).unwrap_err().to_string();
        assert!(err.contains("AUTH_CLIENTS"), "{err}");
        assert_eq!(Config::from_env(&Env::default()).unwrap().allowed_clients, ["gateway"]);
    }
}
