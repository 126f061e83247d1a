//! `auth_db`: users, sessions (refresh tokens) and login failures.

use std::{net::IpAddr, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use events::{
    outbox::{self, Event},
    subjects, v1,
};
use prost::Message;

use crate::keys::PublicKey;

/// auth's events' CloudEvents `source`.
pub const EVENT_SOURCE: &str = "/auth";

/// auth_db's migrations: auth's own and the idempotency keys' table.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| platform::db::merge(&[&OWN_MIGRATIONS, &idempotency::MIGRATOR, &events::MIGRATOR]));
static OWN_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: String,
    pub email: String,
    pub roles: Vec<String>,
    pub password_hash: String,
}

/// Who performs an admin action.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A user with the admin role, by id.
    User(&'a str),
    /// The auth binary's operator commands.
    Operator,
}

impl Actor<'_> {
    fn name(&self) -> &str {
        match self {
            Actor::User(id) => id,
            Actor::Operator => "operator",
        }
    }
}

/// What a role change did.
#[derive(Debug, PartialEq, Eq)]
pub enum RoleChange {
    Done(Box<UserRow>),
    NoSuchUser,
    /// Revoking it would leave no admin.
    LastAdmin,
}

/// A refresh token to store.
pub struct NewToken<'a> {
    pub token_hash: &'a [u8],
    pub ttl: Duration,
    pub user_agent: Option<&'a str>,
    pub address: IpAddr,
}

/// What redeeming a refresh token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now rotated, and the next one stored.
    Rotated { user_id: String, email: String, roles: Vec<String>, family_id: String },
    /// The token had already been rotated: it was stolen or replayed, so
    /// its whole family is now revoked.
    Reused,
    /// Unknown, revoked or expired.
    Invalid,
}

#[derive(Debug, sqlx::FromRow)]
struct SessionState {
    id: String,
    family_id: String,
    user_id: String,
    expired: bool,
    rotated: bool,
    revoked: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

const USER_COLUMNS: &str = "id::text AS id, email, roles, created_at";

/// Serialises role changes, so two concurrent revocations cannot both
/// remove "the other" admin.
pub(crate) const ROLE_LOCK: i64 = 0x617574685f726f6c; // "auth_rol"

impl PartialEq for UserRow {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.email == other.email && self.roles == other.roles
    }
}

impl Eq for UserRow {}

impl Store {
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The new user, or `None` if the email is taken.
    pub async fn create_user(&self, email: &str, password_hash: &str) -> sqlx::Result<Option<UserRow>> {
        create_user(&mut *self.pool.acquire().await?, email, password_hash).await
    }

