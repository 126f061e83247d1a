//! `gateway_db`: one row per request served, summarised per method; the
//! user projection's table is written by [`crate::projection`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

static OWN_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// gateway's tables and the events crate's (the consumers' inbox).
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| platform::db::merge(&[&OWN_MIGRATIONS, &events::MIGRATOR]));

/// A request the gateway served.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub method: &'static str,
    /// Upstreams called while serving it, comma-separated; empty for none.
    pub upstream: String,
    /// gRPC status name (`ok`, `invalid_argument`, …).
    pub status: &'static str,
    pub latency_ms: f64,
    pub at: DateTime<Utc>,
}

/// Counts and latency percentiles of one method.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MethodSummary {
    pub method: String,
    pub requests: i64,
    pub errors: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Writes `records` with one statement: each column travels as one array
    /// parameter and `UNNEST` turns them back into rows.
    pub async fn insert(&self, records: &[Record]) -> sqlx::Result<()> {
        let mut methods = Vec::with_capacity(records.len());
        let mut upstreams = Vec::with_capacity(records.len());
        let mut statuses = Vec::with_capacity(records.len());
        let mut latencies = Vec::with_capacity(records.len());
        let mut ats = Vec::with_capacity(records.len());
        for r in records {
            methods.push(r.method);
            upstreams.push(r.upstream.as_str());
            statuses.push(r.status);
            latencies.push(r.latency_ms);
            ats.push(r.at);
        }
        sqlx::query(
            "INSERT INTO request_metrics (method, upstream, status, latency_ms, at)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[])",
        )
        .bind(methods)
        .bind(upstreams)
        .bind(statuses)
        .bind(latencies)
        .bind(ats)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Per-method counts, errors (any status but `ok`) and latency
    /// percentiles of the requests served within the last `window`; the
    /// query is cancelled by the database past `timeout`.
    pub async fn summaries(&self, window: Duration, timeout: Duration) -> sqlx::Result<Vec<MethodSummary>> {
        let mut tx = self.pool.begin().await?;
        // SET takes no bind parameters; the value is a number we format.
        sqlx::query(&format!("SET LOCAL statement_timeout = {}", timeout.as_millis().max(1))).execute(&mut *tx).await?;
        let rows = sqlx::query_as(
            "SELECT method,
                    count(*) AS requests,
                    count(*) FILTER (WHERE status <> 'ok') AS errors,
                    percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) AS p50_ms,
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_ms,
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_ms
             FROM request_metrics
             WHERE at >= now() - make_interval(secs => $1)
             GROUP BY method
             ORDER BY method",
        )
        .bind(window.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Deletes records older than `retention`; how many went.
    pub async fn delete_older_than(&self, retention: Duration) -> sqlx::Result<u64> {
        let done = sqlx::query("DELETE FROM request_metrics WHERE at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
