//! Wiring: database, caller client, RPC surface, server.

use platform::{Server, rpc::RpcRouter};

use crate::{Config, service::Greeter, store, upstream::CallerClient};

/// Connects to the database, applies migrations and binds the port; the
/// returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let caller = CallerClient::new(&config.caller_url, config.caller)?;
    let greeter = Greeter::new(caller, store::Store::new(pool.clone()), config.default_url);
    Server::rpc(&config.common, pool, RpcRouter::new().add_service(greeter.into_server())).await
}