    pub async fn credentials(&self, email: &str) -> sqlx::Result<Option<Credentials>> {
        // An account being deleted cannot log in (its sessions were revoked
        // when the deletion started).
        sqlx::query_as(
            "SELECT id::text AS id, email, roles, password_hash FROM users u WHERE email = $1
             AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.user_id = u.id)",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn credentials_of(&self, id: &str) -> sqlx::Result<Option<Credentials>> {
        if !is_uuid(id) {
            return Ok(None);
        }
        sqlx::query_as("SELECT id::text AS id, email, roles, password_hash FROM users WHERE id = $1::uuid")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn user_by_email(&self, email: &str) -> sqlx::Result<Option<UserRow>> {
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
    }

    /// Grants (`grant`) or revokes `role`, with the audit record in the
    /// same transaction. Revoking the last admin's admin role is refused.
    pub async fn change_role(
        &self,
        actor: Actor<'_>,
        user_id: &str,
        role: &str,
        grant: bool,
    ) -> sqlx::Result<RoleChange> {
        change_role(&mut *self.pool.acquire().await?, actor, user_id, role, grant).await
    }

    /// The newest audit records.
    pub async fn audit_log(&self, query: &platform::audit::AuditQuery) -> sqlx::Result<platform::audit::AuditLog> {
        platform::audit::list(&self.pool, query).await
    }

    /// Creates the account unless it exists, then makes it an admin; for the
    /// operator command that makes the first admin.
    pub async fn ensure_admin(&self, email: &str, password_hash: Option<&str>) -> sqlx::Result<Option<RoleChange>> {
        let existing = self.user_by_email(email).await?;
        let user = match (existing, password_hash) {
            (Some(user), _) => user,
            (None, Some(hash)) => match self.create_user(email, hash).await? {
                Some(user) => user,
                None => self.user_by_email(email).await?.expect("the email was just taken"),
            },
            (None, None) => return Ok(None),
        };
        self.change_role(Actor::Operator, &user.id, authn::ADMIN, true).await.map(Some)
    }

    pub async fn user(&self, id: &str) -> sqlx::Result<Option<UserRow>> {
        if !is_uuid(id) {
            return Ok(None);
        }
        sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1::uuid"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn set_password_hash(&self, id: &str, hash: &str) -> sqlx::Result<()> {
        set_password_hash(&mut *self.pool.acquire().await?, id, hash).await
    }

    /// Starts a session family with its first refresh token; the family's id.
    pub async fn create_session(&self, user_id: &str, s: &NewToken<'_>) -> sqlx::Result<String> {
        sqlx::query_scalar(
            "WITH family AS (
               INSERT INTO session_families (id, user_id) VALUES (gen_random_uuid(), $1::uuid) RETURNING id)
             INSERT INTO sessions (family_id, user_id, token_hash, user_agent, address, expires_at)
             SELECT family.id, $1::uuid, $2, $3, $4::inet, now() + make_interval(secs => $5) FROM family
             RETURNING family_id::text",
        )
        .bind(user_id)
        .bind(s.token_hash)
        .bind(s.user_agent)
        .bind(s.address.to_string())
        .bind(s.ttl.as_secs_f64())
        .fetch_one(&self.pool)
        .await
    }

    /// Revokes every session of the user except the family `keep`; how many
    /// refresh tokens were revoked.
    pub async fn revoke_sessions(&self, user_id: &str, keep: Option<&str>) -> sqlx::Result<u64> {
        revoke_sessions(&mut *self.pool.acquire().await?, user_id, keep).await
    }

