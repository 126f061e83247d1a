//! The REST surface under `/auth/`, and its OpenAPI document generated
//! from the handlers below.

use std::sync::Arc;

use authn::{
    Access, Gate, Identity, Route,
    rest::{Admin, Service, User as Caller},
};
use axum::{
    Router,
    body::Bytes,
    extract::{FromRef, OriginalUri, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use idempotency::{Begun, Idempotency, Outcome, Scope, rest::json_outcome};
use platform::{
    audit::{AuditLog, AuditQuery},
    rest::{ApiError, BearerScheme, ErrorBody, Json, Path, Query},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    client::{Client, TrustedProxies},
    config::Clients,
    cookies::{self, Origins, Presented},
    deletion::{self, Deletion, Retried, Started},
    email,
    keys::Jwks,
    password::{self, Hasher},
    store::{self, Actor, NewToken, RoleChange, Rotation, Store, UserRow},
    throttle::Throttle,
    tokens::{self, Issuer, Subject},
};

/// Every route and its access level, enforced by the handlers' extractors
/// (`Caller`, `Admin`, `Service`) and walked by the tests.
pub const ACCESS: &[Route] = &[
    Route::new("POST", "/auth/signup", Access::Public),
    Route::new("POST", "/auth/login", Access::Public),
    Route::new("POST", "/auth/refresh", Access::Public),
    Route::new("POST", "/auth/logout", Access::Public),
    Route::new("GET", "/auth/.well-known/jwks.json", Access::Public),
    Route::new("GET", "/auth/openapi.json", Access::Public),
    Route::new("GET", "/auth/me", Access::User),
    Route::new("DELETE", "/auth/me", Access::User),
    Route::new("GET", "/auth/me/deletion", Access::User),
    Route::new("GET", "/auth/verify", Access::User),
    Route::new("POST", "/auth/logout-all", Access::User),
    Route::new("POST", "/auth/password", Access::User),
    Route::new("GET", "/auth/admin/users", Access::Admin),
    Route::new("PUT", "/auth/admin/users/{user_id}/roles/{role}", Access::Admin),
    Route::new("DELETE", "/auth/admin/users/{user_id}/roles/{role}", Access::Admin),
    Route::new("GET", "/auth/admin/audit", Access::Admin),
    Route::new("DELETE", "/auth/admin/users/{user_id}", Access::Admin),
    Route::new("GET", "/auth/admin/users/{user_id}/deletion", Access::Admin),
    Route::new("POST", "/auth/admin/users/{user_id}/deletion/retry", Access::Admin),
    Route::new("GET", "/auth/stats", Access::Service),
    // Client credentials are checked by the handler: the request is the credential.
    Route::new("POST", "/auth/token", Access::Client),
];

/// Roles that can be granted.
pub const ROLES: &[&str] = &[authn::ADMIN];

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub hasher: Hasher,
    pub issuer: Arc<Issuer>,
    pub throttle: Throttle,
    pub proxies: TrustedProxies,
    pub gate: Gate,
    pub clients: Arc<Clients>,
    pub idempotency: Idempotency,
    pub deletion: crate::deletion::Config,
    /// Origins whose pages may keep the refresh token in a cookie.
    pub cookie_origins: Origins,
}

impl FromRef<App> for Origins {
    fn from_ref(app: &App) -> Self {
        app.cookie_origins.clone()
    }
}

impl FromRef<App> for TrustedProxies {
    fn from_ref(app: &App) -> Self {
        app.proxies.clone()
    }
}

impl FromRef<App> for Gate {
    fn from_ref(app: &App) -> Self {
        app.gate.clone()
    }
}

/// An email address and password. Serialize only feeds an idempotency
/// key's fingerprint (an HMAC): it is never logged, stored or returned.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 10–72 bytes, not a common password, not containing the email.
    #[schema(format = Password)]
    pub password: String,
}

/// In cookie mode (`Session-Mode: cookie`) no body is needed: the cookie holds the token.
#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    /// Roles held now; access tokens carry the roles held when they were issued.
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self { id: r.id, email: r.email, roles: r.roles, created_at: r.created_at }
    }
}

