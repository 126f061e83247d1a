//! The REST surface under `/lang/`, and its OpenAPI document generated
//! from the handlers below.
//!
//! Malformed path or query values (a language tag that cannot be one, a bad
//! key or name) are 400; well-formed bodies that break a rule (a template
//! without `{name}`, a language that does not exist) are 422.

use std::sync::Arc;

use axum::{
    Router,
    extract::{OriginalUri, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use idempotency::{Begun, Idempotency, Outcome, Scope, Write, rest::json_outcome};
use platform::{
    audit::{AuditLog, AuditQuery},
    rest::{ApiError, BearerScheme, ErrorBody, Json, Path, Query},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use authn::{
    Access, Gate, Route,
    rest::{Admin, Anyone, Service, User},
};
use axum::extract::FromRef;

use crate::{
    language::{self, FALLBACK},
    store::{self, PreferenceRow, Store, TranslationRow},
    template,
};

/// Every route and its access level, enforced by the handlers' extractors
/// (`Anyone`, `User`, `Admin`, `Service`) and walked by the tests.
pub const ACCESS: &[Route] = &[
    Route::new("GET", "/lang/v1/greeting", Access::Public),
    Route::new("GET", "/lang/v1/languages", Access::Public),
    Route::new("GET", "/lang/openapi.json", Access::Public),
    Route::new("GET", "/lang/v1/translations/{language}/{key}", Access::User),
    Route::new("PUT", "/lang/v1/translations/{language}/{key}", Access::Admin),
    Route::new("DELETE", "/lang/v1/translations/{language}/{key}", Access::Admin),
    Route::new("GET", "/lang/v1/audit", Access::Admin),
    Route::new("GET", "/lang/v1/preferences/me", Access::User),
    Route::new("PUT", "/lang/v1/preferences/me", Access::User),
    Route::new("GET", "/lang/v1/stats", Access::Service),
];

/// The key of the greeting template.
pub const GREETING_KEY: &str = "greeting";
/// Longest translation key.
const MAX_KEY_CHARS: usize = 64;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub gate: Gate,
    pub idempotency: Idempotency,
}

impl FromRef<App> for Gate {
    fn from_ref(app: &App) -> Self {
        app.gate.clone()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GreetingQuery {
    /// Who to greet: 1–100 characters, trimmed, no control characters.
    #[param(example = "Ada")]
    pub name: Option<String>,
    /// Language tag, e.g. `fr` or `pt-BR`. Unknown languages fall back to
    /// the nearest one known, else English.
    #[param(example = "fr")]
    pub language: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Greeting {
    #[schema(example = "Bonjour, Ada !")]
    pub greeting: String,
    /// The language the greeting is in.
    pub language: String,
    /// Whether that is not the language asked for.
    pub fallback: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Language {
    pub code: String,
    pub name: String,
    pub native_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Languages {
    pub languages: Vec<Language>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Translation {
    pub language: String,
    pub key: String,
    pub template: String,
    pub updated_at: DateTime<Utc>,
}

impl From<TranslationRow> for Translation {
    fn from(r: TranslationRow) -> Self {
        Self { language: r.language, key: r.key, template: r.template, updated_at: r.updated_at }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateBody {
    /// At most 500 characters, containing `{name}`.
    #[schema(example = "Salut, {name} !")]
    pub template: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Preference {
    pub user_id: String,
    pub language: String,
    pub updated_at: DateTime<Utc>,
}

impl From<PreferenceRow> for Preference {
    fn from(r: PreferenceRow) -> Self {
        Self { user_id: r.user_id, language: r.language, updated_at: r.updated_at }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreferenceBody {
    /// A language listed by `GET /lang/v1/languages`.
    #[schema(example = "fr")]
    pub language: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub languages: i64,
    pub translations: i64,
    pub preferences: i64,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "lang", description = "Localised greetings, message templates and language preferences."),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The OpenAPI document `/lang/openapi.json` serves (web/openapi/ holds a copy).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(greeting))
        .routes(routes!(languages))
        .routes(routes!(get_translation, put_translation, delete_translation))
        .routes(routes!(get_preference, put_preference))
        .routes(routes!(audit))
        .routes(routes!(stats))
}

/// The `/lang/` routes, `/lang/openapi.json` included.
pub fn router(app: App, max_body_bytes: usize) -> anyhow::Result<Router> {
    let (router, api) = routes().with_state(app).split_for_parts();
    let doc: Arc<str> = api.to_json()?.into();
    let router = router.route(
        "/lang/openapi.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }),
    );
    Ok(platform::rest::finish(router, max_body_bytes))
}

fn unavailable(e: sqlx::Error) -> ApiError {
    ApiError::unavailable("the language store", e)
}

fn unknown_language(code: &str) -> ApiError {
    ApiError::unprocessable(
        "unknown_language",
        format!("there is no language {code:?}; GET /lang/v1/languages lists them"),
    )
}

fn language_path(raw: &str) -> Result<String, ApiError> {
    language::parse(raw).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_language", m))
}

fn key_path(raw: &str) -> Result<&str, ApiError> {
    let ok = (1..=MAX_KEY_CHARS).contains(&raw.len())
        && raw.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(raw)
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_key",
            format!(
                "a key is 1–{MAX_KEY_CHARS} characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

/// Greets `name` in the language asked for, else the caller's preferred one
/// (when an access token is sent), else the nearest available.
#[utoipa::path(
    get, path = "/lang/v1/greeting", tag = "greetings", params(GreetingQuery), security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The greeting", body = Greeting),
        (status = 400, description = "Missing or invalid name", body = ErrorBody),
        (status = 401, description = "A token was sent and is invalid", body = ErrorBody),
    )
)]
async fn greeting(
    State(app): State<App>,
    Anyone(caller): Anyone,
    Query(q): Query<GreetingQuery>,
) -> Result<Json<Greeting>, ApiError> {
    let name = platform::validate::name(q.name.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "invalid_name", m))?;
    let mut asked = q.language.filter(|l| !l.trim().is_empty());
    // Only the verified caller's own preference, never another user's.
    if asked.is_none()
        && let Some(user) = caller.filter(|c| c.is_user())
    {
        asked = app.store.preference(&user.user_id).await.map_err(unavailable)?.map(|p| p.language);
    }
    // A tag that cannot be one is as unknown as one nobody translated.
    let tag = asked.as_deref().and_then(|a| language::parse(a).ok());
    let candidates = tag.as_deref().map_or_else(|| vec![FALLBACK.to_owned()], language::candidates);
    let (language, template) = app
        .store
        .first_template(&candidates, GREETING_KEY)
        .await
        .map_err(unavailable)?
        // The English greeting cannot be deleted; this is belt and braces.
        .unwrap_or_else(|| (FALLBACK.to_owned(), "Hello, {name}!".to_owned()));
    let fallback = asked.is_some() && tag.as_deref() != Some(language.as_str());
    Ok(Json(Greeting { greeting: template::render(&template, name), language, fallback }))
}

/// Every language, by code.
#[utoipa::path(
    get, path = "/lang/v1/languages", tag = "languages",
    responses((status = 200, description = "The languages", body = Languages))
)]
async fn languages(State(app): State<App>) -> Result<Json<Languages>, ApiError> {
    let rows = app.store.languages().await.map_err(unavailable)?;
    Ok(Json(Languages {
        languages: rows
            .into_iter()
            .map(|r| Language { code: r.code, name: r.name, native_name: r.native_name })
            .collect(),
    }))
}

/// One message template.
#[utoipa::path(
    get, path = "/lang/v1/translations/{language}/{key}", tag = "translations", security(("bearer" = [])),
    params(("language" = String, Path, example = "fr"), ("key" = String, Path, example = "greeting")),
    responses(
        (status = 200, description = "The template", body = Translation),
        (status = 400, description = "Malformed language or key", body = ErrorBody),
        (status = 404, description = "No such template", body = ErrorBody),
    )
)]
async fn get_translation(
    State(app): State<App>,
    _: User,
    Path((language, key)): Path<(String, String)>,
) -> Result<Json<Translation>, ApiError> {
    let (language, key) = (language_path(&language)?, key_path(&key)?);
    match app.store.translation(&language, key).await.map_err(unavailable)? {
        Some(row) => Ok(Json(row.into())),
        None => Err(ApiError::not_found(format!("there is no {key:?} template in {language:?}"))),
    }
}

/// Creates or replaces a message template (201 when created, 200 when
/// replaced); admin only, and written to the audit log.
#[utoipa::path(
    put, path = "/lang/v1/translations/{language}/{key}", tag = "translations", security(("bearer" = [])),
    params(("language" = String, Path, example = "fr"), ("key" = String, Path, example = "greeting"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    request_body = TemplateBody,
    responses(
        (status = 200, description = "Replaced", body = Translation),
        (status = 201, description = "Created", body = Translation),
        (status = 400, description = "Malformed language, key or body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "The language does not exist, or the template lacks {name} or exceeds 500 characters", body = ErrorBody),
    )
)]
async fn put_translation(
    State(app): State<App>,
    Admin(admin): Admin,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path((language, key)): Path<(String, String)>,
    Json(body): Json<TemplateBody>,
) -> Result<Response, ApiError> {
    let (language, key) = (language_path(&language)?, key_path(&key)?);
    template::validate(&body.template).map_err(|m| ApiError::unprocessable("invalid_template", m))?;
    let keyed = idempotency::rest::request(&headers, &Scope::subject(&admin.user_id), &method, uri.path(), &body)?;
    let mut write = match begin(&app, keyed.as_ref()).await? {
        Ok(write) => write,
        Err(replay) => return Ok(replay),
    };
    let (row, created) = store::put_translation(write.conn(), &admin.user_id, &language, key, &body.template)
        .await
        .map_err(unavailable)?
        .map_err(|_| unknown_language(&language))?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let answer = Translation::from(row);
    write.commit(|| json_outcome(status, &answer)).await.map_err(unavailable)?;
    tracing::info!(actor = %admin.user_id, %language, key, "translation written");
    Ok((status, Json(answer)).into_response())
}

/// Starts a write: its transaction, or (`Err`) the replayed answer of the
/// key's first request.
async fn begin(app: &App, keyed: Option<&idempotency::Request>) -> Result<Result<Write, Response>, ApiError> {
    match app.idempotency.begin(keyed).await.map_err(idempotency::rest::refused)? {
        Begun::Write(write) => Ok(Ok(write)),
        Begun::Replay(outcome) => Ok(Err(idempotency::rest::replay(&outcome))),
    }
}

/// Deletes a message template (admin only, audited). The English greeting,
/// which every language falls back to, cannot be deleted.
#[utoipa::path(
    delete, path = "/lang/v1/translations/{language}/{key}", tag = "translations", security(("bearer" = [])),
    params(("language" = String, Path, example = "fr"), ("key" = String, Path, example = "greeting"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed language or key", body = ErrorBody),
        (status = 404, description = "No such template", body = ErrorBody),
        (status = 409, description = "The English greeting is the fallback for every language", body = ErrorBody),
    )
)]
async fn delete_translation(
    State(app): State<App>,
    Admin(admin): Admin,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path((language, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (language, key) = (language_path(&language)?, key_path(&key)?);
    if language == FALLBACK && key == GREETING_KEY {
        return Err(ApiError::conflict(
            "fallback_template",
            "the English greeting is the fallback for every language; replace it instead",
        ));
    }
    let keyed = idempotency::rest::request(&headers, &Scope::subject(&admin.user_id), &method, uri.path(), &())?;
    let mut write = match begin(&app, keyed.as_ref()).await? {
        Ok(write) => write,
        Err(replay) => return Ok(replay),
    };
    // A repeat after the delete replays 204 rather than finding nothing (404).
    if store::delete_translation(write.conn(), &admin.user_id, &language, key).await.map_err(unavailable)? {
        write.commit(|| Outcome { status: 204, body: Vec::new() }).await.map_err(unavailable)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("there is no {key:?} template in {language:?}")))
    }
}

/// The caller's preferred language.
#[utoipa::path(
    get, path = "/lang/v1/preferences/me", tag = "preferences", security(("bearer" = [])),
    responses(
        (status = 200, description = "The preference", body = Preference),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 404, description = "The caller has set none", body = ErrorBody),
    )
)]
async fn get_preference(State(app): State<App>, User(caller): User) -> Result<Json<Preference>, ApiError> {
    match app.store.preference(&caller.user_id).await.map_err(unavailable)? {
        Some(row) => Ok(Json(row.into())),
        None => Err(ApiError::not_found("you have no language preference; PUT one")),
    }
}

/// Sets the caller's preferred language.
#[utoipa::path(
    put, path = "/lang/v1/preferences/me", tag = "preferences", security(("bearer" = [])),
    request_body = PreferenceBody, params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    responses(
        (status = 200, description = "The preference", body = Preference),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 422, description = "The language does not exist", body = ErrorBody),
    )
)]
async fn put_preference(
    State(app): State<App>,
    User(caller): User,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Json(body): Json<PreferenceBody>,
) -> Result<Response, ApiError> {
    let language = language::parse(&body.language).map_err(|_| unknown_language(&body.language))?;
    let keyed = idempotency::rest::request(&headers, &Scope::subject(&caller.user_id), &method, uri.path(), &body)?;
    let mut write = match begin(&app, keyed.as_ref()).await? {
        Ok(write) => write,
        Err(replay) => return Ok(replay),
    };
    let row = store::set_preference(write.conn(), &caller.user_id, &language)
        .await
        .map_err(unavailable)?
        .map_err(|_| unknown_language(&language))?;
    let answer = Preference::from(row);
    write.commit(|| json_outcome(StatusCode::OK, &answer)).await.map_err(unavailable)?;
    Ok(Json(answer).into_response())
}

/// The audit log of translation changes, newest first (admin).
#[utoipa::path(
    get, path = "/lang/v1/audit", tag = "translations", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, description = "Audit records", body = AuditLog),
        (status = 401, description = "No valid access token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn audit(State(app): State<App>, _: Admin, Query(q): Query<AuditQuery>) -> Result<Json<AuditLog>, ApiError> {
    Ok(Json(app.store.audit_log(&q).await.map_err(unavailable)?))
}

/// Counts for the gateway's overview (a service route: gateway's service token).
#[utoipa::path(
    get, path = "/lang/v1/stats", tag = "internal", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts", body = Stats),
        (status = 401, description = "No service token", body = ErrorBody),
        (status = 403, description = "Not a service allowed to read them", body = ErrorBody),
    )
)]
async fn stats(State(app): State<App>, _: Service) -> Result<Json<Stats>, ApiError> {
    let (languages, translations, preferences) = app.store.counts().await.map_err(unavailable)?;
    Ok(Json(Stats { languages, translations, preferences }))
}
