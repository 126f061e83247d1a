//! Configuration from environment variables.
//!
//! Every variable has a default fit for local use. A malformed value fails at
//! start with an error naming the variable, so a typo in a deployment never
//! turns into a silently different behaviour.

use std::{collections::HashMap, fmt::Display, net::IpAddr, str::FromStr, time::Duration};

use crate::{db::DbConfig, telemetry::LogFormat};

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: String },
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid { name: String, value: String, reason: String },
}

/// A snapshot of environment variables. Services read the process
/// environment; tests build one from pairs without touching global state.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self(std::env::vars().collect())
    }

    /// An environment made of the given pairs only.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The raw value, if set.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A string value, or `default` when unset.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    /// A required string value.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        match self.raw(name) {
            Some(v) if !v.trim().is_empty() => Ok(v.to_owned()),
            _ => Err(ConfigError::Missing { name: name.into() }),
        }
    }

    /// A secret given as `<NAME>_FILE` (the path of a file holding it, as
    /// Compose and Kubernetes mount secrets; surrounding whitespace is
    /// dropped) or as `<NAME>` itself, at most one of the two; `None` when
    /// neither is set. Errors name the variable, never the value.
    pub fn file_or_value(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let file_var = format!("{name}_FILE");
        let file = self.raw(&file_var).map(str::trim).filter(|s| !s.is_empty());
        let value = self.raw(name).map(str::trim).filter(|s| !s.is_empty());
        let invalid = |var: &str, reason: String| invalid(var, "<redacted>", reason);
        match (file, value) {
            (Some(_), Some(_)) => Err(invalid(name, format!("set {file_var} or {name}, not both"))),
            (Some(path), None) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid(&file_var, format!("cannot read {path}: {e}")))?;
                match text.trim() {
                    "" => Err(invalid(&file_var, format!("{path} is empty"))),
                    text => Ok(Some(text.to_owned())),
                }
            }
            (None, value) => Ok(value.map(str::to_owned)),
        }
    }

    /// A parsed value, or `default` when unset or empty.
    pub fn parse<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|e: T::Err| invalid(name, v, e)),
        }
    }

    /// A duration given in milliseconds (`*_MS` variables).
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parse(name, default.as_millis() as u64).map(Duration::from_millis)
    }

    /// A duration given in seconds (`*_SECS` variables).
    pub fn secs(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parse(name, default.as_secs()).map(Duration::from_secs)
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.raw(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "" => Ok(default),
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(invalid(name, &v, "expected true or false")),
            },
        }
    }

    /// A comma-separated list of parsed values; empty when unset.
    pub fn list<T>(&self, name: &str) -> Result<Vec<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|e: T::Err| invalid(name, s, e)))
            .collect()
    }

    /// An `http(s)://` base URL.
    /// A value read by `read` (e.g. [`Env::parse`], [`Env::millis`]) that
    /// must not be zero: a zero timeout, limit or threshold would disable
    /// what it configures.
    pub fn nonzero<T: PartialEq + Default>(
        &self,
        name: &str,
        read: impl FnOnce(&Self, &str) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        let value = read(self, name)?;
        if value == T::default() {
            return Err(invalid(name, self.raw(name).unwrap_or("0"), "must be greater than zero"));
        }
        Ok(value)
    }

    /// A retention in days (`*_RETENTION_DAYS`), at least one.
    pub fn retention_days(&self, name: &str, default_days: u64) -> Result<Duration, ConfigError> {
        self.nonzero(name, |e, n| e.parse(n, default_days)).map(|d| Duration::from_secs(d * 86_400))
    }

    pub fn url(&self, name: &str, default: &str) -> Result<url::Url, ConfigError> {
        let raw = self.string(name, default);
        let url = url::Url::parse(&raw).map_err(|e| invalid(name, &raw, e))?;
        match url.scheme() {
            "http" | "https" if url.host().is_some() => Ok(url),
            _ => Err(invalid(name, &raw, "expected an http:// or https:// URL with a host")),
        }
    }
}