/// Serialize only feeds an idempotency key's fingerprint, as for [`Credentials`].
#[derive(Serialize, Deserialize, ToSchema)]
pub struct PasswordChange {
    #[schema(format = Password)]
    pub current_password: String,
    /// The same rules as at sign-up.
    #[schema(format = Password)]
    pub new_password: String,
}

/// A service token (client-credentials grant, RFC 6749 §4.4).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ServiceTokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A role the token must carry (the edge's admin routes ask for `admin`).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// The account's email address.
    pub email: Option<String>,
}

/// An access token to send as `Authorization: Bearer …`, and the refresh
/// token that obtains the next pair. A refresh token works once.
// No `Debug`, here and below: tokens are never printed.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Absent in cookie mode (`Session-Mode: cookie`): an HttpOnly cookie holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SignupResponse {
    pub user: User,
    pub tokens: TokenPair,
}

/// The identity behind a valid access token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Verified {
    pub user_id: String,
    pub email: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub users: i64,
    /// Sessions whose refresh token can still be used.
    pub active_sessions: i64,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "auth", description = "Accounts, sessions and access tokens for the platform."),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

/// The OpenAPI document `/auth/openapi.json` serves (web/openapi/ holds a copy).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// The `/auth/` routes, `/auth/openapi.json` included.
pub fn router(app: App, max_body_bytes: usize) -> anyhow::Result<Router> {
    let (router, api) = routes().with_state(app).split_for_parts();
    let doc: Arc<str> = api.to_json()?.into();
    let router = router.route(
        "/auth/openapi.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }),
    );
    Ok(platform::rest::finish(router, max_body_bytes))
}

fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me, delete_me))
        .routes(routes!(my_deletion))
        .routes(routes!(delete_user))
        .routes(routes!(user_deletion))
        .routes(routes!(retry_deletion))
        .routes(routes!(verify))
        .routes(routes!(logout_all))
        .routes(routes!(change_password))
        .routes(routes!(find_user))
        .routes(routes!(grant_role, revoke_role))
        .routes(routes!(audit))
        .routes(routes!(jwks))
        .routes(routes!(stats))
        .routes(routes!(token))
}

/// Token responses must not be cached (RFC 6749 §5.1).
const NO_STORE: [(HeaderName, &str); 1] = [(header::CACHE_CONTROL, "no-store")];

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable("the account store", e)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "auth failed internally");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
}

fn invalid_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "the email or password is incorrect")
}

fn invalid_refresh_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
        "the refresh token is invalid, expired or revoked; log in again",
    )
}

impl App {
    /// A new session family for the user and its first token pair.
    async fn start_session(
        &self,
        user_id: &str,
        email: &str,
        roles: &[String],
        client: &Client,
    ) -> Result<TokenPair, ApiError> {
        let refresh_token = tokens::new_refresh_token().map_err(internal)?;
        let family = self
            .store
            .create_session(
                user_id,
                &NewToken {
                    token_hash: &tokens::hash_refresh_token(&refresh_token),
                    ttl: self.issuer.refresh_ttl,
                    user_agent: client.user_agent.as_deref(),
                    address: client.addr,
                },
            )
            .await
            .map_err(unavailable)?;
        self.pair(&Subject { user_id, email, roles, session: &family }, refresh_token)
    }

    fn pair(&self, subject: &Subject<'_>, refresh_token: String) -> Result<TokenPair, ApiError> {
        Ok(TokenPair {
            access_token: self.issuer.access_token(subject).map_err(internal)?,
            token_type: "Bearer".into(),
            expires_in: self.issuer.access_ttl.as_secs(),
            refresh_token: Some(refresh_token),
            refresh_expires_in: self.issuer.refresh_ttl.as_secs(),
        })
    }

    /// In cookie mode, moves the pair's refresh token into `Set-Cookie`
    /// values, so that the body page scripts read carries none.
    fn keep_in_cookie(&self, cookie: bool, pair: &mut TokenPair) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(token) = pair.refresh_token.take_if(|_| cookie) {
            for value in cookies::set(&token, self.issuer.refresh_ttl) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        headers
    }

    /// Cookie mode asked for, from an allowed origin.
    fn cookie_mode(&self, headers: &HeaderMap) -> Result<bool, ApiError> {
        let cookie = cookies::requested(headers)?;
        if cookie {
            self.cookie_origins.check(headers)?;
        }
        Ok(cookie)
    }
}

