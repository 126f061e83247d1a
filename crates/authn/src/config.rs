//! Configuration for services that verify tokens. Variables:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUTH_JWKS_URL` | `/auth/.well-known/jwks.json` at the token issuer on loopback (services.toml) | where the auth service publishes its public keys |
//! | `AUTH_ISSUER` | `auth` | the `iss` every token must carry (the auth service signs with the same variable) |
//! | `AUTH_AUDIENCE` | `platform` | the `aud` every token must carry (likewise) |
//! | `AUTH_LEEWAY_SECS` | `30` | clock skew tolerated on `exp` |
//! | `AUTH_JWKS_MAX_AGE_SECS` | `600` | how long fetched keys are used before they are fetched again |
//! | `AUTH_REVOCATION_RETAIN_SECS` | `3600` | how long a revoked session or deleted account is remembered; must exceed the access tokens' lifetime (`AUTH_ACCESS_TTL_SECS`, 900) |
//! | `AUTH_JWKS_MIN_REFRESH_SECS` | `30` | least time between two fetches, however many unknown key ids arrive |
//! | `AUTH_JWKS_TIMEOUT_MS` | `3000` | deadline for one fetch |
//! | `SERVICE_ALLOWED_CLIENTS` | per service | service clients admitted to the service's `service` routes |
//!
//! A service's own identity ([`ClientConfig`]), for calls to other services:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SERVICE_CLIENT_ID` | the service's name | its client id at auth |
//! | `SERVICE_CLIENT_SECRET_FILE` / `SERVICE_CLIENT_SECRET` | empty | its client secret, as a path or a value; with neither the service has no identity and calls that need one fail |
//! | `AUTH_TOKEN_URL` | `/auth/token` at the token issuer on loopback | auth's token endpoint |

use std::time::Duration;

use platform::{ConfigError, Env};

use crate::Expected;

pub const DEFAULT_ISSUER: &str = "auth";
pub const DEFAULT_AUDIENCE: &str = "platform";

#[derive(Debug, Clone)]
pub struct Config {
    pub jwks_url: url::Url,
    pub expected: Expected,
    pub max_age: Duration,
    pub min_refresh: Duration,
    pub timeout: Duration,
    /// `AUTH_REVOCATION_RETAIN_SECS`: [`crate::Revocations`].
    pub revocation_retain: Duration,
}

/// `AUTH_REVOCATION_RETAIN_SECS`, for [`crate::Revocations::new`].
pub fn revocation_retain(env: &Env) -> Result<Duration, ConfigError> {
    env.nonzero("AUTH_REVOCATION_RETAIN_SECS", |e, n| e.secs(n, Duration::from_secs(3600)))
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            jwks_url: env.url("AUTH_JWKS_URL", &issuer_url("/auth/.well-known/jwks.json"))?,
            expected: expected_from_env(env)?,
            max_age: env.nonzero("AUTH_JWKS_MAX_AGE_SECS", |e, n| e.secs(n, Duration::from_secs(600)))?,
            min_refresh: env.secs("AUTH_JWKS_MIN_REFRESH_SECS", Duration::from_secs(30))?,
            timeout: env.nonzero("AUTH_JWKS_TIMEOUT_MS", |e, n| e.millis(n, Duration::from_secs(3)))?,
            revocation_retain: revocation_retain(env)?,
        })
    }

    /// Defaults for a JWKS at `jwks_url`.
    pub fn new(jwks_url: url::Url) -> Self {
        let mut c = Self::from_env(&Env::default()).expect("defaults are valid");
        c.jwks_url = jwks_url;
        c
    }
}

/// The service clients admitted to `service` routes: `SERVICE_ALLOWED_CLIENTS`,
/// else `defaults`.
pub fn allowed_clients_from_env(env: &Env, defaults: &[&str]) -> Result<Vec<String>, ConfigError> {
    let listed: Vec<String> = env.list("SERVICE_ALLOWED_CLIENTS")?;
    Ok(if env.raw("SERVICE_ALLOWED_CLIENTS").is_some() {
        listed
    } else {
        defaults.iter().map(|s| s.to_string()).collect()
    })
}

/// A secret that never shows in `Debug` output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How a service obtains its own service token.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub token_url: url::Url,
    pub client_id: String,
    pub secret: Secret,
    /// Deadline for one token request.
    pub timeout: Duration,
}

impl ClientConfig {
    /// The service's identity, or `None` when no secret is configured.
    pub fn from_env(env: &Env, service: &str) -> Result<Option<Self>, ConfigError> {
        let secret = secret_from_env(env, "SERVICE_CLIENT_SECRET")?;
        let Some(secret) = secret else { return Ok(None) };
        Ok(Some(Self {
            token_url: env.url("AUTH_TOKEN_URL", &issuer_url("/auth/token"))?,
            client_id: nonempty(env, "SERVICE_CLIENT_ID", service)?,
            secret,
            timeout: Duration::from_secs(5),
        }))
    }
}

