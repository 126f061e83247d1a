//! Every RPC of gateway against its declared access level, sent straight to
//! the service over Connect JSON (no edge): anonymous, user, admin and
//! services.

mod support;

use support::{Auth, Gateway, Neighbours};

#[tokio::test]
async fn every_rpc_enforces_its_declared_level() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let checked = auth.fixture.walk(&gateway.url(""), gateway::access::ACCESS, "gateway").await;
    assert_eq!(checked, gateway::access::ACCESS.len() * 5);
}