/// `Set-Cookie` values that drop the refresh cookie.
fn cleared() -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in cookies::clear() {
        headers.append(header::SET_COOKIE, value);
    }
    headers
}

/// Documents `Session-Mode` on the routes that take it.
const SESSION_MODE: &str = "`cookie` for browsers: the refresh token is set as an HttpOnly, Secure, SameSite=Strict cookie (Path=/auth/refresh and /auth/logout) instead of returned in JSON. The request's Origin must be on AUTH_COOKIE_ORIGINS (else 403 origin_not_allowed)";

/// Creates an account and logs it in.
#[utoipa::path(
    post, path = "/auth/signup", tag = "auth", request_body = Credentials,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome"),
        ("Session-Mode" = Option<String>, Header, description = SESSION_MODE),
    ),
    responses(
        (status = 201, description = "Account created", body = SignupResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "Cookie mode from an origin not on the allow-list", body = ErrorBody),
        (status = 409, description = "The email is taken, or a request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid email or weak password (the message says what is missing), or the Idempotency-Key was used with another request", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address; see Retry-After", body = ErrorBody),
    )
)]
async fn signup(
    State(app): State<App>,
    client: Client,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<Response, ApiError> {
    let cookie = app.cookie_mode(&headers)?;
    let email = email::normalize(&body.email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    password::check_strength(&body.password, &email).map_err(|m| ApiError::unprocessable("weak_password", m))?;
    // An anonymous client's keys are its address's.
    let keyed = idempotency::rest::request(&headers, &Scope::address(client.addr), &method, uri.path(), &body)?;
    // A key is claimed first, so that its repeats neither count against the
    // throttle nor hash; its connection is then held through the hash.
    let claimed = match keyed {
        Some(request) => match app.idempotency.begin(Some(&request)).await.map_err(idempotency::rest::refused)? {
            Begun::Write(write) => Some(write),
            // The same account again, with a fresh token pair: tokens are never stored.
            Begun::Replay(outcome) => return replay_with_session(&app, &outcome, &client, cookie).await,
        },
        None => None,
    };
    // Reserved before the hash, so a flood of sign-ups costs no bcrypt work past the limit.
    if let Some(wait) = app.throttle.reserve_signup(client.addr).await.map_err(unavailable)? {
        return Err(ApiError::too_many_requests(format!("too many sign-ups; try again in {wait} seconds"), wait));
    }
    let hash = app.hasher.hash(&body.password).await.map_err(internal)?;
    // Without a key, no connection waits on bcrypt.
    let mut write = match claimed {
        Some(write) => write,
        None => app.idempotency.unkeyed().await.map_err(unavailable)?,
    };
    let user = store::create_user(write.conn(), &email, &hash).await.map_err(unavailable)?.ok_or_else(|| {
        ApiError::conflict("email_taken", "an account with this email already exists; log in instead")
    })?;
    // Its user.registered went into the outbox with it: published once this commits.
    // A credential route keeps the status and the user id, nothing more.
    write.commit(|| Outcome { status: 201, body: user.id.clone().into_bytes() }).await.map_err(unavailable)?;
    let mut tokens = app.start_session(&user.id, &user.email, &user.roles, &client).await?;
    let set_cookie = app.keep_in_cookie(cookie, &mut tokens);
    tracing::info!(user_id = %user.id, "account created");
    Ok((StatusCode::CREATED, NO_STORE, set_cookie, Json(SignupResponse { user: user.into(), tokens })).into_response())
}

/// A replayed sign-up: the account the key created, logged in afresh.
async fn replay_with_session(
    app: &App,
    outcome: &Outcome,
    client: &Client,
    cookie: bool,
) -> Result<Response, ApiError> {
    let id = std::str::from_utf8(&outcome.body).map_err(internal)?;
    let Some(user) = app.store.user(id).await.map_err(unavailable)? else {
        return Err(ApiError::conflict(
            "account_gone",
            "the account this idempotency key created no longer exists; sign up again with a new key",
        ));
    };
    let mut tokens = app.start_session(&user.id, &user.email, &user.roles, client).await?;
    let set_cookie = app.keep_in_cookie(cookie, &mut tokens);
    let status = StatusCode::from_u16(u16::try_from(outcome.status).unwrap_or(201)).unwrap_or(StatusCode::CREATED);
    let mut response =
        (status, NO_STORE, set_cookie, Json(SignupResponse { user: user.into(), tokens })).into_response();
    idempotency::rest::mark_replayed(&mut response);
    Ok(response)
}

/// Exchanges an email and password for a token pair.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth", request_body = Credentials,
    params(("Session-Mode" = Option<String>, Header, description = SESSION_MODE)),
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong email or password (one message for both)", body = ErrorBody),
        (status = 403, description = "Cookie mode from an origin not on the allow-list", body = ErrorBody),
        (status = 429, description = "Too many failed logins for this account or address; see Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(app): State<App>,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let cookie = app.cookie_mode(&headers)?;
    // No account can have a malformed address; that says nothing about accounts.
    let email = email::normalize(&body.email).map_err(|_| invalid_credentials())?;
    // Reserved before the hash: of any number of parallel guesses, at most the limit are judged.
    if let Some(wait) = app.throttle.reserve(&email, client.addr).await.map_err(unavailable)? {
        return Err(ApiError::too_many_requests(format!("too many failed logins; try again in {wait} seconds"), wait));
    }
    let account = app.store.credentials(&email).await.map_err(unavailable)?;
    let matched = app.hasher.verify(&body.password, account.as_ref().map(|a| a.password_hash.as_str())).await;
    // bcrypt ignores bytes past 72: "a 72-byte password plus anything" must not match it.
    let fits = body.password.len() <= password::MAX_BYTES;
    let account = match (matched.map_err(internal)? && fits, account) {
        (true, Some(account)) => account,
        // The reservation stays: it was a failed attempt.
        _ => return Err(invalid_credentials()),
    };
    app.throttle.succeeded(&email, client.addr).await.map_err(unavailable)?;
    if app.hasher.needs_rehash(&account.password_hash) {
        // The configured cost changed: bring this hash up to it.
        match app.hasher.hash(&body.password).await {
            Ok(hash) => app.store.set_password_hash(&account.id, &hash).await.map_err(unavailable)?,
            Err(e) => tracing::warn!(error = %e, "rehashing a password failed"),
        }
    }
    let mut tokens = app.start_session(&account.id, &account.email, &account.roles, &client).await?;
    let set_cookie = app.keep_in_cookie(cookie, &mut tokens);
    Ok((NO_STORE, set_cookie, Json(tokens)))
}

/// Exchanges a refresh token for a new pair. The old refresh token stops
/// working; presenting it again revokes every token of its session.
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "The refresh token; none in cookie mode"),
    params(("Session-Mode" = Option<String>, Header, description = SESSION_MODE)),
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "The refresh token is unknown, expired, revoked or already used (in cookie mode: or no cookie came)", body = ErrorBody),
        (status = 403, description = "Cookie mode from an origin not on the allow-list", body = ErrorBody),
    )
)]
async fn refresh(State(app): State<App>, client: Client, presented: Presented) -> Result<Response, ApiError> {
    let cookie = presented.cookie_mode();
    let (Presented::Body(token) | Presented::Cookie(Some(token))) = presented else {
        return Err(refused(true));
    };
    let next = tokens::new_refresh_token().map_err(internal)?;
    let rotation = app
        .store
        .rotate(
            &tokens::hash_refresh_token(&token),
            &NewToken {
                token_hash: &tokens::hash_refresh_token(&next),
                ttl: app.issuer.refresh_ttl,
                user_agent: client.user_agent.as_deref(),
                address: client.addr,
            },
        )
        .await
        .map_err(unavailable)?;
    match rotation {
        Rotation::Rotated { user_id, email, roles, family_id } => {
            let subject = Subject { user_id: &user_id, email: &email, roles: &roles, session: &family_id };
            let mut pair = app.pair(&subject, next)?;
            let set_cookie = app.keep_in_cookie(cookie, &mut pair);
            Ok((NO_STORE, set_cookie, Json(pair)).into_response())
        }
        Rotation::Reused => {
            tracing::warn!(client = %client.addr, "a rotated refresh token was presented again; its session is revoked");
            Err(refused(cookie))
        }
        Rotation::Invalid => Err(refused(cookie)),
    }
}

