//! Wiring: database, token verification, REST surface, server.

use std::sync::Arc;

use authn::{Gate, Jwks};
use events::{deletion, relay::Relay};
use idempotency::Idempotency;
use platform::{Server, retention::Prune};

use crate::{
    Config,
    service::{self, App},
    store::{self, Store},
};

/// Connects to the database, applies migrations (which seed the languages)
/// and binds the port; the returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let jwks = Arc::new(Jwks::new(&config.authn)?);
    let relay = Relay::new(pool.clone(), config.events.clone()).spawn();
    let revocations = authn::Revocations::new(config.authn.revocation_retain);
    let revoking = revocations.clone().follow(config.events.nats_url.clone());
    let deletions =
        deletion::consumer(pool.clone(), deletion::config(&config.events, "lang"), "lang", store::remove_user())
            .spawn();
    let app = App {
        store: Store::new(pool.clone()),
        gate: Gate::new(jwks, config.allowed_clients.clone()).with_revocations(revocations),
        idempotency: Idempotency::new(pool.clone(), config.idempotency.clone()),
    };
    Ok(Server::http(&config.common, pool, service::router(app, config.max_body_bytes)?)
        .await?
        .with_retention(vec![
            Prune::new("audit_log", "at", config.audit_retention),
            Idempotency::prune(),
            config.events.prune(),
            events::consumer::Config::prune(events::consumer::INBOX_RETENTION),
        ])
        .with_background(relay)
        .with_background(deletions)
        .with_background(revoking))
}
