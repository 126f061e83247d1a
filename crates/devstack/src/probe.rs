//! Readiness over HTTP: a service is ready when `GET /readyz` answers 200.

use std::time::Duration;

/// How often an unready service is asked again. Small: the time to `platform ready` is the
/// point of devstack, and a refused loopback connection costs microseconds.
const INTERVAL: Duration = Duration::from_millis(10);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        // Probes are local; a proxy from the environment must not intercept them.
        .no_proxy()
        .build()
        .expect("a client with no TLS settings builds")
}

/// What one `GET` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ready,
    /// Listening, but answering this status.
    NotReady(u16),
    /// Nothing answered.
    Down,
}

pub async fn check(client: &reqwest::Client, url: &str) -> Health {
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Health::Ready,
        Ok(r) => Health::NotReady(r.status().as_u16()),
        Err(_) => Health::Down,
    }
}

/// Asks `url` until it answers 200, for at most `limit`.
pub async fn wait_ready(client: &reqwest::Client, url: &str, limit: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let last = check(client, url).await;
        if last == Health::Ready {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("{url} did not answer 200 within {}s (last: {last:?})", limit.as_secs());
        }
        tokio::time::sleep(INTERVAL).await;
    }
}
