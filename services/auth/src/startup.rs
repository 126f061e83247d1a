//! Wiring: signing keys, database, password hasher, REST surface, server.

use std::{sync::Arc, time::Duration};

use authn::Gate;
use events::relay::Relay;
use idempotency::Idempotency;
use platform::{Server, retention::Prune};

use crate::{
    Config,
    client::TrustedProxies,
    deletion,
    password::Hasher,
    service::{self, App},
    store::{self, Store},
    throttle::Throttle,
    tokens::Issuer,
};

/// Loads the signing key, connects to the database, applies migrations,
/// publishes the key and binds the port; the returned server runs with
/// [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    // A bad key fails start-up before anything waits on the database.
    let issuer = Arc::new(Issuer::new(&config.tokens)?);
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let store = Store::new(pool.clone());
    let published = store.register_signing_key(&issuer.signing_key().public(), issuer.retirement()).await?;
    issuer.publish(published);
    if config.clients.0.is_empty() {
        tracing::warn!("no service clients configured (AUTH_CLIENTS_FILE, AUTH_CLIENTS): no service tokens are issued");
    }
    let revocations = authn::Revocations::new(config.revocation_retain);
    let app = App {
        hasher: Hasher::new(config.passwords.bcrypt_cost, config.passwords.concurrency).await?,
        throttle: Throttle::new(store.clone(), config.throttle.clone()),
        proxies: TrustedProxies(Arc::new(config.trusted_proxies.clone())),
        gate: Gate::new(issuer.clone(), config.allowed_clients.clone()).with_revocations(revocations.clone()),
        clients: Arc::new(config.clients.clone()),
        store: store.clone(),
        issuer: issuer.clone(),
        idempotency: Idempotency::new(pool.clone(), config.idempotency.clone()),
        deletion: config.deletion.clone(),
        cookie_origins: crate::cookies::Origins(config.cookie_origins.clone()),
    };
    let refresh = tokio::spawn(refresh_keys(store, issuer, config.tokens.key_refresh));
    let relay = Relay::new(pool.clone(), config.events.clone()).spawn();
    let retrier = deletion::spawn_retrier(pool.clone(), config.deletion.clone());
    let revoking = revocations.follow(config.events.nats_url.clone());
    let answers = deletion::answers(&pool, &config.events);
    let mut server = Server::http(&config.common, pool, service::router(app, config.max_body_bytes)?)
        .await?
        .with_background(refresh)
        .with_background(relay)
        .with_background(retrier)
        .with_background(revoking)
        .with_retention(prunes(&config));
    for consumer in answers {
        server = server.with_background(consumer.spawn());
    }
    Ok(server)
}

/// What auth_db keeps, and for how long.
fn prunes(config: &Config) -> Vec<Prune> {
    vec![
        Prune::new("sessions", "expires_at", config.session_retention),
        // A family goes once its last session has (revoked families with them).
        Prune::new("session_families", "created_at", config.session_retention)
            .and("NOT EXISTS (SELECT 1 FROM sessions s WHERE s.family_id = session_families.id)"),
        Prune::new("audit_log", "at", config.audit_retention),
        Idempotency::prune(),
        config.events.prune(),
        events::consumer::Config::prune(events::consumer::INBOX_RETENTION),
        config.deletion.prune(),
    ]
}

/// Re-reads the published keys now and then, so a key another replica (or
/// `auth rotate-key`) added is published and accepted here too, and retired
/// keys leave once their tokens have expired. Its own task: no request waits
/// on it, and a slow database only delays the next refresh.
async fn refresh_keys(store: Store, issuer: Arc<Issuer>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match tokio::time::timeout(every, store.published_keys()).await {
            Ok(Ok(keys)) => issuer.publish(keys),
            Ok(Err(e)) => tracing::warn!(error = %e, "re-reading the published signing keys failed"),
            Err(_) => tracing::warn!("re-reading the published signing keys timed out"),
        }
    }
}
