//! Wiring: signing key, database, password hasher, REST surface, server.

use std::sync::Arc;

use platform::Server;

use crate::{
    Config,
    client::TrustedProxies,
    password::Hasher,
    service::{self, App},
    store::{self, Store},
    throttle::Throttle,
    tokens::Issuer,
};

/// Loads the signing key, connects to the database, applies migrations and
/// binds the port; the returned server runs with [`Server::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Server> {
    // A bad key fails start-up before anything waits on the database.
    let issuer = Arc::new(Issuer::new(&config.tokens)?);
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    let store = Store::new(pool.clone());
    let app = App {
        hasher: Hasher::new(config.passwords.bcrypt_cost, config.passwords.concurrency).await?,
        throttle: Throttle::new(store.clone(), config.throttle.clone()),
        proxies: TrustedProxies(Arc::new(config.trusted_proxies.clone())),
        store,
        issuer,
    };
    Server::http(&config.common, pool, service::router(app, config.max_body_bytes)?).await
}
