//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LANG_MAX_BODY_BYTES` | `16384` | largest request body accepted (413 beyond) |

use platform::{CommonConfig, ConfigError, Env};

pub const DEFAULT_PORT: u16 = 3000;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub max_body_bytes: usize,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            common: CommonConfig::from_env(env, "lang", DEFAULT_PORT)?,
            max_body_bytes: env.parse("LANG_MAX_BODY_BYTES", 16 * 1024)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_variable() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert_eq!((c.common.port, c.common.database.url.database.as_str()), (3000, "lang_db"));
        let err = Config::from_env(&Env::from_pairs([("LANG_MAX_BODY_BYTES", "16k")])).unwrap_err().to_string();
        assert!(err.contains("LANG_MAX_BODY_BYTES"), "{err}");
    }
}