pub(crate) fn invalid(name: &str, value: &str, reason: impl Display) -> ConfigError {
    ConfigError::Invalid { name: name.into(), value: value.into(), reason: reason.to_string() }
}

/// Settings every service has. Variables:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `HOST` | `127.0.0.1` | address to listen on (`0.0.0.0` in containers) |
/// | `PORT` | the service's port (services.toml) | TCP port |
/// | `DATABASE_URL` | `postgres://<svc>:<svc>@127.0.0.1:5432/<its database>` | the service's own database |
/// | `DATABASE_URL_FILE` | unset | a file holding `DATABASE_URL` (a mounted secret); not both |
/// | `DATABASE_MAX_CONNECTIONS` | `10` | pool size |
/// | `DATABASE_CONNECT_TIMEOUT_SECS` | `30` | how long start-up waits for PostgreSQL |
/// | `LOG_FORMAT` | `text` | `text` or `json` |
/// | `RUST_LOG` | `info` | log filter |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT` | empty | OTLP/HTTP collector base URL (spans go to `/v1/traces`); empty disables export |
/// | `OTEL_SERVICE_NAME` | the service's name | service name on spans |
/// | `SHUTDOWN_GRACE_SECS` | `10` | how long in-flight requests may finish after SIGTERM |
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub service: String,
    pub host: IpAddr,
    pub port: u16,
    pub database: DbConfig,
    pub log_format: LogFormat,
    pub otlp_endpoint: Option<String>,
    pub shutdown_grace: Duration,
}

impl CommonConfig {
    /// The service `service` of services.toml: its port and database are the defaults.
    pub fn for_service(env: &Env, service: &str) -> Result<Self, ConfigError> {
        let described = catalog::service(service);
        // A web service has no database: its default is never connected to.
        let database = described.database.as_deref().unwrap_or(service);
        Self::with_defaults(env, service, described.port, database)
    }

    /// A service's configuration with its defaults given (`<service>_db` for the database).
    pub fn from_env(env: &Env, service: &str, default_port: u16) -> Result<Self, ConfigError> {
        Self::with_defaults(env, service, default_port, &format!("{service}_db"))
    }