/// A refused refresh; in cookie mode the dead cookie goes too.
fn refused(cookie: bool) -> ApiError {
    let clear = if cookie { cookies::clear() } else { Vec::new() };
    clear.into_iter().fold(invalid_refresh_token(), |e, value| e.with_header(header::SET_COOKIE, value))
}

/// Ends the session the refresh token belongs to. Its access tokens are
/// refused by every service moments later (`sessions.revoked`).
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth", request_body(content = Option<RefreshRequest>, description = "The refresh token; none in cookie mode"),
    params(("Session-Mode" = Option<String>, Header, description = SESSION_MODE)),
    responses(
        (status = 204, description = "The session is revoked (also when it already was, or never existed); in cookie mode the cookie is cleared"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 403, description = "Cookie mode from an origin not on the allow-list", body = ErrorBody),
    )
)]
async fn logout(State(app): State<App>, presented: Presented) -> Result<Response, ApiError> {
    let cookie = presented.cookie_mode();
    if let Presented::Body(token) | Presented::Cookie(Some(token)) = presented {
        app.store.revoke_family(&tokens::hash_refresh_token(&token)).await.map_err(unavailable)?;
    }
    let headers = if cookie { cleared() } else { HeaderMap::new() };
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// The caller's account.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
        (status = 403, description = "A service token", body = ErrorBody),
    )
)]
async fn me(State(app): State<App>, Caller(caller): Caller) -> Result<Json<User>, ApiError> {
    match app.store.user(&caller.user_id).await.map_err(unavailable)? {
        Some(user) => Ok(Json(user.into())),
        None => Err(authn::rest::unauthorized(Some("the account no longer exists"))),
    }
}

