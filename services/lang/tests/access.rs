//! Every route of lang against its declared access level, sent straight to
//! the service (no edge): anonymous, user, admin, the allowed service
//! (gateway) and another service.

use auth::testing::Fixture;
use lang::{Config, service::ACCESS};
use platform::Env;

#[tokio::test]
async fn every_route_enforces_its_declared_level() {
    testkit::init_telemetry();
    let auth = Fixture::start().await;
    let mut config = Config::from_env(&Env::default()).unwrap();
    config.common.port = 0;
    config.common.database = testkit::database().await;
    config.authn = auth.authn();
    let server = lang::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    let checked = auth.walk(&format!("http://{addr}"), ACCESS, "gateway").await;
    assert_eq!(checked, ACCESS.len() * 5);
}
