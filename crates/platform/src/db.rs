//! PostgreSQL: a connection pool with the service's own migrations applied
//! at start.

use std::{fmt, time::Duration};

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// Where and how to connect. The URL's password is kept out of `Debug`.
#[derive(Clone)]
pub struct DbConfig {
    pub url: DbUrl,
    pub max_connections: u32,
    /// How long start-up keeps retrying while PostgreSQL is not yet reachable.
    pub connect_timeout: Duration,
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &self.url.redacted())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A parsed `postgres://` URL.
#[derive(Clone)]
pub struct DbUrl {
    pub options: PgConnectOptions,
    pub database: String,
    raw: url::Url,
}

impl DbUrl {
    /// The URL with its password replaced, safe to log.
    pub fn redacted(&self) -> String {
        let mut u = self.raw.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some("***"));
        }
        u.to_string()
    }
}

/// Parses a `postgres://` URL; the error never contains the URL itself.
pub fn parse_url(raw: &str) -> Result<DbUrl, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err("expected a postgres:// URL".into());
    }
    let options: PgConnectOptions = raw.parse().map_err(|_| "not a valid PostgreSQL URL".to_owned())?;
    let database = url.path().trim_start_matches('/').to_owned();
    if database.is_empty() {
        return Err("the URL names no database".into());
    }
    Ok(DbUrl { options, database, raw: url })
}

/// One migrator from several (a service's own and those of the shared
/// crates whose tables it holds), in version order: run once, under sqlx's
/// advisory lock, it owns the whole database. sqlx applies any migration not
/// yet applied, an older version after newer ones included.
pub fn merge(migrators: &[&Migrator]) -> Migrator {
    let mut migrations: Vec<_> = migrators.iter().flat_map(|m| m.migrations.iter().cloned()).collect();
    migrations.sort_by_key(|m| m.version);
    Migrator { migrations: std::borrow::Cow::Owned(migrations), ..Migrator::DEFAULT }
}

/// Connects, waiting up to `connect_timeout` for PostgreSQL to accept
/// connections, then applies `migrator`. sqlx takes an advisory lock while
/// migrating, so several replicas starting at once are safe.
pub async fn connect(config: &DbConfig, migrator: &Migrator) -> anyhow::Result<PgPool> {
    let deadline = tokio::time::Instant::now() + config.connect_timeout;
    let mut backoff = Duration::from_millis(50);
    let pool = loop {
        let attempt = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(config.url.options.clone())
            .await;
        match attempt {
            Ok(pool) => break pool,
            Err(e) if tokio::time::Instant::now() + backoff < deadline => {
                tracing::warn!(database = %config.url.redacted(), error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                anyhow::bail!("could not connect to {} within {:?}: {e}", config.url.redacted(), config.connect_timeout)
            }
        }
    };
    migrator.run(&pool).await.map_err(|e| anyhow::anyhow!("migrating {} failed: {e}", config.url.database))?;
    tracing::info!(database = %config.url.redacted(), "database ready");
    Ok(pool)
}

/// Whether the database answers a trivial query within `timeout`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(pool)).await, Ok(Ok(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let u = parse_url("postgres://greeter:s3cret@db:5432/greeter_db").unwrap();
        assert_eq!(u.database, "greeter_db");
        assert!(!u.redacted().contains("s3cret"));
        assert!(
            !format!("{:?}", DbConfig { url: u, max_connections: 1, connect_timeout: Duration::ZERO })
                .contains("s3cret")
        );
    }

    #[test]
    fn refuses_urls_without_a_database() {
        assert!(parse_url("postgres://localhost").is_err());
        assert!(parse_url("http://localhost/db").is_err());
    }
}