/// Deletes the caller's account. Every service that holds the user's data
/// removes it, then the account goes (a saga: see `GET /auth/me/deletion`).
/// Sessions are revoked and logging in is refused at once. Asking again
/// while it runs returns the same deletion.
#[utoipa::path(
    delete, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "The deletion has started, or was under way", body = Deletion),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
        (status = 403, description = "A service token", body = ErrorBody),
        (status = 409, description = "The only admin's account, or a deletion that failed (an admin can retry it)", body = ErrorBody),
    )
)]
async fn delete_me(State(app): State<App>, Caller(caller): Caller) -> Result<Response, ApiError> {
    let started = deletion::start(app.store.pool(), &app.deletion, &caller.user_id, "self").await;
    deletion_started(started.map_err(unavailable)?)
}

/// Where the deletion of the caller's account stands: which services have
/// removed the user's data. It stays readable with the caller's access token
/// after the account is gone, until the token expires.
#[utoipa::path(
    get, path = "/auth/me/deletion", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The deletion", body = Deletion),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
        (status = 403, description = "A service token", body = ErrorBody),
        (status = 404, description = "No deletion of this account was asked for", body = ErrorBody),
    )
)]
async fn my_deletion(State(app): State<App>, Caller(caller): Caller) -> Result<Json<Deletion>, ApiError> {
    deletion_status(&app, &caller.user_id).await
}

/// Deletes any account (admin), as `DELETE /auth/me` does for one's own.
#[utoipa::path(
    delete, path = "/auth/admin/users/{user_id}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 202, description = "The deletion has started, or was under way", body = Deletion),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The only admin's account, or a deletion that failed (retry it)", body = ErrorBody),
    )
)]
async fn delete_user(
    State(app): State<App>,
    Admin(admin): Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let started = deletion::start(app.store.pool(), &app.deletion, &user_id, &admin.user_id).await;
    deletion_started(started.map_err(unavailable)?)
}

/// Where the deletion of an account stands (admin).
#[utoipa::path(
    get, path = "/auth/admin/users/{user_id}/deletion", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 200, description = "The deletion", body = Deletion),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No deletion of this account was asked for", body = ErrorBody),
    )
)]
async fn user_deletion(
    State(app): State<App>,
    Admin(_): Admin,
    Path(user_id): Path<String>,
) -> Result<Json<Deletion>, ApiError> {
    deletion_status(&app, &user_id).await
}

