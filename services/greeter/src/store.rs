//! `greeter_db`: greetings.

use chrono::{DateTime, Utc};
use events::{outbox, subjects, v1};
use platform_rpc::pagination::{Cursor, PageRequest};
use prost::Message;
use sqlx::{PgConnection, PgPool};

/// greeter_db's migrations: greeter's own and the idempotency keys' table.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| platform::db::merge(&[&OWN_MIGRATIONS, &idempotency::MIGRATOR, &events::MIGRATOR]));
static OWN_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

    /// Stores a greeting with its event.
    pub async fn insert(&self, g: &NewGreeting<'_>) -> sqlx::Result<GreetingRow> {
        let mut tx = self.pool.begin().await?;
        let row = insert(&mut tx, g).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Stores `greetings` of one owner together, with their events: all of
    /// them, or none.
    pub async fn insert_many(&self, greetings: &[NewGreeting<'_>]) -> sqlx::Result<Vec<GreetingRow>> {
        let mut tx = self.pool.begin().await?;
        let mut rows = Vec::with_capacity(greetings.len());
        for g in greetings {
            rows.push(insert(&mut tx, g).await?);
        }
        tx.commit().await?;
        Ok(rows)
    }

    /// The greeting `id`, if it is (still) stored.
    pub async fn get(&self, id: i64) -> sqlx::Result<Option<GreetingRow>> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM greetings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
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

/// Stores one greeting and its `greeting.created` event through `conn`,
/// which must be in a transaction (the caller's): both commit, or neither.
pub async fn insert(conn: &mut PgConnection, g: &NewGreeting<'_>) -> sqlx::Result<GreetingRow> {
    let row: GreetingRow = sqlx::query_as(&format!(
        "INSERT INTO greetings (owner, name, greeting, url, external_status, external_error)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(g.owner)
    .bind(g.name)
    .bind(g.greeting)
    .bind(g.url)
    .bind(g.external_status)
    .bind(g.external_error)
    .fetch_one(&mut *conn)
    .await?;
    let created = v1::GreetingCreated {
        greeting_id: row.id,
        owner: g.owner.to_owned(),
        name: row.name.clone(),
        external_status: row.external_status.unwrap_or(0),
        created_at: Some(outbox::timestamp(row.created_at)),
    };
    let id = row.id.to_string();
    let data = created.encode_to_vec();
    outbox::enqueue(conn, &outbox::Event::new(subjects::GREETING_CREATED, "/greeter", Some(&id), &data)).await?;
    Ok(row)
}

/// Removes every greeting `owner` made, and ends every replica's watches of
/// them when the transaction commits (the account-deletion saga); how many
/// greetings went.
pub async fn delete_owner(conn: &mut PgConnection, owner: &str) -> sqlx::Result<i64> {
    let removed = sqlx::query("DELETE FROM greetings WHERE owner = $1").bind(owner).execute(&mut *conn).await?;
    crate::watch::notify_deleted(conn, owner).await?;
    Ok(i64::try_from(removed.rows_affected()).unwrap_or(i64::MAX))
}

/// greeter's part in deleting an account: [`delete_owner`].
pub fn remove_user() -> events::deletion::Remove {
    Box::new(|conn, user_id| Box::pin(async move { delete_owner(conn, user_id).await.map_err(|e| e.to_string()) }))
}
