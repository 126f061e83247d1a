//! JSON over HTTP for the REST services: one error shape and the extractors
//! and fallbacks that produce it.
//!
//! Every refusal is `{"error": {"code": "…", "message": "…"}}` with the
//! status that fits it, whether it comes from a handler ([`ApiError`]), from
//! decoding the request ([`Json`], [`Query`], [`Path`]: 400 malformed or
//! mistyped, 413 too large, 415 not JSON) or from routing (404, 405).
//! Messages describe what was wrong without repeating what the client sent,
//! so a password typed into the wrong field never comes back in an error.

use std::borrow::Cow;

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header, request::Parts};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::observe::ObserveLayer;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable machine-readable `code` and a human-readable `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable identifier, e.g. `invalid_json`, `not_found`, `weak_password`.
    pub code: String,
    /// What went wrong and, where possible, how to fix it.
    pub message: String,
}

/// An error response: status, code, message and any extra headers
/// (`Retry-After`, `WWW-Authenticate`).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Extra response headers (a list keeps the error small to return).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), headers: Vec::new() }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 422: well-formed, but refers to something that does not exist or
    /// breaks a rule.
    pub fn unprocessable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 429 with `Retry-After` in whole seconds (at least 1).
    pub fn too_many_requests(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)))
    }

    /// 503 for a dependency (the database) that failed; the cause is logged
    /// here, once, and never sent to the client.
    pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "{what} failed");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", format!("{what} is unavailable; try again"))
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message.clone() } }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body())).into_response();
        // Appended: a header may come more than once (two `Set-Cookie`s).
        for (name, value) in self.headers {
            res.headers_mut().append(name, value);
        }
        res
    }
}

/// Adds the `bearer` security scheme (a JWT in `Authorization: Bearer …`)
/// to an OpenAPI document; handlers name it in `security(("bearer" = []))`.
pub struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi.components.get_or_insert_with(Default::default).add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Finishes a REST router: JSON 404 and 405 answers, a request body limit
/// (larger bodies are refused with 413 before they are read in full), and
/// one span, log line and metric per request labelled by route template.
/// Call it after every route has been added.
pub fn finish(router: Router, max_body_bytes: usize) -> Router {
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(ObserveLayer::default())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not support the method; see the Allow header",
    )
}

/// A JSON request or response body. As an extractor it requires a JSON
/// content type and answers every decoding failure with an [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        decode(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}

/// Decodes a JSON body. Type errors name the field and the expected type
/// but not the value received.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (path, e) = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => match de.end() {
            Ok(()) => return Ok(v),
            Err(e) => (String::new(), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    if e.classify() == serde_json::error::Category::Data {
        let field = if path.is_empty() || path == "." { String::new() } else { format!("{path}: ") };
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("the JSON body does not have the expected shape: {field}{}", redact(&e)),
        ));
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_json",
        format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()),
    ))
}

/// serde's "invalid type: string \"…\", expected …" quotes the value; keep
/// only what was expected.
fn redact(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m);
    for kind in ["invalid type", "invalid value"] {
        if msg.starts_with(kind)
            && let Some((_, expected)) = msg.rsplit_once(", expected ")
        {
            return format!("{kind}, expected {expected}");
        }
    }
    msg.to_owned()
}

/// Query parameters; a malformed query string is a 400 [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// Path parameters; a segment that does not parse is a 400 [`ApiError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) if e.status().is_client_error() => Err(ApiError::bad_request(e.body_text())),
            Err(e) => {
                tracing::error!(error = %e.body_text(), "path extraction failed");
                Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
    }

    #[test]
    fn type_errors_name_the_field_but_not_the_value() {
        let err = decode::<Login>(br#"{"email": "a@b.c", "password": 12345678901}"#).unwrap_err();
        assert_eq!((err.status, &*err.code), (StatusCode::BAD_REQUEST, "invalid_body"));
        assert!(err.message.contains("password") && err.message.contains("expected a string"), "{}", err.message);
        assert!(!err.message.contains("12345678901"), "{}", err.message);

        let err = decode::<Vec<u8>>(br#"["hunter2 secret"]"#).unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);

        let err = decode::<Login>(br#"{"email": "a@b.c"}"#).unwrap_err();
        assert!(err.message.contains("missing field `password`"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_give_a_position() {
        let err = decode::<Login>(b"{\"email\": ").unwrap_err();
        assert_eq!(&*err.code, "invalid_json");
        assert!(err.message.contains("line 1"), "{}", err.message);
        assert_eq!(&*decode::<Login>(br#"{"email":"a","password":"b"} trailing"#).unwrap_err().code, "invalid_json");
    }

    #[test]
    fn json_content_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn errors_carry_their_headers() {
        let res = ApiError::too_many_requests("slow down", 0).into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }
}
