//! Deleting an account: a saga across the services that hold a user's data
//! (greeter: greetings and their watches; lang: the language preference;
//! gateway: the projection entry), coordinated here.
//!
//! 1. [`start`] (`DELETE /auth/me`, or an admin's `DELETE`) records the
//!    deletion with a pending step per participant, revokes the user's
//!    sessions and puts `user.deletion_requested` in the outbox, in one
//!    transaction. Logging in is refused from then on.
//! 2. Each participant removes the data and answers `user_data.deleted`, or
//!    `user_data.deletion_failed` once it gives up ([`events::deletion`]).
//!    [`answers`] consumes the answers and marks the steps.
//! 3. When every step is done the account is deleted and `user.deleted`
//!    published, in the transaction that records the last answer. When a
//!    step failed and none is pending, the deletion stops as failed, showing
//!    what was and was not deleted, until an admin retries it ([`retry`]).
//!    The account is never deleted with a participant's data left behind.
//! 4. [`spawn_retrier`] (a task of its own, never inside a request) asks the
//!    participants that have not answered again, with exponential backoff,
//!    and after `DELETION_MAX_ATTEMPTS` requests marks them failed.
//!
//! Answers for one user take the deletion row's lock, so two last answers
//! arriving together cannot both miss that they were the last.

use std::time::Duration;

use chrono::{DateTime, Utc};
use events::{
    consumer::{self, Consumer, Handler},
    envelope::CloudEvent,
    outbox::{self, Event},
    subjects, v1,
};
use platform::{ConfigError, Env, retention::Prune};
use prost::Message;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use crate::store::{self, EVENT_SOURCE, is_uuid};

/// The services that hold a user's data, each answering for its own.
pub const PARTICIPANTS: &[&str] = &["greeter", "lang", "gateway"];

/// | variable | default | meaning |
/// |---|---|---|
/// | `DELETION_RETRY_SECS` | `30` | wait before asking a silent participant again; doubles each time, up to an hour |
/// | `DELETION_MAX_ATTEMPTS` | `8` | requests before a silent participant counts as failed (about 2 hours at the defaults) |
/// | `DELETION_RETENTION_DAYS` | `30` | how long a completed deletion's record is kept |
#[derive(Debug, Clone)]
pub struct Config {
    pub retry: Duration,
    pub max_attempts: i32,
    pub retention: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        Ok(Config {
            retry: env.nonzero("DELETION_RETRY_SECS", |e, n| e.secs(n, Duration::from_secs(30)))?,
            max_attempts: env.nonzero("DELETION_MAX_ATTEMPTS", |e, n| e.parse(n, 8))?,
            retention: env.retention_days("DELETION_RETENTION_DAYS", 30)?,
        })
    }

    /// Completed deletions past the retention; failed ones wait for an admin.
    pub fn prune(&self) -> Prune {
        Prune::new("deletions", "finished_at", self.retention).and("state = 'completed'")
    }
}

/// Where an account's deletion stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Deletion {
    pub user_id: String,
    /// `requested` (no participant has answered yet), `in_progress`,
    /// `completed` (the account is gone) or `failed` (an admin may retry).
    #[schema(example = "in_progress")]
    pub state: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Requests sent to the participants since the deletion started, or
    /// since an admin last retried it.
    pub attempts: i32,
    /// Each participant's part.
    pub participants: Vec<Step>,
}

/// One participant's part in a deletion.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Step {
    #[schema(example = "greeter")]
    pub participant: String,
    /// `pending`, `deleted` or `failed`.
    pub state: String,
    /// Records it removed, once deleted.
    pub removed: Option<i64>,
    /// Why it failed.
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What [`start`] did.
pub enum Started {
    /// Started now, or already under way (the same deletion).
    Running(Deletion),
    /// A deletion of this account failed; only an admin's retry resumes it.
    Failed(Deletion),
    NoSuchUser,
    /// The account is the only admin.
    LastAdmin,
}

