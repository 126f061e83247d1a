//! `caller_db`: the call history.

use chrono::{DateTime, Utc};
use events::{outbox, subjects, v1};
use platform_rpc::pagination::{Cursor, PageRequest};
use prost::Message;
use sqlx::PgPool;

/// caller_db's migrations: caller's own and the events' outbox.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| platform::db::merge(&[&OWN_MIGRATIONS, &events::MIGRATOR]));
static OWN_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A call to record, owned so a recording task can outlive the request.
pub struct NewCall {
    pub url: String,
    pub method: &'static str,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub content_length: i64,
    pub content_type: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct CallRow {
    pub id: i64,
    pub url: String,
    pub method: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub content_length: i64,
    pub content_type: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Records the call and announces it (`call.completed`) in one transaction.
    pub async fn record(&self, c: &NewCall) -> sqlx::Result<i64> {
        let mut tx = self.pool.begin().await?;
        let (id, at): (i64, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO calls (url, method, status_code, error, duration_ms, content_length, content_type)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at",
        )
        .bind(&c.url)
        .bind(c.method)
        .bind(c.status_code)
        .bind(&c.error)
        .bind(c.duration_ms)
        .bind(c.content_length)
        .bind(&c.content_type)
        .fetch_one(&mut *tx)
        .await?;
        let completed = v1::CallCompleted {
            call_id: id,
            url: c.url.clone(),
            method: c.method.to_owned(),
            status_code: c.status_code.unwrap_or(0),
            error: c.error.clone().unwrap_or_default(),
            duration_ms: c.duration_ms,
            completed_at: Some(outbox::timestamp(at)),
        };
        let data = completed.encode_to_vec();
        let about = id.to_string();
        outbox::enqueue(&mut tx, &outbox::Event::new(subjects::CALL_COMPLETED, "/caller", Some(&about), &data)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A page of calls, newest first, and the next page's token.
    pub async fn list(&self, page: &PageRequest) -> sqlx::Result<(Vec<CallRow>, String)> {
        let mut rows: Vec<CallRow> = sqlx::query_as(
            "SELECT id, url, method, status_code, error, duration_ms, content_length, content_type, created_at
             FROM calls WHERE (created_at, id) < ($1, $2)
             ORDER BY created_at DESC, id DESC LIMIT $3",
        )
        .bind(page.before_time())
        .bind(page.before_id())
        .bind(page.limit())
        .fetch_all(&self.pool)
        .await?;
        let token = page.finish(&mut rows, |r| Cursor { created_at: r.created_at, id: r.id });
        Ok((rows, token))
    }
}
