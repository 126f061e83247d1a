//! The REST surface under `/auth/`, and its OpenAPI document generated
//! from the handlers below.

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRef, FromRequestParts, State},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use platform::rest::{ApiError, ErrorBody, Json};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    client::{Client, TrustedProxies},
    email,
    keys::Jwks,
    password::{self, Hasher},
    store::{NewToken, Rotation, Store, UserRow},
    throttle::Throttle,
    tokens::{self, Issuer},
};

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub hasher: Hasher,
    pub issuer: Arc<Issuer>,
    pub throttle: Throttle,
    pub proxies: TrustedProxies,
}

impl FromRef<App> for TrustedProxies {
    fn from_ref(app: &App) -> Self {
        app.proxies.clone()
    }
}

/// An email address and password.
#[derive(Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 10–72 bytes, not a common password, not containing the email.
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self { id: r.id, email: r.email, created_at: r.created_at }
    }
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
    pub refresh_token: String,
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

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The `/auth/` routes, `/auth/openapi.json` included.
pub fn router(app: App, max_body_bytes: usize) -> anyhow::Result<Router> {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(verify))
        .routes(routes!(jwks))
        .routes(routes!(stats))
        .with_state(app)
        .split_for_parts();
    let doc: Arc<str> = api.to_json()?.into();
    let router = router.route(
        "/auth/openapi.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }),
    );
    Ok(platform::rest::finish(router, max_body_bytes))
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
    async fn start_session(&self, user_id: &str, email: &str, client: &Client) -> Result<TokenPair, ApiError> {
        let refresh_token = tokens::new_refresh_token().map_err(internal)?;
        self.store
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
        self.pair(user_id, email, refresh_token)
    }

    fn pair(&self, user_id: &str, email: &str, refresh_token: String) -> Result<TokenPair, ApiError> {
        Ok(TokenPair {
            access_token: self.issuer.access_token(user_id, email).map_err(internal)?,
            token_type: "Bearer".into(),
            expires_in: self.issuer.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: self.issuer.refresh_ttl.as_secs(),
        })
    }
}

/// Creates an account and logs it in.
#[utoipa::path(
    post, path = "/auth/signup", tag = "auth", request_body = Credentials,
    responses(
        (status = 201, description = "Account created", body = SignupResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 422, description = "Invalid email or weak password; the message says what is missing", body = ErrorBody),
    )
)]
async fn signup(
    State(app): State<App>,
    client: Client,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    let email = email::normalize(&body.email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    password::check_strength(&body.password, &email).map_err(|m| ApiError::unprocessable("weak_password", m))?;
    let hash = app.hasher.hash(&body.password).await.map_err(internal)?;
    let user = app.store.create_user(&email, &hash).await.map_err(unavailable)?.ok_or_else(|| {
        ApiError::conflict("email_taken", "an account with this email already exists; log in instead")
    })?;
    let tokens = app.start_session(&user.id, &user.email, &client).await?;
    tracing::info!(user_id = %user.id, "account created");
    Ok((StatusCode::CREATED, NO_STORE, Json(SignupResponse { user: user.into(), tokens })))
}

/// Exchanges an email and password for a token pair.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth", request_body = Credentials,
    responses(
        (status = 200, description = "Logged in", body = TokenPair),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong email or password (one message for both)", body = ErrorBody),
        (status = 429, description = "Too many failed logins for this account or address; see Retry-After", body = ErrorBody),
    )
)]
async fn login(
    State(app): State<App>,
    client: Client,
    Json(body): Json<Credentials>,
) -> Result<impl IntoResponse, ApiError> {
    // No account can have a malformed address; that says nothing about accounts.
    let email = email::normalize(&body.email).map_err(|_| invalid_credentials())?;
    if let Some(wait) = app.throttle.check(&email, client.addr).await.map_err(unavailable)? {
        return Err(ApiError::too_many_requests(format!("too many failed logins; try again in {wait} seconds"), wait));
    }
    let account = app.store.credentials(&email).await.map_err(unavailable)?;
    let matched = app.hasher.verify(&body.password, account.as_ref().map(|a| a.password_hash.as_str())).await;
    // bcrypt ignores bytes past 72: "a 72-byte password plus anything" must not match it.
    let fits = body.password.len() <= password::MAX_BYTES;
    let account = match (matched.map_err(internal)? && fits, account) {
        (true, Some(account)) => account,
        _ => {
            app.throttle.failed(&email, client.addr).await.map_err(unavailable)?;
            return Err(invalid_credentials());
        }
    };
    app.throttle.succeeded(&email).await.map_err(unavailable)?;
    if app.hasher.needs_rehash(&account.password_hash) {
        // The configured cost changed: bring this hash up to it.
        match app.hasher.hash(&body.password).await {
            Ok(hash) => app.store.set_password_hash(&account.id, &hash).await.map_err(unavailable)?,
            Err(e) => tracing::warn!(error = %e, "rehashing a password failed"),
        }
    }
    let tokens = app.start_session(&account.id, &account.email, &client).await?;
    Ok((NO_STORE, Json(tokens)))
}

