//! gateway_db disappearing: requests go on, records are dropped and counted.
//! (Its own test binary: the dropped counter is process-wide.)

mod support;

use platform_proto::gateway::v1::{LocalizedGreetingRequest, MetricsRequest, OverviewRequest};
use support::{Auth, Gateway, Neighbours, authorized, eventually};
use tonic::Code;

/// `gateway_metrics_dropped_total` as `/metrics` reports it (0 until the first drop).
async fn dropped(gateway: &Gateway) -> f64 {
    let text = reqwest::get(gateway.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gateway_metrics_dropped_total "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn a_database_outage_drops_records_but_fails_no_request() {
    let auth = Auth::start().await;
    let gateway = Gateway::with(&Neighbours { lang: support::lang().await, auth: auth.addr, jwks: None }).await;
    let token = auth.admin_token("ada@example.com").await;
    let mut client = gateway.client().await;
    let greet = |name: &str| authorized(LocalizedGreetingRequest { name: name.into(), language: "de".into() }, &token);

    client.localized_greeting(greet("Ada")).await.unwrap();
    // Recorded while the database is there: nothing dropped.
    eventually(|| {
        let gateway = &gateway;
        async move {
            let mut db = gateway.db().await;
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM request_metrics").fetch_one(&mut db).await.unwrap();
            (n == 1).then_some(())
        }
    })
    .await;
    let before = dropped(&gateway).await;
    assert_eq!(before, 0.0);

    gateway.drop_database().await;
    for name in ["Grace", "Linus", "Barbara", "Edsger", "Ada"] {
        let r = client.localized_greeting(greet(name)).await.unwrap().into_inner();
        assert!(r.greeting.starts_with("Hallo, "), "{r:?}");
    }
    // The overview goes on with lang alone: the user projection and the
    // metrics are both in the database.
    let r = client.overview(authorized(OverviewRequest {}, &token)).await.unwrap().into_inner();
    assert_eq!(r.unavailable, ["users", "metrics"]);
    assert_eq!((r.languages.len(), r.user_count), (15, None));
    // Metrics has nothing else to answer with.
    let err = client.metrics(authorized(MetricsRequest { window: None }, &token)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);

    // 5 greetings, the overview and the metrics call could not be written.
    let after = eventually(|| async {
        let n = dropped(&gateway).await;
        (n >= 7.0).then_some(n)
    })
    .await;
    assert!(after >= before + 7.0, "{after}");
    assert_eq!(reqwest::get(gateway.url("/readyz")).await.unwrap().status(), 503);
}
