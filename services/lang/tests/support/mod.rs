//! lang in-process on a random port, against a real auth and its own database.

#![allow(dead_code)]

use auth::testing::Fixture;
use lang::Config;
use platform::{Env, db::DbConfig};

pub struct Served {
    pub base: String,
    pub db: DbConfig,
    pub auth: Fixture,
}

/// lang with its defaults, then `configure`d, trusting a fresh auth.
pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Served {
    testkit::init_telemetry();
    let auth = Fixture::start().await;
    let mut config = Config::from_env(&Env::default()).unwrap();
    config.common.port = 0;
    config.common.database = testkit::database().await;
    config.authn = auth.authn();
    configure(&mut config);
    let db = config.common.database.clone();
    let server = lang::build(config).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    tokio::spawn(server.run_until(std::future::pending()));
    Served { base, db, auth }
}
