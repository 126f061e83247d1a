//! gateway's RPCs over every protocol a client may speak — gRPC, gRPC-Web
//! (binary and text), Connect JSON and binary (HTTP/1.1 and h2c), and
//! Connect GET for `Overview` and `Metrics` — each uncompressed and with
//! gzip both ways, at the wire level (`rpc-testkit`), with the real lang and
//! auth behind it.

mod support;

use platform_proto::gateway::v1::{
    LocalizedGreetingRequest, LocalizedGreetingResponse, MetricsRequest, MetricsResponse, OverviewRequest,
    OverviewResponse, Source,
};
use rpc_testkit::{Client, Wire};
use support::{Auth, Gateway, Neighbours};
use testkit::nats::Nats;
use tonic::Code;

const GREETING: &str = "/gateway.v1.GatewayService/LocalizedGreeting";
const OVERVIEW: &str = "/gateway.v1.GatewayService/Overview";
const METRICS: &str = "/gateway.v1.GatewayService/Metrics";

struct Stack {
    // Serving while the stack lives (dropping it stops the gateway).
    _gateway: Gateway,
    anonymous: Client,
    user: Client,
    admin: Client,
    _nats: Nats,
}

async fn start() -> Stack {
    let nats = Nats::start();
    let auth = Auth::with_events(&nats.url()).await;
    let n = Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None };
    let gateway = support::with_events(&n, &nats.url(), &[]).await;
    let anonymous = Client::new(gateway.addr, platform_proto::descriptor_pool());
    let token = auth.token("ada@example.com").await;
    let user = anonymous.with_token(&token);
    let admin = anonymous.with_token(&auth.admin_token("root@example.com").await);
    // Both sign-ups read from auth's events before anything is asked.
    support::counted(&gateway, &token, 2).await;
    Stack { _gateway: gateway, anonymous, user, admin, _nats: nats }
}

#[tokio::test]
async fn localized_greeting_works_over_every_wire() {
    let s = start().await;
    for (i, wire) in Wire::posts().into_iter().enumerate() {
        // A name of its own, so each answer comes from lang, not the cache.
        let request = LocalizedGreetingRequest { name: format!("Ada {i}"), language: "fr".into() };
        let reply = s
            .user
            .unary::<_, LocalizedGreetingResponse>(wire, GREETING, &request)
            .await
            .unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        reply.assert_compression(wire);
        let r = &reply.message;
        assert_eq!(
            (r.greeting.as_str(), r.language.as_str()),
            (format!("Bonjour, Ada {i} !").as_str(), "fr"),
            "{wire}"
        );
        assert_eq!(r.source(), Source::Upstream, "{wire}");

        let bad = LocalizedGreetingRequest { name: "Ada".into(), language: "fr\u{7}".into() };
        let failure = s.user.unary::<_, LocalizedGreetingResponse>(wire, GREETING, &bad).await.unwrap_err();
        failure.assert(wire, Code::InvalidArgument, "language tag");
        assert_eq!(failure.bad_field(), Some("language"), "{wire}");

        let failure = s.anonymous.unary::<_, LocalizedGreetingResponse>(wire, GREETING, &request).await.unwrap_err();
        failure.assert(wire, Code::Unauthenticated, "");
    }
}

#[tokio::test]
async fn overview_works_over_every_wire_get_included() {
    let s = start().await;
    for wire in Wire::all(true) {
        let reply = s
            .user
            .unary::<_, OverviewResponse>(wire, OVERVIEW, &OverviewRequest {})
            .await
            .unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        reply.assert_compression(wire);
        assert_eq!((reply.message.languages.len(), reply.message.user_count), (15, Some(2)), "{wire}: ada and root");

        let anonymous = s.anonymous.unary::<_, OverviewResponse>(wire, OVERVIEW, &OverviewRequest {}).await.unwrap();
        assert_eq!(anonymous.message.user_count, None, "{wire}: no user data without a token");

        let forged = s.anonymous.with_token("not.a.jwt");
        let failure = forged.unary::<_, OverviewResponse>(wire, OVERVIEW, &OverviewRequest {}).await.unwrap_err();
        failure.assert(wire, Code::Unauthenticated, "");
    }
}

#[tokio::test]
async fn metrics_works_over_every_wire_get_included_for_admins_only() {
    let s = start().await;
    // Requests for the window to count.
    for i in 0..3 {
        let request = LocalizedGreetingRequest { name: format!("Grace {i}"), language: "de".into() };
        s.user.unary::<_, LocalizedGreetingResponse>(Wire::posts()[0], GREETING, &request).await.unwrap();
    }
    let hour = MetricsRequest { window: Some(prost_types::Duration { seconds: 3600, nanos: 0 }) };
    // The requests are recorded in the background: wait until they count.
    support::eventually(|| async {
        let reply = s.admin.unary::<_, MetricsResponse>(Wire::posts()[0], METRICS, &hour).await.unwrap();
        reply.message.metrics.iter().any(|m| m.method.ends_with("LocalizedGreeting") && m.requests >= 3).then_some(())
    })
    .await;
    for wire in Wire::all(true) {
        let reply =
            s.admin.unary::<_, MetricsResponse>(wire, METRICS, &hour).await.unwrap_or_else(|f| panic!("{wire}: {f:?}"));
        reply.assert_ok(wire);
        reply.assert_compression(wire);
        assert_eq!(reply.message.window.as_ref().map(|w| w.seconds), Some(3600), "{wire}");
        assert!(!reply.message.metrics.is_empty(), "{wire}");

        let failure = s.user.unary::<_, MetricsResponse>(wire, METRICS, &hour).await.unwrap_err();
        failure.assert(wire, Code::PermissionDenied, "");

        let negative = MetricsRequest { window: Some(prost_types::Duration { seconds: -5, nanos: 0 }) };
        let failure = s.admin.unary::<_, MetricsResponse>(wire, METRICS, &negative).await.unwrap_err();
        failure.assert(wire, Code::InvalidArgument, "positive duration");
        assert_eq!(failure.bad_field(), Some("window"), "{wire}");
    }
}
