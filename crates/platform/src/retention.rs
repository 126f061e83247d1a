//! Deleting rows past their retention, in the background.
//!
//! Every table that grows with use has a retention. A service lists what
//! to prune ([`Prune`]); one task per service deletes, at start and then
//! every interval, in batches (so no delete holds many locks or a long
//! transaction), each batch under its own statement timeout. It is shared
//! work: no request waits for it, and a failing database only logs.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;

/// How often services prune.
pub const EVERY: Duration = Duration::from_secs(3600);
/// Rows deleted per statement.
const BATCH: i64 = 1000;
/// Longest one batch may take.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows of `table` whose `column` (a timestamp) is older than `keep`.
#[derive(Debug, Clone)]
pub struct Prune {
    /// Table, column and condition are SQL written in the service's code, never input.
    pub table: &'static str,
    pub column: &'static str,
    pub keep: Duration,
    /// A further condition rows must meet to go.
    pub and: Option<&'static str>,
}

impl Prune {
    pub const fn new(table: &'static str, column: &'static str, keep: Duration) -> Self {
        Self { table, column, keep, and: None }
    }

    /// Only rows that also meet `condition` (SQL over `table`'s columns).
    pub const fn and(mut self, condition: &'static str) -> Self {
        self.and = Some(condition);
        self
    }

    /// Deletes one batch; how many rows went.
    async fn batch(&self, pool: &PgPool) -> sqlx::Result<u64> {
        let mut tx = pool.begin().await?;
        sqlx::query(&format!("SET LOCAL statement_timeout = {}", STATEMENT_TIMEOUT.as_millis()))
            .execute(&mut *tx)
            .await?;
        let (table, column) = (self.table, self.column);
        let and = self.and.map(|c| format!(" AND ({c})")).unwrap_or_default();
        let deleted = sqlx::query(&format!(
            "DELETE FROM {table} WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM {table} WHERE {column} < now() - make_interval(secs => $1){and} LIMIT $2))"
        ))
        .bind(self.keep.as_secs_f64())
        .bind(BATCH)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes every row past retention; how many went.
    pub async fn run(&self, pool: &PgPool) -> sqlx::Result<u64> {
        let mut total = 0;
        loop {
            let n = self.batch(pool).await?;
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }
}

/// Runs `jobs` now and every `every`, in a task of its own.
pub fn spawn(pool: PgPool, every: Duration, jobs: Vec<Prune>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for job in &jobs {
                match job.run(&pool).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(table = job.table, deleted = n, "deleted rows past retention"),
                    Err(e) => tracing::warn!(table = job.table, error = %e, "deleting rows past retention failed"),
                }
            }
        }
    })
}