/// Retries a failed deletion (admin): the participants that failed are
/// asked again.
#[utoipa::path(
    post, path = "/auth/admin/users/{user_id}/deletion/retry", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 202, description = "Retrying", body = Deletion),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No deletion of this account was asked for", body = ErrorBody),
        (status = 409, description = "The deletion has not failed", body = ErrorBody),
    )
)]
async fn retry_deletion(
    State(app): State<App>,
    Admin(admin): Admin,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    match deletion::retry(app.store.pool(), &app.deletion, &user_id, &admin.user_id).await.map_err(unavailable)? {
        Retried::Retried(d) => Ok((StatusCode::ACCEPTED, Json(d)).into_response()),
        Retried::NotFailed(d) => Err(ApiError::conflict(
            "deletion_not_failed",
            format!("the deletion is {}; only a failed one can be retried", d.state),
        )),
        Retried::NotFound => Err(ApiError::not_found("no deletion of this account was asked for")),
    }
}

fn deletion_started(started: Started) -> Result<Response, ApiError> {
    match started {
        Started::Running(d) => Ok((StatusCode::ACCEPTED, Json(d)).into_response()),
        Started::Failed(_) => Err(ApiError::conflict(
            "deletion_failed",
            "deleting this account failed; see its deletion for why, and ask an admin to retry it",
        )),
        Started::NoSuchUser => Err(ApiError::not_found("there is no such user")),
        Started::LastAdmin => Err(ApiError::conflict(
            "last_admin",
            "this is the only admin; grant the role to someone else before deleting the account",
        )),
    }
}

async fn deletion_status(app: &App, user_id: &str) -> Result<Json<Deletion>, ApiError> {
    match deletion::status(app.store.pool(), user_id).await.map_err(unavailable)? {
        Some(d) => Ok(Json(d)),
        None => Err(ApiError::not_found("no deletion of this account was asked for")),
    }
}

/// Forward-auth for the edge (Traefik's forwardAuth): 200 with the caller's
/// identity in `X-User-Id` and `X-User-Email`, 401 with `WWW-Authenticate`,
/// or 403 when `role` is asked for and the token does not carry it.
#[utoipa::path(
    get, path = "/auth/verify", tag = "auth", security(("bearer" = [])), params(VerifyQuery),
    responses(
        (status = 200, description = "Valid token", body = Verified, headers(
            ("X-User-Id" = String, description = "The user's id"),
            ("X-User-Email" = String, description = "The user's email"),
        )),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
        (status = 403, description = "The token lacks the role asked for, or is a service token", body = ErrorBody),
    )
)]
async fn verify(Caller(caller): Caller, Query(q): Query<VerifyQuery>) -> Result<Response, ApiError> {
    if let Some(role) = q.role.as_deref()
        && !caller.roles.iter().any(|r| r == role)
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("this requires the {role} role")));
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-user-id", HeaderValue::from_str(&caller.user_id).map_err(internal)?);
    // Emails may be UTF-8; header values carry the bytes as they are.
    headers.insert("x-user-email", HeaderValue::from_bytes(caller.email.as_bytes()).map_err(internal)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((headers, Json(Verified { user_id: caller.user_id, email: caller.email })).into_response())
}

