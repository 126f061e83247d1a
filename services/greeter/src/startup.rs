//! Wiring: database, token verification, caller client with greeter's
//! service identity, the greetings listener, RPC surface, server.

use std::sync::Arc;

use authn::{AccessLayer, Gate, Jwks, client::ServiceToken};
use events::{deletion, relay::Relay};
use idempotency::Idempotency;
use platform::{Server, retention::Prune, shutdown::Draining};
use platform_rpc::RpcRouter;

use crate::{
    Config,
    service::{ACCESS, Greeter},
    store,
    upstream::CallerClient,
    watch::Watchers,
};

/// Connects to the database, applies migrations and binds the port; the
/// returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let identity = ServiceToken::spawn_if_configured(config.identity.clone(), "caller will refuse its calls")?;
    let caller = CallerClient::new(&config.caller_url, config.caller, identity)?;
    // Watches end when shutdown begins, not when the grace period runs out.
    let draining = Draining::new();
    let (watchers, listener) = Watchers::spawn(pool.clone(), config.watch.clone(), draining.clone());
    let idempotency = Idempotency::new(pool.clone(), config.idempotency.clone());
    let relay = Relay::new(pool.clone(), config.events.clone()).spawn();
    let deletions =
        deletion::consumer(pool.clone(), deletion::config(&config.events, "greeter"), "greeter", store::remove_user())
            .spawn();
    let greeter = Greeter::new(caller, store::Store::new(pool.clone()), idempotency, config.default_url, watchers);
    let jwks = Arc::new(Jwks::new(&config.authn)?);
    let revocations = authn::Revocations::new(config.authn.revocation_retain);
    let revoking = revocations.clone().follow(config.events.nats_url.clone());
    let access = AccessLayer::new(Gate::new(jwks, Vec::new()).with_revocations(revocations), ACCESS);
    Ok(RpcRouter::new(platform_proto::FILE_DESCRIPTOR_SET)
        .add_service(access.wrap(greeter.into_server()))
        .bind(&config.common, pool)
        .await?
        .with_retention(vec![
            Prune::new("greetings", "created_at", config.retention),
            Idempotency::prune(),
            config.events.prune(),
            events::consumer::Config::prune(events::consumer::INBOX_RETENTION),
        ])
        .with_background(relay)
        .with_background(deletions)
        .with_background(revoking)
        .with_background(listener)
        .with_draining(draining))
}