/// A secret given as `<NAME>_FILE` or as `<NAME>` itself, at most one of
/// the two ([`Env::file_or_value`]).
pub fn secret_from_env(env: &Env, name: &str) -> Result<Option<Secret>, ConfigError> {
    Ok(env.file_or_value(name)?.map(Secret::new))
}

/// `AUTH_ISSUER`, `AUTH_AUDIENCE` and `AUTH_LEEWAY_SECS`, which the auth
/// service reads too so both sides agree.
pub fn expected_from_env(env: &Env) -> Result<Expected, ConfigError> {
    Ok(Expected {
        issuer: nonempty(env, "AUTH_ISSUER", DEFAULT_ISSUER)?,
        audience: nonempty(env, "AUTH_AUDIENCE", DEFAULT_AUDIENCE)?,
        leeway: env.secs("AUTH_LEEWAY_SECS", Duration::from_secs(30))?,
    })
}

/// `path` at the token issuer of services.toml, on loopback at its port.
fn issuer_url(path: &str) -> String {
    format!("{}{path}", catalog::local_url(&catalog::catalog().issuer().name))
}

fn nonempty(env: &Env, name: &str, default: &str) -> Result<String, ConfigError> {
    match env.raw(name).map(str::trim) {
        None | Some("") => Ok(default.to_owned()),
        Some(v) => Ok(v.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert_eq!(c.expected.issuer, "auth");
        assert_eq!(c.jwks_url.path(), "/auth/.well-known/jwks.json");
        let err = Config::from_env(&Env::from_pairs([("AUTH_JWKS_URL", "auth:8090")])).unwrap_err().to_string();
        assert!(err.contains("AUTH_JWKS_URL"), "{err}");
        let err = Config::from_env(&Env::from_pairs([("AUTH_LEEWAY_SECS", "-1")])).unwrap_err().to_string();
        assert!(err.contains("AUTH_LEEWAY_SECS"), "{err}");
        for name in ["AUTH_JWKS_MAX_AGE_SECS", "AUTH_JWKS_TIMEOUT_MS"] {
            let err = Config::from_env(&Env::from_pairs([(name, "0")])).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("greater than zero"), "{err}");
        }
    }

    #[test]
    fn client_identities_come_from_a_secret_never_shown() {
        assert!(ClientConfig::from_env(&Env::default(), "greeter").unwrap().is_none());
        let c = ClientConfig::from_env(&Env::from_pairs([("SERVICE_CLIENT_SECRET", "s3cret-value")]), "greeter")
            .unwrap()
            .unwrap();
        assert_eq!((c.client_id.as_str(), c.secret.expose()), ("greeter", "s3cret-value"));
        assert_eq!(c.token_url.as_str(), issuer_url("/auth/token"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let dir = std::env::temp_dir().join(format!("authn-secret-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let env = Env::from_pairs([("SERVICE_CLIENT_SECRET_FILE", dir.to_str().unwrap())]);
        assert_eq!(ClientConfig::from_env(&env, "x").unwrap().unwrap().secret.expose(), "from-file");
        let both =
            Env::from_pairs([("SERVICE_CLIENT_SECRET_FILE", dir.to_str().unwrap()), ("SERVICE_CLIENT_SECRET", "v")]);
        let err = ClientConfig::from_env(&both, "x").unwrap_err().to_string();
        assert!(err.contains("SERVICE_CLIENT_SECRET") && !err.contains("from-file"), "{err}");
        std::fs::remove_file(&dir).unwrap();
        let missing = Env::from_pairs([("SERVICE_CLIENT_SECRET_FILE", "/nonexistent/secret")]);
        assert!(ClientConfig::from_env(&missing, "x").unwrap_err().to_string().contains("SERVICE_CLIENT_SECRET_FILE"));
    }

    #[test]
    fn allowed_clients_default_per_service_and_can_be_emptied() {
        assert_eq!(allowed_clients_from_env(&Env::default(), &["greeter"]).unwrap(), ["greeter"]);
        let env = Env::from_pairs([("SERVICE_ALLOWED_CLIENTS", "a, b")]);
        assert_eq!(allowed_clients_from_env(&env, &["greeter"]).unwrap(), ["a", "b"]);
        let none = Env::from_pairs([("SERVICE_ALLOWED_CLIENTS", "")]);
        assert!(allowed_clients_from_env(&none, &["greeter"]).unwrap().is_empty());
    }
}