/// Logs out everywhere: revokes every refresh session of the caller, whose
/// access tokens every service refuses moments later (`sessions.revoked`).
#[utoipa::path(
    post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session is revoked"),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
    )
)]
async fn logout_all(State(app): State<App>, Caller(caller): Caller) -> Result<StatusCode, ApiError> {
    let revoked = app.store.revoke_sessions(&caller.user_id, None).await.map_err(unavailable)?;
    tracing::info!(user_id = %caller.user_id, revoked, "logged out everywhere");
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the caller's password. The current password is required, and
/// every other session is revoked; the session the token belongs to stays.
#[utoipa::path(
    post, path = "/auth/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    responses(
        (status = 204, description = "Changed; the other sessions are revoked"),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
        (status = 403, description = "The current password is wrong", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is still running", body = ErrorBody),
        (status = 422, description = "The new password is too weak, or the Idempotency-Key was used with another request", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; see Retry-After", body = ErrorBody),
    )
)]
async fn change_password(
    State(app): State<App>,
    Caller(caller): Caller,
    client: Client,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Json(body): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let Some(account) = app.store.credentials_of(&caller.user_id).await.map_err(unavailable)? else {
        return Err(authn::rest::unauthorized(Some("the account no longer exists")));
    };
    password::check_strength(&body.new_password, &account.email)
        .map_err(|m| ApiError::unprocessable("weak_password", m))?;
    let keyed = idempotency::rest::request(&headers, &Scope::subject(&caller.user_id), &method, uri.path(), &body)?;
    let claimed = match keyed {
        Some(request) => match app.idempotency.begin(Some(&request)).await.map_err(idempotency::rest::refused)? {
            Begun::Write(write) => Some(write),
            // Done before: its status, with no body (the stored user id stays stored).
            Begun::Replay(_) => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                idempotency::rest::mark_replayed(&mut response);
                return Ok(response);
            }
        },
        None => None,
    };
    // A stolen access token must not become unlimited password guessing.
    if let Some(wait) = app.throttle.reserve(&account.email, client.addr).await.map_err(unavailable)? {
        return Err(ApiError::too_many_requests(
            format!("too many wrong passwords; try again in {wait} seconds"),
            wait,
        ));
    }
    let matched = app.hasher.verify(&body.current_password, Some(&account.password_hash)).await.map_err(internal)?;
    if !matched || body.current_password.len() > password::MAX_BYTES {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "invalid_credentials", "the current password is incorrect"));
    }
    app.throttle.succeeded(&account.email, client.addr).await.map_err(unavailable)?;
    let hash = app.hasher.hash(&body.new_password).await.map_err(internal)?;
    let mut write = match claimed {
        Some(write) => write,
        None => app.idempotency.unkeyed().await.map_err(unavailable)?,
    };
    store::change_password(write.conn(), &account.id, &hash).await.map_err(unavailable)?;
    let revoked =
        store::revoke_sessions(write.conn(), &account.id, caller.session.as_deref()).await.map_err(unavailable)?;
    write.commit(|| Outcome { status: 204, body: account.id.clone().into_bytes() }).await.map_err(unavailable)?;
    tracing::info!(user_id = %account.id, revoked, "password changed; other sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Finds an account by email (admin).
#[utoipa::path(
    get, path = "/auth/admin/users", tag = "admin", security(("bearer" = [])), params(UserQuery),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 400, description = "No email given", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
async fn find_user(State(app): State<App>, _: Admin, Query(q): Query<UserQuery>) -> Result<Json<User>, ApiError> {
    let email = q.email.as_deref().ok_or_else(|| ApiError::bad_request("give the account's email as ?email="))?;
    let email = email::normalize(email).map_err(ApiError::bad_request)?;
    match app.store.user_by_email(&email).await.map_err(unavailable)? {
        Some(user) => Ok(Json(user.into())),
        None => Err(ApiError::not_found("there is no account with this email")),
    }
}

/// The request an admin's role change is, for its idempotency key.
struct RoleRequest<'a> {
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
}

async fn change_role(
    app: &App,
    admin: &Identity,
    request: RoleRequest<'_>,
    user_id: &str,
    role: &str,
    grant: bool,
) -> Result<Response, ApiError> {
    if !ROLES.contains(&role) {
        return Err(ApiError::unprocessable(
            "unknown_role",
            format!("there is no role {role:?}; roles: {}", ROLES.join(", ")),
        ));
    }
    let scope = Scope::subject(&admin.user_id);
    let keyed = idempotency::rest::request(request.headers, &scope, request.method, request.path, &())?;
    let mut write = match app.idempotency.begin(keyed.as_ref()).await.map_err(idempotency::rest::refused)? {
        Begun::Write(write) => write,
        Begun::Replay(outcome) => return Ok(idempotency::rest::replay(&outcome)),
    };
    let actor = Actor::User(&admin.user_id);
    match store::change_role(write.conn(), actor, user_id, role, grant).await.map_err(unavailable)? {
        RoleChange::Done(user) => {
            let answer = User::from(*user);
            write.commit(|| json_outcome(StatusCode::OK, &answer)).await.map_err(unavailable)?;
            tracing::info!(actor = %admin.user_id, target = %answer.id, role, grant, "role changed");
            Ok(Json(answer).into_response())
        }
        RoleChange::NoSuchUser => Err(ApiError::not_found("there is no such user")),
        RoleChange::LastAdmin => {
            Err(ApiError::conflict("last_admin", "this is the only admin; grant the role to someone else first"))
        }
    }
}

