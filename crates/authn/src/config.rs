//! Configuration for services that verify tokens. Variables:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AUTH_JWKS_URL` | `http://127.0.0.1:8090/auth/.well-known/jwks.json` | where the auth service publishes its public keys |
//! | `AUTH_ISSUER` | `auth` | the `iss` every token must carry (the auth service signs with the same variable) |
//! | `AUTH_AUDIENCE` | `platform` | the `aud` every token must carry (likewise) |
//! | `AUTH_LEEWAY_SECS` | `30` | clock skew tolerated on `exp` |
//! | `AUTH_JWKS_MAX_AGE_SECS` | `600` | how long fetched keys are used before they are fetched again |
//! | `AUTH_JWKS_MIN_REFRESH_SECS` | `30` | least time between two fetches, however many unknown key ids arrive |
//! | `AUTH_JWKS_TIMEOUT_MS` | `3000` | deadline for one fetch |

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
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            jwks_url: env.url("AUTH_JWKS_URL", "http://127.0.0.1:8090/auth/.well-known/jwks.json")?,
            expected: expected_from_env(env)?,
            max_age: env.secs("AUTH_JWKS_MAX_AGE_SECS", Duration::from_secs(600))?,
            min_refresh: env.secs("AUTH_JWKS_MIN_REFRESH_SECS", Duration::from_secs(30))?,
            timeout: env.millis("AUTH_JWKS_TIMEOUT_MS", Duration::from_secs(3))?,
        })
    }

    /// Defaults for a JWKS at `jwks_url`.
    pub fn new(jwks_url: url::Url) -> Self {
        let mut c = Self::from_env(&Env::default()).expect("defaults are valid");
        c.jwks_url = jwks_url;
        c
    }
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
    }
}