/// Exchanges a refresh token for a new pair. The old refresh token stops
/// working; presenting it again revokes every token of its session.
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "The refresh token is unknown, expired, revoked or already used", body = ErrorBody),
    )
)]
async fn refresh(
    State(app): State<App>,
    client: Client,
    Json(body): Json<RefreshRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let next = tokens::new_refresh_token().map_err(internal)?;
    let rotation = app
        .store
        .rotate(
            &tokens::hash_refresh_token(&body.refresh_token),
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
        Rotation::Rotated { user_id, email } => Ok((NO_STORE, Json(app.pair(&user_id, &email, next)?))),
        Rotation::Reused => {
            tracing::warn!(client = %client.addr, "a rotated refresh token was presented again; its session is revoked");
            Err(invalid_refresh_token())
        }
        Rotation::Invalid => Err(invalid_refresh_token()),
    }
}

/// Ends the session the refresh token belongs to. Access tokens already
/// issued stay valid until they expire.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session is revoked (also when it already was, or never existed)"),
        (status = 400, description = "Malformed body", body = ErrorBody),
    )
)]
async fn logout(State(app): State<App>, Json(body): Json<RefreshRequest>) -> Result<StatusCode, ApiError> {
    app.store.revoke_family(&tokens::hash_refresh_token(&body.refresh_token)).await.map_err(unavailable)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
    )
)]
async fn me(State(app): State<App>, Bearer(claims): Bearer) -> Result<Json<User>, ApiError> {
    match app.store.user(&claims.sub).await.map_err(unavailable)? {
        Some(user) => Ok(Json(user.into())),
        None => Err(unauthorized(Some("the account no longer exists"))),
    }
}

/// Forward-auth for the edge (Traefik's forwardAuth): 200 with the caller's
/// identity in `X-User-Id` and `X-User-Email`, or 401 with `WWW-Authenticate`.
#[utoipa::path(
    get, path = "/auth/verify", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Valid token", body = Verified, headers(
            ("X-User-Id" = String, description = "The user's id"),
            ("X-User-Email" = String, description = "The user's email"),
        )),
        (status = 401, description = "Missing or invalid access token", body = ErrorBody),
    )
)]
async fn verify(Bearer(claims): Bearer) -> Result<Response, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert("x-user-id", HeaderValue::from_str(&claims.sub).map_err(internal)?);
    // Emails may be UTF-8; header values carry the bytes as they are.
    headers.insert("x-user-email", HeaderValue::from_bytes(claims.email.as_bytes()).map_err(internal)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((headers, Json(Verified { user_id: claims.sub, email: claims.email })).into_response())
}

/// The public keys that verify access tokens.
#[utoipa::path(
    get, path = "/auth/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWKS (RFC 7517)", body = Jwks))
)]
async fn jwks(State(app): State<App>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(app.issuer.signing_key().jwks()))
}

/// Counts for the gateway's overview (internal).
#[utoipa::path(
    get, path = "/auth/stats", tag = "internal",
    responses((status = 200, description = "Counts", body = Stats))
)]
async fn stats(State(app): State<App>) -> Result<Json<Stats>, ApiError> {
    let (users, active_sessions) = app.store.counts().await.map_err(unavailable)?;
    Ok(Json(Stats { users, active_sessions }))
}

/// The verified claims of the request's bearer token.
pub struct Bearer(pub authn::Claims);

impl FromRequestParts<App> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(authn::claims::bearer)
            .ok_or_else(|| unauthorized(Some("the Authorization header must be \"Bearer <access token>\"")))?;
        match app.issuer.verify(token) {
            Ok(claims) => Ok(Bearer(claims)),
            Err(rejected) => Err(unauthorized(Some(&rejected.to_string()))),
        }
    }
}

/// 401 with the RFC 6750 challenge: no error code when no token was sent,
/// `invalid_token` and a description when one was refused.
fn unauthorized(problem: Option<&str>) -> ApiError {
    let (challenge, message) = match problem {
        None => ("Bearer realm=\"platform\"".to_owned(), "send an access token as Authorization: Bearer <token>"),
        Some(why) => {
            let description = why.replace(['"', '\\'], "'");
            (format!("Bearer realm=\"platform\", error=\"invalid_token\", error_description=\"{description}\""), why)
        }
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"platform\"")),
    )
}
