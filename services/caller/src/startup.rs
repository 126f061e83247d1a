//! Wiring: database, fetcher, RPC surface, server.

use platform::{Server, rpc::RpcRouter};

use crate::{Config, fetch::Fetcher, service::Caller, store};

/// Connects to the database, applies migrations and binds the port; the
/// returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let caller = Caller::new(Fetcher::new(config.fetch)?, store::Store::new(pool.clone()));
    Server::rpc(&config.common, pool, RpcRouter::new().add_service(caller.into_server())).await
}
