//! Configuration. Beyond the common variables ([`platform::CommonConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `WEB_DIST` | `web/dist` | the built site: `index.html` and `assets/` (`npm run build` in `web/`) |

use std::path::PathBuf;

use platform::{CommonConfig, ConfigError, Env};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// The directory Vite built into.
    pub dist: PathBuf,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { common: CommonConfig::for_service(env, "web")?, dist: env.string("WEB_DIST", "web/dist").into() })
    }
}