/// Grants a role (admin). Takes effect when the user's next access token is issued.
#[utoipa::path(
    put, path = "/auth/admin/users/{user_id}/roles/{role}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path), ("role" = String, Path, example = "admin"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    responses(
        (status = 200, description = "The account with its roles", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "No such role", body = ErrorBody),
    )
)]
async fn grant_role(
    State(app): State<App>,
    Admin(admin): Admin,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path((user_id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let request = RoleRequest { method: &method, path: uri.path(), headers: &headers };
    change_role(&app, &admin, request, &user_id, &role, true).await
}

/// Revokes a role (admin). Access tokens already issued keep it until they expire.
#[utoipa::path(
    delete, path = "/auth/admin/users/{user_id}/roles/{role}", tag = "admin", security(("bearer" = [])),
    params(("user_id" = String, Path), ("role" = String, Path, example = "admin"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: 16-255 visible ASCII characters, such as a random UUID; a repeat with the same key gets the first outcome")),
    responses(
        (status = 200, description = "The account with its roles", body = User),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last admin's admin role", body = ErrorBody),
        (status = 422, description = "No such role", body = ErrorBody),
    )
)]
async fn revoke_role(
    State(app): State<App>,
    Admin(admin): Admin,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path((user_id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let request = RoleRequest { method: &method, path: uri.path(), headers: &headers };
    change_role(&app, &admin, request, &user_id, &role, false).await
}

/// The audit log of admin actions, newest first (admin).
#[utoipa::path(
    get, path = "/auth/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, description = "Audit records", body = AuditLog),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn audit(State(app): State<App>, _: Admin, Query(q): Query<AuditQuery>) -> Result<Json<AuditLog>, ApiError> {
    Ok(Json(app.store.audit_log(&q).await.map_err(unavailable)?))
}

/// The public keys that verify access tokens.
#[utoipa::path(
    get, path = "/auth/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWKS (RFC 7517)", body = Jwks))
)]
async fn jwks(State(app): State<App>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(app.issuer.jwks()))
}

/// Counts for the gateway's overview (a service route: gateway's service token).
#[utoipa::path(
    get, path = "/auth/stats", tag = "internal", security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts", body = Stats),
        (status = 401, description = "No service token", body = ErrorBody),
        (status = 403, description = "Not a service allowed to read them", body = ErrorBody),
    )
)]
async fn stats(State(app): State<App>, _: Service) -> Result<Json<Stats>, ApiError> {
    let (users, active_sessions) = app.store.counts().await.map_err(unavailable)?;
    Ok(Json(Stats { users, active_sessions }))
}

/// A service token for a platform service: the OAuth2 client-credentials
/// grant (RFC 6749 §4.4). The client authenticates with HTTP Basic or with
/// `client_id` and `client_secret` in the form body. Errors use the
/// platform's error shape with the RFC's codes.
#[utoipa::path(
    post, path = "/auth/token", tag = "internal",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "grant_type=client_credentials&client_id=…&client_secret=…"),
    responses(
        (status = 200, description = "A service token", body = ServiceTokenResponse),
        (status = 400, description = "Not a client-credentials request", body = ErrorBody),
        (status = 401, description = "Unknown client or wrong secret", body = ErrorBody),
    )
)]
async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Result<impl IntoResponse, ApiError> {
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let invalid_request = |m: &str| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", m.to_owned());
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported here",
            ));
        }
        None => return Err(invalid_request("send grant_type=client_credentials as a form body")),
    }
    let (id, secret) = match (basic_credentials(&headers), form.get("client_id"), form.get("client_secret")) {
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id.clone(), secret.clone()),
        _ => return Err(invalid_request("authenticate with HTTP Basic or client_id and client_secret, not both")),
    };
    // Secrets are 256-bit random values, so comparing their SHA-256 digests
    // leaks nothing usable through timing.
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if app.clients.0.get(&id) != Some(&digest) {
        tracing::warn!(client_id = %id.chars().take(64).collect::<String>(), "refused a service token request");
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret")
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"platform\"")));
    }
    let access_token = app.issuer.service_token(&id).map_err(internal)?;
    let expires_in = app.issuer.service_ttl.as_secs();
    Ok((NO_STORE, Json(ServiceTokenResponse { access_token, token_type: "Bearer".into(), expires_in })))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    // RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}
