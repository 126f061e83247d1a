//! Every route of lang against its declared access level, sent straight to
//! the service (no edge): anonymous, user, admin, the allowed service
//! (gateway) and another service.

mod support;

use lang::service::ACCESS;

#[tokio::test]
async fn every_route_enforces_its_declared_level() {
    let lang = support::spawn_with(|_| {}).await;
    let checked = lang.auth.walk(&lang.base, ACCESS, "gateway").await;
    assert_eq!(checked, ACCESS.len() * 5);
}
