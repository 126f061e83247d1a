//! A service's own identity: a short-lived token from auth's OAuth2
//! client-credentials grant (`POST /auth/token`), kept fresh in the
//! background.
//!
//! The token is shared by every request of the process, so it is fetched
//! and renewed in a task of its own, with its own timeout, never inside a
//! request: a request only reads the current token, or waits for the first
//! one within its own deadline. Renewal starts when two thirds of the
//! token's lifetime have passed; failures are retried with backoff while the
//! current token, if still valid, stays in use.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::Deserialize;
use tokio::sync::watch;

use crate::config::ClientConfig;

/// The longest a request waits for the first token when it has no deadline.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Largest token response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
enum State {
    /// No token yet (or the last one expired); why, if a fetch failed.
    Pending(Option<String>),
    Ready {
        token: Arc<str>,
        expires_at: u64,
    },
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no service token from auth yet: {0}")]
    Unavailable(String),
}

/// A handle on the process's service token; clones share one renewal task,
/// which stops when the last handle is dropped.
#[derive(Clone)]
pub struct ServiceToken {
    state: watch::Receiver<State>,
    client_id: Arc<str>,
    _renewal: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl ServiceToken {
    /// Starts fetching and renewing the token; must be called in a runtime.
    pub fn spawn(config: ClientConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(config.timeout).build()?;
        let (tx, rx) = watch::channel(State::Pending(None));
        let client_id: Arc<str> = config.client_id.clone().into();
        let task = tokio::spawn(renew(http, config, tx));
        Ok(Self { state: rx, client_id, _renewal: Arc::new(AbortOnDrop(task)) })
    }

    /// [`ServiceToken::spawn`] when an identity is configured; otherwise
    /// `None`, with a warning saying what the service cannot do without one.
    pub fn spawn_if_configured(config: Option<ClientConfig>, without: &str) -> Result<Option<Self>, reqwest::Error> {
        match config {
            Some(config) => Self::spawn(config).map(Some),
            None => {
                tracing::warn!("no SERVICE_CLIENT_SECRET(_FILE): this service has no service identity; {without}");
                Ok(None)
            }
        }
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The current token, waiting for the first one at most until the
    /// request's deadline (or a few seconds without one).
    pub async fn bearer(&self) -> Result<Arc<str>, TokenError> {
        let wait = platform::deadline::remaining().unwrap_or(DEFAULT_WAIT).min(DEFAULT_WAIT);
        let mut state = self.state.clone();
        let ready = |s: &State| matches!(s, State::Ready { expires_at, .. } if *expires_at > now());
        let outcome = tokio::time::timeout(wait, state.wait_for(ready)).await;
        let current = self.state.borrow().clone();
        match (outcome, current) {
            (Ok(Ok(_)), State::Ready { token, .. }) => Ok(token),
            (_, State::Pending(Some(why))) => Err(TokenError::Unavailable(why)),
            _ => Err(TokenError::Unavailable(format!("auth did not answer within {wait:?}"))),
        }
    }
}

async fn renew(http: reqwest::Client, config: ClientConfig, tx: watch::Sender<State>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match fetch(&http, &config).await {
            Ok(t) => {
                let lifetime = Duration::from_secs(t.expires_in.max(1));
                tx.send_replace(State::Ready { token: t.access_token.into(), expires_at: now() + t.expires_in });
                backoff = MIN_BACKOFF;
                tokio::time::sleep((lifetime * 2 / 3).max(Duration::from_secs(1))).await;
            }
            Err(why) => {
                tracing::warn!(client_id = %config.client_id, error = %why, "fetching the service token failed; retrying");
                tx.send_if_modified(|s| match s {
                    State::Ready { expires_at, .. } if *expires_at > now() => false,
                    _ => {
                        *s = State::Pending(Some(why.clone()));
                        true
                    }
                });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn fetch(http: &reqwest::Client, config: &ClientConfig) -> Result<TokenResponse, String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &config.client_id)
        .append_pair("client_secret", config.secret.expose())
        .finish();
    let res = http
        .post(config.token_url.clone())
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = res.status();
    let bytes = res.bytes().await.map_err(|e| e.without_url().to_string())?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(format!("the token response exceeds {MAX_RESPONSE_BYTES} bytes"));
    }
    if !status.is_success() {
        let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error_description"].as_str().or(v["error"].as_str()).map(str::to_owned))
            .unwrap_or_default();
        return Err(format!("auth answered {status} {detail}").trim_end().to_owned());
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("not a token response: {e}"))
}
