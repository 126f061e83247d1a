//! gateway's read model of users and their activity, kept in `gateway_db`
//! from auth's `user.registered` and `user.roles_changed` and greeter's
//! `greeting.created`; an account deletion removes the entry and leaves a
//! tombstone, so that later events about the user do not bring it back. Overview
//! reads the user count here instead of asking auth on every call.
//!
//! Each stream has a durable consumer shared by all gateway replicas (one
//! applies each event), and each event's effect is written with its inbox
//! row in one transaction ([`events::consumer`]), so a redelivery counts
//! nothing twice. The count is eventually consistent: it lags the broker by
//! the consumer's delay, and is withheld (Overview marks it unavailable)
//! until the consumer has once reached the end of auth's stream, because a
//! half-read stream would answer with a number that is simply wrong.

use chrono::{DateTime, Utc};
use events::{
    consumer::{self, Consumer, Handler},
    envelope::CloudEvent,
    subjects, v1,
};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::{sync::watch, task::JoinHandle};

/// The durable consumers' names (`<consuming service>-<purpose>`).
pub const USERS: &str = "gateway-users";
pub const ACTIVITY: &str = "gateway-activity";
pub const ROLES: &str = "gateway-roles";

/// The read side of the projection.
#[derive(Clone)]
pub struct Projection {
    pool: PgPool,
    users_caught_up: watch::Receiver<bool>,
}

impl Projection {
    /// Starts the consumers that feed the projection; the tasks run until
    /// the server stops.
    pub fn spawn(pool: PgPool, nats_url: &str, replicas: usize) -> (Projection, Vec<JoinHandle<()>>) {
        let config = |stream, durable, subject| consumer::Config {
            replicas,
            ..consumer::Config::new(nats_url, stream, durable, subject)
        };
        let users =
            Consumer::new(pool.clone(), config("platform-auth", USERS, subjects::USER_REGISTERED), registered());
        let activity =
            Consumer::new(pool.clone(), config("platform-greeter", ACTIVITY, subjects::GREETING_CREATED), greeted());
        let roles = Consumer::new(pool.clone(), config("platform-auth", ROLES, subjects::USER_ROLES_CHANGED), roles());
        let projection = Projection { pool, users_caught_up: users.caught_up() };
        (projection, vec![users.spawn(), activity.spawn(), roles.spawn()])
    }

    /// How many accounts exist, as far as auth's events have told; an error
    /// a person can act on when the projection cannot answer yet.
    pub async fn user_count(&self) -> Result<i64, String> {
        if !*self.users_caught_up.borrow() {
            return Err("gateway has not yet read auth's user.registered events (is the broker up?)".to_owned());
        }
        sqlx::query_scalar("SELECT count(*) FROM user_activity WHERE registered_at IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| format!("gateway_db: {e}"))
    }
}

fn decode<M: Message + Default>(event: &CloudEvent) -> Result<M, String> {
    let name = std::any::type_name::<M>().rsplit("::").next().unwrap_or_default();
    M::decode(&event.data[..]).map_err(|e| format!("{} {}: not a {name}: {e}", event.kind, event.id))
}

fn time(at: Option<prost_types::Timestamp>, event: &CloudEvent) -> DateTime<Utc> {
    at.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32)).unwrap_or(event.time)
}

pub(crate) fn registered() -> Handler {
    Box::new(|conn: &mut PgConnection, event: &CloudEvent| {
        Box::pin(async move {
            let e: v1::UserRegistered = decode(event)?;
            sqlx::query(
                "INSERT INTO user_activity (user_id, registered_at) SELECT $1, $2 WHERE NOT EXISTS
                     (SELECT 1 FROM deleted_users WHERE user_id = $1)
                 ON CONFLICT (user_id) DO UPDATE SET registered_at = EXCLUDED.registered_at",
            )
            .bind(&e.user_id)
            .bind(time(e.registered_at, event))
            .execute(conn)
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        })
    })
}

pub(crate) fn greeted() -> Handler {
    Box::new(|conn: &mut PgConnection, event: &CloudEvent| {
        Box::pin(async move {
            let e: v1::GreetingCreated = decode(event)?;
            sqlx::query(
                "INSERT INTO user_activity (user_id, greetings, last_greeted_at) SELECT $1, 1, $2 WHERE NOT EXISTS
                     (SELECT 1 FROM deleted_users WHERE user_id = $1)
                 ON CONFLICT (user_id) DO UPDATE SET greetings = user_activity.greetings + 1,
                     last_greeted_at = GREATEST(user_activity.last_greeted_at, EXCLUDED.last_greeted_at)",
            )
            .bind(&e.owner)
            .bind(time(e.created_at, event))
            .execute(conn)
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        })
    })
}

pub(crate) fn roles() -> Handler {
    Box::new(|conn: &mut PgConnection, event: &CloudEvent| {
        Box::pin(async move {
            let e: v1::UserRolesChanged = decode(event)?;
            sqlx::query(
                "INSERT INTO user_activity (user_id, roles) SELECT $1, $2 WHERE NOT EXISTS
                     (SELECT 1 FROM deleted_users WHERE user_id = $1)
                 ON CONFLICT (user_id) DO UPDATE SET roles = EXCLUDED.roles",
            )
            .bind(&e.user_id)
            .bind(&e.roles)
            .execute(conn)
            .await
            .map_err(|e| e.to_string())?;
            Ok(())
        })
    })
}

/// How long a deleted user's tombstone is kept: as long as the streams
/// keep events about them (`EVENTS_STREAM_MAX_AGE_SECS`, 7 days).
pub fn prune_tombstones(keep: std::time::Duration) -> platform::retention::Prune {
    platform::retention::Prune::new("deleted_users", "deleted_at", keep)
}

/// gateway's part in deleting an account: the user's projection entry,
/// and a tombstone against events about them still on their way.
pub fn remove_user() -> events::deletion::Remove {
    Box::new(|conn, user_id| {
        Box::pin(async move {
            let removed = sqlx::query("DELETE FROM user_activity WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query("INSERT INTO deleted_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .execute(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(i64::try_from(removed.rows_affected()).unwrap_or(i64::MAX))
        })
    })
}