/// Starts deleting `user_id`'s account, asked by `requested_by` (`self`,
/// or an admin's id).
pub async fn start(pool: &PgPool, config: &Config, user_id: &str, requested_by: &str) -> sqlx::Result<Started> {
    if !is_uuid(user_id) {
        return Ok(Started::NoSuchUser);
    }
    let mut tx = pool.begin().await?;
    // Taken by role changes too: the last-admin check below cannot race them.
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(store::ROLE_LOCK).execute(&mut *tx).await?;
    let roles: Option<Vec<String>> = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1::uuid FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT state FROM deletions WHERE user_id = $1::uuid")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    match (roles, existing.as_deref()) {
        (_, Some("failed")) => {
            drop(tx);
            return Ok(status(pool, user_id).await?.map_or(Started::NoSuchUser, Started::Failed));
        }
        (_, Some(_)) => {
            drop(tx);
            return Ok(status(pool, user_id).await?.map_or(Started::NoSuchUser, Started::Running));
        }
        (None, None) => return Ok(Started::NoSuchUser),
        (Some(roles), None) if roles.iter().any(|r| r == authn::ADMIN) => {
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM users u WHERE $1 = ANY(u.roles) AND u.id <> $2::uuid
                 AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.user_id = u.id)",
            )
            .bind(authn::ADMIN)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                return Ok(Started::LastAdmin);
            }
        }
        (Some(_), None) => {}
    }
    sqlx::query(
        "INSERT INTO deletions (user_id, state, requested_by, next_attempt_at)
         VALUES ($1::uuid, 'in_progress', $2, now() + make_interval(secs => $3))",
    )
    .bind(user_id)
    .bind(requested_by)
    .bind(config.retry.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO deletion_steps (user_id, participant, state) SELECT $1::uuid, p, 'pending' FROM unnest($2::text[]) p",
    )
    .bind(user_id)
    .bind(PARTICIPANTS)
    .execute(&mut *tx)
    .await?;
    store::revoke_refresh_sessions(&mut tx, user_id).await?;
    let detail = serde_json::json!({ "participants": PARTICIPANTS });
    platform::audit::record(&mut tx, requested_by, "account.deletion_requested", user_id, &detail).await?;
    request(&mut tx, user_id, PARTICIPANTS, 1).await?;
    tx.commit().await?;
    Ok(status(pool, user_id).await?.map_or(Started::NoSuchUser, Started::Running))
}

/// What [`retry`] did.
pub enum Retried {
    Retried(Deletion),
    /// Only a failed deletion can be retried.
    NotFailed(Deletion),
    NotFound,
}

