//! `Idempotency-Key` for writes, after the IETF draft
//! (draft-ietf-httpapi-idempotency-key-header): a client that retries a
//! write with the same key gets the first outcome instead of a second
//! execution.
//!
//! - **Where the record lives.** In the service's own database
//!   (`idempotency_keys`, this crate's migration, run with the service's by
//!   [`platform::db::merge`]), written in the same transaction as the write it
//!   protects: [`Idempotency::begin`] claims the key inside a transaction,
//!   the handler writes through [`Write::conn`], and [`Write::commit`]
//!   records the outcome and commits. A crash leaves both or neither.
//! - **Repeats.** Same key and same request: the stored outcome
//!   ([`Begun::Replay`]). Same key, another request: [`Refused::Mismatch`]
//!   (HTTP 422). While the first is still running, a repeat waits on its
//!   row lock, up to the request's deadline (or [`Config::max_wait`]), and
//!   then gets the outcome or [`Refused::InProgress`] (HTTP 409); it never
//!   runs the write a second time. A first attempt that fails commits
//!   nothing, so its retry runs again.
//! - **What is stored.** Neither key, scope nor body: the row is named by a
//!   hash of scope and key, and requests are compared by an HMAC of method,
//!   path and body keyed by the key ([`Key::request`]). Outcomes are what
//!   the handler chooses to replay; credential routes keep a status and a
//!   user id, never a token or password.
//! - **Retention.** Outcomes expire after [`Config::retention`] (24 h by
//!   default); an expired key is free for a new request, and
//!   [`Idempotency::prune`] deletes expired rows in the background.
//! - **Scope.** Keys belong to a [`Scope`]: the verified subject (a user or
//!   a service), or an anonymous client's address.

mod inflight;
mod key;
pub mod rest;

#[cfg(feature = "grpc")]
pub mod grpc;

use std::time::Duration;

use platform::{ConfigError, Env, retention::Prune};
use sqlx::{PgConnection, PgPool, Postgres, Transaction, migrate::Migrator};

pub use key::{Key, KeyError, MAX_LEN, MIN_LEN, Request, Scope};

/// The header (REST) and metadata key (gRPC, Connect) a key arrives in.
pub const HEADER: &str = "idempotency-key";
/// Set (to `true`) on a replayed answer's headers or metadata.
pub const REPLAYED: &str = "idempotent-replayed";

/// This crate's table.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// | variable | default | meaning |
/// |---|---|---|
/// | `IDEMPOTENCY_RETENTION_SECS` | `86400` | how long an outcome is replayed; then the key is free and the row pruned |
/// | `IDEMPOTENCY_MAX_WAIT_MS` | `10000` | longest a repeat waits for the first attempt when its request has no deadline |
#[derive(Debug, Clone)]
pub struct Config {
    pub retention: Duration,
    pub max_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config { retention: Duration::from_secs(24 * 3600), max_wait: Duration::from_secs(10) }
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let default = Config::default();
        Ok(Config {
            retention: env.nonzero("IDEMPOTENCY_RETENTION_SECS", |e, n| e.secs(n, default.retention))?,
            max_wait: env.nonzero("IDEMPOTENCY_MAX_WAIT_MS", |e, n| e.millis(n, default.max_wait))?,
        })
    }
}

/// What a repeat is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// An HTTP status, or a gRPC code.
    pub status: i32,
    /// The answer's bytes as the handler chose to keep them.
    pub body: Vec<u8>,
}

/// Why a keyed request is not run.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("this idempotency key was already used with a different request; send a new key for a new request")]
    Mismatch,
    #[error("a request with this idempotency key is still in progress; retry it with the same key later")]
    InProgress,
    #[error("the idempotency store is unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// What [`Idempotency::begin`] found.
pub enum Begun {
    /// The key's first request completed before: answer with this.
    Replay(Outcome),
    /// Run the write through this, then [`Write::commit`].
    Write(Write),
}

/// The keyed records of one service's database.
#[derive(Clone)]
pub struct Idempotency {
    pool: PgPool,
    config: Config,
    inflight: inflight::Inflight,
}

/// PostgreSQL's `lock_not_available`: `lock_timeout` ran out.
const LOCK_NOT_AVAILABLE: &str = "55P03";

impl Idempotency {
    pub fn new(pool: PgPool, config: Config) -> Idempotency {
        Idempotency { pool, config, inflight: inflight::Inflight::default() }
    }

