//! `lang_db`: languages, translations and preferences.

use chrono::{DateTime, Utc};
use events::{outbox, subjects, v1};
use prost::Message;
use sqlx::{Connection, PgConnection, PgPool};

/// lang_db's migrations: lang's own and the idempotency keys' table.
pub static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| platform::db::merge(&[&OWN_MIGRATIONS, &idempotency::MIGRATOR, &events::MIGRATOR]));
static OWN_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, sqlx::FromRow)]
pub struct LanguageRow {
    pub code: String,
    pub name: String,
    pub native_name: String,
}

#[derive(Debug, sqlx::FromRow)]
pub struct TranslationRow {
    pub language: String,
    pub key: String,
    pub template: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct PreferenceRow {
    pub user_id: String,
    pub language: String,
    pub updated_at: DateTime<Utc>,
}

/// A write that named a language that does not exist.
#[derive(Debug)]
pub struct UnknownLanguage;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// PostgreSQL's foreign_key_violation.
fn is_unknown_language(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "23503")
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn languages(&self) -> sqlx::Result<Vec<LanguageRow>> {
        sqlx::query_as("SELECT code, name, native_name FROM languages ORDER BY code").fetch_all(&self.pool).await
    }

    /// The template for `key` in the first of `languages` that has one.
    pub async fn first_template(&self, languages: &[String], key: &str) -> sqlx::Result<Option<(String, String)>> {
        sqlx::query_as(
            "SELECT language, template FROM translations
             WHERE key = $1 AND language = ANY($2)
             ORDER BY array_position($2, language) LIMIT 1",
        )
        .bind(key)
        .bind(languages)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn translation(&self, language: &str, key: &str) -> sqlx::Result<Option<TranslationRow>> {
        sqlx::query_as("SELECT language, key, template, updated_at FROM translations WHERE language = $1 AND key = $2")
            .bind(language)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
    }
}

// The writes take the caller's connection (an idempotent write's
// transaction); each opens its own transaction on it, a savepoint there.

/// Creates or replaces a template, with its audit record in the same
/// transaction; whether it was created.
pub async fn put_translation(
    conn: &mut PgConnection,
    actor: &str,
    language: &str,
    key: &str,
    template: &str,
) -> sqlx::Result<Result<(TranslationRow, bool), UnknownLanguage>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        row: TranslationRow,
        created: bool,
    }
    let mut tx = conn.begin().await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT template FROM translations WHERE language = $1 AND key = $2 FOR UPDATE")
            .bind(language)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let res: sqlx::Result<Row> = sqlx::query_as(
        "INSERT INTO translations (language, key, template) VALUES ($1, $2, $3)
             ON CONFLICT (language, key) DO UPDATE SET template = EXCLUDED.template, updated_at = now()
             RETURNING language, key, template, updated_at, (xmax = 0) AS created",
    )
    .bind(language)
    .bind(key)
    .bind(template)
    .fetch_one(&mut *tx)
    .await;
    let row = match res {
        Ok(r) => r,
        Err(e) if is_unknown_language(&e) => return Ok(Err(UnknownLanguage)),
        Err(e) => return Err(e),
    };
    let detail = serde_json::json!({ "before": before, "after": template });
    platform::audit::record(&mut tx, actor, "translation.put", &format!("{language}/{key}"), &detail).await?;
    changed(&mut tx, language, key, false).await?;
    tx.commit().await?;
    Ok(Ok((row.row, row.created)))
}

/// Deletes a template, with its audit record; whether there was one.
pub async fn delete_translation(conn: &mut PgConnection, actor: &str, language: &str, key: &str) -> sqlx::Result<bool> {
    let mut tx = conn.begin().await?;
    let before: Option<String> =
        sqlx::query_scalar("DELETE FROM translations WHERE language = $1 AND key = $2 RETURNING template")
            .bind(language)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(before) = before else { return Ok(false) };
    let detail = serde_json::json!({ "before": before, "after": null });
    platform::audit::record(&mut tx, actor, "translation.deleted", &format!("{language}/{key}"), &detail).await?;
    changed(&mut tx, language, key, true).await?;
    tx.commit().await?;
    Ok(true)
}

impl Store {
    /// The newest audit records.
    pub async fn audit_log(&self, query: &platform::audit::AuditQuery) -> sqlx::Result<platform::audit::AuditLog> {
        platform::audit::list(&self.pool, query).await
    }

    pub async fn preference(&self, user_id: &str) -> sqlx::Result<Option<PreferenceRow>> {
        sqlx::query_as("SELECT user_id, language, updated_at FROM preferences WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Languages, translations and preferences.
    pub async fn counts(&self) -> sqlx::Result<(i64, i64, i64)> {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM languages), (SELECT count(*) FROM translations),
                    (SELECT count(*) FROM preferences)",
        )
        .fetch_one(&self.pool)
        .await
    }
}

/// The `translation.changed` event of a write, in its transaction.
async fn changed(conn: &mut PgConnection, language: &str, key: &str, deleted: bool) -> sqlx::Result<()> {
    let event = v1::TranslationChanged {
        language: language.to_owned(),
        key: key.to_owned(),
        deleted,
        changed_at: Some(outbox::timestamp(chrono::Utc::now())),
    };
    let (about, data) = (format!("{language}/{key}"), event.encode_to_vec());
    outbox::enqueue(conn, &outbox::Event::new(subjects::TRANSLATION_CHANGED, "/lang", Some(&about), &data)).await?;
    Ok(())
}

/// Sets a user's preferred language, announcing `preference.changed` in
/// the same transaction.
pub async fn set_preference(
    conn: &mut PgConnection,
    user_id: &str,
    language: &str,
) -> sqlx::Result<Result<PreferenceRow, UnknownLanguage>> {
    let res = sqlx::query_as(
        "INSERT INTO preferences (user_id, language) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET language = EXCLUDED.language, updated_at = now()
         RETURNING user_id, language, updated_at",
    )
    .bind(user_id)
    .bind(language)
    .fetch_one(&mut *conn)
    .await;
    let row: PreferenceRow = match res {
        Ok(row) => row,
        Err(e) if is_unknown_language(&e) => return Ok(Err(UnknownLanguage)),
        Err(e) => return Err(e),
    };
    let changed = v1::PreferenceChanged {
        user_id: row.user_id.clone(),
        language: row.language.clone(),
        changed_at: Some(outbox::timestamp(row.updated_at)),
    };
    let data = changed.encode_to_vec();
    let event = outbox::Event::new(subjects::PREFERENCE_CHANGED, "/lang", Some(user_id), &data);
    outbox::enqueue(conn, &event).await?;
    Ok(Ok(row))
}

/// lang's part in deleting an account: the user's language preference.
pub fn remove_user() -> events::deletion::Remove {
    events::deletion::remove_with("DELETE FROM preferences WHERE user_id = $1")
}