/// Resumes a failed deletion: its failed steps are pending again and their
/// participants asked again.
pub async fn retry(pool: &PgPool, config: &Config, user_id: &str, actor: &str) -> sqlx::Result<Retried> {
    if !is_uuid(user_id) {
        return Ok(Retried::NotFound);
    }
    let mut tx = pool.begin().await?;
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM deletions WHERE user_id = $1::uuid FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    match state.as_deref() {
        None => return Ok(Retried::NotFound),
        Some("failed") => {}
        Some(_) => {
            drop(tx);
            return Ok(status(pool, user_id).await?.map_or(Retried::NotFound, Retried::NotFailed));
        }
    }
    let again: Vec<String> = sqlx::query_scalar(
        "UPDATE deletion_steps SET state = 'pending', reason = NULL, updated_at = now()
         WHERE user_id = $1::uuid AND state = 'failed' RETURNING participant",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    // A fresh round: participants that were silent get the full number of
    // requests again, not one before they count as failed once more.
    let attempt: i32 = sqlx::query_scalar(
        "UPDATE deletions SET state = 'in_progress', finished_at = NULL, attempts = 1,
             next_attempt_at = now() + make_interval(secs => $2)
         WHERE user_id = $1::uuid RETURNING attempts",
    )
    .bind(user_id)
    .bind(config.retry.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({ "participants": again });
    platform::audit::record(&mut tx, actor, "account.deletion_retried", user_id, &detail).await?;
    request(&mut tx, user_id, &again, attempt).await?;
    tx.commit().await?;
    Ok(status(pool, user_id).await?.map_or(Retried::NotFound, Retried::Retried))
}

/// The deletion of `user_id`'s account, if one was asked for.
pub async fn status(pool: &PgPool, user_id: &str) -> sqlx::Result<Option<Deletion>> {
    if !is_uuid(user_id) {
        return Ok(None);
    }
    type Row = (String, DateTime<Utc>, Option<DateTime<Utc>>, i32);
    let row: Option<Row> =
        sqlx::query_as("SELECT state, requested_at, finished_at, attempts FROM deletions WHERE user_id = $1::uuid")
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    let Some((state, requested_at, finished_at, attempts)) = row else { return Ok(None) };
    let participants: Vec<Step> = sqlx::query_as(
        "SELECT participant, state, removed, reason, updated_at FROM deletion_steps
         WHERE user_id = $1::uuid ORDER BY participant",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let nobody_answered = participants.iter().all(|s| s.state == "pending");
    let state = if state == "in_progress" && nobody_answered { "requested".to_owned() } else { state };
    Ok(Some(Deletion { user_id: user_id.to_owned(), state, requested_at, finished_at, attempts, participants }))
}

/// `user.deletion_requested` to `participants`, in `conn`'s transaction.
async fn request(
    conn: &mut PgConnection,
    user_id: &str,
    participants: &[impl AsRef<str>],
    attempt: i32,
) -> sqlx::Result<()> {
    let event = v1::UserDeletionRequested {
        user_id: user_id.to_owned(),
        requested_at: Some(outbox::timestamp(Utc::now())),
        participants: participants.iter().map(|p| p.as_ref().to_owned()).collect(),
        attempt,
    };
    let data = event.encode_to_vec();
    outbox::enqueue(conn, &Event::new(subjects::USER_DELETION_REQUESTED, EVENT_SOURCE, Some(user_id), &data)).await?;
    Ok(())
}

/// The consumers of the participants' answers, one per participant's
/// stream (`auth-deletions-<participant>`).
pub fn answers(pool: &PgPool, relay: &events::relay::Config) -> Vec<Consumer> {
    PARTICIPANTS
        .iter()
        .map(|participant| {
            let config = consumer::Config {
                replicas: relay.replicas,
                ..consumer::Config::new(
                    &relay.nats_url,
                    &format!("platform-{participant}"),
                    &format!("auth-deletions-{participant}"),
                    &format!("platform.{participant}.user_data.>"),
                )
            };
            let handler: Handler = Box::new(|conn, event| Box::pin(answered(conn, event)));
            Consumer::new(pool.clone(), config, handler)
        })
        .collect()
}

/// Records a participant's answer, and settles the deletion if it was the last.
async fn answered(conn: &mut PgConnection, event: &CloudEvent) -> Result<(), String> {
    let (user_id, participant, outcome) = if event.kind.ends_with(".user_data.deleted") {
        let answer = v1::UserDataDeleted::decode(&event.data[..]).map_err(|e| format!("not a UserDataDeleted: {e}"))?;
        (answer.user_id, answer.participant, Ok(answer.removed))
    } else if event.kind.ends_with(".user_data.deletion_failed") {
        let answer = v1::UserDataDeletionFailed::decode(&event.data[..])
            .map_err(|e| format!("not a UserDataDeletionFailed: {e}"))?;
        (answer.user_id, answer.participant, Err(answer.reason))
    } else {
        return Ok(());
    };
    if !is_uuid(&user_id) {
        return Err(format!("an answer about {user_id:?}, which is no user id"));
    }
    let db = |e: sqlx::Error| e.to_string();
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM deletions WHERE user_id = $1::uuid FOR UPDATE")
        .bind(&user_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    // None: an answer to a deletion whose record has been pruned.
    if state.is_none() || state.as_deref() == Some("completed") {
        return Ok(());
    }
    let (state, removed, reason) = match outcome {
        Ok(removed) => ("deleted", Some(removed), None),
        Err(reason) => ("failed", None, Some(reason)),
    };
    // A step once deleted stays deleted: a late failure of an earlier
    // request does not undo it. A late success after a failure counts.
    sqlx::query(
        "UPDATE deletion_steps SET state = $3, removed = $4, reason = $5, updated_at = now()
         WHERE user_id = $1::uuid AND participant = $2 AND state <> 'deleted'",
    )
    .bind(&user_id)
    .bind(&participant)
    .bind(state)
    .bind(removed)
    .bind(reason)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    settle(conn, &user_id).await.map_err(db)
}

/// Completes the deletion once every step is deleted (the account goes,
/// and `user.deleted` out); marks it failed once a step failed and none is
/// pending. The caller holds the deletion row's lock.
async fn settle(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<()> {
    let (pending, failed): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed')
         FROM deletion_steps WHERE user_id = $1::uuid",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    if pending > 0 {
        return Ok(());
    }
    if failed > 0 {
        sqlx::query(
            "UPDATE deletions SET state = 'failed', finished_at = now() WHERE user_id = $1::uuid AND state <> 'failed'",
        )
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
        tracing::warn!(user_id, failed, "an account deletion failed; an admin can retry it");
        return Ok(());
    }
    // A savepoint inside the caller's transaction, for the audit record.
    let mut tx = conn.begin().await?;
    // Sessions and session families go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM users WHERE id = $1::uuid").bind(user_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE deletions SET state = 'completed', finished_at = now() WHERE user_id = $1::uuid")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    platform::audit::record(&mut tx, "auth", "account.deleted", user_id, &serde_json::json!({})).await?;
    let event = v1::UserDeleted { user_id: user_id.to_owned(), deleted_at: Some(outbox::timestamp(Utc::now())) };
    let data = event.encode_to_vec();
    outbox::enqueue(&mut tx, &Event::new(subjects::USER_DELETED, EVENT_SOURCE, Some(user_id), &data)).await?;
    tx.commit().await?;
    tracing::info!(user_id, "account deleted");
    Ok(())
}

/// Asks silent participants again until they answer or run out of
/// attempts. Runs until the process ends; each round has its own timeout.
pub fn spawn_retrier(pool: PgPool, config: Config) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = config.retry.min(Duration::from_secs(5));
        loop {
            tokio::time::sleep(every).await;
            match tokio::time::timeout(Duration::from_secs(30), retry_due(&pool, &config)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "retrying account deletions failed; next round soon"),
                Err(_) => tracing::warn!("retrying account deletions timed out; next round soon"),
            }
        }
    })
}

