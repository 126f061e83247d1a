//! The auth service's public keys, fetched over HTTP and cached.
//!
//! Keys are fetched on first use, reused for `max_age`, and fetched again
//! early when a token names a key id the cache does not hold (auth rotated
//! its key). The key set is shared by every request, so fetching it is
//! shared work: it runs in a task of its own, with its own timeout, and a
//! request only waits for it (at most until its own deadline). A request's
//! deadline, disconnect or bad token never cancels or poisons a fetch.
//! Fetches are single-flight and start at most once per `min_refresh`
//! (counted from when the last one finished), so a flood of tokens with
//! made-up key ids costs auth one request per interval. Past `max_age` the
//! keys already held keep verifying while a refresh runs in the background
//! (stale-while-revalidate); when auth cannot be reached they stay in use.

use std::{
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::JwkSet;
use tokio::sync::watch;

use crate::{
    Claims, Config,
    verify::{self, Expected, KeySet, Rejected},
};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A verifier backed by a remote JWKS.
pub struct Jwks {
    shared: Arc<Shared>,
    expected: Expected,
    max_age: Duration,
    /// The longest a request waits for a fetch when it has no deadline.
    timeout: Duration,
}

/// What the fetch task and the requests share.
struct Shared {
    url: url::Url,
    http: reqwest::Client,
    min_refresh: Duration,
    cache: RwLock<Cache>,
    refresh: Mutex<Refresh>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Cache {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct Refresh {
    /// Set while a fetch runs; turns `true` when it has finished.
    in_flight: Option<watch::Receiver<bool>>,
    /// When the last fetch finished, successful or not.
    finished_at: Option<Instant>,
}

impl Jwks {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        Ok(Self {
            shared: Arc::new(Shared {
                url: config.jwks_url.clone(),
                http: reqwest::Client::builder().timeout(config.timeout).build()?,
                min_refresh: config.min_refresh,
                cache: RwLock::default(),
                refresh: Mutex::default(),
                fetches: AtomicU64::new(0),
            }),
            expected: config.expected.clone(),
            max_age: config.max_age,
            timeout: config.timeout,
        })
    }

    /// How many times the JWKS has been requested (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token`, fetching keys as needed.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejected> {
        let kid = verify::key_id(token)?;
        let keys = self.keys_for(&kid).await?;
        verify::verify(token, &keys, &self.expected)
    }

    async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, Rejected> {
        let (keys, fetched_at) = self.shared.snapshot();
        if keys.contains(kid) {
            if fetched_at.is_none_or(|t| t.elapsed() >= self.max_age) {
                // Stale: keep verifying with what is known while a refresh runs.
                self.shared.refresh();
            }
            return Ok(keys);
        }
        // An unknown key id (or no keys yet): wait for a fetch, if one may run.
        if let Some(mut done) = self.shared.refresh() {
            let wait = platform::deadline::remaining().unwrap_or(self.timeout).min(self.timeout);
            let _ = tokio::time::timeout(wait, done.wait_for(|finished| *finished)).await;
        }
        let (keys, fetched_at) = self.shared.snapshot();
        match fetched_at {
            Some(_) => Ok(keys),
            None => Err(Rejected::KeysUnavailable),
        }
    }
}

impl Shared {
    fn snapshot(&self) -> (Arc<KeySet>, Option<Instant>) {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        (cache.keys.clone(), cache.fetched_at)
    }

    /// Starts a fetch in its own task unless one is running or the last one
    /// finished less than `min_refresh` ago; a receiver that turns `true`
    /// when the running fetch finishes, if there is one.
    fn refresh(self: &Arc<Self>) -> Option<watch::Receiver<bool>> {
        let mut refresh = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = &refresh.in_flight {
            return Some(running.clone());
        }
        if refresh.finished_at.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return None;
        }
        let (tx, rx) = watch::channel(false);
        refresh.in_flight = Some(rx.clone());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let shared = self.clone();
        // The task captures no request state: only the http client's own timeout bounds it.
        tokio::spawn(async move {
            let outcome = shared.fetch().await;
            match outcome {
                Ok(fresh) => {
                    tracing::info!(url = %shared.url, keys = fresh.len(), "fetched the auth service's signing keys");
                    let mut cache = shared.cache.write().unwrap_or_else(|e| e.into_inner());
                    *cache = Cache { keys: Arc::new(fresh), fetched_at: Some(Instant::now()) };
                }
                Err(e) => {
                    tracing::warn!(url = %shared.url, error = %e, "fetching the auth service's signing keys failed")
                }
            }
            let mut refresh = shared.refresh.lock().unwrap_or_else(|e| e.into_inner());
            refresh.in_flight = None;
            refresh.finished_at = Some(Instant::now());
            drop(refresh);
            let _ = tx.send(true);
        });
        Some(rx)
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let mut req = self.http.get(self.url.clone());
        let mut headers = http::HeaderMap::new();
        platform::propagation::inject(&mut headers);
        req = req.headers(headers);
        let res = req.send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        if res.content_length().is_some_and(|n| n > MAX_JWKS_BYTES as u64) {
            return Err(format!("the key set exceeds {MAX_JWKS_BYTES} bytes"));
        }
        let body = res.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set exceeds {MAX_JWKS_BYTES} bytes"));
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| format!("not a JWKS document: {e}"))?;
        let keys = KeySet::from_jwks(&set);
        if keys.is_empty() {
            return Err("the key set holds no Ed25519 signing key".into());
        }
        Ok(keys)
    }
}
