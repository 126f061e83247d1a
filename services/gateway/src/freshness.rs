//! Keeps the greeting cache fresh: when lang publishes
//! `translation.changed`, every cached greeting is dropped
//! ([`crate::service::Gateway::translations_changed`]), so the next request
//! asks lang and a changed translation is served at once instead of up to
//! the cache's TTL later.
//!
//! Every replica holds its own cache, so every replica must hear every
//! change: a plain NATS subscription (JetStream also delivers its stream's
//! messages to core subscribers), not the shared durable consumer a read
//! model uses. A change missed while the broker is away costs at most the
//! TTL, which stays the bound it always was. The whole cache goes, not
//! the changed language's entries: lang falls back between languages
//! (`fr-CA` → `fr`, unknown → English), so an entry's language does not say
//! which translation it came from, and translations change rarely.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinHandle;

/// Calls `changed` whenever a translation changes.
pub fn spawn(nats_url: String, changed: impl Fn() + Send + 'static) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut said_away = false;
        loop {
            match subscribe(&nats_url).await {
                Ok(mut changes) => {
                    said_away = false;
                    tracing::info!(url = %nats_url, "evicting cached greetings on translation.changed");
                    // The client reconnects and resubscribes by itself; the
                    // stream ends only if the connection is closed for good.
                    while let Some(change) = changes.next().await {
                        tracing::debug!(subject = %change.subject, "translation changed; greeting cache cleared");
                        metrics::counter!("gateway_cache_evictions_total").increment(1);
                        changed();
                    }
                }
                Err(e) if !said_away => {
                    tracing::warn!(url = %nats_url, error = %e,
                        "no broker: cached greetings are not evicted on change, only after their TTL");
                    said_away = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
}

async fn subscribe(url: &str) -> Result<async_nats::Subscriber, String> {
    let client = events::connect(url).await.map_err(|e| e.to_string())?;
    client.subscribe(events::subjects::TRANSLATION_CHANGED).await.map_err(|e| e.to_string())
}