    /// Registers the key now signing (reactivating it if it was retired),
    /// retires every other active key so it stays published for `retirement`,
    /// drops keys past their publication, and returns what to publish.
    pub async fn register_signing_key(&self, key: &PublicKey, retirement: Duration) -> sqlx::Result<Vec<PublicKey>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, x) VALUES ($1, $2)
             ON CONFLICT (kid) DO UPDATE SET retired_at = NULL, publish_until = NULL",
        )
        .bind(&key.kid)
        .bind(&key.x)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = now(), publish_until = now() + make_interval(secs => $2)
             WHERE kid <> $1 AND retired_at IS NULL",
        )
        .bind(&key.kid)
        .bind(retirement.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.published_keys().await
    }

    /// Adds a key ahead of its use (`auth rotate-key`), so verifiers can
    /// learn it before the first token it signs.
    pub async fn announce_signing_key(&self, key: &PublicKey) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO signing_keys (kid, x) VALUES ($1, $2) ON CONFLICT (kid) DO NOTHING")
            .bind(&key.kid)
            .bind(&key.x)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Active keys and retired keys still within their publication.
    pub async fn published_keys(&self) -> sqlx::Result<Vec<PublicKey>> {
        sqlx::query("DELETE FROM signing_keys WHERE publish_until <= now()").execute(&self.pool).await?;
        sqlx::query_as(
            "SELECT kid, x FROM signing_keys WHERE retired_at IS NULL OR publish_until > now()
             ORDER BY first_used_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await
    }

    /// Redeems the refresh token hashed as `old`, storing `next` in its
    /// place. The family's row is locked first, then the token's, so
    /// rotations, reuse detection and revocations of one family take turns:
    /// of two concurrent redemptions of one token exactly one succeeds and
    /// the other counts as reuse, and a token minted here is either seen by
    /// a concurrent logout or refused because the logout came first.
    ///
    /// A refresh token presented again is reuse even seconds later (say the
    /// client lost the answer and retried): telling a lost answer from a
    /// stolen token is not possible here, so the family is revoked and the
    /// client logs in again.
    pub async fn rotate(&self, old: &[u8], next: &NewToken<'_>) -> sqlx::Result<Rotation> {
        let mut tx = self.pool.begin().await?;
        let family: Option<(String, bool)> = sqlx::query_as(
            "SELECT f.id::text, f.revoked_at IS NOT NULL FROM session_families f
             WHERE f.id = (SELECT family_id FROM sessions WHERE token_hash = $1) FOR UPDATE OF f",
        )
        .bind(old)
        .fetch_optional(&mut *tx)
        .await?;
        match family {
            None | Some((_, true)) => return Ok(Rotation::Invalid),
            Some(_) => {}
        }
        let state: Option<SessionState> = sqlx::query_as(
            "SELECT id::text AS id, family_id::text AS family_id, user_id::text AS user_id,
                    expires_at <= now() AS expired, rotated_at IS NOT NULL AS rotated, revoked_at IS NOT NULL AS revoked
             FROM sessions WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(old)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(state) = state else { return Ok(Rotation::Invalid) };
        if state.revoked {
            return Ok(Rotation::Invalid);
        }
        if state.rotated {
            revoke_family_in(&mut tx, &state.family_id).await?;
            tx.commit().await?;
            return Ok(Rotation::Reused);
        }
        if state.expired {
            return Ok(Rotation::Invalid);
        }
        sqlx::query("UPDATE sessions SET rotated_at = now() WHERE id = $1::uuid")
            .bind(&state.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (family_id, user_id, token_hash, user_agent, address, expires_at)
             VALUES ($1::uuid, $2::uuid, $3, $4, $5::inet, now() + make_interval(secs => $6))",
        )
        .bind(&state.family_id)
        .bind(&state.user_id)
        .bind(next.token_hash)
        .bind(next.user_agent)
        .bind(next.address.to_string())
        .bind(next.ttl.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        let (email, roles): (String, Vec<String>) =
            sqlx::query_as("SELECT email, roles FROM users WHERE id = $1::uuid")
                .bind(&state.user_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated { user_id: state.user_id, email, roles, family_id: state.family_id })
    }

    /// Revokes the family of the refresh token hashed as `token_hash`;
    /// whether there was such a live token. The family's row is locked
    /// first, as [`Store::rotate`] does, so a token a concurrent refresh
    /// mints is revoked too.
    pub async fn revoke_family(&self, token_hash: &[u8]) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let family: Option<String> = sqlx::query_scalar("SELECT family_id::text FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(family) = family else { return Ok(false) };
        let revoked = revoke_family_in(&mut tx, &family).await?;
        tx.commit().await?;
        Ok(revoked > 0)
    }

    /// Users, and sessions that can still be refreshed.
    pub async fn counts(&self) -> sqlx::Result<(i64, i64)> {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM users),
                    (SELECT count(*) FROM sessions
                     WHERE revoked_at IS NULL AND rotated_at IS NULL AND expires_at > now())",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// Reserves one attempt against each of `keys` (throttling key, limit)
    /// before the attempt is judged, starting a new window for a key whose
    /// window has passed; the seconds to wait when any key is now past its
    /// limit. One statement, so its row locks make parallel attempts count
    /// one by one: of N concurrent guesses at most `limit` are judged.
    /// Keys must come in the same order in every call (no lock-order cycles).
    pub async fn reserve_attempt(&self, keys: &[(&[u8], u32)], window: Duration) -> sqlx::Result<Option<u64>> {
        let (hashes, limits): (Vec<Vec<u8>>, Vec<i32>) =
            keys.iter().map(|(k, n)| (k.to_vec(), i32::try_from(*n).unwrap_or(i32::MAX))).unzip();
        let wait: Option<f64> = sqlx::query_scalar(
            "WITH counted AS (
               INSERT INTO login_failures (key, failures, window_start)
               SELECT key, 1, now() FROM unnest($1::bytea[]) WITH ORDINALITY AS k(key, n) ORDER BY n
               ON CONFLICT (key) DO UPDATE SET
                 failures = CASE WHEN login_failures.window_start <= now() - make_interval(secs => $3)
                                 THEN 1 ELSE login_failures.failures + 1 END,
                 window_start = CASE WHEN login_failures.window_start <= now() - make_interval(secs => $3)
                                     THEN now() ELSE login_failures.window_start END
               RETURNING key, failures, window_start)
             SELECT max(extract(epoch FROM c.window_start + make_interval(secs => $3) - now()))::float8
             FROM counted c JOIN unnest($1::bytea[], $2::int[]) AS l(key, max_attempts) ON c.key = l.key
             WHERE c.failures > l.max_attempts",
        )
        .bind(&hashes)
        .bind(&limits)
        .bind(window.as_secs_f64())
        .fetch_one(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM login_failures WHERE key IN (
               SELECT key FROM login_failures WHERE window_start <= now() - make_interval(secs => $1) LIMIT 100)",
        )
        .bind(window.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(wait.map(|s| s.ceil().max(1.0) as u64))
    }

    /// Gives back an attempt reserved against `key` (a successful login does
    /// not count against its address).
    pub async fn release_attempt(&self, key: &[u8]) -> sqlx::Result<()> {
        sqlx::query("UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Forgets failures against `key` (after a successful login).
    pub async fn clear_failures(&self, key: &[u8]) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(key).execute(&self.pool).await.map(|_| ())
    }
}

/// Revokes a family and every token in it; the tokens revoked. The family
/// row's update takes its lock (waiting for a rotation in flight), and the
/// token update that follows sees what that rotation committed.
async fn revoke_family_in(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, family: &str) -> sqlx::Result<u64> {
    let user: Option<String> = sqlx::query_scalar(
        "UPDATE session_families SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::uuid RETURNING user_id::text",
    )
    .bind(family)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(user) = user {
        announce_revoked(tx, &user, &[family.to_owned()]).await?;
    }
    let res = sqlx::query("UPDATE sessions SET revoked_at = now() WHERE family_id = $1::uuid AND revoked_at IS NULL")
        .bind(family)
        .execute(&mut **tx)
        .await?;
    Ok(res.rows_affected())
}

/// Whether `s` is a canonical UUID, so a malformed id is "not found"
/// rather than a database error.
pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

// The writes an idempotency key protects take the caller's connection, so
// that they commit with the key's record; Store's methods of the same names
// run them on a pooled connection.

/// The new user, or `None` if the email is taken. Its `user.registered`
/// goes into the outbox in the same transaction (a savepoint inside the
/// caller's), so every way an account is made (sign-up, `auth admin
/// create`, devstack's local admin) announces it, and only once it commits.
pub async fn create_user(conn: &mut PgConnection, email: &str, password_hash: &str) -> sqlx::Result<Option<UserRow>> {
    let mut tx = conn.begin().await?;
    let user: Option<UserRow> = sqlx::query_as(&format!(
        "INSERT INTO users (email, password_hash) VALUES ($1, $2)
         ON CONFLICT (email) DO NOTHING RETURNING {USER_COLUMNS}"
    ))
    .bind(email)
    .bind(password_hash)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(user) = &user {
        let registered =
            v1::UserRegistered { user_id: user.id.clone(), registered_at: Some(outbox::timestamp(user.created_at)) };
        let data = registered.encode_to_vec();
        outbox::enqueue(&mut tx, &Event::new(subjects::USER_REGISTERED, EVENT_SOURCE, Some(&user.id), &data)).await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// A user's own password change, with its audit record (`password.changed`)
/// in the same transaction (a savepoint inside the caller's).
pub async fn change_password(conn: &mut PgConnection, id: &str, hash: &str) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    set_password_hash(&mut tx, id, hash).await?;
    platform::audit::record(&mut tx, id, "password.changed", id, &serde_json::json!({})).await?;
    tx.commit().await
}

pub async fn set_password_hash(conn: &mut PgConnection, id: &str, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1::uuid")
        .bind(id)
        .bind(hash)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Grants (`grant`) or revokes `role` through `conn`, with the audit record
/// in the same transaction (a savepoint inside the caller's). Revoking the
/// last admin's admin role is refused.
pub async fn change_role(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    user_id: &str,
    role: &str,
    grant: bool,
) -> sqlx::Result<RoleChange> {
    if !is_uuid(user_id) {
        return Ok(RoleChange::NoSuchUser);
    }
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(ROLE_LOCK).execute(&mut *tx).await?;
    if !grant && role == authn::ADMIN {
        let others: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE $1 = ANY(roles) AND id <> $2::uuid")
            .bind(role)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if others == 0 {
            return Ok(RoleChange::LastAdmin);
        }
    }
    let sql = if grant {
        format!(
            "UPDATE users SET roles = CASE WHEN $2 = ANY(roles) THEN roles ELSE array_append(roles, $2) END
             WHERE id = $1::uuid RETURNING {USER_COLUMNS}"
        )
    } else {
        format!("UPDATE users SET roles = array_remove(roles, $2) WHERE id = $1::uuid RETURNING {USER_COLUMNS}")
    };
    let user: Option<UserRow> = sqlx::query_as(&sql).bind(user_id).bind(role).fetch_optional(&mut *tx).await?;
    let Some(user) = user else { return Ok(RoleChange::NoSuchUser) };
    let action = if grant { "role.granted" } else { "role.revoked" };
    let detail = serde_json::json!({ "role": role, "email": user.email });
    platform::audit::record(&mut tx, actor.name(), action, &user.id, &detail).await?;
    let changed = v1::UserRolesChanged {
        user_id: user.id.clone(),
        roles: user.roles.clone(),
        changed_at: Some(outbox::timestamp(Utc::now())),
    };
    let data = changed.encode_to_vec();
    outbox::enqueue(&mut tx, &Event::new(subjects::USER_ROLES_CHANGED, EVENT_SOURCE, Some(&user.id), &data)).await?;
    tx.commit().await?;
    Ok(RoleChange::Done(Box::new(user)))
}

/// Revokes every session of the user except the family `keep`, through
/// `conn` (a savepoint inside the caller's transaction); how many refresh
/// tokens were revoked.
pub async fn revoke_sessions(conn: &mut PgConnection, user_id: &str, keep: Option<&str>) -> sqlx::Result<u64> {
    revoke_sessions_in(conn, user_id, keep, true).await
}

/// Revokes every refresh session of the user without announcing it: the
/// access tokens already issued keep working until they expire (or until
/// the account is deleted, for [`crate::deletion`], whose progress the user
/// follows with them).
pub async fn revoke_refresh_sessions(conn: &mut PgConnection, user_id: &str) -> sqlx::Result<u64> {
    revoke_sessions_in(conn, user_id, None, false).await
}

/// `sessions.revoked`: every service refuses those sessions' access tokens.
async fn announce_revoked(conn: &mut PgConnection, user_id: &str, sessions: &[String]) -> sqlx::Result<()> {
    let event = v1::SessionsRevoked {
        user_id: user_id.to_owned(),
        sessions: sessions.to_vec(),
        revoked_at: Some(outbox::timestamp(Utc::now())),
    };
    let data = event.encode_to_vec();
    outbox::enqueue(conn, &Event::new(subjects::SESSIONS_REVOKED, EVENT_SOURCE, Some(user_id), &data)).await?;
    Ok(())
}

async fn revoke_sessions_in(
    conn: &mut PgConnection,
    user_id: &str,
    keep: Option<&str>,
    announce: bool,
) -> sqlx::Result<u64> {
    if !is_uuid(user_id) {
        return Ok(0);
    }
    let mut tx = conn.begin().await?;
    // The family rows first: a rotation in flight finishes (or waits) before them.
    let ids: Vec<String> = sqlx::query_scalar(
        "UPDATE session_families SET revoked_at = now()
         WHERE user_id = $1::uuid AND revoked_at IS NULL AND id::text IS DISTINCT FROM $2
         RETURNING id::text AS id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(&mut *tx)
    .await?;
    let res =
        sqlx::query("UPDATE sessions SET revoked_at = now() WHERE family_id::text = ANY($1) AND revoked_at IS NULL")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
    if announce && !ids.is_empty() {
        announce_revoked(&mut tx, user_id, &ids).await?;
    }
    tx.commit().await?;
    Ok(res.rows_affected())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids() {
        assert!(super::is_uuid("0b7f6a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b"));
        assert!(!super::is_uuid("0b7f6a3c-1d2e-4f50-8a9b-0c1d2e3f4a5"));
        assert!(!super::is_uuid("0b7f6a3c11d2e-4f50-8a9b-0c1d2e3f4a5b"));
        assert!(!super::is_uuid("' OR 1=1 --"));
    }
}
