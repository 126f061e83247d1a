//! Wiring: database, fetcher, token verification, RPC surface, server.

use std::sync::Arc;

use authn::{AccessLayer, Gate, Jwks};
use events::relay::Relay;
use platform::{Server, retention::Prune};
use platform_rpc::RpcRouter;

use crate::{
    Config,
    fetch::Fetcher,
    service::{ACCESS, Caller},
    store,
};

/// Connects to the database, applies migrations and binds the port; the
/// returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let relay = Relay::new(pool.clone(), config.events.clone()).spawn();
    let caller = Caller::new(Fetcher::new(config.fetch)?, store::Store::new(pool.clone()));
    let jwks = Arc::new(Jwks::new(&config.authn)?);
    let access = AccessLayer::new(Gate::new(jwks, config.allowed_clients.clone()), ACCESS);
    Ok(RpcRouter::new(platform_proto::FILE_DESCRIPTOR_SET)
        .add_service(access.wrap(caller.into_server()))
        .bind(&config.common, pool)
        .await?
        .with_retention(vec![Prune::new("calls", "created_at", config.retention), config.events.prune()])
        .with_background(relay))
}