/// One round: each deletion due for a retry, locked so that replicas of
/// auth take different ones.
async fn retry_due(pool: &PgPool, config: &Config) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let due: Vec<(String, i32)> = sqlx::query_as(
        "SELECT user_id::text, attempts FROM deletions WHERE state = 'in_progress' AND next_attempt_at <= now()
         ORDER BY next_attempt_at LIMIT 100 FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (user_id, attempts) in due {
        if attempts >= config.max_attempts {
            sqlx::query(
                "UPDATE deletion_steps SET state = 'failed', reason = $2, updated_at = now()
                 WHERE user_id = $1::uuid AND state = 'pending'",
            )
            .bind(&user_id)
            .bind(format!("no answer after {attempts} requests"))
            .execute(&mut *tx)
            .await?;
            settle(&mut tx, &user_id).await?;
            continue;
        }
        let silent: Vec<String> = sqlx::query_scalar(
            "SELECT participant FROM deletion_steps WHERE user_id = $1::uuid AND state = 'pending' ORDER BY participant",
        )
        .bind(&user_id)
        .fetch_all(&mut *tx)
        .await?;
        // Twice the wait after each request, at most an hour.
        let wait = config.retry.saturating_mul(1 << attempts.clamp(0, 16)).min(Duration::from_secs(3600));
        sqlx::query(
            "UPDATE deletions SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
             WHERE user_id = $1::uuid",
        )
        .bind(&user_id)
        .bind(wait.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        tracing::info!(user_id, attempt = attempts + 1, ?silent, "asking silent participants of a deletion again");
        request(&mut tx, &user_id, &silent, attempts + 1).await?;
    }
    tx.commit().await
}