    fn with_defaults(env: &Env, service: &str, default_port: u16, database: &str) -> Result<Self, ConfigError> {
        let default_db = format!("postgres://{service}:{service}@127.0.0.1:5432/{database}");
        let otlp = env.string("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        Ok(Self {
            service: env.string("OTEL_SERVICE_NAME", service),
            host: env.parse("HOST", IpAddr::from([127, 0, 0, 1]))?,
            port: env.parse("PORT", default_port)?,
            database: DbConfig {
                url: crate::db::parse_url(&env.file_or_value("DATABASE_URL")?.unwrap_or(default_db))
                    .map_err(|e| invalid("DATABASE_URL", "<redacted>", e))?,
                max_connections: env.nonzero("DATABASE_MAX_CONNECTIONS", |e, n| e.parse(n, 10))?,
                connect_timeout: env
                    .nonzero("DATABASE_CONNECT_TIMEOUT_SECS", |e, n| e.secs(n, Duration::from_secs(30)))?,
            },
            log_format: env.parse("LOG_FORMAT", LogFormat::Text)?,
            otlp_endpoint: (!otlp.trim().is_empty()).then(|| otlp.trim().to_owned()),
            shutdown_grace: env.secs("SHUTDOWN_GRACE_SECS", Duration::from_secs(10))?,
        })
    }

    /// The socket address to listen on.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        (self.host, self.port).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonzero_refuses_zero_and_names_the_variable() {
        let env = Env::from_pairs([("LIMIT", "0"), ("WAIT_MS", "0"), ("OK", "3")]);
        for err in [
            env.nonzero("LIMIT", |e, n| e.parse(n, 5u32)).unwrap_err(),
            env.nonzero("WAIT_MS", |e, n| e.millis(n, Duration::from_secs(1))).unwrap_err(),
        ] {
            assert!(err.to_string().contains("must be greater than zero"), "{err}");
        }
        assert!(env.nonzero("LIMIT", |e, n| e.parse(n, 5u32)).unwrap_err().to_string().contains("LIMIT"));
        assert_eq!(env.nonzero("OK", |e, n| e.parse(n, 5u32)).unwrap(), 3);
        assert_eq!(env.nonzero("UNSET", |e, n| e.parse(n, 5u32)).unwrap(), 5);
    }

    #[test]
    fn defaults_fit_local_use() {
        let c = CommonConfig::from_env(&Env::default(), "greeter", 8080).unwrap();
        assert_eq!(c.listen_addr().to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.url.database, "greeter_db");
        assert!(c.otlp_endpoint.is_none());
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let env = Env::from_pairs([("PORT", "eighty")]);
        let err = CommonConfig::from_env(&env, "greeter", 8080).unwrap_err().to_string();
        assert!(err.contains("PORT") && err.contains("eighty"), "{err}");

        let env = Env::from_pairs([("LOG_FORMAT", "xml")]);
        let err = CommonConfig::from_env(&env, "greeter", 8080).unwrap_err().to_string();
        assert!(err.contains("LOG_FORMAT"), "{err}");
    }

    #[test]
    fn pool_sizes_and_timeouts_must_be_positive() {
        for name in ["DATABASE_MAX_CONNECTIONS", "DATABASE_CONNECT_TIMEOUT_SECS"] {
            let err = CommonConfig::from_env(&Env::from_pairs([(name, "0")]), "greeter", 8080).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("greater than zero"), "{err}");
        }
    }

    #[test]
    fn database_url_errors_never_echo_the_password() {
        let env = Env::from_pairs([("DATABASE_URL", "mysql://u:hunter2@h/db")]);
        let err = CommonConfig::from_env(&env, "greeter", 8080).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn database_url_from_a_file() {
        let dir = std::env::temp_dir().join(format!("platform-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("url");
        std::fs::write(&file, "postgres://greeter:s3cret@db:5432/greeter_db\n").unwrap();
        let path = file.to_str().unwrap();

        let c = CommonConfig::from_env(&Env::from_pairs([("DATABASE_URL_FILE", path)]), "greeter", 8080).unwrap();
        assert_eq!(c.database.url.options.get_host(), "db");
        assert_eq!(c.database.url.redacted(), "postgres://greeter:***@db:5432/greeter_db");

        let both = Env::from_pairs([("DATABASE_URL_FILE", path), ("DATABASE_URL", "postgres://u:hunter2@h/db")]);
        let err = CommonConfig::from_env(&both, "greeter", 8080).unwrap_err().to_string();
        assert!(err.contains("not both") && !err.contains("hunter2") && !err.contains("s3cret"), "{err}");

        std::fs::write(&file, " \n").unwrap();
        let err = CommonConfig::from_env(&Env::from_pairs([("DATABASE_URL_FILE", path)]), "greeter", 8080)
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL_FILE") && err.contains("is empty"), "{err}");

        let missing = Env::from_pairs([("DATABASE_URL_FILE", "/nonexistent/platform/url")]);
        let err = CommonConfig::from_env(&missing, "greeter", 8080).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL_FILE") && err.contains("cannot read"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn empty_otlp_endpoint_disables_export() {
        let env = Env::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]);
        assert!(CommonConfig::from_env(&env, "x", 1).unwrap().otlp_endpoint.is_none());
    }

    #[test]
    fn flags_and_lists() {
        let env = Env::from_pairs([("A", "yes"), ("B", "maybe"), ("L", "1, 2,,3")]);
        assert!(env.flag("A", false).unwrap());
        assert!(env.flag("B", false).unwrap_err().to_string().contains("B"));
        assert_eq!(env.list::<u8>("L").unwrap(), vec![1, 2, 3]);
        assert!(env.required("NOPE").unwrap_err().to_string().contains("NOPE"));
    }
}
