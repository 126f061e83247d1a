//! The auth service's public keys, fetched over HTTP and cached.
//!
//! Keys are fetched on first use, reused for `max_age`, and fetched again
//! early when a token names a key id the cache does not hold (auth rotated
//! its key). Fetches are single-flight and at most one per `min_refresh`, so
//! a flood of tokens with made-up key ids costs auth one request per
//! interval, not one per token. When auth cannot be reached, keys already
//! known stay in use.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::JwkSet;

use crate::{
    Claims, Config,
    verify::{self, Expected, KeySet, Rejected},
};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// A verifier backed by a remote JWKS.
pub struct Jwks {
    url: url::Url,
    http: reqwest::Client,
    expected: Expected,
    max_age: Duration,
    min_refresh: Duration,
    cache: RwLock<Cache>,
    /// When the last fetch started; held while fetching so fetches never overlap.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Cache {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
}

impl Jwks {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        Ok(Self {
            url: config.jwks_url.clone(),
            http: reqwest::Client::builder().timeout(config.timeout).build()?,
            expected: config.expected.clone(),
            max_age: config.max_age,
            min_refresh: config.min_refresh,
            cache: RwLock::default(),
            last_fetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many times the JWKS has been requested (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token`, fetching keys as needed.
    pub async fn verify(&self, token: &str) -> Result<Claims, Rejected> {
        let kid = verify::key_id(token)?;
        let keys = self.keys_for(&kid).await?;
        verify::verify(token, &keys, &self.expected)
    }

    fn snapshot(&self) -> (Arc<KeySet>, Option<Instant>) {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        (cache.keys.clone(), cache.fetched_at)
    }

    fn usable(&self, keys: &KeySet, fetched_at: Option<Instant>, kid: &str) -> bool {
        keys.contains(kid) && fetched_at.is_some_and(|t| t.elapsed() < self.max_age)
    }

    async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, Rejected> {
        let (keys, fetched_at) = self.snapshot();
        if self.usable(&keys, fetched_at, kid) {
            return Ok(keys);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another task may have fetched while this one waited.
        let (keys, fetched_at) = self.snapshot();
        if self.usable(&keys, fetched_at, kid) {
            return Ok(keys);
        }
        if last_fetch.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return match fetched_at {
                Some(_) => Ok(keys),
                None => Err(Rejected::KeysUnavailable),
            };
        }
        *last_fetch = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.fetch().await {
            Ok(fresh) => {
                tracing::info!(url = %self.url, keys = fresh.len(), "fetched the auth service's signing keys");
                let fresh = Arc::new(fresh);
                let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                *cache = Cache { keys: fresh.clone(), fetched_at: Some(Instant::now()) };
                Ok(fresh)
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "fetching the auth service's signing keys failed");
                match fetched_at {
                    Some(_) => Ok(keys),
                    None => Err(Rejected::KeysUnavailable),
                }
            }
        }
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
