//! An audit log of admin actions, in a service's own database: who did
//! what to which target, and when. Each record is written in the same
//! transaction as the change it describes, so a change is never left
//! unrecorded. The table (`audit_log`, created by the service's migration):
//!
//! ```sql
//! CREATE TABLE audit_log (
//!     id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now(),
//!     actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
//!     detail JSONB NOT NULL DEFAULT '{}');
//! ```
//!
//! `detail` travels as JSON text, which keeps sqlx's JSON support out of
//! the build.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};

/// Records an action in `tx`.
pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    actor: &str,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4::jsonb)")
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

/// The newest records, older than the id `query.before` when given.
pub async fn list(pool: &PgPool, query: &AuditQuery) -> sqlx::Result<AuditLog> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor, action, target, detail::text AS detail FROM audit_log
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(query.before.unwrap_or(i64::MAX))
    .bind(query.limit.unwrap_or(50).clamp(1, 200))
    .fetch_all(pool)
    .await?;
    let entries = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: serde_json::from_str(&r.detail).unwrap_or_default(),
        })
        .collect();
    Ok(AuditLog { entries })
}

/// Paging through the audit log.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many records (default 50, at most 200).
    pub limit: Option<i64>,
    /// Records older than this id (for paging).
    pub before: Option<i64>,
}

/// One admin action.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A user id, or `operator` for a service's operator commands.
    pub actor: String,
    /// e.g. `role.granted`, `translation.put`.
    pub action: String,
    /// What the action was on: a user id, `<language>/<key>`.
    pub target: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
}