    /// The pruning job for [`platform::Server::with_retention`].
    pub fn prune() -> Prune {
        Prune::new("idempotency_keys", "expires_at", Duration::ZERO)
    }

    /// A write sent without a key: a plain transaction, committed by
    /// [`Write::commit`] with no record.
    pub async fn unkeyed(&self) -> sqlx::Result<Write> {
        Ok(Write { tx: self.pool.begin().await?, id: None, _turn: None })
    }

    /// Starts a write: with no key, a plain transaction; with one, the
    /// transaction claims it first, or the stored outcome is returned.
    pub async fn begin(&self, request: Option<&Request>) -> Result<Begun, Refused> {
        let Some(request) = request else { return Ok(Begun::Write(self.unkeyed().await?)) };
        // Waiting for a first attempt ends with the request's own deadline.
        let wait = platform::deadline::remaining().map_or(self.config.max_wait, |left| left.min(self.config.max_wait));
        let until = tokio::time::Instant::now() + wait;
        // Repeats in this process wait here, holding no connection: a burst
        // of them cannot take the pool the first attempt still needs.
        let turn =
            tokio::time::timeout_at(until, self.inflight.turn(request.id)).await.map_err(|_| Refused::InProgress)?;
        let mut tx = self.pool.begin().await?;
        // Then on the row lock, for an attempt in another process; lock_timeout
        // 0 would mean forever, hence at least 1 ms.
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        sqlx::query(&format!("SET LOCAL lock_timeout = {}", left.as_millis().max(1))).execute(&mut *tx).await?;
        // A row can expire or be pruned between the two statements; then claim again.
        for _ in 0..3 {
            let claimed = sqlx::query_scalar::<_, bool>(
                "INSERT INTO idempotency_keys (id, fingerprint, status, body, expires_at)
                 VALUES ($1, $2, 0, '', now() + make_interval(secs => $3))
                 ON CONFLICT (id) DO UPDATE
                   SET fingerprint = EXCLUDED.fingerprint, status = 0, body = '',
                       created_at = now(), expires_at = EXCLUDED.expires_at
                   WHERE idempotency_keys.expires_at <= now()
                 RETURNING true",
            )
            .bind(&request.id[..])
            .bind(&request.fingerprint[..])
            .bind(self.config.retention.as_secs_f64())
            .fetch_optional(&mut *tx)
            .await
            .map_err(in_progress)?;
            if claimed.is_some() {
                // The write itself is not bound by the wait.
                sqlx::query("SET LOCAL lock_timeout TO DEFAULT").execute(&mut *tx).await?;
                return Ok(Begun::Write(Write { tx, id: Some(request.id), _turn: Some(turn) }));
            }
            let stored: Option<(Vec<u8>, i32, Vec<u8>)> = sqlx::query_as(
                "SELECT fingerprint, status, body FROM idempotency_keys WHERE id = $1 AND expires_at > now()",
            )
            .bind(&request.id[..])
            .fetch_optional(&mut *tx)
            .await
            .map_err(in_progress)?;
            if let Some((fingerprint, status, body)) = stored {
                return if fingerprint == request.fingerprint {
                    Ok(Begun::Replay(Outcome { status, body }))
                } else {
                    Err(Refused::Mismatch)
                };
            }
        }
        Err(Refused::InProgress)
    }
}

fn in_progress(e: sqlx::Error) -> Refused {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => Refused::InProgress,
        _ => Refused::Store(e),
    }
}

/// A write in progress: its transaction, holding the key's claim if it has
/// one. Dropped without [`Write::commit`], it rolls back and frees the key.
pub struct Write {
    tx: Transaction<'static, Postgres>,
    id: Option<[u8; 32]>,
    /// This process's turn at the key, held until the write ends.
    _turn: Option<inflight::Turn>,
}

impl Write {
    /// The transaction to write through (`conn.begin()` on it makes a
    /// savepoint, so store functions that open their own transaction nest).
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Whether a key was claimed (so [`Write::commit`] stores an outcome).
    pub fn is_keyed(&self) -> bool {
        self.id.is_some()
    }

    /// Records `outcome` for the key, if any, and commits with the write.
    pub async fn commit(mut self, outcome: impl FnOnce() -> Outcome) -> sqlx::Result<()> {
        if let Some(id) = self.id {
            let outcome = outcome();
            sqlx::query("UPDATE idempotency_keys SET status = $2, body = $3 WHERE id = $1")
                .bind(&id[..])
                .bind(outcome.status)
                .bind(&outcome.body)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await
    }
}
