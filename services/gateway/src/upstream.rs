//! The REST services the gateway fronts, as it uses them: `GET`s of JSON
//! through the shared resilience stack (deadline, retries, breaker,
//! bulkhead per upstream), with the trace carried on and bodies bounded.

use std::{fmt, time::Duration};

use http::HeaderMap;
use resilience::{CallError, Idempotency, Policy, Retryable, Upstream};
use serde::{Deserialize, de::DeserializeOwned};

use crate::config::join;

/// Largest response body read from an upstream.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why an attempt got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// No answer: refused or reset.
    Transport(String),
    /// No answer within the attempt's time.
    TimedOut,
    /// 400 or 422: the request itself was refused, with the upstream's reason.
    Rejected { status: u16, message: String },
    /// Any other status that is not a success.
    Status { status: u16, message: String },
    /// A success whose body is not what the contract says.
    Decode(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "no answer: {e}"),
            Self::TimedOut => f.write_str("no answer in time"),
            Self::Rejected { status, message } | Self::Status { status, message } => {
                write!(f, "status {status}: {message}")
            }
            Self::Decode(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

impl Retryable for HttpError {
    /// Worth another attempt: no connection, or a status saying "not now".
    /// A timeout is not: like the resilience stack's own, retrying would
    /// load a slow upstream more.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            Self::TimedOut | Self::Rejected { .. } | Self::Decode(_) => false,
        }
    }

    /// Counts towards opening the breaker: everything but the caller's own
    /// bad input, which says nothing about the upstream's health.
    fn is_failure(&self) -> bool {
        !matches!(self, Self::Rejected { .. })
    }
}

/// Whether a failed call reached the upstream at all: an open breaker, a
/// full bulkhead or a deadline already passed refuse without calling it.
pub fn reached<E>(e: &CallError<E>) -> bool {
    match e {
        CallError::Upstream(_) => true,
        CallError::Timeout { after, .. } => !after.is_zero(),
        CallError::Open { .. } | CallError::Overloaded { .. } => false,
    }
}

/// JSON over HTTP to one upstream.
#[derive(Clone)]
struct JsonApi {
    http: reqwest::Client,
    base: url::Url,
    upstream: Upstream,
}

impl JsonApi {
    fn new(name: &'static str, base: &url::Url, policy: Policy) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: base.clone(),
            upstream: Upstream::new(name, policy),
        })
    }

    async fn get<T>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, CallError<HttpError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.get_as(path, query, None).await
    }

    /// `get`, presenting `bearer` (a service token).
    async fn get_as<T>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        bearer: Option<&str>,
    ) -> Result<T, CallError<HttpError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let mut url = join(&self.base, path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        // Taken here, in the handler's span: attempts may run elsewhere.
        let mut headers = HeaderMap::new();
        platform::propagation::inject(&mut headers);
        if let Some(token) = bearer {
            let value = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                CallError::Upstream(HttpError::Transport("the service token is not a header value".into()))
            })?;
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let http = self.http.clone();
        self.upstream
            .call(Idempotency::Idempotent, move |timeout| fetch(http.clone(), url.clone(), headers.clone(), timeout))
            .await
    }
}

/// One attempt: `GET url`, decoded as `T`, within `timeout`.
async fn fetch<T: DeserializeOwned>(
    http: reqwest::Client,
    url: url::Url,
    headers: HeaderMap,
    timeout: Duration,
) -> Result<T, HttpError> {
    let transport = |e: reqwest::Error| {
        if e.is_timeout() { HttpError::TimedOut } else { HttpError::Transport(causes(&e.without_url())) }
    };
    let mut res = http.get(url).headers(headers).timeout(timeout).send().await.map_err(transport)?;
    let status = res.status();
    if res.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(HttpError::Decode(format!("the body exceeds {MAX_BODY_BYTES} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(HttpError::Decode(format!("the body exceeds {MAX_BODY_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let message = error_message(&body).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        let status = status.as_u16();
        return Err(match status {
            400 | 422 => HttpError::Rejected { status, message },
            _ => HttpError::Status { status, message },
        });
    }
    serde_json::from_slice(&body).map_err(|e| HttpError::Decode(e.to_string()))
}

/// An error and its causes, e.g. "error sending request: client error
/// (Connect): tcp connect error: Connection refused".
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The message of the platform's REST error shape ([`platform::rest::ErrorBody`]).
fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<platform::rest::ErrorBody>(body).ok().map(|b| b.error.message)
}

/// lang's `GET /lang/v1/greeting`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LangGreeting {
    pub greeting: String,
    pub language: String,
    pub fallback: bool,
}

/// One entry of lang's `GET /lang/v1/languages`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LangLanguage {
    pub code: String,
    pub name: String,
    pub native_name: String,
}

#[derive(Deserialize)]
struct Languages {
    languages: Vec<LangLanguage>,
}

#[derive(Clone)]
pub struct LangClient(JsonApi);

impl LangClient {
    pub const NAME: &str = "lang";

    pub fn new(base: &url::Url, policy: Policy) -> anyhow::Result<Self> {
        JsonApi::new(Self::NAME, base, policy).map(Self)
    }

    /// A greeting for `name` in `language` (empty: lang's default, English).
    pub async fn greeting(&self, name: &str, language: &str) -> Result<LangGreeting, CallError<HttpError>> {
        let mut query = vec![("name", name)];
        if !language.is_empty() {
            query.push(("language", language));
        }
        self.0.get("/lang/v1/greeting", &query).await
    }

    pub async fn languages(&self) -> Result<Vec<LangLanguage>, CallError<HttpError>> {
        self.0.get::<Languages>("/lang/v1/languages", &[]).await.map(|l| l.languages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_neither_retried_nor_held_against_the_upstream() {
        let rejected = HttpError::Rejected { status: 400, message: "name is required".into() };
        assert!(!rejected.is_retryable() && !rejected.is_failure());
        let unavailable = HttpError::Status { status: 503, message: "try again".into() };
        assert!(unavailable.is_retryable() && unavailable.is_failure());
        let broken = HttpError::Status { status: 500, message: "internal".into() };
        assert!(!broken.is_retryable() && broken.is_failure());
        let missing = HttpError::Status { status: 404, message: "no route".into() };
        assert!(!missing.is_retryable() && missing.is_failure(), "a wrong URL is the integration failing");
        assert!(HttpError::Transport("refused".into()).is_retryable());
        assert!(!HttpError::TimedOut.is_retryable() && HttpError::TimedOut.is_failure());
        assert!(!HttpError::Decode("eof".into()).is_retryable());
    }

    #[test]
    fn error_messages_come_from_the_platform_shape() {
        assert_eq!(
            error_message(br#"{"error":{"code":"invalid_name","message":"name is required"}}"#).as_deref(),
            Some("name is required")
        );
        assert_eq!(error_message(b"<html>Bad Gateway</html>"), None);
    }
}
