//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CALLER_URL` | `http://127.0.0.1:8081` | the caller service |
//! | `CALLER_TIMEOUT_MS` | `3000` | deadline for each call to caller |
//! | `GREETER_DEFAULT_URL` | `https://example.com/` | URL checked when a request names none |

use std::time::Duration;

use platform::{CommonConfig, ConfigError, Env};

pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub caller_url: url::Url,
    pub caller_timeout: Duration,
    pub default_url: url::Url,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::from_env(env, "greeter", DEFAULT_PORT)?,
            caller_url: env.url("CALLER_URL", "http://127.0.0.1:8081")?,
            caller_timeout: env.millis("CALLER_TIMEOUT_MS", Duration::from_secs(3))?,
            default_url: env.url("GREETER_DEFAULT_URL", "https://example.com/")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_name_the_variable() {
        let err = Config::from_env(&Env::from_pairs([("CALLER_URL", "caller:8081")])).unwrap_err().to_string();
        assert!(err.contains("CALLER_URL"), "{err}");
        let err = Config::from_env(&Env::from_pairs([("CALLER_TIMEOUT_MS", "3s")])).unwrap_err().to_string();
        assert!(err.contains("CALLER_TIMEOUT_MS"), "{err}");
    }
}
