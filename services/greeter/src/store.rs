//! `greeter_db`: greetings.

use chrono::{DateTime, Utc};
use platform_rpc::pagination::{Cursor, PageRequest};
use sqlx::PgPool;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, sqlx::FromRow)]
pub struct GreetingRow {
    pub id: i64,
    pub name: String,
    pub greeting: String,
    pub url: String,
    pub external_status: Option<i32>,
    pub external_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub struct NewGreeting<'a> {
    /// The user who made it.
    pub owner: &'a str,
    pub name: &'a str,
    pub greeting: &'a str,
    pub url: &'a str,
    pub external_status: Option<i32>,
    pub external_error: Option<&'a str>,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

const COLUMNS: &str = "id, name, greeting, url, external_status, external_error, created_at";

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn insert(&self, g: &NewGreeting<'_>) -> sqlx::Result<GreetingRow> {
        sqlx::query_as(&format!(
            "INSERT INTO greetings (owner, name, greeting, url, external_status, external_error)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(g.owner)
        .bind(g.name)
        .bind(g.greeting)
        .bind(g.url)
        .bind(g.external_status)
        .bind(g.external_error)
        .fetch_one(&self.pool)
        .await
    }

    /// A page of `owner`'s greetings (everyone's when `None`), newest
    /// first, and the next page's token.
    pub async fn list(&self, owner: Option<&str>, page: &PageRequest) -> sqlx::Result<(Vec<GreetingRow>, String)> {
        let mut rows: Vec<GreetingRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM greetings WHERE (created_at, id) < ($1, $2) AND ($4::text IS NULL OR owner = $4)
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(page.before_time())
        .bind(page.before_id())
        .bind(page.limit())
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        let token = page.finish(&mut rows, |r| Cursor { created_at: r.created_at, id: r.id });
        Ok((rows, token))
    }
}
